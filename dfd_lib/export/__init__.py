"""Portal-ready export bundles: one deterministic zip with report, evidence, manifests, SHA256SUMS and a BSA s.63 draft.

::

    from dfd_lib.export import export_bundle
    result = export_bundle(case, "ncrp", "bundle.zip")   # SHA-256 logged as 'export'
"""

from __future__ import annotations

from .bundle import ExportResult, export_bundle
from .errors import ExportCancelled, ExportError

__all__ = ["export_bundle", "ExportResult", "ExportError", "ExportCancelled"]
