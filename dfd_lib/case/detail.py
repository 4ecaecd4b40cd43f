"""One item's read model, :class:`ItemDetail`: everything the case records about it, artifact paths checked.

The report, the dashboard and the case notebook all read an item through ``Case.detail(item)``
(or ``Case.details()`` for every item), so they show the same facts. A stored artifact (face crop,
Grad-CAM overlay, forensic map) is only handed out by :func:`artifact_path`: its real path, with
symlinks and ``..`` resolved, must lie inside the case's ``artifacts/`` folder and be a file;
anything else (a tampered reference naming a file elsewhere) is left out with a warning.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .custody import CustodyEntry, read_entries
from .files import ARTIFACTS_DIR
from .findings import DETECTOR, FACE, FORENSIC_PREFIX
from .queries import findings_frame, items_frame, sources_frame
from .review import Annotation

__all__ = ["SourceDetail", "FaceDetail", "FrameDetail", "ForensicDetail", "ItemDetail", "artifact_path", "item_details"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceDetail:
    """One place the item's content was received from."""

    original_path: str
    device: str
    url: str
    platform: str
    acquired_by: str
    notes: str
    added_utc: str

    @property
    def file_name(self) -> str:
        """The original file's name without its folder (reports carry no local paths)."""
        return Path(self.original_path).name


@dataclass(frozen=True)
class FaceDetail:
    subject: str  # "face:<frame|->:<index>", as the case stores it
    face_index: int | None
    frame_index: int | None
    time_s: float | None
    box: tuple[float, ...]
    score: float  # calibrated P(fake) of this face
    crop: Path | None  # checked by artifact_path (None: not stored, missing or refused)
    gradcam: Path | None  # overlay stored at triage (most suspicious face only)
    outside: tuple[str, ...] = ()  # why the face is outside the model's experience (empty: it is not)


@dataclass(frozen=True)
class FrameDetail:
    index: int
    time_s: float | None
    n_faces: int
    score: float | None


@dataclass(frozen=True)
class ForensicDetail:
    analysis: str
    status: str
    summary: str
    metrics: dict[str, Any]
    flags: tuple[str, ...]
    maps: tuple[Path, ...]  # checked by artifact_path

    @property
    def map(self) -> Path | None:
        return self.maps[0] if self.maps else None


@dataclass(frozen=True)
class ItemDetail:
    item_id: int
    name: str
    sha256: str
    md5: str
    sha1: str
    size: int
    mime: str
    media_kind: str
    format: str
    intake_status: str
    intake_utc: str
    acquired_by: str
    evidence_path: Path
    status: str  # the detector's status, else "pending" (taken in, not analysed) or the intake status
    message: str
    score: float | None
    verdict: str | None
    threshold: float | None
    model_name: str | None
    model_sha256: str | None
    aggregate: str = ""
    faces: tuple[FaceDetail, ...] = ()  # most suspicious first
    gradcam_subject: str | None = None  # the face the stored Grad-CAM overlay belongs to
    frames: tuple[FrameDetail, ...] = ()
    forensics: tuple[ForensicDetail, ...] = ()
    sources: tuple[SourceDetail, ...] = ()
    history: tuple[Annotation, ...] = ()  # review records, oldest first
    custody: tuple[CustodyEntry, ...] = ()  # custody entries naming this item, in chain order

    @property
    def is_video(self) -> bool:
        return self.media_kind == "video"

    def faces_in_frame(self, frame_index: int | None) -> tuple[FaceDetail, ...]:
        return tuple(f for f in self.faces if f.frame_index == frame_index)

    @property
    def review(self) -> Annotation | None:
        """The current review record (None when never reviewed)."""
        return self.history[-1] if self.history else None

    @property
    def analyst_verdict(self) -> str | None:
        return None if self.review is None else self.review.verdict

    @property
    def notes(self) -> str:
        return "" if self.review is None else self.review.notes

    @property
    def tags(self) -> tuple[str, ...]:
        return () if self.review is None else self.review.tags

    @property
    def reviewer(self) -> str:
        return "" if self.review is None else self.review.reviewer

    @property
    def sensitive(self) -> bool:
        return self.review is not None and self.review.sensitive

    @property
    def reviews(self) -> int:
        return len(self.history)

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


def artifact_path(case_dir: Path, ref: Mapping[str, Any] | str) -> Path | None:
    """The stored file an artifact reference names (its ``path``, relative to the case folder), or None.

    Only a file whose real path (symlinks and ``..`` resolved) lies inside the case's artifacts
    folder is returned; a reference to anything else is refused and logged, never opened.
    """
    rel = str((ref.get("path") if isinstance(ref, Mapping) else ref) or "")
    if not rel:
        return None
    try:
        root = (case_dir / ARTIFACTS_DIR).resolve()
        path = (case_dir / rel).resolve()
        inside = path.is_relative_to(root) and path.is_file()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        inside = False
    if not inside:
        log.warning("case %s: artifact %r is missing or outside the artifacts folder; left out", case_dir.name, rel)
        return None
    return path


_ITEM_TEXT_COLUMNS = ("name", "md5", "sha1", "mime", "media_kind", "intake_status", "intake_utc", "status", "message")


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _faces(case_dir: Path, det: Mapping[str, Any], face_rows: pd.DataFrame) -> tuple[list[FaceDetail], str | None]:
    gradcams = {a.get("face"): a for a in det["artifacts"] if a.get("kind") == "gradcam"}
    faces: list[FaceDetail] = []
    gradcam_subject = None
    for f in face_rows.to_dict("records"):
        res = f["result"]
        crop = next((a for a in f["artifacts"] if a.get("kind") == "face_crop"), None)
        cam = gradcams.get(f["subject"])
        if cam is not None:
            gradcam_subject = f["subject"]
        faces.append(
            FaceDetail(
                f["subject"],
                _int(f["face_index"]),
                _int(f["frame_index"]),
                _num(res.get("time_s")),
                tuple(res.get("box") or ()),
                float(f["score"]),
                None if crop is None else artifact_path(case_dir, crop),
                None if cam is None else artifact_path(case_dir, cam),
                tuple(res.get("outside_experience") or ()),
            )
        )
    faces.sort(key=lambda f: -f.score)
    return faces, gradcam_subject


def _detail(
    case_dir: Path,
    row: Mapping[str, Any],
    raw: Mapping[str, Any],
    found: pd.DataFrame,
    sources: pd.DataFrame,
    history: list[Annotation],
    custody: list[CustodyEntry],
) -> ItemDetail:
    same_model = (found["model_sha256"] == row["model_sha256"]) & (found["model_name"] == row["model"])
    det = found[(found["kind"] == DETECTOR) & same_model]
    det_row = det.iloc[-1].to_dict() if len(det) else None
    faces: list[FaceDetail] = []
    frames: tuple[FrameDetail, ...]
    gradcam_subject, frames, aggregate = None, (), ""
    if det_row is not None:
        faces, gradcam_subject = _faces(case_dir, det_row, found[(found["kind"] == FACE) & same_model])
        result = det_row["result"]
        frames = tuple(
            FrameDetail(int(fr["index"]), _num(fr.get("time_s")), int(fr.get("n_faces") or 0), _num(fr.get("score")))
            for fr in result.get("frames", [])
        )
        aggregate = str(result.get("aggregate", ""))
    forensics = tuple(
        ForensicDetail(
            f["kind"].removeprefix(FORENSIC_PREFIX),
            f["status"],
            _text(f["message"]),
            dict(f["params"].get("metrics") or {}),
            tuple(f["params"].get("flags") or ()),
            tuple(
                p
                for a in f["artifacts"]
                if a.get("kind") == "forensic_map" and (p := artifact_path(case_dir, a)) is not None
            ),
        )
        for f in found[found["kind"].str.startswith(FORENSIC_PREFIX)].to_dict("records")
    )
    # Every field of a source, and these of the item, are the text of the column of the same name.
    srcs = tuple(
        SourceDetail(**{f.name: _text(s[f.name]) for f in fields(SourceDetail)}) for s in sources.to_dict("records")
    )
    texts = {k: _text(row[k]) for k in _ITEM_TEXT_COLUMNS}
    return ItemDetail(
        item_id=int(row["item_id"]),
        sha256=row["sha256"],
        size=int(row["size"]),
        format=_text(raw["format"]),
        acquired_by=_text(raw["acquired_by"]),
        evidence_path=Path(row["stored_path"]),
        **texts,
        score=_num(row["score"]),
        verdict=row["verdict"],
        threshold=None if det_row is None else _num(det_row["threshold"]),
        model_name=row["model"],
        model_sha256=row["model_sha256"],
        aggregate=aggregate,
        faces=tuple(faces),
        gradcam_subject=gradcam_subject,
        frames=frames,
        forensics=forensics,
        sources=srcs,
        history=tuple(history),
        custody=tuple(custody),
    )


def item_details(
    conn: sqlite3.Connection,
    case_dir: Path,
    item_id: int | None = None,
    model_sha256: str | None = None,
    model_name: str | None = None,
) -> list[ItemDetail]:
    """The detail of one item (``item_id``) or of every item in item order, each read with a few queries in all.

    ``model_sha256`` (and ``model_name``): describe that model's latest detector finding (default: the latest of
    any model).
    """
    rows = items_frame(conn, case_dir, model_sha256, item_id, model_name)
    found = findings_frame(conn, item_id)
    sources = sources_frame(conn, item_id)
    raw = {
        r["id"]: dict(r)
        for r in conn.execute(
            "SELECT id, format, acquired_by FROM items WHERE (? IS NULL OR id = ?)", (item_id, item_id)
        )
    }
    history: dict[int, list[Annotation]] = defaultdict(list)
    for r in conn.execute("SELECT * FROM annotations WHERE (? IS NULL OR item_id = ?) ORDER BY id", (item_id, item_id)):
        history[r["item_id"]].append(Annotation.from_row(r))
    custody: dict[int, list[CustodyEntry]] = defaultdict(list)
    for e in read_entries(conn, item_id):
        if e.item_id is not None:
            custody[e.item_id].append(e)
    return [
        _detail(
            case_dir,
            row,
            raw[row["item_id"]],
            found[found["item_id"] == row["item_id"]],
            sources[sources["item_id"] == row["item_id"]],
            history[row["item_id"]],
            custody[row["item_id"]],
        )
        for row in rows.to_dict("records")
    ]
