"""Classic image forensics and provenance: ELA, noise, spectrum, JPEG structure, metadata, C2PA, video tags.

Each analysis returns a :class:`ForensicResult`; :func:`run_all` runs every applicable one on a
file and never raises for a problem with the file itself. These analyses produce leads for a
human examiner, not verdicts: each result's ``summary`` says what it can and cannot show.
"""

from .base import (
    DEFAULT_MAX_PIXELS,
    MAP_MAX_PIXELS,
    STATUSES,
    Analysis,
    ForensicStatus,
    Evidence,
    ForensicResult,
)
from .ela import ElaAnalysis
from .jpeg import JpegAnalysis
from .metadata import MetadataAnalysis
from .noise import NoiseAnalysis
from .provenance import ProvenanceAnalysis
from .runner import ANALYSES, analysis_names, default_registry, get_analysis, run_all
from .spectrum import SpectrumAnalysis
from .video_meta import VideoMetaAnalysis

__all__ = [
    "ANALYSES",
    "DEFAULT_MAX_PIXELS",
    "MAP_MAX_PIXELS",
    "STATUSES",
    "ForensicStatus",
    "Analysis",
    "ElaAnalysis",
    "Evidence",
    "ForensicResult",
    "JpegAnalysis",
    "MetadataAnalysis",
    "NoiseAnalysis",
    "ProvenanceAnalysis",
    "SpectrumAnalysis",
    "VideoMetaAnalysis",
    "analysis_names",
    "default_registry",
    "get_analysis",
    "run_all",
]
