"""Content-addressed files of a case: write-once evidence copies and analysis artifacts.

A file is first *staged* under ``tmp/<area>/`` (copied, flushed to disk, re-hashed, made
read-only), then its database record is committed, then it is *published* by an atomic
rename into ``evidence/`` or ``artifacts/``. A process killed between commit and publish
leaves a staged file that :func:`recover` (run whenever a case is opened for writing) moves
into place after checking its hash; a staged file whose record never committed is removed
once it is older than :data:`STALE_STAGING_S`.

A staged file is in use while its writer holds an exclusive ``flock`` on it (taken when the
file is created, released by :func:`publish` or :func:`discard`, or by the writer's death);
:func:`recover` never touches a file in use. Its age is the staging time written into its
name, not its modification time: an evidence copy keeps the original's (possibly years old)
modification time.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: only the staging time in the name protects
    fcntl = None  # type: ignore[assignment]

from ..fileio import fsync_file
from ..media import sha256_file
from .errors import CaseError

__all__ = [
    "check_stored_name",
    "stored_file",
    "EVIDENCE_DIR",
    "ARTIFACTS_DIR",
    "STAGING_DIR",
    "READ_ONLY_MODE",
    "STALE_STAGING_S",
    "Staged",
    "stage_copy",
    "stage_bytes",
    "publish",
    "discard",
    "recover",
]

log = logging.getLogger(__name__)

EVIDENCE_DIR = "evidence"
ARTIFACTS_DIR = "artifacts"
STAGING_DIR = "tmp"
READ_ONLY_MODE = 0o444
STALE_STAGING_S = 3600.0


@dataclass(frozen=True)
class Staged:
    path: Path  # the staged file under tmp/<area>/
    area: str  # EVIDENCE_DIR or ARTIFACTS_DIR
    stored_name: str  # final name inside the area: <sha256><ext>
    sha256: str
    # the open file holding the writer's lock (closed, so unlocked, by publish/discard or GC)
    lock: IO[bytes] | None = field(default=None, compare=False, repr=False)


# the only names the case gives a stored file: its content's SHA-256 and a short lower-case extension
_STORED_NAME = re.compile(r"[0-9a-f]{64}(?:\.[a-z0-9]{1,10})?")


def check_stored_name(stored_name: object, sha256: str | None = None) -> str:
    """``stored_name`` if it is a name this case gives a stored file (``<sha256>[.<ext>]``, with ``sha256`` where
    given), else :class:`CaseError`. A database edited to name ``../../x`` or ``/abs/path`` must never make the case
    read, hash or write (restore) a file outside its own folders."""
    name = stored_name if isinstance(stored_name, str) else ""
    if not _STORED_NAME.fullmatch(name) or (sha256 is not None and not name.startswith(sha256)):
        raise CaseError(
            f"the case database records the stored file name {stored_name!r}"
            + (f" for content {sha256[:16]}..." if sha256 else "")
            + ", which this tool never gives (the database was edited?); nothing was read or written under it: "
            "run dfd verify"
        )
    return name


def stored_file(case_dir: Path, area: str, stored_name: object, sha256: str | None = None) -> Path:
    """The path of a stored file in ``area`` (evidence/ or artifacts/), its recorded name checked first
    (:func:`check_stored_name`)."""
    return case_dir / area / check_stored_name(stored_name, sha256)


def _try_lock(fh: IO[bytes]) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without flock: fall back on the staging time alone
        return True
    return True


def _create_staging(case_dir: Path, area: str, stored_name: str) -> tuple[Path, IO[bytes]]:
    """Create an empty staging file, locked by this process; its name carries the staging time."""
    check_stored_name(stored_name)
    folder = case_dir / STAGING_DIR / area
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{stored_name}.{os.getpid()}-{uuid.uuid4().hex[:8]}-{time.time_ns():x}.part"
    fh = open(tmp, "xb")
    _try_lock(fh)
    return tmp, fh


def _staged_at(part: Path) -> float:
    """When a staging file was created: from its name, else (older names) its modification time."""
    token = part.name.rsplit(".", 2)[1] if part.name.count(".") >= 2 else ""
    bits = token.split("-")
    if len(bits) == 3:
        try:
            return int(bits[2], 16) / 1e9
        except ValueError:
            pass
    return part.stat().st_mtime


def _release(lock: Any) -> None:
    if lock is not None:
        lock.close()


@contextmanager
def _staging(case_dir: Path, area: str, stored_name: str) -> Iterator[tuple[Path, IO[bytes]]]:
    """A new staging file and the open handle that locks it, to fill in the block. When the block
    ends the file is flushed to disk and made read-only; on any failure it is removed and unlocked."""
    tmp, lock = _create_staging(case_dir, area, stored_name)
    try:
        yield tmp, lock
        fsync_file(tmp)
        os.chmod(tmp, READ_ONLY_MODE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        lock.close()
        raise


def stage_copy(case_dir: Path, area: str, src: Path, stored_name: str, expected_sha256: str) -> Staged:
    """Copy ``src`` (content and times) to staging and prove the copy hashes to ``expected_sha256``."""
    with _staging(case_dir, area, stored_name) as (tmp, lock):
        shutil.copy2(src, tmp)
        got = sha256_file(tmp)
        if got != expected_sha256:
            raise CaseError(
                f"{src}: the file changed while it was being copied (SHA-256 {expected_sha256[:16]}... "
                f"at hashing, {got[:16]}... in the copy); acquire it again"
            )
    return Staged(tmp, area, stored_name, expected_sha256, lock)


def stage_bytes(case_dir: Path, area: str, data: bytes, stored_name: str, sha256: str) -> Staged:
    with _staging(case_dir, area, stored_name) as (tmp, lock):
        lock.write(data)
        lock.flush()
    return Staged(tmp, area, stored_name, sha256, lock)


def publish(case_dir: Path, staged: Staged) -> Path:
    """Move a staged file into its area (after its record committed); idempotent."""
    target = stored_file(case_dir, staged.area, staged.stored_name)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            staged.path.unlink(missing_ok=True)
            return target
        try:
            os.replace(staged.path, target)
        except FileNotFoundError:
            # Another process published the same content (or recovered our staged file) first.
            if not target.exists():
                raise
        return target
    finally:
        _release(staged.lock)


def discard(staged: Staged) -> None:
    try:
        staged.path.unlink(missing_ok=True)
    finally:
        _release(staged.lock)


def recover(case_dir: Path, recorded_sha256: Callable[[str, str], str | None]) -> list[str]:
    """Finish or clean up staging left by an interrupted process; returns what was done.

    ``recorded_sha256(area, stored_name)`` gives the SHA-256 the database records for that
    file, or None when no record exists.
    """
    done: list[str] = []
    now = time.time()
    for area in (EVIDENCE_DIR, ARTIFACTS_DIR):
        folder = case_dir / STAGING_DIR / area
        if not folder.is_dir():
            continue
        for part in sorted(folder.glob("*.part")):
            try:
                lock = open(part, "rb")
            except FileNotFoundError:
                continue  # a concurrent writer published or removed it
            except OSError as exc:
                log.warning("staging file %s could not be examined: %s", part, exc)
                done.append(f"left {part.relative_to(case_dir)}: it could not be read ({exc.strerror or exc})")
                continue
            try:
                if not _try_lock(lock):
                    continue  # its writer is alive and still working on it
                done.extend(_recover_one(case_dir, area, part, recorded_sha256, now))
            except FileNotFoundError:
                continue
            finally:
                lock.close()
    return done


def _recover_one(
    case_dir: Path, area: str, part: Path, recorded_sha256: Callable[[str, str], str | None], now: float
) -> list[str]:
    stored_name = part.name.rsplit(".", 2)[0]
    target = case_dir / area / stored_name
    expected = recorded_sha256(area, stored_name)
    age = now - _staged_at(part)
    if expected is not None and not target.exists():
        if sha256_file(part) == expected:
            publish(case_dir, Staged(part, area, stored_name, expected))
            log.warning("recovered %s/%s from staging", area, stored_name)
            return [f"published {area}/{stored_name} left staged by an interrupted run"]
        log.error("staged %s does not match its record; left in place for examination", part)
        return [f"kept {part.relative_to(case_dir)}: content does not match its record"]
    if expected is not None or age > STALE_STAGING_S:
        part.unlink(missing_ok=True)
        return [f"removed stale staging file {part.relative_to(case_dir)}"]
    return []
