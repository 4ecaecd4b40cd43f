"""Case identifiers: a safe folder name derived from the investigator's case name."""
from __future__ import annotations

import re
import unicodedata

from .errors import InvalidCaseName

__all__ = ["case_id_from_name", "MAX_ID_LENGTH"]

MAX_ID_LENGTH = 64
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def case_id_from_name(name: str) -> str:
    """Turn a case name into its folder name: ``"FIR 123 of 2025, Pune"`` -> ``"fir-123-of-2025-pune"``.

    Names that try to leave the case store or hide (path separators, ``..``, a leading dot,
    control characters), or that leave nothing usable, raise :class:`InvalidCaseName`.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidCaseName("a case needs a non-empty name")
    if any(sep in name for sep in ("/", "\\")):
        raise InvalidCaseName(f"case name {name!r} contains a path separator")
    if ".." in name:
        raise InvalidCaseName(f"case name {name!r} contains '..'")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidCaseName(f"case name {name!r} contains control or invisible characters")
    if name.strip().startswith("."):
        raise InvalidCaseName(f"case name {name!r} starts with a dot")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9._-]+", "-", ascii_name.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    if not slug:
        raise InvalidCaseName(f"case name {name!r} has no letters or digits to build a folder name from")
    slug = slug[:MAX_ID_LENGTH].rstrip("-._")
    if slug in _RESERVED:
        raise InvalidCaseName(f"case name {name!r} is a reserved device name")
    return slug
