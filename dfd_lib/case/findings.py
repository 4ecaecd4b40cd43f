"""Findings: what an analysis said about an item, stored as key columns plus the full result JSON.

Kinds: ``detector`` (one per item and model: the file-level :class:`~dfd_lib.results.FileResult`),
``detector:face`` (one per face the model scored) and ``forensic:<analysis>`` (one per forensic
analysis). ``UNIQUE(item_id, kind, model_sha256, subject)`` makes a repeated or resumed run
unable to store a second copy; another model adds its own findings beside the first.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..fileio import json_ready
from ..results import FaceResult, FileResult
from .clock import utc_now
from .custody import canonical_json, record_ref

__all__ = [
    "DETECTOR",
    "FACE",
    "FORENSIC_PREFIX",
    "NewFinding",
    "face_subject",
    "detector_findings",
    "forensic_finding",
    "finding_exists",
    "insert_finding",
]

DETECTOR = "detector"
FACE = "detector:face"
FORENSIC_PREFIX = "forensic:"


@dataclass(frozen=True)
class NewFinding:
    kind: str
    subject: str  # "file" or "face:<frame|->:<face>"
    status: str
    message: str = ""
    model_name: str = ""
    model_sha256: str = ""
    threshold: float | None = None
    score: float | None = None
    verdict: str | None = None
    face_index: int | None = None
    frame_index: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    artifacts: tuple[dict[str, Any], ...] = ()
    result: dict[str, Any] = field(default_factory=dict)


def face_subject(face: FaceResult) -> str:
    frame = "-" if face.frame_index is None else str(face.frame_index)
    return f"face:{frame}:{face.face_index}"


def detector_findings(
    result: FileResult,
    model_name: str,
    model_sha256: str,
    threshold: float | None,
    params: dict[str, Any],
    face_artifacts: dict[str, list[dict[str, Any]]],
    file_artifacts: list[dict[str, Any]],
) -> list[NewFinding]:
    """The file-level finding plus one per scored face."""
    out = [
        NewFinding(
            kind=DETECTOR,
            subject="file",
            status=result.status,
            message=result.message,
            score=result.score,
            verdict=result.verdict,
            artifacts=tuple(file_artifacts),
            result=result.to_dict(),
            model_name=model_name,
            model_sha256=model_sha256,
            threshold=threshold,
            params=params,
        )
    ]
    for face in result.faces:
        subject = face_subject(face)
        out.append(
            NewFinding(
                kind=FACE,
                subject=subject,
                status="scored",
                score=face.p_fake,
                face_index=face.face_index,
                frame_index=face.frame_index,
                artifacts=tuple(face_artifacts.get(subject, ())),
                result=face.to_dict(),
                model_name=model_name,
                model_sha256=model_sha256,
                threshold=threshold,
                params=params,
            )
        )
    return out


def forensic_finding(fr: Any, artifacts: list[dict[str, Any]]) -> NewFinding:
    """A finding from a ``dfd_lib.forensics`` result (``analysis, status, summary, metrics, flags, to_dict()``)."""
    result = {k: v for k, v in fr.to_dict().items() if not (isinstance(v, np.ndarray) and v.ndim >= 2)}
    if "has_map" in result:  # the map may travel apart from the result (encoded by a Dask worker): it is stored
        result["has_map"] = bool(result["has_map"]) or any(a.get("kind") == "forensic_map" for a in artifacts)
    params: dict[str, Any] = {
        "metrics": json_ready(getattr(fr, "metrics", {}) or {}),
        "flags": json_ready(list(getattr(fr, "flags", ()) or ())),
    }
    version = getattr(fr, "version", None)
    if version is not None:
        params["analysis_version"] = json_ready(version)
    return NewFinding(
        kind=f"{FORENSIC_PREFIX}{fr.analysis}",
        subject="file",
        status=str(fr.status),
        message=str(getattr(fr, "summary", "") or ""),
        model_name=str(fr.analysis),
        params=params,
        artifacts=tuple(artifacts),
        result=result,
    )


def finding_exists(conn: sqlite3.Connection, item_id: int, f: NewFinding) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM findings WHERE item_id = ? AND kind = ? AND model_name = ? AND model_sha256 = ?"
            " AND subject = ?",
            (item_id, f.kind, f.model_name, f.model_sha256, f.subject),
        ).fetchone()
        is not None
    )


def _num(v: float | None) -> float | None:
    return None if v is None else json_ready(float(v))


def insert_finding(conn: sqlite3.Connection, item_id: int, f: NewFinding, actor: str) -> list:
    """Insert one finding (raises sqlite3.IntegrityError if it already exists); returns its custody ref."""
    cur = conn.execute(
        "INSERT INTO findings (item_id, kind, subject, model_name, model_sha256, threshold, status, message, score,"
        " verdict, face_index, frame_index, params_json, artifacts_json, result_json, created_utc, actor)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            item_id,
            f.kind,
            f.subject,
            f.model_name,
            f.model_sha256,
            _num(f.threshold),
            f.status,
            f.message,
            _num(f.score),
            f.verdict,
            f.face_index,
            f.frame_index,
            canonical_json(f.params),
            canonical_json(list(f.artifacts)),
            canonical_json(f.result),
            utc_now(),
            actor,
        ),
    )
    if cur.lastrowid is None:  # sqlite3 always sets it after a successful INSERT
        raise RuntimeError("sqlite3 gave no row id for the new finding")
    return record_ref(conn, "findings", cur.lastrowid)
