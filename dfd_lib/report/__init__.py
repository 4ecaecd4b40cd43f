"""Reports and portal-ready export bundles.

Reports (after Autopsy's report modules: name, description, ``generate(case, settings, progress)``)::

    from dfd_lib.report import generate_report
    path = generate_report(case, fmt="pdf")          # or "html"; SHA-256 logged as 'report'

Portal export (National Cyber Crime Reporting Portal first)::

    from dfd_lib.report import load_portal, save_portal_fields, export_bundle
    profile = load_portal("ncrp")
    save_portal_fields(case, "ncrp", {"complaint_path": "Report Other Cyber Crime", ...})
    result = export_bundle(case, "ncrp", "bundle.zip")   # SHA-256 logged as 'export'
"""
from __future__ import annotations

from .bundle import ExportResult, export_bundle
from .errors import ExportError, PortalError, PortalFieldsError, ReportCancelled, ReportError
from .filerules import FileRules
from .modules import REPORT_MODULES, RenderModule, ReportModule, ReportSettings, generate_report, get_report_module
from .portal import PortalField, PortalProfile, load_portal, portal_names
from .portal_store import StoredFields, load_portal_fields, load_stored_fields, read_fields_file, save_portal_fields
from .reportdata import ReportData, collect_report_data

__all__ = [
    "generate_report",
    "export_bundle",
    "ExportResult",
    "load_portal",
    "portal_names",
    "PortalProfile",
    "PortalField",
    "FileRules",
    "save_portal_fields",
    "load_portal_fields",
    "load_stored_fields",
    "read_fields_file",
    "StoredFields",
    "ReportModule",
    "RenderModule",
    "ReportSettings",
    "REPORT_MODULES",
    "get_report_module",
    "ReportData",
    "collect_report_data",
    "ReportError",
    "ReportCancelled",
    "PortalError",
    "PortalFieldsError",
    "ExportError",
]
