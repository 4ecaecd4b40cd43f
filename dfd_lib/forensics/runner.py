"""The registry of forensic analyses and ``run_all``, which runs them on one file.

:func:`default_registry` registers one instance of every concrete :class:`Analysis` subclass
defined in a module of this package, in report order (``Analysis.order``, then name). A new
analysis is therefore one new module here (see CONTRIBUTING.md); code outside the package
registers its own analyses on :data:`ANALYSES` (or on a registry it passes to ``run_all``).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import pkgutil
import time
from typing import Iterable

from ..errors import RegistryError
from ..registry import Registry
from ..memory import DEFAULT_MEMORY_MB
from .base import DEFAULT_MAX_PIXELS, Analysis, Evidence, ForensicResult

__all__ = ["ANALYSES", "default_registry", "analysis_names", "get_analysis", "run_all"]

log = logging.getLogger(__name__)

_NOT_ANALYSES = {"base", "runner"}  # modules of this package that define no analysis


def _package_analyses() -> list[type[Analysis]]:
    """Concrete Analysis subclasses defined in this package's modules, in report order."""
    found = []
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if info.name in _NOT_ANALYSES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        found += [
            cls
            for cls in vars(module).values()
            if inspect.isclass(cls)
            and issubclass(cls, Analysis)
            and cls.__module__ == module.__name__
            and not inspect.isabstract(cls)
        ]
    return sorted(found, key=lambda cls: (cls.order, cls.name))


def default_registry() -> Registry[Analysis]:
    """A fresh registry holding every built-in analysis, in report order."""
    reg: Registry[Analysis] = Registry("forensic analysis")
    for cls in _package_analyses():
        reg.register(cls())
    return reg


ANALYSES = default_registry()


def analysis_names(registry: Registry = ANALYSES) -> list[str]:
    """Registered analysis names in registration (report) order."""
    return [a.name for a in registry]


def get_analysis(name: str, registry: Registry = ANALYSES) -> Analysis:
    """The analysis called ``name``; RegistryError lists the known names otherwise."""
    return registry.get(name)


def _select(names: Iterable[str] | None, registry: Registry) -> list[Analysis]:
    if names is None:
        return [registry.get(n) for n in analysis_names(registry)]
    chosen = [n.strip() for n in names if n and n.strip()]
    if not chosen:
        raise RegistryError(f"no analysis named; known: {', '.join(analysis_names(registry))}")
    return [registry.get(n) for n in dict.fromkeys(chosen)]


def run_all(
    path: str | os.PathLike,
    names: Iterable[str] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    registry: Registry = ANALYSES,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
) -> list[ForensicResult]:
    """Run the selected analyses (all by default) on one file; one result per analysis.

    The file is sniffed once and decoded at most once, within the memory setting ``memory_mb`` (the
    scan's; a larger JPEG is decoded reduced and the analyses say so, see dfd_lib.memory). Analyses
    that do not apply to the file's type give ``not_applicable``; any failure gives ``error`` with a
    message. Only an unknown analysis name raises (RegistryError), before any work is done.
    """
    analyses = _select(names, registry)
    try:
        evidence = Evidence(path, max_pixels=max_pixels, memory_mb=memory_mb)
    except OSError as exc:
        msg = f"file could not be read: {exc.strerror or exc}"
        return [ForensicResult.error(a.name, msg, error_type="unreadable") for a in analyses]
    results = []
    for analysis in analyses:
        t0 = time.perf_counter()
        results.append(analysis.run_on(evidence))
        log.debug("%s on %s took %.3f s", analysis.name, path, time.perf_counter() - t0)
    return results
