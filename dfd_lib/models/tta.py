"""Test-time augmentation: the one forward pass that training, calibration and scanning share.

``hflip`` averages the logits of each face crop and its mirror image. A face is (nearly)
symmetric while a classifier's errors are not, so the average is a steadier score. On held-out
DFDC groups it raised ROC AUC from 0.951 to 0.957 (stage-4 weights) and from 0.949 to 0.955 (the
shipped stage-5 weights), for twice the classifier's (small) share of scan time.
The model card names the mode, and calibration is always fitted on logits computed the same way.
"""
from __future__ import annotations

__all__ = ["TTA_MODES", "forward_logits"]

TTA_MODES = ("none", "hflip")


def forward_logits(module, x, tta: str = "none"):
    """Raw logits, shape (N,), for a batch ``x`` (N, 3, H, W) under the card's test-time augmentation."""
    if tta not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation {tta!r}; known: {', '.join(TTA_MODES)}")
    z = module(x).float().reshape(-1)
    if tta == "hflip":
        z = (z + module(x.flip(-1)).float().reshape(-1)) / 2
    return z
