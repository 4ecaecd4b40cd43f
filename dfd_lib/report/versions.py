"""Versions of the tool and of the libraries whose behaviour shapes its results, for the report."""
from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["LIBRARIES", "library_versions"]

# (label, distribution name): what a reader needs to repeat the analysis.
LIBRARIES = (
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("facenet-pytorch", "facenet-pytorch"),
    ("timm", "timm"),
    ("grad-cam", "grad-cam"),
    ("numpy", "numpy"),
    ("pillow", "pillow"),
    ("opencv", "opencv-python-headless"),
    ("av (FFmpeg)", "av"),
    ("c2pa-python", "c2pa-python"),
    ("matplotlib", "matplotlib"),
    ("fpdf2", "fpdf2"),
)


def library_versions() -> tuple[tuple[str, str], ...]:
    """``(name, version)`` pairs: dfd_lib, Python, then each library ('not installed' if absent).

    Read from package metadata, so nothing heavy is imported just to report a version.
    """
    from .. import __version__

    out = [("dfd_lib", __version__), ("Python", platform.python_version())]
    for label, dist in LIBRARIES:
        try:
            out.append((label, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((label, "not installed"))
    return tuple(out)
