"""Typed results of a scan: per face, per video frame and per evidence file.

These are plain frozen dataclasses with ``to_dict()`` giving JSON-ready records, the same
records ``dfd scan --json`` writes and the case store keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from .fileio import storable_text
from .media import MediaType

__all__ = ["FileStatus", "STATUSES", "Verdict", "VERDICTS", "FaceResult", "FrameScore", "FileResult"]

# Every file ends in exactly one of these states; only "scored" carries a score.
FileStatus = Literal[
    "scored",  # faces found and scored
    "no_face",  # readable, but no face at or above the detection threshold
    "unreadable",  # empty, corrupt or truncated file
    "unsupported",  # content is not an image or video format the tool decodes
    "too_large",  # over the configured size limits
    "error",  # unexpected failure while analysing this file (see message)
]
STATUSES: tuple[FileStatus, ...] = get_args(FileStatus)

# The model's verdict on a scored file.
Verdict = Literal[
    "fake",  # P(fake) at or above the model card's threshold
    "real",  # P(fake) below the model card's threshold
    "inconclusive",  # the deciding faces are outside the model's experience (FaceResult.outside): the score is
    # shown but not relied on either way
]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)


@dataclass(frozen=True)
class FaceResult:
    face_index: int  # order within its frame (largest face first)
    frame_index: int | None  # video frame number; None for still images
    time_s: float | None
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    det_prob: float
    p_fake: float  # calibrated probability that this face is manipulated
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)  # model input crop, RGB uint8
    novelty: float | None = None  # distance from the faces the model was validated on (None: card has no statistics)
    outside: tuple[str, ...] = ()  # why this face is outside the model's experience; empty when it is not
    padded: bool = False  # found only after padding the picture (a face touching its border)
    kind: str | None = (
        None  # kind of manipulation this face most resembles (faces at or above the threshold), or "unclear"
    )
    kind_p: float | None = None

    def to_dict(self) -> dict:
        return {
            "face_index": self.face_index,
            "frame_index": self.frame_index,
            "time_s": None if self.time_s is None else round(self.time_s, 3),
            "box": [round(v, 1) for v in self.box],
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "det_prob": round(self.det_prob, 4),
            "p_fake": round(self.p_fake, 6),
            "novelty": None if self.novelty is None else round(self.novelty, 3),
            "outside_experience": list(self.outside),
            "padded": self.padded,
            "kind": self.kind,
            "kind_p": None if self.kind_p is None else round(self.kind_p, 4),
        }


@dataclass(frozen=True)
class FrameScore:
    index: int
    time_s: float | None
    n_faces: int
    score: float | None  # most suspicious face in the frame; None when the frame has no face

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "time_s": None if self.time_s is None else round(self.time_s, 3),
            "n_faces": self.n_faces,
            "score": None if self.score is None else round(self.score, 6),
        }


@dataclass(frozen=True)
class FileResult:
    path: str
    status: FileStatus
    message: str
    sha256: str | None = None
    size: int | None = None
    media_type: MediaType = "unknown"
    mime: str = ""
    width: int | None = None
    height: int | None = None
    faces: tuple[FaceResult, ...] = ()
    frames: tuple[FrameScore, ...] = ()
    score: float | None = None  # file-level calibrated P(fake); None unless status == "scored"
    verdict: Verdict | None = None  # None unless scored
    caveats: tuple[str, ...] = ()  # why the verdict is inconclusive, or what limits it
    suspected_kind: str | None = None  # kind of manipulation the deciding face most resembles (fake verdicts only)
    aggregate: str = ""  # how ``score`` was formed from the face scores
    threshold: float | None = None
    model_name: str | None = None
    model_sha256: str | None = None
    elapsed_s: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if (self.status == "scored") != (self.score is not None):
            raise ValueError("a score is present exactly when the status is 'scored'")
        if self.verdict is not None and self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    @property
    def most_suspicious_face(self) -> FaceResult | None:
        return max(self.faces, key=lambda f: f.p_fake) if self.faces else None

    def to_dict(self) -> dict:
        """The JSON-ready record. ``path`` is UTF-8 text: bytes of a file name that are not valid UTF-8 are written as
        ``\\xNN`` escapes (the case store's convention, and bash's ``$'...'``), while ``self.path`` keeps the name the
        operating system gave, to open the file by."""
        return {
            "path": storable_text(self.path),
            "sha256": self.sha256,
            "size": self.size,
            "type": self.media_type,
            "mime": self.mime,
            "width": self.width,
            "height": self.height,
            "status": self.status,
            "message": self.message,
            "score": None if self.score is None else round(self.score, 6),
            "verdict": self.verdict,
            "caveats": list(self.caveats),
            "suspected_kind": self.suspected_kind,
            "threshold": self.threshold,
            "aggregate": self.aggregate,
            "model": self.model_name,
            "model_sha256": self.model_sha256,
            "faces": [f.to_dict() for f in self.faces],
            "frames": [f.to_dict() for f in self.frames],
            "elapsed_s": round(self.elapsed_s, 3),
        }
