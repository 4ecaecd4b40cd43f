"""Error level analysis (ELA): how much each pixel changes when the image is re-saved as JPEG.

Areas that have been JPEG-compressed as often, and at the same quality, as the rest of the
picture change by similar amounts; a region pasted from a differently compressed (or never
compressed) source often changes more or less than its surroundings. Edges, fine texture and
noise also change more on re-saving, so a bright area is a place to look, not a finding.
"""

from __future__ import annotations

import io

import numpy as np

from .base import MAP_MAX_PIXELS, Analysis, Evidence, ForensicResult, fit_pixels

__all__ = ["ElaAnalysis", "error_level", "DEFAULT_QUALITY", "DEFAULT_AMPLIFICATION"]

DEFAULT_QUALITY = 90
DEFAULT_AMPLIFICATION = 20.0  # fixed, so that maps of different images are comparable
_BLOCK = 16


def error_level(rgb: np.ndarray, quality: int = DEFAULT_QUALITY) -> np.ndarray:
    """Per-channel absolute difference (uint8, HxWx3) between ``rgb`` and its JPEG re-save."""
    import cv2
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as img:
        resaved = np.asarray(img.convert("RGB"))
    return cv2.absdiff(rgb, resaved)


def _percentile_u8(values: np.ndarray, q: float) -> float:
    counts = np.bincount(values.ravel(), minlength=256)
    cum = np.cumsum(counts)
    return float(np.searchsorted(cum, q / 100.0 * cum[-1]))


class ElaAnalysis(Analysis):
    name = "ela"
    order = 40
    description = "Error level analysis: re-save as JPEG at a known quality and map the per-pixel change"
    applies_to = frozenset({"image"})

    def __init__(self, quality: int = DEFAULT_QUALITY, amplification: float = DEFAULT_AMPLIFICATION) -> None:
        if not 1 <= quality <= 100:
            raise ValueError("quality must be within 1..100")
        self.quality = quality
        self.amplification = amplification

    def analyse(self, evidence: Evidence) -> ForensicResult:
        import cv2

        rgb, downscaled = evidence.analysis_pixels()
        h, w = rgb.shape[:2]
        diff = error_level(rgb, self.quality)
        r, g, b = cv2.split(diff)
        err = cv2.max(cv2.max(r, g), b)  # largest channel change per pixel, 0..255

        mean_err = float(cv2.mean(err)[0])
        p99 = _percentile_u8(err, 99.0)
        metrics: dict = {
            "quality": self.quality,
            "amplification": self.amplification,
            "mean_error": round(mean_err, 3),
            "max_error": int(err.max()),
            "p99_error": p99,
        }
        bh, bw = h // _BLOCK, w // _BLOCK
        if bh >= 2 and bw >= 2:
            blocks = cv2.resize(
                err[: bh * _BLOCK, : bw * _BLOCK].astype(np.float32), (bw, bh), interpolation=cv2.INTER_AREA
            )
            med = float(np.median(blocks))
            metrics["block_size"] = _BLOCK
            metrics["block_p99_error"] = round(float(np.percentile(blocks, 99)), 3)
            metrics["block_p99_over_median"] = round(metrics["block_p99_error"] / med, 3) if med > 0 else None

        amplified = cv2.convertScaleAbs(diff, alpha=self.amplification)
        map_image = fit_pixels(amplified, MAP_MAX_PIXELS)
        metrics["map_size"] = [map_image.shape[1], map_image.shape[0]]

        notes = [
            f"Re-saved as JPEG at quality {self.quality}; the map shows each pixel's change "
            f"amplified {self.amplification:g}x (mean change {mean_err:.2f}, 99th percentile {p99:.0f}, "
            f"maximum {metrics['max_error']} on a 0-255 scale).",
            "Regions that stand out from similar content nearby may have a different compression "
            "history, for example a pasted area. Edges, fine texture, noise and saturated colours "
            "also light up, and a file re-saved many times shows little anywhere, so ELA alone "
            "neither proves nor rules out editing.",
        ]
        if downscaled:
            notes.append(
                f"The image was reduced to {w}x{h} before analysis; resampling blurs the original "
                "JPEG block traces, which weakens this analysis."
            )
        if evidence.format not in ("JPEG",):
            notes.append(
                f"The file is {evidence.format}, not JPEG: the map reflects content and any earlier "
                "JPEG history the pixels carry, not the file's own compression."
            )
        return ForensicResult.ok(
            self.name, notes, metrics, map_image=map_image, analysed_size=(w, h), downscaled=downscaled
        )
