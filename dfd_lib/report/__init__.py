"""Case reports: the read-only PDF and its HTML twin, rendered from one frozen read of the case.

Report formats (after Autopsy's report modules: name, description, ``generate(case, settings, progress)``)::

    from dfd_lib.report import generate_report
    path = generate_report(case, fmt="pdf")          # or "html"; SHA-256 logged as 'report'

Portal forms live in :mod:`dfd_lib.portal`, export bundles in :mod:`dfd_lib.export`.
"""
from __future__ import annotations

from .errors import ReportCancelled, ReportError
from .formats import REPORT_MODULES, RenderModule, ReportModule, ReportSettings, generate_report, get_report_module
from .reportdata import ReportData, collect_report_data

__all__ = [
    "generate_report",
    "ReportModule",
    "RenderModule",
    "ReportSettings",
    "REPORT_MODULES",
    "get_report_module",
    "ReportData",
    "collect_report_data",
    "ReportError",
    "ReportCancelled",
]
