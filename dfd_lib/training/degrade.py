"""Image degradations shared by every training class: the ways real media loses or gains detail.

Each function maps an RGB uint8 image to another of the same size. ``degrade`` draws a random
chain of them. It is applied to real faces, real fakes and self-blended pseudo-fakes alike,
so resolution, sharpness, noise or compression can never tell the classes apart; that is what
stops "sharp" or "clean" from being learned as evidence of "fake".
"""

from __future__ import annotations

import io

import cv2
import numpy as np

__all__ = ["jpeg_roundtrip", "h264_roundtrip", "sharpen", "denoise", "down_up", "add_noise", "degrade", "compress"]


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode an RGB image as JPEG at ``quality`` and decode it again."""
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return img
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("JPEG round trip: the freshly encoded image could not be decoded")
    return np.ascontiguousarray(decoded[..., ::-1])


def h264_roundtrip(img: np.ndarray, crf: int) -> np.ndarray:
    """Encode one frame with H.264 (libx264 through PyAV, 4:2:0) at ``crf`` and decode it again."""
    import av

    h, w = img.shape[:2]
    h2, w2 = max(2, h - h % 2), max(2, w - w % 2)
    src = np.ascontiguousarray(cv2.resize(img, (w2, h2)) if (h2, w2) != (h, w) else img)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w2, h2, "yuv420p"
        s.options = {"crf": str(int(crf)), "preset": "ultrafast", "tune": "zerolatency"}
        s.codec_context.thread_count = 1
        for p in s.encode(av.VideoFrame.from_ndarray(src, format="rgb24")):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    buf.seek(0)
    with av.open(buf, "r") as c:
        out = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return out if out.shape[:2] == (h, w) else cv2.resize(out, (w, h))


def sharpen(img: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    """Unsharp mask, as phone cameras and editors apply."""
    blurred = cv2.GaussianBlur(img, (0, 0), sigma)
    return cv2.addWeighted(img, 1 + amount, blurred, -amount, 0)


def denoise(img: np.ndarray, strength: float) -> np.ndarray:
    """Edge-preserving smoothing, as phone noise reduction and beauty filters apply."""
    return cv2.bilateralFilter(img, 5, 10 + 40 * strength, 3 + 4 * strength)


def down_up(img: np.ndarray, side: int, rng: np.random.Generator, codec=None) -> np.ndarray:
    """Down-scale to ``side`` pixels (a small face in a video or a re-posted picture), optionally
    compress there, and scale back up with a random interpolation."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(8, side), max(8, int(round(side * h / w)))), interpolation=cv2.INTER_AREA)
    if codec is not None:
        small = codec(small)
    up = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4][int(rng.integers(0, 3))]
    return cv2.resize(small, (w, h), interpolation=up)


def add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian sensor noise (low light)."""
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _codec(rng: np.random.Generator, h264: bool = True):
    """A random compression: H.264 CRF 18-40 (25%), JPEG q30-95 (55%) or none. Without ``h264``
    (a training machine without PyAV) the H.264 share is JPEG q30-95 as well."""
    r = rng.random()
    if r < 0.25:
        crf = int(rng.integers(18, 41))
        if not h264:
            q = int(rng.integers(30, 96))
            return lambda im: jpeg_roundtrip(im, q)
        return lambda im: h264_roundtrip(im, crf)
    if r < 0.8:
        q = int(rng.integers(30, 96))
        return lambda im: jpeg_roundtrip(im, q)
    return None


def degrade(img: np.ndarray, rng: np.random.Generator, h264: bool = True) -> np.ndarray:
    """A random chain: resolution loss (with compression at the small size), sharpening or
    smoothing, noise. Final compression is left to the caller (it runs at the model's size)."""
    out = img
    side = img.shape[1]
    if rng.random() < 0.45 and side > 48:
        target = int(rng.uniform(32, min(side, 200)))
        out = down_up(out, target, rng, _codec(rng, h264) if rng.random() < 0.5 else None)
    r = rng.random()
    if r < 0.2:
        out = sharpen(out, rng.uniform(0.3, 1.5), rng.uniform(0.6, 2.0))
    elif r < 0.32:
        out = denoise(out, rng.uniform(0.0, 1.0))
    elif r < 0.42:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.5))
    if rng.random() < 0.1:
        out = add_noise(out, rng.uniform(2, 8), rng)
    return np.ascontiguousarray(out)


def compress(img: np.ndarray, rng: np.random.Generator, h264: bool = True) -> np.ndarray:
    """The last step: JPEG q30-95 (55%), H.264 CRF 18-40 (25%; JPEG without ``h264``), or none."""
    codec = _codec(rng, h264)
    return codec(img) if codec is not None else img
