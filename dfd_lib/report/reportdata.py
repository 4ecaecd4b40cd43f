"""Everything a report shows, read from a case into frozen views (renderers never query the case).

A *snapshot* report (the one inside an export bundle) describes the case as of its last custody
entry that changed evidence, findings, reviews or form answers; entries written by reports,
exports, verifications and views are left out, so exporting the same case again gives the same
bytes. A live report (``dfd report``) covers every entry up to the moment it is made.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..case import Case, CaseInfo, CustodyEntry, VerificationReport, utc_now
from .modelinfo import ModelView, describe_models
from .versions import library_versions

__all__ = ["NON_CONTENT_ACTIONS", "FaceView", "ForensicView", "SourceView", "ItemView", "CustodySummary",
           "VerificationView", "ReportData", "collect_report_data", "snapshot_head"]

log = logging.getLogger(__name__)

NON_CONTENT_ACTIONS = frozenset({"report", "export", "verification", "view"})


@dataclass(frozen=True)
class FaceView:
    subject: str  # "face:<frame|->:<index>"
    score: float
    frame_index: int | None
    time_s: float | None
    crop: Path | None
    gradcam: Path | None


@dataclass(frozen=True)
class ForensicView:
    analysis: str
    status: str
    summary: str
    flags: tuple[str, ...]
    map: Path | None


@dataclass(frozen=True)
class SourceView:
    file_name: str  # name of the original file (its folder is left out)
    device: str
    url: str
    platform: str
    acquired_by: str


@dataclass(frozen=True)
class ItemView:
    item_id: int
    name: str
    sha256: str
    md5: str
    sha1: str
    size: int
    mime: str
    media_kind: str
    status: str
    message: str
    score: float | None
    verdict: str | None
    threshold: float | None
    model: str | None
    analyst_verdict: str | None
    notes: str
    tags: tuple[str, ...]
    reviewer: str
    sensitive: bool
    reviews: int
    evidence_path: Path
    sources: tuple[SourceView, ...] = ()
    faces: tuple[FaceView, ...] = ()
    gradcam_subject: str | None = None
    frames: tuple[tuple[int, float | None, float | None], ...] = ()  # (frame index, time s, score)
    aggregate: str = ""
    forensics: tuple[ForensicView, ...] = ()

    @property
    def description(self) -> str:
        """Plain description without pixels: type, size, analyst notes and tags, source URLs."""
        parts = [f"{self.mime or 'unknown type'}, {self.size:,} bytes"]
        if self.tags:
            parts.append("tags: " + ", ".join(self.tags))
        if self.notes:
            parts.append("analyst notes: " + self.notes)
        urls = sorted({s.url for s in self.sources if s.url})
        if urls:
            parts.append("URL: " + " ".join(urls))
        return "; ".join(parts)


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
    items: tuple[ItemView, ...]
    models: tuple[ModelView, ...]
    versions: tuple[tuple[str, str], ...]
    custody: CustodySummary
    verification: VerificationView | None


def snapshot_head(entries: list[CustodyEntry]) -> CustodyEntry | None:
    """The last entry that changed the case's content (not a report, export, verification or view)."""
    content = [e for e in entries if e.action not in NON_CONTENT_ACTIONS]
    return content[-1] if content else (entries[-1] if entries else None)


def _artifact(case: Case, ref: dict[str, Any]) -> Path | None:
    """The stored file of an artifact reference, only if it lies inside the case's artifacts folder."""
    rel = str(ref.get("path") or "")
    path = (case.path / rel).resolve()
    if not path.is_relative_to(case.artifacts_dir.resolve()) or not path.is_file():
        log.warning("case %s: artifact %r is missing or outside the artifacts folder; left out", case.id, rel)
        return None
    return path


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else str(v)


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and v != v) else float(v)


def _item_view(case: Case, row: pd.Series, found: pd.DataFrame, sources: pd.DataFrame) -> ItemView:
    det = found[(found["kind"] == "detector") & (found["model_sha256"] == row["model_sha256"])]
    det_row = det.iloc[-1] if len(det) else None
    faces, gradcam_subject, frames, aggregate = [], None, (), ""
    if det_row is not None:
        gradcams = {a.get("face"): a for a in det_row["artifacts"] if a.get("kind") == "gradcam"}
        face_rows = found[(found["kind"] == "detector:face") & (found["model_sha256"] == row["model_sha256"])]
        for _, f in face_rows.iterrows():
            crop = next((a for a in f["artifacts"] if a.get("kind") == "face_crop"), None)
            cam = gradcams.get(f["subject"])
            if cam is not None:
                gradcam_subject = f["subject"]
            faces.append(FaceView(f["subject"], float(f["score"]), None if pd.isna(f["frame_index"]) else
                                  int(f["frame_index"]), _num(f["result"].get("time_s")),
                                  None if crop is None else _artifact(case, crop),
                                  None if cam is None else _artifact(case, cam)))
        result = det_row["result"]
        frames = tuple((int(fr["index"]), _num(fr.get("time_s")), _num(fr.get("score")))
                       for fr in result.get("frames", []))
        aggregate = str(result.get("aggregate", ""))
    forensics = []
    for _, f in found[found["kind"].str.startswith("forensic:")].iterrows():
        ref = next((a for a in f["artifacts"] if a.get("kind") == "forensic_map"), None)
        forensics.append(ForensicView(f["kind"].split(":", 1)[1], f["status"], _text(f["message"]),
                                      tuple(f["params"].get("flags", []) or ()),
                                      None if ref is None else _artifact(case, ref)))
    srcs = tuple(SourceView(Path(_text(s["original_path"])).name, _text(s["device"]), _text(s["url"]),
                            _text(s["platform"]), _text(s["acquired_by"])) for _, s in sources.iterrows())
    return ItemView(
        item_id=int(row["item_id"]), name=_text(row["name"]), sha256=row["sha256"], md5=_text(row["md5"]),
        sha1=_text(row["sha1"]), size=int(row["size"]), mime=_text(row["mime"]), media_kind=_text(row["media_kind"]),
        status=_text(row["status"]), message=_text(row["message"]), score=_num(row["score"]),
        verdict=row["verdict"], threshold=None if det_row is None else _num(det_row["threshold"]),
        model=row["model"], analyst_verdict=row["analyst_verdict"], notes=_text(row["notes"]),
        tags=tuple(row["tags"] or ()), reviewer=_text(row["reviewer"]), sensitive=bool(row["sensitive"]),
        reviews=len(case.history(int(row["item_id"]))), evidence_path=Path(row["stored_path"]), sources=srcs,
        faces=tuple(sorted(faces, key=lambda f: -f.score)), gradcam_subject=gradcam_subject, frames=frames,
        aggregate=aggregate, forensics=tuple(forensics),
    )


def _verification_view(report: VerificationReport, snapshot: bool) -> VerificationView:
    fmt = [f"{i.category}: {i.target}: {i.message}" for i in report.problems]
    return VerificationView(
        ok=report.ok, evidence_checked=report.evidence_checked, artifacts_checked=report.artifacts_checked,
        problems=tuple(fmt), warnings=tuple(f"{i.target}: {i.message}" for i in report.warnings),
        entries_checked=None if snapshot else report.entries_checked,
        checked_utc="" if snapshot else report.checked_utc)


def collect_report_data(case: Case, verification: VerificationReport | None = None, snapshot: bool = False,
                        weights_dir: str | os.PathLike | None = None) -> ReportData:
    """Read the case into a :class:`ReportData` (see the module notes on snapshots)."""
    all_entries = case.custody_entries()
    head = snapshot_head(all_entries) if snapshot else (all_entries[-1] if all_entries else None)
    as_of_seq = head.seq if head else 0
    entries = tuple(e for e in all_entries if e.seq <= as_of_seq)
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.action] = counts.get(e.action, 0) + 1
    custody = CustodySummary(entries, tuple(sorted(counts.items())), as_of_seq, head.entry_hash if head else "",
                             entries[0].time_utc if entries else "", entries[-1].time_utc if entries else "")
    items_df = case.items()
    findings = case.findings()
    sources = case.sources()
    items = tuple(_item_view(case, row, findings[findings["item_id"] == row["item_id"]],
                             sources[sources["item_id"] == row["item_id"]]) for _, row in items_df.iterrows())
    used = [(str(r["model_name"]), str(r["model_sha256"]), dict(r["params"].get("model_card") or {}))
            for _, r in findings[findings["kind"] == "detector"].iterrows()]
    info = case.info
    as_of_utc = head.time_utc if head else info.created_utc
    return ReportData(
        info=info, generated_utc=as_of_utc if snapshot else utc_now(), snapshot=snapshot, as_of_seq=as_of_seq,
        as_of_utc=as_of_utc, items=items, models=describe_models(used, weights_dir), versions=library_versions(),
        custody=custody, verification=None if verification is None else _verification_view(verification, snapshot),
    )
