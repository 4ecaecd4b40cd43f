"""The case store: where cases live, opening or creating one, listing them."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Callable

import pandas as pd

from ..env import CASES_DIR_ENV
from .case import DB_NAME, Case, default_actor
from .clock import utc_now
from .custody import append_entry
from .errors import CaseNameConflict, CaseNotFound, CaseReadOnly, CaseSchemaError
from .files import ARTIFACTS_DIR, EVIDENCE_DIR, STAGING_DIR, recover
from .ids import case_id_from_name, legacy_case_id, normalise_case_name
from .store import SCHEMA_VERSION, connect, migrate, write_transaction

__all__ = ["CASES_DIR_ENV", "resolve_cases_dir", "open_case", "list_cases", "case_writable"]

log = logging.getLogger(__name__)


def resolve_cases_dir(cases_dir: str | os.PathLike | None = None) -> Path:
    """The case store: the argument, else ``$DFD_CASES_DIR``, else ``./cases``."""
    return Path(cases_dir or os.environ.get(CASES_DIR_ENV) or "cases")


def _recorded_sha(conn: sqlite3.Connection) -> Callable[[str, str], str | None]:
    def lookup(area: str, stored_name: str) -> str | None:
        table = "items" if area == EVIDENCE_DIR else "artifacts"
        row = conn.execute(f"SELECT sha256 FROM {table} WHERE stored_name = ?", (stored_name,)).fetchone()
        return None if row is None else row[0]

    return lookup


def _owner(folder: Path) -> tuple[str | None, str | None]:
    """(name recorded at creation or None for cases made before names were recorded, title) of a case."""
    try:
        conn = connect(folder / DB_NAME, readonly=True)
    except sqlite3.Error:
        return None, None
    try:
        row = conn.execute(
            "SELECT details_json FROM custody WHERE action = 'case_created' ORDER BY seq LIMIT 1"
        ).fetchone()
        info = conn.execute("SELECT title FROM case_info").fetchone()
    except sqlite3.Error:
        return None, None
    finally:
        conn.close()
    name = None
    if row is not None:
        try:
            name = json.loads(row[0]).get("name")
        except (ValueError, AttributeError, RecursionError):
            name = None
    return (name if isinstance(name, str) and name else None), (info[0] if info is not None else None)


def _owner_label(folder: Path) -> str:
    name, title = _owner(folder)
    return repr(name) if name else f"title {title!r}"


def _owned_by(folder: Path, name: str, case_id: str, legacy_title: bool = False) -> bool:
    """Whether opening ``name`` may open the case in ``folder`` (its recorded name, or its id)."""
    if name == case_id:
        return True
    recorded, title = _owner(folder)
    wanted = normalise_case_name(name)
    if recorded is not None:
        return recorded == wanted
    if legacy_title:  # made before names were recorded: its title is the name unless one was given
        return title is not None and normalise_case_name(title) == wanted
    return True  # made before names were recorded and opened by the name of its id: as before


def case_writable(folder: Path) -> bool:
    """Whether the case folder and its database can be written (False on read-only media)."""
    db = folder / DB_NAME
    return os.access(folder, os.W_OK) and (not db.exists() or os.access(db, os.W_OK))


def open_case(
    name: str,
    cases_dir: str | os.PathLike | None = None,
    create: bool = True,
    title: str | None = None,
    examiner: str | None = None,
    agency: str | None = None,
    description: str | None = None,
    target_portal: str | None = None,
    readonly: bool | None = False,
) -> Case:
    """Open (or create) the case named ``name`` (or whose id is ``name``) in the case store.

    Creating never opens another case's folder: when the folder for ``name``'s id holds a case
    created under a different name, :class:`CaseNameConflict` is raised (open that case by its
    id, or choose another name).

    ``readonly=True`` opens an existing case without writing anything (no migration, no
    recovery; every write raises :class:`CaseReadOnly`); ``readonly=None`` does so only when the
    case folder cannot be written (read-only media). A case that cannot be written, opened for
    writing, raises :class:`CaseReadOnly`.
    """
    examiner = (examiner or "").strip() or None  # blank names no one: the account's user is recorded then
    case_id = case_id_from_name(name)
    store = resolve_cases_dir(cases_dir)
    path = store / case_id
    legacy = legacy_case_id(name)
    if (
        not (path / DB_NAME).exists()
        and legacy
        and (store / legacy / DB_NAME).exists()
        and _owner(store / legacy)[0] is None
    ):
        # a non-ASCII name whose case an earlier version (which recorded no names) filed under the plain slug
        if _owned_by(store / legacy, name, legacy, legacy_title=True):
            case_id, path = legacy, store / legacy
        elif create:
            raise CaseNameConflict(
                f"case {name!r} may be the case in folder {legacy!r}, which an earlier version made for a "
                f"case recorded as {_owner_label(store / legacy)}: open that case by its id {legacy!r} if it is "
                "this investigation, or give this case a name that differs in its ASCII letters or digits"
            )
    existed = (path / DB_NAME).exists()
    if existed and readonly is None:
        readonly = not case_writable(path)
    if readonly:
        if not existed:
            raise CaseNotFound(f"no case {case_id!r} in {store}")
        return _open_readonly(path)
    if existed and not case_writable(path):
        raise CaseReadOnly(
            f"case {case_id!r} ({path}) cannot be written (read-only media?): it can be listed, shown, "
            "verified and reported to another folder, but not changed"
        )
    if existed and create and not _owned_by(path, name, case_id):
        raise CaseNameConflict(
            f"the folder {case_id!r} holds another case, recorded as {_owner_label(path)}; open it by its id "
            f"{case_id!r} if it is this investigation, or give this case a different name"
        )
    if not existed:
        if not create:
            known = ", ".join(sorted(p.parent.name for p in store.glob(f"*/{DB_NAME}"))) if store.is_dir() else ""
            raise CaseNotFound(f"no case {case_id!r} in {store}" + (f" (cases: {known})" if known else ""))
        _refuse_orphaned_files(path, case_id)
        for sub in ("", EVIDENCE_DIR, ARTIFACTS_DIR, STAGING_DIR):
            (path / sub).mkdir(parents=True, exist_ok=True)
    try:
        conn = connect(path / DB_NAME)
    except sqlite3.DatabaseError as exc:
        raise _damaged(case_id, path, exc) from exc
    try:
        was = migrate(conn)
        with write_transaction(conn):
            if 1 <= was < SCHEMA_VERSION and conn.execute("SELECT 1 FROM case_info").fetchone() is not None:
                from .. import __version__

                # the database's structure changed under this tool: logged like any other action on the case
                append_entry(
                    conn,
                    "case_updated",
                    default_actor(),
                    details={"schema_upgraded": {"from": was, "to": SCHEMA_VERSION}, "tool_version": __version__},
                )
            if conn.execute("SELECT 1 FROM case_info").fetchone() is None:
                info = {
                    "title": title or name,
                    "examiner": examiner or "",
                    "agency": agency or "",
                    "description": description or "",
                    "target_portal": target_portal or "",
                }
                created = utc_now()
                conn.execute(
                    "INSERT INTO case_info (singleton, case_id, title, examiner, agency, description,"
                    " target_portal, created_utc) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                    (case_id, *info.values(), created),
                )
                from .. import __version__

                append_entry(
                    conn,
                    "case_created",
                    examiner or default_actor(),
                    details={
                        "case_id": case_id,
                        "created_utc": created,
                        "name": normalise_case_name(name),
                        "info": info,
                        "tool_version": __version__,
                        "schema_version": SCHEMA_VERSION,
                    },
                )
        for action in recover(path, _recorded_sha(conn)):
            log.warning("case %s: %s", case_id, action)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            raise _damaged(case_id, path, exc) from exc
        raise
    return Case(path, conn)


def _damaged(case_id: str, path: Path, exc: Exception) -> CaseSchemaError:
    return CaseSchemaError(
        f"case {case_id!r}: its database {path / DB_NAME} is damaged and cannot be read ({exc}); nothing was "
        "changed. Restore it from a backup copy; the evidence and artifacts folders are untouched"
    )


def _refuse_orphaned_files(path: Path, case_id: str) -> None:
    """A folder holding evidence or artifacts but no database lost its case.db: a new case must not be made on top
    of the old case's files (they would read as foreign files added to the new case)."""
    left = [p for sub in (EVIDENCE_DIR, ARTIFACTS_DIR) if (path / sub).is_dir() for p in (path / sub).iterdir()]
    if left:
        raise CaseSchemaError(
            f"the folder of case {case_id!r} ({path}) holds {len(left)} evidence or artifact file(s) but no case "
            f"database ({DB_NAME} deleted or moved?): restore the database from a backup; no new case is made "
            "over another case's files"
        )


def _open_readonly(path: Path) -> Case:
    try:
        conn = connect(path / DB_NAME, readonly=True)
    except sqlite3.DatabaseError as exc:
        raise _damaged(path.name, path, exc) from exc
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CaseSchemaError(
                f"case database has schema version {version}, newer than this tool understands "
                f"({SCHEMA_VERSION}); upgrade dfd_lib to open it"
            )
        if version < 1 or conn.execute("SELECT 1 FROM case_info").fetchone() is None:
            raise CaseSchemaError(f"{path / DB_NAME}: not a complete case database (schema version {version})")
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            raise _damaged(path.name, path, exc) from exc
        raise
    return Case(path, conn, readonly=True)


def list_cases(cases_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every case in the store: id, title, examiner, agency, created/updated, item count, path."""
    store = resolve_cases_dir(cases_dir)
    cols = ["id", "title", "examiner", "agency", "created_utc", "updated_utc", "items", "path", "error"]
    rows = []
    for db in sorted(store.glob(f"*/{DB_NAME}")) if store.is_dir() else []:
        try:
            conn = connect(db, readonly=True)
            try:
                info = conn.execute("SELECT * FROM case_info").fetchone()
                last = conn.execute("SELECT MAX(time_utc) FROM custody").fetchone()[0]
                n = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
            finally:
                conn.close()
            rows.append(
                [
                    db.parent.name,
                    info["title"],
                    info["examiner"],
                    info["agency"],
                    info["created_utc"],
                    last or info["created_utc"],
                    n,
                    str(db.parent),
                    "",
                ]
            )
        except (sqlite3.Error, TypeError) as exc:
            rows.append([db.parent.name, "", "", "", "", "", None, str(db.parent), f"unreadable: {exc}"])
    return pd.DataFrame(rows, columns=cols)
