"""Case identifiers: a safe folder name derived from the investigator's case name.

An ASCII name becomes a readable slug (``"FIR 123 of 2025, Pune"`` -> ``"fir-123-of-2025-pune"``).
A name with any other character (Devanagari, accents) keeps a readable slug of its ASCII part
plus a short hash of the exact name, so names that differ only in non-ASCII letters never
share a folder: ``"केस 123"`` -> ``"123-<10 hex>"``, and a name with no ASCII letter or digit
at all -> ``"case-<10 hex>"``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from .errors import InvalidCaseName

__all__ = ["case_id_from_name", "legacy_case_id", "normalise_case_name", "MAX_ID_LENGTH"]

MAX_ID_LENGTH = 64
HASH_LENGTH = 10
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def normalise_case_name(name: str) -> str:
    """The form in which two spellings of a name count as the same name (Unicode NFC, trimmed)."""
    return unicodedata.normalize("NFC", name).strip()


def _check(name: str) -> None:
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


def _slug(name: str, limit: int) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9._-]+", "-", ascii_name.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    return slug[:limit].rstrip("-._")


def case_id_from_name(name: str) -> str:
    """Turn a case name into its folder name: ``"FIR 123 of 2025, Pune"`` -> ``"fir-123-of-2025-pune"``.

    Distinct names that are not pure ASCII get distinct ids (slug plus a hash of the exact
    name, see the module notes); ASCII names keep the plain slug they always had. Names that
    try to leave the case store or hide (path separators, ``..``, a leading dot, control
    characters), or ASCII names that leave nothing usable, raise :class:`InvalidCaseName`.
    """
    _check(name)
    if name.isascii():
        slug = _slug(name, MAX_ID_LENGTH)
        if not slug:
            raise InvalidCaseName(f"case name {name!r} has no letters or digits to build a folder name from")
        if slug in _RESERVED:
            raise InvalidCaseName(f"case name {name!r} is a reserved device name")
        return slug
    exact = normalise_case_name(name)
    digest = hashlib.sha256(exact.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    slug = _slug(exact, MAX_ID_LENGTH - HASH_LENGTH - 1) or "case"
    return f"{slug}-{digest}"


def legacy_case_id(name: str) -> str | None:
    """The id earlier versions gave a non-ASCII name (its slug alone), or None when it is the same."""
    _check(name)
    if name.isascii():
        return None
    slug = _slug(name, MAX_ID_LENGTH)
    return slug if slug and slug not in _RESERVED else None
