"""A training pack: a data spec's training rows made small enough to carry to a GPU machine.

``pack_spec(spec, out)`` writes, under ``out``:

- one folder per source (named like the source's folder) with the images and a ``labels.csv``
  (path, label, method, group, split);
- ``landmarks/landmarks-<folder>.csv``, the MTCNN box and five points of every packed image in
  the packed image's own coordinates (so ``dfd train`` finds no face twice and needs no MTCNN);
- ``spec.yaml``, the same recipe (weights, kinds, framing, threshold rule) over the packed folders;
- ``pack.json``, what was packed from where, with every packed file's SHA-256 and its original's.

What changes: ``pipeline`` images are cut to the region the training framing can reach (the
scanner's window at its widest jitter, with a margin); every image is scaled down to at most
``side`` pixels and stored as JPEG or WebP at ``quality``: one more generation of compression,
applied to real and fake images alike (as the training degradations are).

A source may be limited to ``limits[source]`` training rows, drawn by whole groups (a source video's
real and fakes stay together), so the pack fits a size budget. A few of each source's validation
rows (``monitor`` per source) come along, marked ``split=test``, for the per-epoch monitor only:
calibration and the card's figures are measured afterwards on the full validation rows (resume the
run with the original spec, see weights/README.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..fileio import atomic_write
from ..progress import Progress, ensure_progress
from .landmarks import _FIELDS
from .spec import DataSpec, load_spec

__all__ = ["pack_spec", "pack_region", "REACH"]

log = logging.getLogger(__name__)

# Half the side of the packed region around a pipeline face, in box sides: the widest training
# window is crop_scale 0.70 x 1.2 = 0.84 box sides, shifted by up to 0.09 + 0.04 box heights down
# (dataset.CropDataset); 0.50 covers it with a margin for self-blending's mask.
REACH = 0.50


def pack_region(box, img_w: int, img_h: int, reach: float = REACH) -> tuple[int, int, int, int]:
    """The part of the image (x1, y1, x2, y2, clipped to it) that training can cut around ``box``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    half = reach * max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0 + 0.09 * (y2 - y1)
    return (
        max(0, int(np.floor(cx - half))),
        max(0, int(np.floor(cy - half))),
        min(img_w, int(np.ceil(cx + half))),
        min(img_h, int(np.ceil(cy + half))),
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _limit_by_group(rows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most about ``n`` rows, whole groups drawn at random (a group's real and fakes together)."""
    if n <= 0 or len(rows) <= n:
        return rows
    groups = rows["group"].drop_duplicates().sample(frac=1.0, random_state=seed).tolist()
    sizes = rows.groupby("group").size()
    keep, total = [], 0
    for g in groups:
        if total >= n:
            break
        keep.append(g)
        total += int(sizes[g])
    return rows[rows["group"].isin(set(keep))]


def _monitor_rows(rows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    held = rows[rows["role"] != "train"]
    if n <= 0 or held.empty:
        return held.iloc[:0]
    parts = [d.sample(n=min(len(d), max(1, n // 2)), random_state=seed) for _, d in held.groupby("label")]
    return pd.concat(parts)


FORMATS = {"jpeg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp")}


def _pack_image(src: Path, dst: Path, face, pipeline: bool, side: int, quality: int, fmt: str):
    """Cut (pipeline: the reachable region around the face), scale to at most ``side`` and store one
    image; returns its box and landmarks in the packed image (None without a face)."""
    import cv2
    from PIL import Image

    with Image.open(src) as im:
        img = np.asarray(im.convert("RGB"))
    h, w = img.shape[:2]
    rx1, ry1, rx2, ry2 = pack_region(face[0], w, h) if pipeline else (0, 0, w, h)
    if rx2 <= rx1 or ry2 <= ry1:
        raise DataError(f"{src}: the face box lies outside the image")
    region = img[ry1:ry2, rx1:rx2]
    f = min(1.0, side / max(region.shape[:2]))
    if f < 1.0:
        region = cv2.resize(
            region,
            (max(1, int(round(region.shape[1] * f))), max(1, int(round(region.shape[0] * f)))),
            interpolation=cv2.INTER_AREA,
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    pil_format, _ = FORMATS[fmt]
    extra = {"optimize": True} if fmt == "jpeg" else {"method": 6}
    Image.fromarray(region).save(dst, format=pil_format, quality=quality, **extra)
    if face is None:
        return None, None
    off = np.array([rx1, ry1], dtype=np.float32)
    new_box = ((np.asarray(face[0], dtype=np.float32).reshape(2, 2) - off) * f).reshape(-1)
    return new_box, (np.asarray(face[1], dtype=np.float32) - off) * f


def pack_spec(
    spec: DataSpec,
    out: str | Path,
    landmarks_dir: str | Path,
    limits: dict[str, int] | None = None,
    side: int = 224,
    quality: int = 90,
    fmt: str = "jpeg",
    monitor: int = 100,
    seed: int = 0,
    progress: Progress | None = None,
) -> Path:
    """Write the pack (see the module docstring) and return its ``spec.yaml``.

    ``landmarks_dir`` is the landmark cache of ``dfd train`` for this spec (one
    ``landmarks-<folder>.csv`` per source); what it lacks is computed first (MTCNN), as
    ``dfd train`` would.
    """
    import yaml

    from ..models.card import MIN_INPUT_SIZE
    from .multi import prepare_sources

    if side < MIN_INPUT_SIZE:
        raise DataError(f"side must be at least {MIN_INPUT_SIZE} px (the smallest classifier input), not {side}")

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"pack folder {out} is not empty: give a new folder")
    limits = dict(limits or {})
    unknown = set(limits) - {s.name for s in spec.sources}
    if unknown:
        raise DataError(f"--limit names unknown source(s) {', '.join(sorted(unknown))}")
    if fmt not in FORMATS:
        raise DataError(f"pack format {fmt!r} is not one of {', '.join(FORMATS)}")
    prog = ensure_progress(progress)
    table, found, _ = prepare_sources(spec, landmarks_dir, load_spec(spec), prog)
    raw = json.loads(json.dumps(spec.raw))
    record: dict = {"source_spec": str(spec.path), "side": side, "quality": quality, "format": fmt, "sources": {}}
    (out / "landmarks").mkdir(parents=True)
    for src in spec.sources:
        rows = table[table["source"] == src.name]
        train = _limit_by_group(rows[rows["role"] == "train"], limits.get(src.name, 0), seed)
        mon = _monitor_rows(rows, monitor, seed)
        chosen = pd.concat([train, mon])
        dest = out / src.root.name
        labels, lm_rows, files = [], [], []
        prog.start(len(chosen), f"packing {src.name}")
        for rel, y, method, group, role in zip(
            chosen["path"], chosen["label"], chosen["method"], chosen["group"], chosen["role"]
        ):
            face = found.get(str(src.root / rel))
            pipeline = src.framing == "pipeline"
            if pipeline and face is None:
                prog.advance(1)
                continue  # training drops pipeline rows without a face too
            new_rel = str(Path(rel).with_suffix(FORMATS[fmt][1]))
            target = dest / new_rel
            box, lm = _pack_image(src.root / rel, target, face, pipeline, side, quality, fmt)
            if box is not None:
                lm_rows.append([new_rel, *np.round(box, 2), 1.0, *np.round(np.asarray(lm).reshape(-1), 2)])
            else:  # searched, no face: recorded as the cache records it, so training does not search again
                lm_rows.append([new_rel, *[None] * 4, 0.0, *[None] * 10])
            labels.append(
                {
                    "path": new_rel,
                    "label": "fake" if y else "real",
                    "method": method,
                    "group": group,
                    "split": "train" if role == "train" else "test",
                }
            )
            files.append(
                {"path": new_rel, "original": rel, "sha256": _sha(target), "original_sha256": _sha(src.root / rel)}
            )
            prog.advance(1)
        prog.close()
        pd.DataFrame(labels).to_csv(dest / "labels.csv", index=False)
        lm_frame = pd.DataFrame(lm_rows, columns=_FIELDS)
        lm_frame.to_csv(out / "landmarks" / f"landmarks-{src.root.name}.csv", index=False)
        s = raw["sources"][src.name]
        s["root"] = src.root.name
        s["validation"] = {"column": "split", "value": "test"}
        s["group_column"] = "group"
        n_train = sum(1 for r in labels if r["split"] == "train")
        record["sources"][src.name] = {
            "original_root": str(src.root),
            "framing": src.framing,
            "stored": ("face region cut, " if src.framing == "pipeline" else "whole image, ")
            + f"<= {side} px, {fmt} quality {quality}",
            "training_rows": n_train,
            "training_rows_in_source": int((rows["role"] == "train").sum()),
            "monitor_rows": len(labels) - n_train,
            "bytes": int(sum((dest / r["path"]).stat().st_size for r in labels)),
            "files": files,
        }
    raw["name"] = f"{spec.name}-pack"
    header = (
        f"# A training pack of {spec.path.name} (dfd pack): training rows only, plus a few monitor rows\n"
        "# marked split=test. Calibrate and measure on the original spec's validation rows.\n"
    )
    atomic_write(out / "spec.yaml", header + yaml.safe_dump(raw, sort_keys=False))
    atomic_write(out / "pack.json", json.dumps(record))
    return out / "spec.yaml"
