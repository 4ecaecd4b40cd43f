"""Everything a report shows, read from a case into frozen views (renderers never query the case).

A *snapshot* report (the one inside an export bundle) describes the case as of its last custody
entry that changed evidence, findings, reviews or form answers; entries written by reports,
exports, verifications and views are left out, so exporting the same case again gives the same
bytes. A live report (``dfd report``) covers every entry up to the moment it is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..case import Case, CaseInfo, CustodyEntry, ItemDetail, VerificationReport, utc_now
from .card_choice import ReportCard, choose_report_card
from .modelinfo import ModelView, describe_models, library_versions

__all__ = [
    "NON_CONTENT_ACTIONS",
    "CustodySummary",
    "VerificationView",
    "ReportData",
    "collect_report_data",
    "snapshot_head",
]

NON_CONTENT_ACTIONS = frozenset({"report", "export", "verification", "view"})


@dataclass(frozen=True)
class CustodySummary:
    entries: tuple[CustodyEntry, ...]
    counts: tuple[tuple[str, int], ...]
    head_seq: int
    head_hash: str
    first_utc: str
    last_utc: str


@dataclass(frozen=True)
class VerificationView:
    ok: bool
    evidence_checked: int
    artifacts_checked: int
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
    entries_checked: int | None = None  # left out of snapshots: later log entries change it
    checked_utc: str = ""


@dataclass(frozen=True)
class ReportData:
    info: CaseInfo
    generated_utc: str
    snapshot: bool
    as_of_seq: int
    as_of_utc: str
    items: tuple[ItemDetail, ...]  # the case's one read model of an item (Case.details())
    models: tuple[ModelView, ...]
    versions: tuple[tuple[str, str], ...]
    custody: CustodySummary
    verification: VerificationView | None
    # files that could not be taken in, as (time UTC, path, why) from the custody log's intake entries up to the
    # report's head: named in the report, since the examiner received them and the reader must know they exist
    not_taken_in: tuple[tuple[str, str, str], ...] = ()
    # the one card whose findings the items show, and the other cards that scored items of the case (not shown)
    card: ReportCard = ReportCard(None, None, "")


def snapshot_head(entries: list[CustodyEntry]) -> CustodyEntry | None:
    """The last entry that changed the case's content (not a report, export, verification or view)."""
    content = [e for e in entries if e.action not in NON_CONTENT_ACTIONS]
    return content[-1] if content else (entries[-1] if entries else None)


def _verification_view(report: VerificationReport, snapshot: bool) -> VerificationView:
    fmt = [f"{i.category}: {i.target}: {i.message}" for i in report.problems]
    return VerificationView(
        ok=report.ok,
        evidence_checked=report.evidence_checked,
        artifacts_checked=report.artifacts_checked,
        problems=tuple(fmt),
        warnings=tuple(f"{i.target}: {i.message}" for i in report.warnings),
        entries_checked=None if snapshot else report.entries_checked,
        checked_utc="" if snapshot else report.checked_utc,
    )


def collect_report_data(
    case: Case,
    verification: VerificationReport | None = None,
    snapshot: bool = False,
    weights_dir: str | os.PathLike | None = None,
    model: str | None = None,
) -> ReportData:
    """Read the case into a :class:`ReportData` (see the module notes on snapshots). The items show one card's
    findings: ``model`` (a card name), else the card :func:`choose_report_card` picks."""
    card = choose_report_card(case, model, weights_dir)
    all_entries = case.custody_entries()
    head = snapshot_head(all_entries) if snapshot else (all_entries[-1] if all_entries else None)
    as_of_seq = head.seq if head else 0
    entries = tuple(e for e in all_entries if e.seq <= as_of_seq)
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.action] = counts.get(e.action, 0) + 1
    custody = CustodySummary(
        entries,
        tuple(sorted(counts.items())),
        as_of_seq,
        head.entry_hash if head else "",
        entries[0].time_utc if entries else "",
        entries[-1].time_utc if entries else "",
    )
    items = tuple(case.details(*card.key))
    findings = case.findings(kind="detector")
    shown = (findings["kind"] == "detector") & (findings["model_name"] == card.name)
    shown &= findings["model_sha256"] == card.sha256
    used = [
        (str(r["model_name"]), str(r["model_sha256"]), dict(r["params"].get("model_card") or {}))
        for _, r in findings[shown].iterrows()
    ]
    info = case.info
    as_of_utc = head.time_utc if head else info.created_utc
    return ReportData(
        info=info,
        generated_utc=as_of_utc if snapshot else utc_now(),
        snapshot=snapshot,
        as_of_seq=as_of_seq,
        as_of_utc=as_of_utc,
        items=items,
        models=describe_models(used, weights_dir),
        versions=library_versions(),
        custody=custody,
        verification=None if verification is None else _verification_view(verification, snapshot),
        not_taken_in=not_taken_in(entries),
        card=card,
    )


def not_taken_in(entries: tuple[CustodyEntry, ...] | list[CustodyEntry]) -> tuple[tuple[str, str, str], ...]:
    """(time UTC, path, why) of every intake entry that records a file not taken in, in log order."""
    return tuple(
        (e.time_utc, str(e.details.get("path", "")), str(e.details.get("error", "")))
        for e in entries
        if e.action == "intake" and "error" in e.details
    )
