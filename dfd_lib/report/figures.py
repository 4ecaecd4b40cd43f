"""Pictures for reports: evidence thumbnails and the per-frame score plot of a video (PNG via matplotlib)."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path
from typing import Sequence

from ..case import FrameDetail
from ..errors import MediaError
from ..media import MediaLimits, iter_video_frames

__all__ = ["thumbnail_jpeg", "frame_plot_png", "display_jpeg"]

log = logging.getLogger(__name__)


def _jpeg(img, max_side: int, quality: int = 82) -> bytes:
    img = img.convert("RGB")
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def thumbnail_jpeg(
    path: Path, media_kind: str, max_side: int = 240, limits: MediaLimits = MediaLimits()
) -> bytes | None:
    """A small JPEG of an image (EXIF orientation applied) or a video's first frame; None if it cannot be made."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        if media_kind == "video":
            frame = next(iter_video_frames(path, fps=1.0, limits=MediaLimits(max_video_frames=1)), None)
            return None if frame is None else _jpeg(Image.fromarray(frame.image), max_side)
        if media_kind != "image":
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > limits.max_image_pixels:
                    log.info("%s: %dx%d is over the pixel limit; no thumbnail", path.name, img.width, img.height)
                    return None
                img.draft("RGB", (max_side * 2, max_side * 2))
                return _jpeg(ImageOps.exif_transpose(img), max_side)
    except (
        MediaError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
    ) as exc:
        log.info("%s: no thumbnail: %s", path.name, exc)
        return None


def frame_plot_png(
    frames: Sequence[FrameDetail], threshold: float | None, width_in: float = 7.0, height_in: float = 2.1
) -> bytes:
    """Per-frame P(fake) against time (or frame number), the decision threshold dashed; frames without a face as x."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    use_time = all(f.time_s is not None for f in frames)
    xs: list[float] = [f.time_s for f in frames if f.time_s is not None] if use_time else [f.index for f in frames]
    fig = Figure(figsize=(width_in, height_in), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    scored = [(x, f.score) for x, f in zip(xs, frames) if f.score is not None]
    empty = [x for x, f in zip(xs, frames) if f.score is None]
    if scored:
        ax.plot(
            [x for x, _ in scored],
            [s for _, s in scored],
            "o-",
            color="#1f4e79",
            lw=1.4,
            ms=3.5,
            label="P(fake) of the most suspicious face",
        )
    if empty:
        ax.plot(empty, [0.02] * len(empty), "x", color="#888888", ms=5, label="no face in frame")
    if threshold is not None:
        ax.axhline(threshold, color="#c00000", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("time in video (s)" if use_time else "frame number", fontsize=8)
    ax.set_ylabel("P(fake)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def display_jpeg(path: Path, max_side: int = 480, quality: int = 85) -> bytes:
    """A reduced JPEG of a stored artifact (forensic map) for embedding; keeps reports small enough to upload."""
    from PIL import Image

    with Image.open(path) as img:
        return _jpeg(img, max_side, quality)
