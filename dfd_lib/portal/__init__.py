"""Portal complaint forms: profiles (YAML), field checks, upload rules, the YAML template and the answers' store.

National Cyber Crime Reporting Portal first (``ncrp``), plus a ``generic`` form::

    from dfd_lib.portal import load_portal, save_portal_fields
    profile = load_portal("ncrp")
    problems = profile.validate({"complaint_path": "Report Other Cyber Crime", ...})
    save_portal_fields(case, "ncrp", {"complaint_path": "Report Other Cyber Crime", ...})   # logged in custody

A new portal is one YAML file in ``dfd_lib/portal/profiles/`` (see :mod:`dfd_lib.portal.profile`).
"""

from __future__ import annotations

from .errors import PortalError, PortalFieldsError
from .filerules import FileRules, format_mb
from .profile import PortalField, PortalProfile, load_portal, portal_names
from .store import StoredFields, load_portal_fields, load_stored_fields, read_fields_file, save_portal_fields
from .template import render_template

__all__ = [
    "load_portal",
    "portal_names",
    "PortalProfile",
    "PortalField",
    "FileRules",
    "format_mb",
    "render_template",
    "save_portal_fields",
    "load_portal_fields",
    "load_stored_fields",
    "read_fields_file",
    "StoredFields",
    "PortalError",
    "PortalFieldsError",
]
