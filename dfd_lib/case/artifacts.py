"""Analysis artifacts (face crops, Grad-CAM overlays, forensic maps) as content-addressed PNG files."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .clock import utc_now
from .custody import record_ref
from .files import ARTIFACTS_DIR, Staged, stage_bytes

__all__ = ["ArtifactFile", "EncodedImage", "image_to_uint8", "png_bytes", "stage_artifact", "register_artifact"]


@dataclass(frozen=True)
class ArtifactFile:
    kind: str  # "face_crop" | "gradcam" | "forensic_map"
    sha256: str
    stored_name: str
    width: int
    height: int
    staged: Staged

    def ref(self, **extra: object) -> dict:
        """The entry a finding keeps in its ``artifacts_json``."""
        return {"kind": self.kind, "sha256": self.sha256, "path": f"{ARTIFACTS_DIR}/{self.stored_name}", **extra}


def image_to_uint8(image: np.ndarray) -> np.ndarray:
    """HxW or HxWx{1,3,4} array of any numeric type -> uint8 image for PNG.

    Floats are taken as 0..1 when their maximum is at most 1, otherwise min-max scaled.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or arr.size == 0:
        raise ValueError(f"cannot store an array of shape {arr.shape} as an image")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0.0 and hi <= 1.0:
        scaled = arr * 255.0
    elif np.issubdtype(np.asarray(image).dtype, np.integer) and lo >= 0 and hi <= 255:
        scaled = arr
    else:
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image_to_uint8(image)).save(buf, format="PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class EncodedImage:
    """An artifact image already encoded as PNG (where it was computed: a Dask worker encodes its own, so the
    client that records the case only hashes and writes the bytes)."""

    data: bytes = field(repr=False)
    width: int
    height: int

    @classmethod
    def of(cls, image: np.ndarray) -> "EncodedImage":
        arr = np.asarray(image)
        return cls(png_bytes(arr), int(arr.shape[1]), int(arr.shape[0]))


def stage_artifact(case_dir: Path, image: np.ndarray | EncodedImage, kind: str) -> ArtifactFile:
    """Stage ``image`` (an array, or the PNG made of one) as a content-addressed PNG artifact; the SHA-256
    is taken here, of the bytes written."""
    enc = image if isinstance(image, EncodedImage) else EncodedImage.of(image)
    sha = hashlib.sha256(enc.data).hexdigest()
    name = f"{sha}.png"
    return ArtifactFile(
        kind, sha, name, enc.width, enc.height, stage_bytes(case_dir, ARTIFACTS_DIR, enc.data, name, sha)
    )


def register_artifact(conn: sqlite3.Connection, item_id: int, art: ArtifactFile) -> list | None:
    """Insert the artifact's record unless the same content is already recorded; returns its custody ref if new."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO artifacts (sha256, item_id, kind, stored_name, width, height, created_utc)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (art.sha256, item_id, art.kind, art.stored_name, art.width, art.height, utc_now()),
    )
    if cur.rowcount != 1:
        return None
    if cur.lastrowid is None:  # sqlite3 always sets it after a row was inserted
        raise RuntimeError("sqlite3 gave no row id for the new artifact")
    return record_ref(conn, "artifacts", cur.lastrowid)
