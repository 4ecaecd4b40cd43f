"""Common shape of every forensic analysis: a typed result, a small base class, shared helpers.

An analysis is one subclass of :class:`Analysis` that overrides :meth:`Analysis.analyse`. It
receives an :class:`Evidence`, which sniffs the file once and decodes the pixels at most once,
so running several analyses on one photo does not decode it several times.
"""

from __future__ import annotations

import logging
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Iterable, Literal, Mapping, get_args

import numpy as np

from ..errors import MediaError
from ..fileio import json_ready
from ..media import MULTI_FRAME_FORMATS, MediaKind, MediaLimits, decode_image, frame_unit, image_frame_count, sniff
from ..memory import DEFAULT_MEMORY_MB, plan_memory

__all__ = [
    "ForensicStatus",
    "STATUSES",
    "DEFAULT_MAX_PIXELS",
    "MAP_MAX_PIXELS",
    "ForensicResult",
    "Analysis",
    "Evidence",
    "colorize",
    "fit_pixels",
    "fitted_size",
    "raised_flags",
]

log = logging.getLogger(__name__)

ForensicStatus = Literal[
    "ok",  # the analysis ran; see summary, metrics and flags
    "not_applicable",  # the analysis does not apply to this kind of file
    "error",  # the analysis could not run on this file (see summary)
]
STATUSES: tuple[ForensicStatus, ...] = get_args(ForensicStatus)

# Pixel analyses (ELA, noise) work on at most this many pixels; larger images are downscaled
# (area averaging) and the result says so. 16 MP keeps common 12 MP phone photos at native
# resolution, where JPEG block traces are intact, and all analyses of such a photo well under 2 s.
DEFAULT_MAX_PIXELS = 16_000_000
# Visual maps are for display: they are reduced to at most this many pixels.
MAP_MAX_PIXELS = 4_000_000


@dataclass(frozen=True)
class ForensicResult:
    """What one analysis found in one file.

    ``status`` is one of :data:`STATUSES`. ``summary`` is a plain-language note that includes
    what the analysis cannot show. ``metrics`` holds JSON-safe values only. ``flags`` are short
    machine-readable observations (e.g. ``editing_software``); a flag is a lead for a human
    examiner, not a verdict. ``map_image`` is an HxWx3 uint8 RGB visual map where one applies.
    """

    analysis: str
    status: ForensicStatus
    summary: str
    metrics: dict = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    map_image: np.ndarray | None = field(default=None, repr=False, compare=False)
    analysed_size: tuple[int, int] | None = None  # (width, height) the analysis worked on
    downscaled: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; expected one of {sorted(STATUSES)}")
        object.__setattr__(self, "metrics", json_ready(dict(self.metrics), strict=False))
        object.__setattr__(self, "flags", sorted(set(self.flags)))
        if self.analysed_size is not None:
            object.__setattr__(self, "analysed_size", (int(self.analysed_size[0]), int(self.analysed_size[1])))
        m = self.map_image
        if m is not None and (m.ndim != 3 or m.shape[2] != 3 or m.dtype != np.uint8):
            raise ValueError(f"map_image must be HxWx3 uint8, got {m.shape} {m.dtype}")

    @classmethod
    def ok(
        cls,
        analysis: str,
        notes: Iterable[str],
        metrics: dict,
        flags: Iterable[str] = (),
        map_image: np.ndarray | None = None,
        analysed_size: tuple[int, int] | None = None,
        downscaled: bool = False,
    ) -> "ForensicResult":
        """A completed analysis whose summary is its ``notes``, in order, joined by spaces."""
        return cls(analysis, "ok", " ".join(notes), metrics, list(flags), map_image, analysed_size, downscaled)

    @classmethod
    def error(cls, analysis: str, message: str, **metrics: Any) -> "ForensicResult":
        return cls(analysis, "error", message, metrics=metrics)

    @classmethod
    def not_applicable(cls, analysis: str, message: str) -> "ForensicResult":
        return cls(analysis, "not_applicable", message)

    def to_dict(self) -> dict:
        """JSON-ready record without pixels (``has_map`` says whether a map exists)."""
        return {
            "analysis": self.analysis,
            "status": self.status,
            "summary": self.summary,
            "flags": list(self.flags),
            "metrics": self.metrics,
            "analysed_size": None if self.analysed_size is None else list(self.analysed_size),
            "downscaled": self.downscaled,
            "has_map": self.map_image is not None,
        }


class Evidence:
    """One file under analysis: its sniffed type and lazily decoded, cached pixels.

    Raises ``OSError`` at construction if the file cannot be read at all. A decoding failure is
    remembered, so every analysis that needs the pixels reports the same error without retrying.

    Of a picture of several frames (animated GIF, PNG, WebP) or pages (TIFF), the pixels are those of its
    first (frame index 0, as the scan numbers frames): every result of such a file says so (see
    :func:`with_frame_note`). The face scan searches the other frames too; these analyses do not.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        limits: MediaLimits = MediaLimits(),
        memory_mb: int | None = DEFAULT_MEMORY_MB,
    ) -> None:
        self.path = Path(path)
        # The scan's memory setting bounds the pixels decoded here too (a larger JPEG is decoded reduced).
        self.memory = plan_memory(memory_mb, 0, 1)
        self.decoded_scale = 1.0  # the decoded pixels' side / the stored picture's side
        self.kind, self.mime, self.format = sniff(self.path)
        multi = self.kind == "image" and self.format in MULTI_FRAME_FORMATS
        self.frame_count = image_frame_count(self.path) if multi else 1  # frames or pages in the file
        self.frame_unit = frame_unit(self.format)
        # Set when the running analysis read one frame's data (its pixels, a TIFF page's tags) rather than what the
        # file stores once for all its frames; run_on resets it before each analysis.
        self.frame_read = False
        # The analyses' working copies are bounded by the memory setting too (the default setting leaves the
        # default bound as it is; a tight one analyses a smaller copy, and the analyses say so).
        if self.memory.analysis_pixels is not None:
            max_pixels = min(max_pixels or self.memory.analysis_pixels, self.memory.analysis_pixels)
        self.max_pixels = max_pixels
        self.limits = limits
        self._pixels: np.ndarray | None = None
        self._error: MediaError | None = None
        self._bounded: tuple[np.ndarray, bool] | None = None

    def pixels(self) -> np.ndarray:
        """HxWx3 uint8 RGB, EXIF orientation applied (raises MediaError): full resolution unless the memory
        setting made it decode a large JPEG reduced (``decoded_scale`` < 1)."""
        self.frame_read = True
        if self._error is not None:
            raise self._error
        if self._pixels is None:
            try:
                m = self.memory
                decoded = decode_image(self.path, self.limits, m.decode_pixels, m.over_budget_note())
                self._pixels, self.decoded_scale = decoded.pixels, decoded.scale
            except MediaError as exc:
                self._error = exc
                raise
        return self._pixels

    def analysis_pixels(self) -> tuple[np.ndarray, bool]:
        """Pixels bounded to ``max_pixels`` (area downscaling) and whether they were reduced."""
        self.frame_read = True
        if self._bounded is None:
            full = self.pixels()
            small = fit_pixels(full, self.max_pixels)
            self._bounded = (small, small.shape[:2] != full.shape[:2] or self.decoded_scale != 1.0)
        return self._bounded


def with_frame_note(result: ForensicResult, evidence: Evidence) -> ForensicResult:
    """``result`` with a closing sentence, and metrics ``frame_index`` (None: the file as a whole), ``frame_count``
    and ``frame_unit``, saying what of a picture of several frames or pages it describes; unchanged for any other
    file. A result that read no frame's data says so only when it is ``ok`` (a not-applicable one explains itself)."""
    n, unit = evidence.frame_count, evidence.frame_unit
    if n < 2 or (result.status != "ok" and not evidence.frame_read):
        return result
    what = f"{'a multi-page' if unit == 'page' else 'an animated'} {evidence.format} of {n} {unit}s"
    if evidence.frame_read:
        index: int | None = 0  # Evidence decodes the first frame
        note = f"The file is {what}: only its first {unit} ({unit} index 0) was analysed, not the other {n - 1}."
    else:
        index = None
        note = f"The file is {what}: this analysis reads the file as a whole, not any one {unit}'s pixels."
    summary = f"{result.summary} {note}" if result.summary else note
    metrics = {**result.metrics, "frame_index": index, "frame_count": n, "frame_unit": unit}
    return replace(result, summary=summary, metrics=metrics)


def raised_flags(conditions: Mapping[str, object]) -> list[str]:
    """The flags (keys) whose condition (value) holds, e.g. ``{"editing_software": editor_matches}``."""
    return [flag for flag, holds in conditions.items() if holds]


def fitted_size(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """(width, height) scaled down, aspect ratio kept, to at most ``max_pixels`` pixels."""
    if not max_pixels or width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def fit_pixels(image: np.ndarray, max_pixels: int | None, interpolation: int | None = None) -> np.ndarray:
    """Downscale ``image`` keeping its aspect ratio so that it has at most ``max_pixels`` pixels."""
    import cv2

    h, w = image.shape[:2]
    size = fitted_size(w, h, max_pixels)
    if size == (w, h):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if interpolation is None else interpolation)


def colorize(values: np.ndarray, vmin: float = 0.0, vmax: float | None = None) -> np.ndarray:
    """Map a 2-D array to an RGB uint8 image with the perceptually ordered 'inferno' colour map."""
    import cv2

    v = np.asarray(values, dtype=np.float32)
    hi = float(np.max(v)) if vmax is None else float(vmax)
    span = hi - vmin if hi > vmin else 1.0
    scaled = np.clip((v - vmin) / span * 255.0, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)[..., ::-1])


class Analysis(ABC):
    """Base of every forensic analysis (template method: subclasses override ``analyse``).

    ``run(path)`` never raises for a problem with the file: failures become a result with
    ``status='error'`` and a message, never a neutral-looking score.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    applies_to: ClassVar[frozenset[MediaKind]]
    order: ClassVar[int] = 100  # place in reports and in ``run_all`` (then by name); built-ins use 10..70

    def run(self, path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ForensicResult:
        try:
            evidence = Evidence(path, max_pixels=max_pixels)
        except OSError as exc:
            return ForensicResult.error(self.name, f"file could not be read: {exc.strerror or exc}")
        return self.run_on(evidence)

    def run_on(self, evidence: Evidence) -> ForensicResult:
        """Run on an already opened :class:`Evidence`, turning any failure into an error result. The result of a
        picture of several frames or pages says which one it describes (:func:`with_frame_note`)."""
        skip = self.applicability(evidence)
        if skip is not None:
            return skip
        try:
            evidence.frame_read = False
            return with_frame_note(self.analyse(evidence), evidence)
        except MediaError as exc:
            return ForensicResult.error(self.name, f"{exc}", error_type=exc.status)
        except MemoryError:
            return ForensicResult.error(self.name, "ran out of memory on this file", error_type="too_large")
        except Exception as exc:  # one analysis must never crash a batch; the log keeps the trace
            log.exception("forensic analysis %r failed on %s", self.name, evidence.path)
            return ForensicResult.error(
                self.name,
                f"unexpected failure in the {self.name} analysis: {type(exc).__name__}: {exc}",
                error_type="internal",
            )

    def applicability(self, evidence: Evidence) -> ForensicResult | None:
        """None if the analysis applies to this file, else the result that says why not."""
        if evidence.kind == "empty":
            return ForensicResult.error(
                self.name, "file is empty (0 bytes); there is nothing to analyse", error_type="unreadable"
            )
        if evidence.kind == "unknown":
            return ForensicResult.not_applicable(
                self.name,
                f"content is not an image or video format this tool decodes (detected {evidence.mime}, "
                f"from the file's first bytes)",
            )
        if evidence.kind not in self.applies_to:
            kinds = " or ".join(sorted(self.applies_to))
            return ForensicResult.not_applicable(
                self.name, f"{self.name} applies to {kinds} files; this file is {evidence.kind} ({evidence.mime})"
            )
        return None

    @abstractmethod
    def analyse(self, evidence: Evidence) -> ForensicResult:
        """Do the work; may raise MediaError (reported as an error result)."""
