"""Training augmentation: framing jitter, flips, resizing and compression as social media and codecs apply.

Applied identically to real faces, real fakes and self-blended pseudo-fakes, so that no
class can be told apart by its compression or resolution alone.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..preprocess import resize_square

__all__ = ["augment", "jpeg_roundtrip"]


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode an RGB image as JPEG at ``quality`` and decode it again."""
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] if ok else img


def augment(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random framing, flip, colour, blur/down-up-scaling and JPEG; returns size x size RGB uint8."""
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
    r = rng.random()
    if r < 0.25:  # down- then up-scaling, as re-posted images and small video faces suffer
        f = rng.uniform(0.3, 0.8)
        small = max(24, int(side * f))
        out = cv2.resize(cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (side, side), interpolation=cv2.INTER_LINEAR)
    elif r < 0.35:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.2))
    out = resize_square(out, size)
    if rng.random() < 0.6:
        out = jpeg_roundtrip(out, int(rng.integers(35, 96)))
    return np.ascontiguousarray(out)
