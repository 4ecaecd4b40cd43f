"""Where a case may write what it produces (reports, export bundles, executed notebooks) when the examiner names the
output: never over a case's own files, and never over a file it did not write.

* No case's database (or its journal files), and nothing inside a case's ``evidence/``, ``artifacts/`` or ``tmp/``
  folder: the case being reported on, and any other case folder the path leads into (a folder holding a
  ``case.db`` that is an SQLite database). Writing there would destroy a case or replace its write-once files.
* An existing file is replaced only if this case wrote it: its SHA-256 is one a ``report`` or ``export`` entry of the
  case's custody log records. Anything else there (an original photo, another case's report, a document) is left
  alone and the examiner asked for another name.

Symbolic links are resolved before either check.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DfdError
from ..media import sha256_file
from .case import DB_NAME, Case
from .errors import CaseError
from .files import ARTIFACTS_DIR, EVIDENCE_DIR, STAGING_DIR

__all__ = ["check_output_path", "recorded_output_hashes"]

_DB_FILES = tuple(DB_NAME + suffix for suffix in ("", "-wal", "-shm", "-journal"))
_PROTECTED_DIRS = (EVIDENCE_DIR, ARTIFACTS_DIR, STAGING_DIR)
_OUTPUT_ACTIONS = ("report", "export")


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_case_folder(folder: Path, case_dir: Path) -> bool:
    """The case being written for, or a folder holding a case database (an SQLite file named case.db)."""
    if _same(folder, case_dir):
        return True
    try:
        with open(folder / DB_NAME, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def recorded_output_hashes(case: Case) -> set[str]:
    """SHA-256 of every report, bundle and notebook the case's custody log records writing."""
    return {
        str(e.details["sha256"])
        for e in case.custody_entries()
        if e.action in _OUTPUT_ACTIONS and isinstance(e.details, dict) and e.details.get("sha256")
    }


def check_output_path(
    case: Case, out: str | os.PathLike, error: type[DfdError] = CaseError, what: str = "the output"
) -> Path:
    """Refuse (raise ``error``) an output path the module notes forbid; returns the path, resolved."""
    case_dir = Path(os.path.realpath(case.path))
    target = Path(os.path.realpath(out))
    for folder in (target.parent, *target.parent.parents):
        if not _is_case_folder(folder, case_dir):
            continue
        which = f"case {case.id}" if _same(folder, case_dir) else f"the case in {folder}"
        if target.name in _DB_FILES:
            raise error(
                f"refusing to write {what} to {out}: that is the database of {which} ({target.name}), which it would "
                "destroy; choose an output outside the case folder (or in its reports/ folder)"
            )
        for name in _PROTECTED_DIRS:
            protected = folder / name
            if target == protected or protected in target.parents:
                raise error(
                    f"refusing to write {what} to {out}: it is inside the {name}/ folder of {which}, which holds "
                    "the case's write-once files; choose an output outside the case folder (or in its reports/ folder)"
                )
    if target.is_file() and sha256_file(target) not in recorded_output_hashes(case):
        raise error(
            f"refusing to replace {out}: a file is there that case {case.id} did not write (no report or export "
            "in its custody log has its SHA-256); choose another name, or move that file away first"
        )
    return target
