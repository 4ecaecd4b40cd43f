"""Benchmark inputs made on the fly (nothing downloaded, nothing from ../shared): photos, face crops, a 1080p clip.

The face is scikit-image's public-domain astronaut photo, placed in scikit-image's coffee photo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["make_images", "make_crops", "make_video"]

_PHOTO_SIZES = [(640, 480), (1024, 768), (1280, 960), (1600, 1200)]


def _astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def _scene(w: int, h: int) -> Image.Image:
    from skimage import data

    return Image.fromarray(np.asarray(Image.fromarray(data.coffee()).resize((w, h))))


def make_images(folder: Path, n: int) -> list[Path]:
    """JPEG photos of 640x480 to 1600x1200 with one face placed in a scene."""
    astro = _astronaut()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        w, h = _PHOTO_SIZES[i % len(_PHOTO_SIZES)]
        bg = _scene(w, h)
        side = int(min(w, h) * rng.uniform(0.4, 0.7))
        bg.paste(astro.resize((side, side)), (int(rng.integers(0, w - side)), int(rng.integers(0, h - side))))
        p = folder / f"img{i:03d}.jpg"
        bg.save(p, quality=90)
        paths.append(p)
    return paths


def make_crops(folder: Path, n: int) -> list[Path]:
    """Tight face crops as profile pictures and screenshots come: 160 to 400 px squares, JPEG and PNG."""
    astro = np.asarray(_astronaut())
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        x, y, side = 150 + int(rng.integers(-20, 20)), 20 + int(rng.integers(-10, 10)), 190 + int(rng.integers(-15, 15))
        crop = Image.fromarray(astro[y : y + side, x : x + side]).resize((int(rng.integers(160, 400)),) * 2)
        p = folder / f"crop{i:03d}.{'png' if i % 3 == 0 else 'jpg'}"
        crop.save(p)
        paths.append(p)
    return paths


def make_video(
    path: Path,
    seconds: float = 20.0,
    fps: int = 30,
    size: tuple[int, int] = (1920, 1080),
    face_image: Image.Image | None = None,
) -> Path:
    """An H.264 clip (yuv420p, 12 Mbit/s as phones record 1080p, a key frame every 2 s) of a face moving slowly
    over a panning scene with sensor-like noise, so that its decoding cost is that of camera footage.
    The face is the astronaut's, or ``face_image`` (a square picture of a face) where given."""
    import av

    w, h = size
    scene = np.asarray(_scene(w + 200, h))
    side = h // 2
    face = np.asarray((face_image or _astronaut()).convert("RGB").resize((side, side)))
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt, s.bit_rate = w, h, "yuv420p", 12_000_000
        s.options = {"preset": "veryfast", "g": str(2 * fps)}
        n = int(seconds * fps)
        for i in range(n):
            pan = int(200 * i / max(1, n - 1))
            img = scene[:, pan : pan + w].copy()
            x = int((w - side) * (0.2 + 0.6 * i / max(1, n - 1)))
            y = (h - side) // 3
            img[y : y + side, x : x + side] = face
            img = np.clip(img.astype(np.int16) + rng.integers(-8, 9, (h, w, 3), dtype=np.int16), 0, 255).astype(
                np.uint8
            )
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path
