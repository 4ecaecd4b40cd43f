"""'Outside the model's experience': how unlike the validation faces a face looks to the classifier.

The classifier's pooled features (the input of its last linear layer) of faces from every
training source are summarised by their mean and the top ``k`` principal directions. A face's
novelty is its Mahalanobis distance in that subspace (per direction) plus the energy left
outside it (relative to the reference faces' mean), so in-distribution faces score about 2.
The threshold is a high percentile of the scores of the held-out calibration faces of every
source, so by construction about 1% of familiar faces are flagged while faces unlike any
source (other renderings, extreme compression, cartoons, non-faces) score far above it.

The statistics are a ``.npz`` beside the weights whose SHA-256 the card records; it is loaded
with ``allow_pickle=False`` and refused when the hash does not match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .sidecar import load_npz, save_npz

__all__ = ["NoveltyModel", "fit_novelty", "last_linear", "NOVELTY_RULE"]

NOVELTY_RULE = (
    "novelty = mean over the top k principal directions of (projection^2 / variance) + residual energy / its "
    "reference mean, on the classifier's pooled features (mirror-averaged as the logits are); a face is outside "
    "the model's experience when novelty exceeds the threshold (the {pct}th percentile of the calibration faces "
    "of every source)"
)


def last_linear(module):
    """The final ``torch.nn.Linear`` of a classifier (its input is the pooled feature vector)."""
    import torch

    linear = None
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            linear = m
    if linear is None:
        raise ValueError("the model has no linear layer to read features from")
    return linear


@dataclass(frozen=True)
class NoveltyModel:
    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D), orthonormal rows
    variances: np.ndarray  # (k,)
    residual_mean: float
    threshold: float

    def score(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64) - self.mean
        proj = x @ self.components.T
        resid = (x * x).sum(1) - (proj * proj).sum(1)
        return (proj * proj / self.variances).mean(1) + np.maximum(resid, 0) / self.residual_mean

    def save(self, path: str | Path) -> None:
        save_npz(
            path,
            mean=self.mean.astype(np.float32),
            components=self.components.astype(np.float32),
            variances=self.variances.astype(np.float64),
            residual_mean=np.float64(self.residual_mean),
            threshold=np.float64(self.threshold),
        )

    @classmethod
    def load(cls, path: str | Path, sha256: str) -> "NoveltyModel":
        z = load_npz(path, sha256, "novelty statistics")
        return cls(
            mean=z["mean"].astype(np.float64),
            components=z["components"].astype(np.float64),
            variances=z["variances"],
            residual_mean=float(z["residual_mean"]),
            threshold=float(z["threshold"]),
        )


def fit_novelty(reference: np.ndarray, calibration: np.ndarray, k: int = 32, percentile: float = 99.0) -> NoveltyModel:
    """Fit on ``reference`` features (faces of every training source); threshold from ``calibration``."""
    x = np.asarray(reference, dtype=np.float64)
    mean = x.mean(0)
    xc = x - mean
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(k, len(s))
    comps = vt[:k]
    var = np.maximum((s[:k] ** 2) / max(1, len(x) - 1), 1e-12)
    proj = xc @ comps.T
    resid = (xc * xc).sum(1) - (proj * proj).sum(1)
    model = NoveltyModel(mean, comps, var, float(max(resid.mean(), 1e-12)), 0.0)
    thr = float(np.percentile(model.score(calibration), percentile))
    return NoveltyModel(mean, comps, var, model.residual_mean, thr)
