"""Noise residual: how the local noise level varies across the picture.

A camera leaves a fairly even sensor noise over the whole frame. A region pasted from another
source, smoothed, or synthesised often has a noise level that differs from its surroundings.
The residual here is the image filtered with Immerkaer's (1996) noise-estimation kernel (a
difference of two Laplacians that cancels smooth content); its mean absolute value per block is
an estimate of the noise standard deviation in that block. Edges and fine texture leak into the
residual too, so textured areas read as "noisier" than flat ones.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import MAP_MAX_PIXELS, Analysis, Evidence, ForensicResult, colorize, fitted_size

__all__ = ["NoiseAnalysis", "noise_level_map"]

_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_SCALE = math.sqrt(math.pi / 2.0) / 6.0  # mean |residual| -> sigma for Gaussian noise


def noise_level_map(gray: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-block noise sigma estimate and per-block mean intensity for a 2-D uint8 image."""
    import cv2

    h, w = gray.shape
    bh, bw = h // block, w // block
    g = gray[: bh * block, : bw * block].astype(np.float32)
    residual = np.abs(cv2.filter2D(g, -1, _KERNEL, borderType=cv2.BORDER_REFLECT))
    sigma = cv2.resize(residual, (bw, bh), interpolation=cv2.INTER_AREA) * _SCALE
    mean = cv2.resize(g, (bw, bh), interpolation=cv2.INTER_AREA)
    return sigma, mean


class NoiseAnalysis(Analysis):
    name = "noise"
    order = 50
    description = "Noise residual: local noise level per block and how uneven it is across the image"
    applies_to = frozenset({"image"})

    def __init__(self, block: int = 32) -> None:
        if block < 4:
            raise ValueError("block must be at least 4 pixels")
        self.block = block

    def analyse(self, evidence: Evidence) -> ForensicResult:
        import cv2

        rgb, downscaled = evidence.analysis_pixels()
        h, w = rgb.shape[:2]
        block = self.block
        while block > 8 and (h // block < 4 or w // block < 4):
            block //= 2
        if h // block < 2 or w // block < 2:
            return ForensicResult.not_applicable(
                self.name, f"image is {w}x{h}, too small for a block-wise noise estimate"
            )
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        sigma, mean = noise_level_map(gray, block)
        # Clipped (near-black or near-white) blocks have no visible noise; leave them out of the statistics.
        valid = (mean > 8) & (mean < 247)
        used = sigma[valid] if valid.sum() >= 4 else sigma.ravel()
        p5, p50, p95, p99 = (float(v) for v in np.percentile(used, [5, 50, 95, 99]))
        off = float(np.mean((used > 2 * p50) | (used < p50 / 2))) if p50 > 0 else None
        metrics: dict[str, Any] = {
            "block_size": block,
            "blocks": int(sigma.size),
            "blocks_used": int(used.size),
            "sigma_median": round(p50, 4),
            "sigma_p05": round(p5, 4),
            "sigma_p95": round(p95, 4),
            "inhomogeneity_p95_over_p05": round(p95 / p5, 3) if p5 > 1e-6 else None,
            "fraction_blocks_off_by_2x": None if off is None else round(off, 4),
            "flat_block_fraction": round(float(np.mean(used < 0.05)), 4),
            "map_scale_max_sigma": round(p99, 4),
        }
        mw, mh = fitted_size(w, h, MAP_MAX_PIXELS)
        heat = colorize(sigma, 0.0, p99 if p99 > 0 else None)
        map_image = cv2.resize(heat, (mw, mh), interpolation=cv2.INTER_NEAREST)
        metrics["map_size"] = [mw, mh]

        ratio = metrics["inhomogeneity_p95_over_p05"]
        ratio_txt = "undefined (near-zero noise in many blocks)" if ratio is None else f"{ratio:.1f}"
        notes = [
            f"Estimated noise level per {block}x{block} block: median sigma {p50:.2f}, 5th-95th percentile "
            f"{p5:.2f}-{p95:.2f} (ratio {ratio_txt}); the map shows the level per block, brighter = noisier, "
            f"scaled to the 99th percentile ({p99:.2f}).",
            "A region whose noise level differs clearly from similar content around it deserves a closer "
            "look (pasting, local smoothing, synthesis). Texture and edges raise the estimate, flat or "
            "clipped areas lower it, and noise reduction in the camera or later compression can even it "
            "out, so an uneven map is common in untouched photos and an even one proves nothing.",
        ]
        if downscaled:
            notes.append(f"The image was reduced to {w}x{h} first, which averages away part of the noise.")
        return ForensicResult.ok(
            self.name, notes, metrics, map_image=map_image, analysed_size=(w, h), downscaled=downscaled
        )
