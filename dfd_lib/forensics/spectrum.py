"""Frequency spectrum: periodic patterns that up-sampling leaves in an image.

Resizing by an integer factor (nearest-neighbour, bilinear) and the up-sampling layers of many
image generators make neighbouring pixel differences repeat with a fixed period. That shows as
isolated peaks in the spectrum of a high-pass residual. The analysis averages the spectra of
many tiles taken at native resolution (never resampled, which would destroy the pattern), and
reports peaks that stand far above the local spectral background. JPEG compression makes peaks
on the 8-pixel block grid (multiples of 1/8 cycle per pixel); those are reported separately.
"""

from __future__ import annotations

import numpy as np

from .base import Analysis, Evidence, ForensicResult, colorize

__all__ = ["SpectrumAnalysis", "find_periodic_peaks", "MIN_LOG_RATIO", "MIN_ZSCORE"]

MIN_LOG_RATIO = 1.7  # a peak must exceed its local background by e**1.7 (about 5.5x) ...
MIN_ZSCORE = 8.0  # ... and by 8 robust standard deviations of the residual spectrum
_MIN_FREQ = 0.06  # cycles/pixel; lower frequencies belong to picture content
_MAX_TILES = 64
_PROFILE_BINS = 32


def _tile_origins(h: int, w: int, t: int) -> list[tuple[int, int]]:
    ny, nx = max(1, h // t), max(1, w // t)
    step = int(np.ceil(np.sqrt(ny * nx / _MAX_TILES))) if ny * nx > _MAX_TILES else 1
    ys = np.linspace(0, h - t, ny).astype(int)[::step]
    xs = np.linspace(0, w - t, nx).astype(int)[::step]
    return [(int(y), int(x)) for y in ys for x in xs]


def _residuals(tiles: np.ndarray) -> dict[str, np.ndarray]:
    """First- and second-difference magnitudes of (n, T+2, T+2) tiles, each cropped to (n, T, T)."""
    c = tiles[:, 1:-1, 1:-1]
    d1 = np.abs(tiles[:, 1:-1, 2:] - c) + np.abs(tiles[:, 2:, 1:-1] - c)
    d2 = np.abs(tiles[:, 1:-1, :-2] - 2 * c + tiles[:, 1:-1, 2:]) + np.abs(
        tiles[:, :-2, 1:-1] - 2 * c + tiles[:, 2:, 1:-1]
    )
    return {"first_difference": d1, "second_difference": d2}


def _mean_spectrum(stack: np.ndarray, window: np.ndarray) -> np.ndarray:
    stack = stack - stack.mean(axis=(1, 2), keepdims=True)
    return np.fft.fftshift(np.abs(np.fft.fft2(stack * window)).mean(axis=0))


def _on_grid(f: float, t: int) -> bool:
    return abs(f * 8 - round(f * 8)) * t / 8 <= 1.0  # within one frequency bin of k/8


def find_periodic_peaks(spectrum: np.ndarray, residual: str = "") -> list[dict]:
    """Isolated peaks of a centred magnitude spectrum (T x T) in one half-plane, strongest first."""
    from scipy import ndimage

    t = spectrum.shape[0]
    log_s = np.log(spectrum + 1e-9)
    score = log_s - ndimage.median_filter(log_s, size=9, mode="wrap")
    f = np.fft.fftshift(np.fft.fftfreq(t))
    f = np.where(np.isclose(f, -0.5), 0.5, f)  # the Nyquist bin belongs to both signs
    fx, fy = np.meshgrid(f, f)
    far = np.hypot(fx, fy) >= _MIN_FREQ
    spread = 1.4826 * float(np.median(np.abs(score[far]))) or 1e-9
    z = score / spread
    local_max = score == ndimage.maximum_filter(score, size=3, mode="wrap")
    half = (fy > 0) | ((fy == 0) & (fx > 0))
    keep = far & local_max & half & (score >= MIN_LOG_RATIO) & (z >= MIN_ZSCORE)
    peaks = []
    for iy, ix in zip(*np.nonzero(keep)):
        px, py = float(fx[iy, ix]), float(fy[iy, ix])
        peaks.append(
            {
                "fx": round(px, 4),
                "fy": round(py, 4),
                "period_x": round(1 / abs(px), 2) if px else None,
                "period_y": round(1 / abs(py), 2) if py else None,
                "log_ratio": round(float(score[iy, ix]), 3),
                "z": round(float(z[iy, ix]), 2),
                "residual": residual,
                "on_jpeg_grid": _on_grid(px, t) and _on_grid(py, t),
            }
        )
    return sorted(peaks, key=lambda p: -p["z"])


def _radial_profile(spectrum: np.ndarray) -> tuple[list[float], list[float | None]]:
    t = spectrum.shape[0]
    f = np.fft.fftshift(np.fft.fftfreq(t))
    r = np.hypot(*np.meshgrid(f, f))
    edges = np.linspace(0.0, 0.5, _PROFILE_BINS + 1)
    idx = np.clip(np.digitize(r.ravel(), edges) - 1, 0, _PROFILE_BINS)
    vals = np.log10(spectrum.ravel() + 1e-9)
    sums = np.bincount(idx, weights=vals, minlength=_PROFILE_BINS + 1)[:_PROFILE_BINS]
    counts = np.bincount(idx, minlength=_PROFILE_BINS + 1)[:_PROFILE_BINS]
    prof = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    centres = (edges[:-1] + edges[1:]) / 2
    return [round(float(c), 4) for c in centres], [None if np.isnan(p) else round(float(p), 4) for p in prof]


class SpectrumAnalysis(Analysis):
    name = "spectrum"
    order = 60
    description = "Frequency spectrum: log-magnitude map, radial profile and periodic up-sampling peaks"
    applies_to = frozenset({"image"})

    def __init__(self, tile: int = 128) -> None:
        self.tile = tile

    def analyse(self, evidence: Evidence) -> ForensicResult:
        import cv2

        rgb = evidence.pixels()  # native resolution on purpose: resampling would hide the pattern
        h, w = rgb.shape[:2]
        t = self.tile if min(h, w) >= self.tile + 2 else 64
        if min(h, w) < t + 2:
            return ForensicResult.not_applicable(self.name, f"image is {w}x{h}, too small for a spectrum (needs 66x66)")
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        origins = _tile_origins(h - 2, w - 2, t)
        # Only the tiles become floats (at most _MAX_TILES of them): a float copy of a 100 MP picture is 400 MB.
        tiles = np.stack([gray[y : y + t + 2, x : x + t + 2] for y, x in origins]).astype(np.float32)
        window = np.outer(np.hanning(t), np.hanning(t)).astype(np.float32)

        image_spec = _mean_spectrum(tiles[:, 1:-1, 1:-1], window)
        freqs, profile = _radial_profile(image_spec)
        peaks: dict[tuple[float, float], dict] = {}
        residual_specs = {}
        for kind, stack in _residuals(tiles).items():
            spec = residual_specs[kind] = _mean_spectrum(stack, window)
            for p in find_periodic_peaks(spec, kind):
                key = (p["fx"], p["fy"])
                if key not in peaks or peaks[key]["z"] < p["z"]:
                    peaks[key] = p
        ordered = sorted(peaks.values(), key=lambda p: -p["z"])
        # JPEG's block grid explains lattice peaks when the file is a JPEG or an odd multiple of 1/8 shows.
        grid_seen = evidence.format == "JPEG" or any(
            p["on_jpeg_grid"] and round(8 * max(abs(p["fx"]), abs(p["fy"]))) % 2 == 1 for p in ordered
        )
        grid = [p for p in ordered if grid_seen and p["on_jpeg_grid"]]
        other = [p for p in ordered if not (grid_seen and p["on_jpeg_grid"])]

        log_res = np.log(residual_specs["first_difference"] + 1e-9)
        lo, hi = np.percentile(log_res, [1, 99.9])
        heat = colorize(log_res, float(lo), float(hi))
        zoom = max(1, 512 // t)
        map_image = cv2.resize(heat, (t * zoom, t * zoom), interpolation=cv2.INTER_NEAREST)

        metrics = {
            "tile_size": t,
            "tiles": len(origins),
            "peaks": other[:12],
            "jpeg_grid_peaks": grid[:12],
            "n_peaks": len(other),
            "n_jpeg_grid_peaks": len(grid),
            "thresholds": {"min_log_ratio": MIN_LOG_RATIO, "min_z": MIN_ZSCORE},
            "radial_profile_freqs": freqs,
            "radial_profile_log10": profile,
            "map": "log-magnitude spectrum of the first-difference residual, DC at the centre",
        }
        flags = ["periodic_peaks"] if other else []
        if other:
            where = ", ".join(f"({p['fx']:+.3f}, {p['fy']:+.3f})" for p in other[:4])
            lead = (
                f"Found {len(other)} isolated periodic peak(s) in the high-pass residual spectrum at {where} "
                "cycles/pixel (x, y): the pixels follow a regular pattern such as up-sampling leaves. "
                "Ordinary enlargement in an editor or app, some camera pipelines and screen captures "
                "make the same pattern, so this shows resampling, not that the content is synthetic."
            )
        else:
            lead = (
                "No isolated periodic peaks stand out in the high-pass residual spectrum. This does not "
                "show the image is authentic: many generators leave no such peaks, and later "
                "downscaling or strong compression removes them."
            )
        notes = [lead, f"Spectra of {len(origins)} native-resolution tiles of {t}x{t} pixels were averaged."]
        if evidence.decoded_scale != 1.0:
            notes[1] = (
                f"Spectra of {len(origins)} tiles of {t}x{t} pixels were averaged, from the picture decoded at "
                f"1/{round(1 / evidence.decoded_scale)} of its size to stay within the memory setting: the "
                "reduction hides fine periodic patterns."
            )
        if grid:
            notes.append(
                f"{len(grid)} peak(s) lie on the 8-pixel JPEG block grid and are attributed to JPEG "
                "compression; an up-sampling factor of 2, 4 or 8 would fall on the same positions "
                "and cannot be told apart here."
            )
        return ForensicResult.ok(self.name, notes, metrics, flags, map_image=map_image, analysed_size=(w, h))
