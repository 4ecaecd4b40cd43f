"""Training augmentation: framing jitter, flips, colour, then the shared degradations.

Applied identically to real faces, real fakes and self-blended pseudo-fakes, so that no
class can be told apart by its compression, resolution or sharpness alone (see degrade.py).
"""

from __future__ import annotations

import numpy as np

from ..preprocess import resize_square
from .degrade import compress, degrade, jpeg_roundtrip

__all__ = ["augment", "jpeg_roundtrip"]


def augment(img: np.ndarray, size: int, rng: np.random.Generator, h264: bool = True) -> np.ndarray:
    """Random framing, flip, colour, degradation chain and compression; returns size x size RGB uint8.
    ``h264=False`` replaces the H.264 round trips by JPEG ones (see degrade._codec)."""
    h, w = img.shape[:2]
    # Framing jitter: a random square window covering 80-100% of the side, shifted a little.
    s = rng.uniform(0.8, 1.0)
    side = int(round(min(h, w) * s))
    x0 = int(rng.integers(0, w - side + 1))
    y0 = int(rng.integers(0, h - side + 1))
    out = img[y0 : y0 + side, x0 : x0 + side]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = np.ascontiguousarray(out)
    if rng.random() < 0.3:  # brightness / contrast
        a = rng.uniform(0.85, 1.15)
        b = rng.uniform(-15, 15)
        out = np.clip(out.astype(np.float32) * a + b, 0, 255).astype(np.uint8)
    out = degrade(out, rng, h264)
    out = resize_square(out, size)
    return np.ascontiguousarray(compress(out, rng, h264))
