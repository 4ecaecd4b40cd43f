"""'Outside the model's experience': how unlike the faces of its training sources a face looks to the classifier.

The statistics read one of two feature vectors, as the novelty file says:

* the classifier's pooled features (the input of its last linear layer): the original rule;
* the mean and standard deviation of each channel of chosen intermediate blocks (``blocks``): the
  "style" of the picture as the network's middle layers see it (sharpness, noise, compression,
  rendering), standardised per dimension. Measured on ``dfd-lite0-sbi`` (trained on DFDC only),
  with the threshold at the 99th percentile of DFDC calibration faces: block 3's statistics
  flagged 74% of the unseen FaceForensics++ real faces and 66% of the unseen portrait stills, and
  caught 144 of the 188 and 130 of the 195 of those real faces the model called fake, where the
  pooled features (the earlier rule) flagged 9% / 13% and caught 18 / 28 (bench/novelty_check.py).
  The pooled features are trained to tell real from fake and lose what makes a source different;
  the middle layers keep it.

Either vector is summarised by the reference faces' mean and top ``k`` principal directions. A
face's novelty is its Mahalanobis distance in that subspace (per direction) plus the energy left
outside it (relative to the reference faces' mean), so familiar faces score about 2. The
threshold is a high percentile of the held-out calibration faces, every source weighted equally,
so about 1% of familiar faces of each source are flagged.

The statistics are a ``.npz`` beside the weights whose SHA-256 the card records; it is loaded
with ``allow_pickle=False`` and refused when the hash does not match.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .sidecar import load_npz, save_npz

__all__ = ["NoveltyModel", "fit_novelty", "last_linear", "feature_blocks", "block_stats", "NOVELTY_RULE"]

NOVELTY_RULE = (
    "novelty = mean over the top k principal directions of (projection^2 / variance) + residual energy / its "
    "reference mean, on {features} (mirror-averaged as the logits are); a face is outside the model's experience "
    "when novelty exceeds the threshold (the {pct}th percentile of the calibration faces, every source weighted "
    "equally)"
)


def features_words(blocks: tuple[int, ...]) -> str:
    """What a novelty model reads, in words for the card."""
    if not blocks:
        return "the classifier's pooled features"
    names = ", ".join(str(b) for b in blocks)
    return f"the per-channel mean and standard deviation of the classifier's block(s) {names}, standardised"


def feature_blocks(module, blocks: tuple[int, ...]) -> list:
    """The modules whose outputs ``block_stats`` summarises: ``module.blocks[k]`` (timm's EfficientNets)."""
    stages = getattr(module, "blocks", None)
    if stages is None:
        raise ValueError(
            f"{type(module).__name__} has no .blocks: block statistics need an EfficientNet-style backbone"
        )
    return [stages[k] for k in blocks]


def block_stats(outputs):
    """Per-channel mean and standard deviation over the picture of each block output (N, C, H, W): (N, 2 x sum C)."""
    import torch

    parts = []
    for o in outputs:
        o = o.float()
        parts += [o.mean((2, 3)), o.std((2, 3))]
    return torch.cat(parts, 1)


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
    blocks: tuple[int, ...] = ()  # () reads the pooled features; else the statistics of these blocks' outputs
    scale: np.ndarray | None = None  # (D,) features are divided by it (after subtracting ``mean``) when set

    def score(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64) - self.mean
        if self.scale is not None:
            x = x / self.scale
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
            blocks=np.asarray(self.blocks, dtype=np.int64),
            scale=np.ones(0) if self.scale is None else self.scale.astype(np.float64),
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
            blocks=tuple(int(b) for b in z["blocks"]) if "blocks" in z else (),
            scale=z["scale"].astype(np.float64) if "scale" in z and len(z["scale"]) else None,
        )


def fit_novelty(
    reference: np.ndarray,
    calibration: np.ndarray,
    k: int = 32,
    percentile: float = 99.0,
    *,
    groups: np.ndarray | None = None,
    standardise: bool = False,
    blocks: tuple[int, ...] = (),
) -> NoveltyModel:
    """Fit on ``reference`` features (faces of every training source); threshold from ``calibration``.

    ``groups`` (one label per calibration row, e.g. its source) weights each group equally in the
    percentile, so that a large source does not set the threshold alone; ``standardise`` divides
    every dimension by its reference standard deviation first (for block statistics, whose
    dimensions have unrelated scales); ``blocks`` is recorded: what the features are.
    """
    x = np.asarray(reference, dtype=np.float64)
    mean = x.mean(0)
    scale = (x.std(0) + 1e-6) if standardise else None
    xc = (x - mean) if scale is None else (x - mean) / scale
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(k, len(s))
    comps = vt[:k]
    var = np.maximum((s[:k] ** 2) / max(1, len(x) - 1), 1e-12)
    proj = xc @ comps.T
    resid = (xc * xc).sum(1) - (proj * proj).sum(1)
    model = NoveltyModel(mean, comps, var, float(max(resid.mean(), 1e-12)), 0.0, tuple(blocks), scale)
    thr = weighted_percentile(model.score(calibration), percentile, groups)
    return replace(model, threshold=thr)


def weighted_percentile(values: np.ndarray, percentile: float, groups: np.ndarray | None = None) -> float:
    """The ``percentile``-th percentile of ``values``, each group of ``groups`` carrying the same total weight
    (the plain percentile without groups)."""
    v = np.asarray(values, dtype=np.float64)
    if groups is None:
        return float(np.percentile(v, percentile))
    g = np.asarray(groups)
    labels, counts = np.unique(g, return_counts=True)
    w = (1.0 / counts)[np.searchsorted(labels, g)]
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    return float(v[order][min(len(v) - 1, int(np.searchsorted(cum, percentile / 100.0)))])
