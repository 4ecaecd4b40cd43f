"""Distillation from a teacher card: a student trained to give at one framing what the teacher gives at all of its.

A card that scores each face at several framings (``view_scales``) costs that many classifier passes per face. A
student initialised from the same weights and trained with the teacher's view-averaged logit as a second, soft
target learns to give the averaged answer from one framing. The teacher's logits are computed once per training
image, unaugmented and framed as the teacher's card says (as its calibration rows are), and cached in the run folder
(``teacher_logits.npz``, keyed by the teacher's weights hash and how its card frames and scores a face: two
cards can score the same weights differently); self-blended pseudo-fakes have no teacher target (the
teacher never saw the blended picture) and keep the label alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..fileio import atomic_path
from ..progress import Progress, ensure_progress

__all__ = ["teacher_targets", "teacher_key", "soft_target_loss"]

log = logging.getLogger(__name__)


def teacher_targets(spec, rows: pd.DataFrame, landmarks: dict, teacher, cache: Path, progress: Progress | None = None):
    """{absolute path: the teacher's raw logit} for ``rows`` (a LoadedModel ``teacher``), cached in ``cache``."""
    from .multi import crop_loader

    card = teacher.card
    paths = rows["abs_path"].astype(str).tolist()
    key = teacher_key(card)
    if cache.exists():
        d = np.load(cache, allow_pickle=False)
        if "teacher_key" in d.files and str(d["teacher_key"]) == key and list(d["paths"]) == paths:
            log.info("teacher logits from %s", cache)
            return dict(zip(paths, d["logits"].astype(float)))
    loader = crop_loader(spec, rows.reset_index(drop=True), card, landmarks, batch_size=32)
    k = len(card.views)
    prog = ensure_progress(progress)
    prog.start(len(paths), f"teacher {card.name}: {k} framing(s) per face")
    out = []
    for x, _ in loader:
        xn = x.numpy().reshape(-1, *x.shape[-3:])
        out.append(_logits(teacher, xn).reshape(len(x), k).mean(1))
        prog.advance(len(x))
    prog.close()
    z = np.concatenate(out) if out else np.zeros(0)
    with atomic_path(cache) as tmp, open(tmp, "wb") as fh:  # a run killed while saving computes them again
        np.savez(fh, paths=np.array(paths), logits=z, teacher_sha256=np.array(card.sha256), teacher_key=np.array(key))
    return dict(zip(paths, z.astype(float)))


def teacher_key(card) -> str:
    """What a teacher's cached logits depend on: its weights' hash and how its card frames and scores a face (the
    default and its fast card share weights but not framings)."""
    import json

    fields = ("sha256", "input_size", "crop_scale", "crop_offset_y", "crop_inside", "tta")
    return json.dumps({f: getattr(card, f) for f in fields} | {"views": list(card.views)}, sort_keys=True)


def _logits(teacher, x: np.ndarray) -> np.ndarray:
    """The teacher's raw logits of single views (N, 3, H, W), with its card's test-time augmentation."""
    import torch

    from ..models.tta import channels_last, forward_logits

    tta = teacher.card.tta
    if teacher.onnx is not None:
        return teacher.onnx.run_tta(x, tta)[0]
    with torch.inference_mode():
        return forward_logits(teacher.module.eval(), channels_last(torch.from_numpy(x)), tta).numpy()


def soft_target_loss(z, y, t, weight: float):
    """Mean over a batch of (1 - w) BCE(z, y) + w BCE(z, sigmoid(t)), where ``t`` (the teacher's logit) is
    finite; BCE(z, y) alone where it is NaN (no teacher target)."""
    import torch
    import torch.nn.functional as F

    hard = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    has = torch.isfinite(t)
    soft = F.binary_cross_entropy_with_logits(z, torch.sigmoid(torch.nan_to_num(t)), reduction="none")
    w = has.float() * weight
    return ((1 - w) * hard + w * soft).mean()
