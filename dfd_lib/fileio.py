"""Safe file output: the one atomic-write helper (temporary file + rename) and the one JSON sanitiser.

Files that must never be seen half-written (reports, export bundles, model cards, training
resume checkpoints, JSON outputs) are written through :func:`atomic_path` or its shortcut
:func:`atomic_write`: a reader, or a crash, sees the old file or the new one, never a mix.
Values that must become JSON (case records, forensic metrics, CLI output) go through
:func:`json_ready`.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any, Iterator

__all__ = ["atomic_path", "atomic_write", "write_synced", "fsync_file", "fsync_dir", "json_ready", "storable_text"]


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename in it) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike, flags: int = os.O_RDONLY) -> None:
    """Flush a file's content to disk, opening it with ``flags`` for the purpose."""
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` (replacing it, not atomically) and flush it to disk before returning."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@contextmanager
def atomic_path(path: str | os.PathLike, sync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; when the block ends normally, the file is
    renamed over ``path`` in one step (after ``fsync`` when ``sync``). On an exception ``path`` is
    left as it was. The temporary file never outlives the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield tmp
        if sync:
            fsync_file(tmp, os.O_RDWR)
        os.replace(tmp, path)
        if sync:
            fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: bytes | str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``data`` (text is encoded with ``encoding``) atomically and durably."""
    if isinstance(data, str):
        data = data.encode(encoding)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def _missing(value: Any) -> bool:
    """pandas' ``NA`` and ``NaT`` (checked by type name: pandas need not be imported)."""
    return type(value).__name__ in ("NAType", "NaTType")


def json_ready(value: Any, strict: bool = True) -> Any:
    """A JSON-ready copy of ``value``: numpy scalars and arrays become Python values, tuples and sets
    lists (sets sorted), paths strings, dict keys strings, and NaN, infinities and pandas' NA None.

    Anything else raises TypeError when ``strict`` (what a case record must be able to hold is
    decided here, not by ``json.dumps``); otherwise bytes are decoded as UTF-8 (invalid bytes
    replaced) and other objects become ``str(value)``.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_ready(v, strict) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [json_ready(v, strict) for v in items]
    if isinstance(value, PurePath):
        return str(value)
    if _missing(value):
        return None
    tolist = getattr(value, "tolist", None)  # numpy scalar or array
    if callable(tolist):
        return json_ready(tolist(), strict)
    if strict:
        raise TypeError(f"cannot store a {type(value).__name__} as JSON")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def storable_text(text: str) -> str:
    """Text that SQLite, JSON and CSV can store as UTF-8: bytes of a file name that are not valid UTF-8 (which Python
    keeps as lone surrogates) are written as ``\\xNN`` escapes, as bash's ``$'...'`` spells them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")  # exactly the bytes the OS gave us
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")
