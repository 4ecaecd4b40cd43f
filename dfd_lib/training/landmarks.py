"""Landmark cache for a face-crop data set: MTCNN box and five points per image, computed once.

Self-blended pseudo-fakes need each real face's landmarks; detecting them on every epoch
would dominate training time on a CPU, so they are computed once and kept in a CSV.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from ..progress import Progress, ensure_progress

__all__ = ["compute_landmarks", "read_landmarks"]

log = logging.getLogger(__name__)

_FIELDS = ["path", "x1", "y1", "x2", "y2", "prob"] + [f"{a}{i}" for i in range(5) for a in ("lx", "ly")]


def compute_landmarks(
    root: str | Path,
    rel_paths: Sequence[str],
    out_csv: str | Path,
    batch: int = 32,
    progress: Progress | None = None,
) -> Path:
    """Detect the largest face in each image under ``root`` and append rows to ``out_csv``.

    Resumable: paths already in the CSV are skipped. Images without a face, and images that
    cannot be read, get an empty row (prob 0) so they are not retried.
    """
    out_csv = Path(out_csv)
    done = set(read_landmarks(out_csv)) if out_csv.exists() else set()
    todo = [p for p in rel_paths if p not in done]
    if not todo:  # a complete cache needs no face detector (a training machine may lack facenet-pytorch)
        return out_csv
    from PIL import Image

    from ..faces import FaceDetector

    prog = ensure_progress(progress)
    prog.start(len(todo), "landmarks")
    det = FaceDetector(min_face_size=20, prob_threshold=0.5)
    new = not out_csv.exists()
    with open(out_csv, "a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(_FIELDS)
        for s in range(0, len(todo), batch):
            chunk, imgs = [], []
            for p in todo[s : s + batch]:
                try:
                    with Image.open(Path(root) / p) as im:
                        imgs.append(np.asarray(im.convert("RGB")))
                    chunk.append(p)
                except (OSError, ValueError) as exc:  # unreadable: no landmarks; the caller reports the file
                    log.warning("landmarks: cannot read %s: %s", p, exc)
                    w.writerow([p] + [""] * 4 + [0] + [""] * 10)
            for p, faces in zip(chunk, det.detect_batch(imgs) if imgs else []):
                if faces:
                    f = faces[0]
                    w.writerow(
                        [
                            p,
                            *[round(v, 2) for v in f.box],
                            round(f.prob, 4),
                            *[round(c, 2) for pt in f.landmarks for c in pt],
                        ]
                    )
                else:
                    w.writerow([p] + [""] * 4 + [0] + [""] * 10)
            fh.flush()
            prog.advance(len(todo[s : s + batch]))
    prog.close()
    return out_csv


def read_landmarks(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray] | None]:
    """``{rel_path: (box[4], landmarks[5, 2])}`` for rows with a face (None for rows without one)."""
    out: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["x1"]:
                out.setdefault(row["path"], None)
                continue
            box = np.array([float(row[k]) for k in ("x1", "y1", "x2", "y2")], dtype=np.float32)
            lm = np.array([[float(row[f"lx{i}"]), float(row[f"ly{i}"])] for i in range(5)], dtype=np.float32)
            out[row["path"]] = (box, lm)
    return out
