"""Pictures for the widgets: thumbnails, face boxes, PNG encoding, video frames, score plots.

Pure functions on files and arrays; the widgets only display the bytes these return.
"""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dfd_lib.errors import DfdError
from dfd_lib.media import (
    MEDIA_KINDS,
    MediaLimits,
    decode_image,
    iter_image_frames,
    iter_video_frames,
    load_image,
)

__all__ = [
    "png",
    "fit_png",
    "placeholder_png",
    "thumbnail_png",
    "load_still",
    "video_frame",
    "draw_boxes",
    "score_plot_png",
    "ThumbnailCache",
    "VERDICT_COLOURS",
    "score_colour",
]

log = logging.getLogger(__name__)

# Colours used for verdicts everywhere in the workbench (model verdict or analyst verdict).
VERDICT_COLOURS = {
    "fake": "#c62828",
    "likely_fake": "#ef6c00",
    "inconclusive": "#9e9d24",
    "likely_real": "#2e7d32",
    "real": "#1b5e20",
    "not_relevant": "#616161",
    None: "#9e9e9e",
}


def score_colour(score: float | None, threshold: float | None) -> str:
    """Red above the threshold, amber near it, green below; grey when there is no score."""
    if score is None or score != score:
        return VERDICT_COLOURS[None]
    t = 0.5 if threshold is None or threshold != threshold else threshold
    if score >= t:
        return VERDICT_COLOURS["fake"]
    if score >= 0.75 * t:
        return VERDICT_COLOURS["likely_fake"]
    return VERDICT_COLOURS["likely_real"]


def png(image: np.ndarray | Image.Image) -> bytes:
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def fit_png(path: str | Path, max_side: int = 480) -> bytes:
    """A stored picture (artifact PNG) reduced to ``max_side`` for display."""
    with Image.open(path) as img:
        img.thumbnail((max_side, max_side))
        return png(img)


def placeholder_png(text: str, size: int = 128) -> bytes:
    """A grey tile with a short text, for items that have no picture (unreadable, unsupported)."""
    img = Image.new("RGB", (size, size), (224, 224, 224))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > 16:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    for i, ln in enumerate(lines[:6]):
        draw.text((6, 8 + 14 * i), ln, fill=(80, 80, 80), font=font)
    return png(img)


def load_still(path: str | Path, media_kind: str) -> np.ndarray:
    """An RGB picture of an item: the image itself, or the first decodable frame of a video."""
    if media_kind == "video":
        return video_frame(path, 0)
    return load_image(path)


def video_frame(path: str | Path, index: int) -> np.ndarray:
    """The decoded frame with the given index (frame numbers as the scan records them).

    Every frame up to ``index`` is decoded (the count of sampled frames kept by a scan does
    not bound it); a frame that the video does not have raises DfdError, never another frame.
    """
    if index < 0:
        raise DfdError(f"{path}: there is no frame {index}")
    seen = 0
    for frame in iter_video_frames(path, fps=None, every=1, limits=MediaLimits(max_video_frames=index + 1)):
        seen = frame.index + 1
        if frame.index == index:
            return frame.image
    raise DfdError(f"{path}: frame {index} could not be decoded (only {seen} frame(s) decoded)")


def picture_frame(path: str | Path, index: int | None) -> np.ndarray:
    """Frame ``index`` (as the scan records it: 0 the first) of an animated picture or page of a multi-page TIFF;
    the picture itself for ``None``. A frame the scan did not examine raises DfdError, never another frame."""
    if index is None:
        return load_image(path)
    for decoded in iter_image_frames(path):
        if decoded.frame == index:
            return decoded.pixels
    raise DfdError(f"{path}: frame {index} was not among the frames examined")


PREVIEW_MAX_PIXELS = 16_000_000  # grid thumbnails: pictures are decoded within this many pixels


def thumbnail_png(path: str | Path, media_kind: str, size: int = 128) -> bytes:
    """A square-bounded thumbnail, or a placeholder saying why there is none."""
    if media_kind not in MEDIA_KINDS:
        return placeholder_png(f"no preview ({media_kind})", size)
    try:
        if media_kind == "video":
            img = Image.fromarray(load_still(path, media_kind))
        else:  # a JPEG decoded reduced; any other picture over the bound gets no preview (a 115 KB PNG of 119 MP
            # took 3.8 s and 0.9 GB per tile)
            img = Image.fromarray(decode_image(path, max_pixels=PREVIEW_MAX_PIXELS).pixels)
    except (DfdError, OSError, ValueError) as exc:
        log.debug("no thumbnail for %s: %s", path, exc)
        word = getattr(exc, "status", None) or "cannot be decoded"  # a MediaError's status: unreadable, too_large...
        return placeholder_png("no preview: " + str(word).replace("_", " "), size)
    img.thumbnail((size, size))
    return png(img)


class ThumbnailCache:
    """Thumbnails by SHA-256 (evidence is content-addressed, so a key never goes stale)."""

    def __init__(self, max_items: int = 512, size: int = 128) -> None:
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self.max_items, self.size = max_items, size

    def get(self, sha256: str, path: str | Path, media_kind: str) -> bytes:
        if sha256 in self._data:
            self._data.move_to_end(sha256)
            return self._data[sha256]
        data = thumbnail_png(path, media_kind, self.size)
        self._data[sha256] = data
        while len(self._data) > self.max_items:
            self._data.popitem(last=False)
        return data


def draw_boxes(image: np.ndarray, boxes: Sequence[tuple[tuple[float, ...], str, str]], max_side: int = 720) -> bytes:
    """Draw ``(box, label, colour)`` rectangles on an RGB image, downscaled to ``max_side``; PNG bytes."""
    img = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    scale = min(1.0, max_side / max(img.size))
    if scale < 1.0:
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BILINEAR
        )
    draw = ImageDraw.Draw(img)
    size = max(12, round(max(img.size) / 28))
    font = ImageFont.load_default(size=size)
    width = max(2, round(max(img.size) / 240))
    for (x1, y1, x2, y2), label, colour in boxes:
        rect = [x1 * scale, y1 * scale, x2 * scale, y2 * scale]
        draw.rectangle(rect, outline=colour, width=width)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tx, ty = rect[0], max(0, rect[1] - (bottom - top) - 6)
        draw.rectangle([tx, ty, tx + right - left + 6, ty + bottom - top + 6], fill=colour)
        draw.text((tx + 3 - left, ty + 3 - top), label, fill="white", font=font)
    return png(img)


def score_plot_png(
    times: Sequence[float | None], scores: Sequence[float | None], threshold: float | None, selected: int | None = None
) -> bytes:
    """Per-frame P(fake) of a video (gaps where a frame had no face), threshold line, selected frame marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    x = [i if t is None else t for i, t in enumerate(times)]
    y = [np.nan if s is None else s for s in scores]
    fig = Figure(figsize=(6.4, 2.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(x, y, marker="o", ms=3, lw=1.2, color="#1565c0", label="P(fake) of the most suspicious face")
    if threshold is not None:
        ax.axhline(threshold, color="#c62828", ls="--", lw=1, label=f"threshold {threshold:.2f}")
    if selected is not None and 0 <= selected < len(x):
        ax.axvline(x[selected], color="#424242", lw=1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)" if any(t is not None for t in times) else "sampled frame")
    ax.set_ylabel("P(fake)")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
