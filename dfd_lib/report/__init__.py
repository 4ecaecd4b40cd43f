"""Case reports: the read-only PDF and its HTML twin, rendered from one frozen read of the case.

Report formats (after Autopsy's report modules: name, description, ``generate(case, settings, progress)``) are
registered in ``REPORT_FORMATS``, a :class:`dfd_lib.registry.Registry`::

    from dfd_lib.report import REPORT_FORMATS, generate_report
    REPORT_FORMATS.names()                           # ['html', 'pdf']
    path = generate_report(case, fmt="pdf")          # or "html"; SHA-256 logged as 'report'

Portal forms live in :mod:`dfd_lib.portal`, export bundles in :mod:`dfd_lib.export`.
"""

from __future__ import annotations

from .errors import ReportCancelled, ReportError
from .formats import REPORT_FORMATS, RenderModule, ReportModule, ReportSettings, generate_report
from .reportdata import ReportData, collect_report_data

__all__ = [
    "generate_report",
    "ReportModule",
    "RenderModule",
    "ReportSettings",
    "REPORT_FORMATS",
    "ReportData",
    "collect_report_data",
    "ReportError",
    "ReportCancelled",
]
