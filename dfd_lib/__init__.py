"""dfd_lib: the deepfake forensic workbench library.

Layers, in the direction data flows: media (intake) -> faces -> detector -> explain / forensics
-> case -> report. The CLI (``dfd``) and the widgets only call into these.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "open_case", "list_cases"]


def __getattr__(name: str):
    # Lazy, so that `import dfd_lib` stays light (no pandas/torch) for small tools.
    if name in ("open_case", "list_cases"):
        from . import case

        return getattr(case, name)
    raise AttributeError(name)
