"""Deterministic, safe zip archives: fixed times and attributes, sorted members, checked names.

The same members always give the same bytes. Archive names are relative, use '/', contain no
'..' or empty parts and only ASCII letters, digits, '.', '_' and '-' (see :func:`safe_component`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_path
from .errors import ExportError

__all__ = ["FIXED_DATE_TIME", "ZipMember", "safe_component", "check_arcname", "write_zip"]

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_STORED_SUFFIXES = (".jpg", ".jpeg", ".png", ".mp4", ".mov", ".webm", ".mkv", ".gif", ".webp", ".zip", ".pdf")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipMember:
    name: str
    data: bytes | None = None  # content, or ...
    path: Path | None = None  # ... a file streamed into the archive
    sha256: str = ""  # expected SHA-256 of a streamed file (checked while writing)


def safe_component(text: str, fallback: str = "file", max_len: int = 60) -> str:
    """One archive path component: ASCII letters, digits, '.', '_' and '-' only; never '.', '..' or empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text)
    cleaned = re.sub(r"_+", "_", cleaned).strip("._-")
    cleaned = cleaned[:max_len].rstrip("._-")
    return cleaned or fallback


def check_arcname(name: str) -> None:
    """Refuse absolute paths, drive letters, backslashes, '..' and empty components."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or re.match(r"^[A-Za-z]:", name)
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ExportError(f"unsafe archive name {name!r}")


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.create_system = 3
    info.external_attr = (0o100644 & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_STORED if name.lower().endswith(_STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
    return info


def write_zip(members: list[ZipMember], out: Path) -> str:
    """Write the members (sorted by name) to ``out`` atomically; returns the archive's SHA-256."""
    names = [m.name for m in members]
    for name in names:
        check_arcname(name)
    if len(set(names)) != len(names):
        raise ExportError(f"duplicate archive names: {sorted({n for n in names if names.count(n) > 1})}")
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for m in sorted(members, key=lambda m: m.name):
                info = _info(m.name)
                if m.data is not None:
                    zf.writestr(info, m.data, compresslevel=9 if info.compress_type == zipfile.ZIP_DEFLATED else None)
                    continue
                if m.path is None:
                    raise ExportError(f"archive member {m.name} has no content")
                digest = hashlib.sha256()
                with open(m.path, "rb") as src, zf.open(info, "w", force_zip64=m.path.stat().st_size > 2**31) as dst:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
                if m.sha256 and digest.hexdigest() != m.sha256:
                    raise ExportError(
                        f"{m.path.name} changed while it was being exported (SHA-256 "
                        f"{digest.hexdigest()[:16]}..., recorded {m.sha256[:16]}...); run dfd verify"
                    )
        with open(tmp, "rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
    return sha
