"""Cases: evidence intake with hashes, chain of custody, resumable triage, analyst review, verification.

A case is a folder in the case store (``./cases``, ``$DFD_CASES_DIR`` or an explicit
``cases_dir``) holding ``case.db`` (SQLite, WAL), ``evidence/`` (read-only copies named by
SHA-256) and ``artifacts/`` (PNG crops, Grad-CAM overlays, forensic maps)::

    from dfd_lib.case import open_case
    case = open_case("FIR 123 of 2025", examiner="Insp. Rao", agency="Cyber Cell Pune")
    case.triage(["/media/usb/evidence"], scanner=scanner)
    case.annotate(3, verdict="likely_fake", tags="whatsapp,morphed", reviewer="Insp. Rao")
    report = case.verify()
"""

from __future__ import annotations

from .case import Case, CaseInfo, default_actor
from .catalog import CASES_DIR_ENV, case_writable, list_cases, open_case, resolve_cases_dir
from .clock import IST, format_ist, to_ist, utc_now
from .custody import ACTIONS, CustodyEntry
from .detail import FaceDetail, ForensicDetail, FrameDetail, ItemDetail, SourceDetail, artifact_path
from .errors import (
    AmbiguousItem,
    CaseError,
    CaseNameConflict,
    CaseNotFound,
    CaseReadOnly,
    CaseSchemaError,
    InvalidCaseName,
    ItemNotFound,
    StaleReview,
)
from .evidence import IntakeRecord, Source
from .ids import case_id_from_name
from .queries import ITEM_STATUSES, ItemStatus
from .review import VERDICTS, Annotation, review_version
from .store import AnalystVerdict
from .verify import Issue, VerificationReport

__all__ = [
    "open_case",
    "list_cases",
    "resolve_cases_dir",
    "case_writable",
    "case_id_from_name",
    "default_actor",
    "Case",
    "CaseInfo",
    "Source",
    "IntakeRecord",
    "Annotation",
    "AnalystVerdict",
    "VERDICTS",
    "ItemStatus",
    "ITEM_STATUSES",
    "ACTIONS",
    "CustodyEntry",
    "ItemDetail",
    "FaceDetail",
    "FrameDetail",
    "ForensicDetail",
    "SourceDetail",
    "artifact_path",
    "VerificationReport",
    "Issue",
    "IST",
    "utc_now",
    "to_ist",
    "format_ist",
    "CASES_DIR_ENV",
    "CaseError",
    "CaseNotFound",
    "CaseNameConflict",
    "StaleReview",
    "CaseReadOnly",
    "review_version",
    "CaseSchemaError",
    "InvalidCaseName",
    "ItemNotFound",
    "AmbiguousItem",
]
