"""Read-side views for the widgets: filter and page the item table, count states, gather one item's detail.

Plain data in, plain data out (pandas frames and frozen dataclasses): no widgets here, so all of it
is tested without a browser.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dfd_lib.case import Annotation, Case
from dfd_lib.case.findings import DETECTOR, FACE, FORENSIC_PREFIX

__all__ = ["ItemFilter", "filter_items", "state_counts", "page_of", "n_pages", "FaceView", "FrameView",
           "ForensicView", "ItemDetail", "item_detail", "UNREVIEWED", "ANY"]

ANY = "any"
UNREVIEWED = "unreviewed"


@dataclass(frozen=True)
class ItemFilter:
    status: str = ANY
    score_min: float = 0.0
    score_max: float = 1.0
    analyst_verdict: str = ANY  # ANY, UNREVIEWED or one of VERDICTS
    tag: str = ""  # case-insensitive exact tag; "" for any
    media_kind: str = ANY

    @property
    def full_score_range(self) -> bool:
        return self.score_min <= 0.0 and self.score_max >= 1.0


def filter_items(df: pd.DataFrame, f: ItemFilter) -> pd.DataFrame:
    """Rows of ``case.items()`` matching the filter; order kept. A narrowed score range drops unscored items."""
    keep = pd.Series(True, index=df.index)
    if f.status != ANY:
        keep &= df["status"] == f.status
    if not f.full_score_range:
        keep &= df["score"].notna() & (df["score"] >= f.score_min) & (df["score"] <= f.score_max)
    if f.analyst_verdict == UNREVIEWED:
        keep &= df["analyst_verdict"].isna()
    elif f.analyst_verdict != ANY:
        keep &= df["analyst_verdict"] == f.analyst_verdict
    if f.tag.strip():
        want = f.tag.strip().lower()
        keep &= df["tags"].map(lambda tags: any(t.lower() == want for t in tags))
    if f.media_kind != ANY:
        keep &= df["media_kind"] == f.media_kind
    return df[keep]


def state_counts(df: pd.DataFrame) -> dict[str, int]:
    """Items per status, plus ``reviewed`` and ``sensitive`` totals."""
    counts = {str(k): int(v) for k, v in df["status"].value_counts().sort_index().items()}
    counts["reviewed"] = int(df["analyst_verdict"].notna().sum())
    counts["sensitive"] = int(df["sensitive"].sum())
    return counts


def n_pages(n_rows: int, page_size: int) -> int:
    return max(1, math.ceil(n_rows / page_size))


def page_of(df: pd.DataFrame, page: int, page_size: int) -> pd.DataFrame:
    """Rows of the 0-based ``page`` (clamped to the pages that exist)."""
    page = min(max(0, page), n_pages(len(df), page_size) - 1)
    return df.iloc[page * page_size:(page + 1) * page_size]


@dataclass(frozen=True)
class FaceView:
    subject: str  # "face:<frame|->:<index>", as the case stores it
    face_index: int
    frame_index: int | None
    box: tuple[float, float, float, float]
    p_fake: float
    crop_path: Path | None
    overlay_path: Path | None  # Grad-CAM overlay stored at triage (most suspicious face only)
    outside: tuple[str, ...] = ()  # why the face is outside the model's experience (empty: it is not)


@dataclass(frozen=True)
class FrameView:
    index: int
    time_s: float | None
    n_faces: int
    score: float | None


@dataclass(frozen=True)
class ForensicView:
    analysis: str
    status: str
    summary: str
    metrics: dict[str, Any]
    flags: list[str]
    map_paths: list[Path]


@dataclass(frozen=True)
class ItemDetail:
    item: dict[str, Any]
    evidence_path: Path
    status: str
    message: str
    score: float | None
    verdict: str | None
    threshold: float | None
    model_name: str | None
    model_sha256: str | None
    faces: tuple[FaceView, ...] = ()
    frames: tuple[FrameView, ...] = ()
    forensics: tuple[ForensicView, ...] = ()
    sources: list[dict[str, Any]] = field(default_factory=list)
    custody: pd.DataFrame | None = None
    history: tuple[Annotation, ...] = ()

    @property
    def is_video(self) -> bool:
        return self.item.get("media_kind") == "video"

    def faces_in_frame(self, frame_index: int | None) -> tuple[FaceView, ...]:
        return tuple(f for f in self.faces if f.frame_index == frame_index)


def _art_path(case: Case, refs: list[dict], kind: str, face: str | None = None) -> Path | None:
    for ref in refs:
        if ref.get("kind") == kind and (face is None or ref.get("face") == face):
            return case.path / ref["path"]
    return None


def item_detail(case: Case, item_id: int, model_sha256: str | None = None) -> ItemDetail:
    """Everything the item view shows about one item, from the case's records (latest detector finding)."""
    item = case.item(item_id)
    det = case.findings(item_id, kind=DETECTOR)
    det = det[det["kind"] == DETECTOR]
    if model_sha256 is not None and (det["model_sha256"] == model_sha256).any():
        det = det[det["model_sha256"] == model_sha256]
    faces: list[FaceView] = []
    frames: list[FrameView] = []
    base: dict[str, Any] = {"status": item["intake_status"], "message": item.get("intake_message") or "",
                            "score": None, "verdict": None, "threshold": None, "model_name": None,
                            "model_sha256": None}
    if not det.empty:
        row = det.iloc[-1]
        file_refs = list(row["artifacts"])
        base.update(status=row["status"], message=row["message"], score=_num(row["score"]), verdict=row["verdict"],
                    threshold=_num(row["threshold"]), model_name=row["model_name"], model_sha256=row["model_sha256"])
        face_rows = case.findings(item_id, kind=FACE)
        face_rows = face_rows[face_rows["model_sha256"] == row["model_sha256"]]
        for fr in face_rows.to_dict("records"):
            res, refs = fr["result"], list(fr["artifacts"])
            faces.append(FaceView(fr["subject"], int(res["face_index"]), res.get("frame_index"),
                                  tuple(res["box"]), float(res["p_fake"]), _art_path(case, refs, "face_crop"),
                                  _art_path(case, file_refs, "gradcam", fr["subject"]),
                                  tuple(res.get("outside_experience") or ())))
        frames = [FrameView(int(f["index"]), f.get("time_s"), int(f["n_faces"]), f.get("score"))
                  for f in row["result"].get("frames", [])]
    faces.sort(key=lambda f: -f.p_fake)
    forensic = case.findings(item_id, kind=FORENSIC_PREFIX + "%")
    views = tuple(
        ForensicView(r["kind"].removeprefix(FORENSIC_PREFIX), r["status"], r["message"],
                     dict(r["params"].get("metrics", {})), list(r["params"].get("flags", [])),
                     [case.path / a["path"] for a in r["artifacts"] if a.get("kind") == "forensic_map"])
        for r in forensic.to_dict("records"))
    return ItemDetail(item=item, evidence_path=case.evidence_path(item_id), faces=tuple(faces), frames=tuple(frames),
                      forensics=views, sources=case.sources(item_id).to_dict("records"),
                      custody=case.custody_log(item_id), history=tuple(case.history(item_id)), **base)


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
