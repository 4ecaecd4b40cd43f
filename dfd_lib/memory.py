"""One memory setting (``ScanSettings.memory_mb``) turned into the scan's pixel limits.

A scanning process holds its libraries and models, and the pixels of the pictures it decodes.
Only the pixels grow with the input, so the setting bounds them:

* a picture is decoded at full size only if its pixels fit what the setting leaves beside the
  process itself (``PROCESS_MB``);
* a larger JPEG is decoded at 1/2, 1/4 or 1/8 of its size instead (libjpeg's DCT scaling, which
  never builds the full-size picture); any other larger picture is refused as ``too_large``, with
  a message that names the setting;
* the pictures decoded ahead in background threads share the same room, and video frames are
  bounded too (a frame is dropped once its faces are cut out, but several are decoded ahead);
* the forensic analyses of triage decode within the same setting, work on a copy of at most
  ``analysis_pixels`` (the default setting leaves their 16 MP default as it is), and the JPEG
  double-compression test, which needs the full-size luma, is skipped with the reason where that
  does not fit.

The limits depend on the setting alone, never on what a process happens to hold, so one file
gives the same finding in the command line, a Dask worker or the dashboard. The constants are
measured (a fresh process, the shipped model, peak RSS from ``getrusage``): the process holds
1,237 MiB after its first scan with Grad-CAM (``PROCESS_MB``); scanning one large picture then adds
about 172 MiB (``WORKING_MB``: the face search's working copies, first-use buffers) plus 5 MiB per
decoded megapixel (``BYTES_PER_PIXEL``: PIL's own buffer and the RGB array exist together while a
picture is converted): 49 MP JPEG +421 MiB, 49 MP PNG +414, 64 MP PNG +477, 100 MP JPEG +680,
25 MP (a 100 MP JPEG at 1/2) +300. A 4K clip added 280 MiB (frames decoded ahead, PyAV's frame
threads): ``FRAME_BYTES_PER_PIXEL`` per pixel of a frame. ``bench/memory_bench.py`` measures the
bound on large pictures and 4K video, scanned and through ``dfd triage`` with forensics. A bigger
model than the shipped one holds more: give it a larger setting.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import DfdError

__all__ = [
    "MemoryPlan",
    "plan_memory",
    "DEFAULT_MEMORY_MB",
    "PROCESS_MB",
    "WORKING_MB",
    "BYTES_PER_PIXEL",
    "FRAME_BYTES_PER_PIXEL",
    "ANALYSIS_BYTES_PER_PIXEL",
    "MIN_DECODE_PIXELS",
]

PROCESS_MB = 1250.0  # a scanning process with the shipped model, after its first scan with Grad-CAM
WORKING_MB = 192.0  # what scanning one large picture adds beside its pixels
DEFAULT_MEMORY_MB = 2048  # ScanSettings.memory_mb and the forensic analyses' default
BYTES_PER_PIXEL = 6.0  # per decoded pixel of a picture (measured 4.8-5.3)
FRAME_BYTES_PER_PIXEL = 14.0  # per pixel of a video's frames (several are decoded ahead; measured 13.7 on 4K)
# per pixel a forensic analysis works on (ELA and noise hold several float32 copies of the picture)
ANALYSIS_BYTES_PER_PIXEL = 36.0
MIN_DECODE_PIXELS = 4_000_000  # a setting must leave room for at least this (a phone photo is 12 MP)


@dataclass(frozen=True)
class MemoryPlan:
    """What ``memory_mb`` leaves for pixels beside the process itself."""

    memory_mb: int | None  # the setting; None: no bound from memory (only MediaLimits)
    decode_pixels: int | None  # largest picture decoded at full size, or None (no bound from memory)
    read_ahead_pixels: int  # largest picture decoded ahead in a background thread
    frame_pixels: int | None = None  # largest video frame, or None (no bound from memory)
    analysis_pixels: int | None = None  # most pixels a forensic analysis works on, or None (no bound from memory)

    def over_budget_note(self, frames: bool = False) -> str:
        """Why a picture over ``decode_pixels`` (with ``frames``: a video whose frames are over ``frame_pixels``)
        was refused: the words for a too_large message."""
        room = self.frame_pixels if frames else self.decode_pixels
        if self.memory_mb is None or room is None:
            return ""
        return (
            f"decoding it would take more than the memory setting allows (memory_mb={self.memory_mb} leaves room "
            f"for {room / 1e6:.0f} megapixels{' per frame' if frames else ''} beside the models); raise the setting "
            "(--memory-mb) to scan it"
        )

    def reduced_note(self, scale: float) -> str:
        """The note on a picture decoded at ``scale`` of its size to fit."""
        return (
            f"decoded at 1/{round(1 / scale)} of its size (JPEG DCT scaling) to stay within the memory setting "
            f"(memory_mb={self.memory_mb}); boxes are in the full picture's pixels"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def plan_memory(memory_mb: int | None, read_ahead_max: int, pictures_at_once: int) -> MemoryPlan:
    """The plan for a setting (None: no bound from memory).

    ``read_ahead_max`` caps the pictures decoded ahead; ``pictures_at_once`` is how many decoded
    pictures can be in memory together (the background reads plus the one being scored). Raises
    ``DfdError`` for a setting that leaves room for less than ``MIN_DECODE_PIXELS``.
    """
    if memory_mb is None:
        return MemoryPlan(None, None, read_ahead_max)
    room = max(0.0, float(memory_mb) - PROCESS_MB - WORKING_MB) * 2**20
    pixels = int(room / BYTES_PER_PIXEL)
    if pixels < MIN_DECODE_PIXELS:
        need = math.ceil(PROCESS_MB + WORKING_MB + MIN_DECODE_PIXELS * BYTES_PER_PIXEL / 2**20)
        raise DfdError(
            f"memory setting memory_mb={memory_mb} is too small: a scanning process holds about "
            f"{PROCESS_MB + WORKING_MB:.0f} MB with the shipped model; use at least {need} MB"
        )
    read_ahead = min(read_ahead_max, pixels // max(1, pictures_at_once))
    return MemoryPlan(
        memory_mb, pixels, read_ahead, int(room / FRAME_BYTES_PER_PIXEL), int(room / ANALYSIS_BYTES_PER_PIXEL)
    )
