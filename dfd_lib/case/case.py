"""The :class:`Case` object: one investigation's evidence, findings, reviews and custody log.

Open one with :func:`dfd_lib.case.open_case`; every method is a thin call into the module
that does the job (intake, triage, review, custody, verify). A Case holds one SQLite
connection guarded by a lock, so a long job (triage, verify) holds the object until it ends:
give a background thread its own Case (``open_case(case.id, cases_dir=case.path.parent)``).
Several Case objects, in threads or processes, may work on the same case at the same time.
"""

from __future__ import annotations

import getpass
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from ..progress import Progress
from . import evidence, queries, review, triage as triage_mod
from .clock import format_ist
from .custody import CustodyAction, CustodyEntry, append_entry, read_entries
from .detail import ItemDetail, item_details
from .errors import CaseError, CaseReadOnly, CustodyBroken
from .files import ARTIFACTS_DIR, EVIDENCE_DIR, stored_file
from .store import write_transaction
from .verify import Issue, VerificationReport, verify_case

if TYPE_CHECKING:
    from .distributed import DaskTriage
    from .triage import HasModelCard, ItemOutcome, ScannerLike

__all__ = ["DB_NAME", "CaseInfo", "Case", "default_actor"]

log = logging.getLogger(__name__)

DB_NAME = "case.db"
_INFO_FIELDS = ("title", "examiner", "agency", "description", "target_portal")


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class CaseInfo:
    id: str
    title: str
    examiner: str
    agency: str
    description: str
    target_portal: str
    created_utc: str
    updated_utc: str

    @property
    def created_ist(self) -> str:
        return format_ist(self.created_utc)

    @property
    def updated_ist(self) -> str:
        return format_ist(self.updated_utc)

    def to_dict(self) -> dict[str, str]:
        return {
            **{k: getattr(self, k) for k in self.__dataclass_fields__},
            "created_ist": self.created_ist,
            "updated_ist": self.updated_ist,
        }


class Case:
    """An open case. Use :func:`open_case` rather than the constructor."""

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool = False) -> None:
        self.path = path
        self.id = path.name
        self._conn = conn
        self._lock = threading.RLock()
        self.readonly = readonly  # opened read-only: every write raises CaseReadOnly

    def _writable(self, what: str) -> None:
        if self.readonly:
            raise CaseReadOnly(f"case {self.id} is open read-only ({self.path}); cannot {what}: nothing was written")

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def evidence_dir(self) -> Path:
        return self.path / EVIDENCE_DIR

    @property
    def artifacts_dir(self) -> Path:
        return self.path / ARTIFACTS_DIR

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "Case":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Case({self.id!r}, path={str(self.path)!r})"

    def _actor(self, who: str | None) -> str:
        return (who or "").strip() or (self.info.examiner or "").strip() or default_actor()

    def _item(self, item: int | str) -> sqlite3.Row:
        return queries.resolve_item(self._conn, item)

    # -- metadata ---------------------------------------------------------------------------
    @property
    def info(self) -> CaseInfo:
        with self._lock:
            row = self._conn.execute("SELECT * FROM case_info").fetchone()
            last = self._conn.execute("SELECT time_utc FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            raise CaseError(f"case {self.id}: metadata row is missing")
        return CaseInfo(
            id=row["case_id"],
            **{k: row[k] for k in _INFO_FIELDS},
            created_utc=row["created_utc"],
            updated_utc=last[0] if last else row["created_utc"],
        )

    def update_info(self, actor: str | None = None, **fields: str) -> CaseInfo:
        """Change title, examiner, agency, description or target_portal (logged as ``case_updated``)."""
        unknown = set(fields) - set(_INFO_FIELDS)
        if unknown:
            raise ValueError(f"unknown case field(s): {', '.join(sorted(unknown))}")
        self._writable("change the case information")
        with self._lock, write_transaction(self._conn):
            for k, v in fields.items():
                self._conn.execute(f"UPDATE case_info SET {k} = ?", (str(v),))
            append_entry(self._conn, "case_updated", self._actor(actor), details={"info": fields})
        return self.info

    # -- intake and triage -----------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | os.PathLike] | str | os.PathLike,
        acquired_by: str | None = None,
        source: evidence.Source | dict | str | None = None,
        actor: str | None = None,
        progress: Progress | None = None,
    ) -> list[evidence.IntakeRecord]:
        """Hash and copy files (folders recursively) into the case; one item per distinct content."""
        self._writable("take in evidence")
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        who = self._actor(actor or acquired_by)
        with self._lock:
            return evidence.ingest_paths(
                self._conn, self.path, paths, who, acquired_by or who, evidence.as_source(source), progress
            )

    def triage(
        self,
        paths: Iterable[str | os.PathLike] | str | os.PathLike = (),
        scanner: ScannerLike | None = None,
        progress: Progress | None = None,
        examiner: str | None = None,
        forensics: bool = True,
        acquired_by: str | None = None,
        source: evidence.Source | dict | str | None = None,
        dask: DaskTriage | None = None,
    ) -> pd.DataFrame:
        """Ingest ``paths``, then analyse every item of the case still lacking findings for this model.

        Returns the case's items sorted by suspicion (detector columns for this model);
        ``df.attrs`` holds the run's counts: intake outcomes, analysed, already_done, failed,
        cancelled, model and model_sha256, and ``failures`` (item_id and why, for each failed item). Resumable: re-running finishes only what is missing.

        ``dask`` (a :class:`dfd_lib.case.distributed.DaskTriage`) computes the analyses on Dask workers
        (``scanner`` is then ignored: each worker builds ``dask.spec``); this process still writes
        every finding, each item in its own transaction.
        """
        self._writable("triage")
        model_source: HasModelCard  # the model the findings are recorded for
        if dask is not None:  # workers build dask.spec's scanner
            model_source = dask.client_scanner()
        elif scanner is None:
            from ..scan import Scanner

            model_source = scanner = Scanner()
        elif not isinstance(scanner, triage_mod.ScannerLike):
            raise CaseError(
                f"a {type(scanner).__name__} cannot triage: a scanner needs model.card and "
                "scan_file(path) (see dfd_lib.case.triage.ScannerLike)"
            )
        else:
            model_source = scanner
        who = self._actor(examiner)
        intake = self.ingest(paths, acquired_by=acquired_by or who, source=source, actor=who, progress=progress)
        outcomes: list[ItemOutcome]
        if progress is not None and progress.cancelled():
            outcomes, cancelled = [], True
        else:
            with self._lock:
                if dask is not None:
                    from .distributed import triage_items_dask

                    outcomes, cancelled = triage_items_dask(self._conn, self.path, dask, who, progress, forensics)
                else:
                    if scanner is None:  # set above whenever dask is None
                        raise CaseError("no scanner to triage with")
                    outcomes, cancelled = triage_mod.triage_items(
                        self._conn, self.path, scanner, who, progress, forensics
                    )
        ident = triage_mod.model_identity(model_source)
        df = queries.sort_by_suspicion(self.items(model_sha256=ident.sha256, model_name=ident.name))
        ran = {o.item_id: o.outcome for o in outcomes}
        df.insert(
            1,
            "run",
            [ran.get(i, "pending" if m is None else "previous") for i, m in zip(df["item_id"], df["model_sha256"])],
        )
        df.attrs.update(
            model=ident.name,
            model_sha256=ident.sha256,
            cancelled=cancelled,
            intake={k: sum(r.outcome == k for r in intake) for k in evidence.INTAKE_OUTCOMES},
            intake_errors=[{"path": r.path, "error": r.message} for r in intake if r.outcome == "error"],
            intake_changed=[
                {"path": r.path, "item_id": r.item_id, "before": r.changed_from}
                for r in intake
                if r.changed_from is not None
            ],
            failures=[{"item_id": o.item_id, "message": o.message} for o in outcomes if o.outcome == "failed"],
            **{k: sum(o.outcome == k for o in outcomes) for k in triage_mod.OUTCOMES},
        )
        return df

    # -- read side -----------------------------------------------------------------------------
    def items(self, model_sha256: str | None = None, model_name: str | None = None) -> pd.DataFrame:
        """One row per item: path, sha256, status, score, verdict, analyst_verdict, tags, sensitive, ...

        ``model_sha256`` and ``model_name``: that model's latest result (two cards can score the same weights,
        for example the default and its one-framing fast card; the name tells them apart)."""
        with self._lock:
            return queries.items_frame(self._conn, self.path, model_sha256, model_name=model_name)

    def item(self, item: int | str) -> dict[str, Any]:
        with self._lock:
            return dict(self._item(item))

    def evidence_path(self, item: int | str) -> Path:
        row = self.item(item)
        return stored_file(self.path, EVIDENCE_DIR, row["stored_name"], row["sha256"])

    def detail(self, item: int | str, model_sha256: str | None = None, model_name: str | None = None) -> ItemDetail:
        """Everything the case records about one item (see :mod:`dfd_lib.case.detail`); what the report,
        the dashboard and the case notebook show. ``model_sha256`` (and ``model_name``): that model's result,
        not the latest."""
        with self._lock:
            return item_details(self._conn, self.path, self._item(item)["id"], model_sha256, model_name)[0]

    def details(self, model_sha256: str | None = None, model_name: str | None = None) -> list[ItemDetail]:
        """:meth:`detail` of every item, in item order (read in a few queries, not a few per item)."""
        with self._lock:
            return item_details(self._conn, self.path, None, model_sha256, model_name)

    def findings(self, item: int | str | None = None, kind: str | None = None) -> pd.DataFrame:
        """Findings (all, or one item's); ``kind`` is exact or a prefix such as ``forensic``."""
        with self._lock:
            item_id = None if item is None else self._item(item)["id"]
            return queries.findings_frame(self._conn, item_id, kind)

    def sources(self, item: int | str | None = None) -> pd.DataFrame:
        with self._lock:
            return queries.sources_frame(self._conn, None if item is None else self._item(item)["id"])

    def intake_errors(self) -> pd.DataFrame:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM intake_errors ORDER BY id")
            cols = [d[0] for d in rows.description]
            return pd.DataFrame([tuple(r) for r in rows.fetchall()], columns=cols)

    # -- review --------------------------------------------------------------------------------
    def annotate(
        self,
        item: int | str,
        verdict: str | None = None,
        notes: str | None = None,
        tags: str | list[str] | None = None,
        sensitive: bool | None = None,
        reviewer: str | None = None,
        based_on: int | None = None,
    ) -> review.Annotation:
        """Record the analyst's review of an item (a new record; ``None`` keeps a field's current value).

        ``based_on``: the review version the caller's form was loaded from (``review_version`` of
        the record then current, 0 for none); a save on a stale version raises StaleReview.
        """
        self._writable("record a review")
        with self._lock:
            row = self._item(item)
            return review.annotate(
                self._conn, row["id"], row["sha256"], self._actor(reviewer), verdict, notes, tags, sensitive, based_on
            )

    def history(self, item: int | str) -> list[review.Annotation]:
        with self._lock:
            return review.history(self._conn, self._item(item)["id"])

    def sensitive_items(self) -> set[int]:
        """Ids of items currently flagged sensitive: exports must withhold their media."""
        with self._lock:
            return review.sensitive_item_ids(self._conn)

    # -- custody -------------------------------------------------------------------------------
    def log_action(
        self, action: CustodyAction, actor: str, item: int | str | None = None, details: dict[str, Any] | None = None
    ) -> CustodyEntry:
        """Append a custody entry for an action done outside this module (view, export, report, ...)."""
        if details and "records" in details:
            raise ValueError("'records' is reserved for entries that create case records")
        self._writable(f"log a {action!r} custody entry")
        with self._lock:
            row = None if item is None else self._item(item)
            with write_transaction(self._conn):
                return append_entry(
                    self._conn,
                    action,
                    actor,
                    None if row is None else row["id"],
                    None if row is None else row["sha256"],
                    details or {},
                )

    def custody_log(self, item: int | str | None = None) -> pd.DataFrame:
        with self._lock:
            return queries.custody_frame(read_entries(self._conn, None if item is None else self._item(item)["id"]))

    def custody_entries(self) -> list[CustodyEntry]:
        with self._lock:
            return read_entries(self._conn)

    def verify(
        self,
        actor: str | None = None,
        progress: Progress | None = None,
        log_result: bool = True,
        anchors: Iterable[str | os.PathLike] = (),
    ) -> VerificationReport:
        """Re-hash every stored file and record, walk the chain; the verification itself is logged
        (not on a case open read-only: nothing can be written there).

        ``anchors``: reports, export bundles or custody_log.json files whose recorded chain head
        the log must still contain (see :mod:`dfd_lib.case.anchors`).
        """
        with self._lock:
            report = verify_case(self._conn, self.path, self.id, progress, anchors=anchors)
            if log_result and not self.readonly:
                try:
                    self._log_verification(report, actor)
                except CustodyBroken as exc:
                    note = Issue("warning", "custody log", f"this verification was not recorded: {exc}")
                    report = replace(report, warnings=(*report.warnings, note))
        return report

    def _log_verification(self, report: VerificationReport, actor: str | None) -> None:
        with write_transaction(self._conn):
            append_entry(
                self._conn,
                "verification",
                self._actor(actor),
                details={
                    "ok": report.ok,
                    "head_seq": report.head_seq,
                    "head_hash": report.head_hash,
                    **{k: len(getattr(report, k)) for k in ("altered", "added", "removed", "chain_breaks")},
                    "evidence_checked": report.evidence_checked,
                    "artifacts_checked": report.artifacts_checked,
                },
            )
