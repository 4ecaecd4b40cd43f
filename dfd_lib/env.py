"""The environment variables dfd reads, named once here; every reader imports the name from this module."""

from __future__ import annotations

__all__ = [
    "CASES_DIR_ENV",
    "WEIGHTS_DIR_ENV",
    "DASK_SCHEDULER_ENV",
    "DASK_UPLOAD_ENV",
    "EVIDENCE_ROOTS_ENV",
    "UPLOAD_MAX_ENV",
    "DASHBOARD_TOKEN_ENV",
    "DASHBOARD_HOSTS_ENV",
    "REPORT_FONT_DIRS_ENV",
    "ENV_VARS",
]

CASES_DIR_ENV = "DFD_CASES_DIR"
WEIGHTS_DIR_ENV = "DFD_WEIGHTS_DIR"
DASK_SCHEDULER_ENV = "DFD_DASK_SCHEDULER"
DASK_UPLOAD_ENV = "DFD_DASK_UPLOAD"
EVIDENCE_ROOTS_ENV = "DFD_EVIDENCE_ROOTS"
UPLOAD_MAX_ENV = "DFD_UPLOAD_MAX_MB"
DASHBOARD_TOKEN_ENV = "DFD_DASHBOARD_TOKEN"
DASHBOARD_HOSTS_ENV = "DFD_DASHBOARD_HOSTS"
REPORT_FONT_DIRS_ENV = "DFD_REPORT_FONT_DIRS"

# What each one does (read by: see the module that imports the name).
ENV_VARS = {
    CASES_DIR_ENV: "the case store when no --cases-dir is given (default ./cases)",
    WEIGHTS_DIR_ENV: "a folder of model cards and weights searched before the shipped weights/",
    DASK_SCHEDULER_ENV: "a Dask scheduler (tcp://HOST:PORT) the dashboard's intake submits triage to; "
    "unset: analyses run in the dashboard's process",
    DASK_UPLOAD_ENV: '"1": send the evidence bytes to the Dask workers instead of letting them read the case '
    "folder on a shared path",
    EVIDENCE_ROOTS_ENV: "folders (os.pathsep-separated) the dashboard's evidence path box may read; unset or "
    "empty: uploads only",
    UPLOAD_MAX_ENV: "most MiB one dashboard upload batch may total (the websocket message limit)",
    DASHBOARD_TOKEN_ENV: "the dashboard's access token (default: a new random one per start)",
    DASHBOARD_HOSTS_ENV: "further Host names the dashboard answers to (comma-separated)",
    REPORT_FONT_DIRS_ENV: "folders (os.pathsep-separated) searched first for the Noto Sans fonts of India's scripts "
    "and Arabic that the PDF report draws with (default: the system's Noto folders)",
}
