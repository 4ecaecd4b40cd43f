"""The case database: schema, migrations, connections and write transactions.

One SQLite file per case (``case.db``) in WAL mode with a busy timeout, so several processes
(the CLI, the dashboard, a second triage run) can read while one writes. Every write is a
short ``BEGIN IMMEDIATE`` transaction: writers queue instead of interleaving, which keeps the
custody chain linear. The schema version lives in ``PRAGMA user_version``; ``MIGRATIONS[i]``
moves a database from version ``i`` to ``i + 1``.

Evidence records are append-only: triggers refuse UPDATE and DELETE on them (a deliberate
edit with the triggers dropped is still caught by :mod:`dfd_lib.case.verify`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Literal, get_args

from .errors import CaseSchemaError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AnalystVerdict",
    "VERDICTS",
    "HASHED_COLUMNS",
    "APPEND_ONLY_TABLES",
    "BUSY_TIMEOUT_MS",
    "connect",
    "migrate",
    "write_transaction",
    "fetch_record",
]

BUSY_TIMEOUT_MS = 60_000

# Analyst verdicts, from most to least incriminating.
AnalystVerdict = Literal["fake", "likely_fake", "inconclusive", "likely_real", "real", "not_relevant"]
VERDICTS: tuple[AnalystVerdict, ...] = get_args(AnalystVerdict)

APPEND_ONLY_TABLES = ("items", "sources", "intake_errors", "artifacts", "findings", "annotations", "custody")

# Columns whose values each record's canonical hash covers (fixed per table so a later
# migration that adds a column does not change the hash of an existing record).
HASHED_COLUMNS: dict[str, tuple[str, ...]] = {
    "items": (
        "id",
        "sha256",
        "md5",
        "sha1",
        "size",
        "mime",
        "media_kind",
        "format",
        "stored_name",
        "original_name",
        "intake_status",
        "intake_message",
        "intake_utc",
        "acquired_by",
    ),
    "sources": (
        "id",
        "item_id",
        "original_path",
        "original_mtime_utc",
        "device",
        "url",
        "platform",
        "acquired_by",
        "notes",
        "added_utc",
    ),
    "intake_errors": ("id", "path", "error", "acquired_by", "time_utc"),
    "artifacts": ("id", "sha256", "item_id", "kind", "stored_name", "width", "height", "created_utc"),
    "findings": (
        "id",
        "item_id",
        "kind",
        "subject",
        "model_name",
        "model_sha256",
        "threshold",
        "status",
        "message",
        "score",
        "verdict",
        "face_index",
        "frame_index",
        "params_json",
        "artifacts_json",
        "result_json",
        "created_utc",
        "actor",
    ),
    "annotations": ("id", "item_id", "verdict", "notes", "tags_json", "sensitive", "reviewer", "created_utc"),
}

_VERDICT_CHECK = ", ".join(f"'{v}'" for v in VERDICTS)


def _findings_table(table: str, unique: str) -> str:
    """The findings table's definition under the name ``table``, with ``unique`` as its key."""
    return f"""CREATE TABLE {table} (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id),
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        model_name TEXT NOT NULL DEFAULT '',
        model_sha256 TEXT NOT NULL DEFAULT '',
        threshold REAL,
        status TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        score REAL,
        verdict TEXT,
        face_index INTEGER,
        frame_index INTEGER,
        params_json TEXT NOT NULL DEFAULT '{{}}',
        artifacts_json TEXT NOT NULL DEFAULT '[]',
        result_json TEXT NOT NULL,
        created_utc TEXT NOT NULL,
        actor TEXT NOT NULL DEFAULT '',
        UNIQUE ({unique}))"""


def _append_only(table: str) -> tuple[str, ...]:
    """The two triggers that refuse UPDATE and DELETE on ``table``."""
    return tuple(
        f"""CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: evidence records are never changed'); END"""
        for op in ("UPDATE", "DELETE")
    )


_V1: tuple[str, ...] = (
    """CREATE TABLE case_info (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        case_id TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        examiner TEXT NOT NULL DEFAULT '',
        agency TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        target_portal TEXT NOT NULL DEFAULT '',
        created_utc TEXT NOT NULL)""",
    """CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        md5 TEXT NOT NULL,
        sha1 TEXT NOT NULL,
        size INTEGER NOT NULL,
        mime TEXT NOT NULL,
        media_kind TEXT NOT NULL,
        format TEXT NOT NULL,
        stored_name TEXT NOT NULL UNIQUE,
        original_name TEXT NOT NULL,
        intake_status TEXT NOT NULL,
        intake_message TEXT NOT NULL DEFAULT '',
        intake_utc TEXT NOT NULL,
        acquired_by TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id),
        original_path TEXT NOT NULL,
        original_mtime_utc TEXT,
        device TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL DEFAULT '',
        platform TEXT NOT NULL DEFAULT '',
        acquired_by TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '',
        added_utc TEXT NOT NULL,
        UNIQUE (item_id, original_path, device, url, platform))""",
    """CREATE TABLE intake_errors (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        error TEXT NOT NULL,
        acquired_by TEXT NOT NULL DEFAULT '',
        time_utc TEXT NOT NULL)""",
    """CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        item_id INTEGER NOT NULL REFERENCES items(id),
        kind TEXT NOT NULL,
        stored_name TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        created_utc TEXT NOT NULL)""",
    _findings_table("findings", "item_id, kind, model_sha256, subject"),
    "CREATE INDEX findings_by_item ON findings (item_id, kind)",
    f"""CREATE TABLE annotations (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id),
        verdict TEXT CHECK (verdict IS NULL OR verdict IN ({_VERDICT_CHECK})),
        notes TEXT NOT NULL DEFAULT '',
        tags_json TEXT NOT NULL DEFAULT '[]',
        sensitive INTEGER NOT NULL DEFAULT 0 CHECK (sensitive IN (0, 1)),
        reviewer TEXT NOT NULL,
        created_utc TEXT NOT NULL)""",
    "CREATE INDEX annotations_by_item ON annotations (item_id, id)",
    """CREATE TABLE custody (
        seq INTEGER PRIMARY KEY,
        time_utc TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        item_id INTEGER,
        item_sha256 TEXT,
        details_json TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL UNIQUE)""",
    *(statement for table in APPEND_ONLY_TABLES for statement in _append_only(table)),
)

# Version 2: the custody chain's anchor - the head entry and the entry count, rewritten by every
# append (dfd_lib.case.custody.append_entry) so deleting the newest entries is detected by verify.
_V2: tuple[str, ...] = (
    """CREATE TABLE custody_anchor (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        head_seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        entries INTEGER NOT NULL)""",
    """INSERT INTO custody_anchor (singleton, head_seq, head_hash, entries)
        SELECT 1, seq, entry_hash, (SELECT COUNT(*) FROM custody) FROM custody ORDER BY seq DESC LIMIT 1""",
)

# Version 3: a finding belongs to a model card's name as well as to its weights' SHA-256. Two cards can score the
# same weights differently (the default and its one-framing fast card), and under version 1's key a second card's
# findings could not be recorded beside the first's (the triage took the first card's as its own). SQLite cannot
# change a table's UNIQUE constraint, so the table is rebuilt: every row is copied unchanged (same ids, so the
# custody chain's record hashes still match), then its index and append-only triggers are made again.
_FINDINGS_COLUMNS = ", ".join(HASHED_COLUMNS["findings"])
_V3: tuple[str, ...] = (
    _findings_table("findings_v3", "item_id, kind, model_name, model_sha256, subject"),
    f"INSERT INTO findings_v3 ({_FINDINGS_COLUMNS}) SELECT {_FINDINGS_COLUMNS} FROM findings ORDER BY id",
    "DROP TABLE findings",  # drops its index and triggers first (no trigger fires)
    "ALTER TABLE findings_v3 RENAME TO findings",
    "CREATE INDEX findings_by_item ON findings (item_id, kind)",
    *_append_only("findings"),
)

MIGRATIONS: list[tuple[str, ...]] = [_V1, _V2, _V3]
SCHEMA_VERSION = len(MIGRATIONS)


def connect(db_path: str | os.PathLike, readonly: bool = False) -> sqlite3.Connection:
    """Open a case database: WAL journal, busy timeout, foreign keys, autocommit mode.

    Transactions are explicit (see :func:`write_transaction`); rows come back as
    :class:`sqlite3.Row`. ``readonly`` opens with ``mode=ro``; on read-only media, where SQLite
    cannot create the WAL index, a database without a write-ahead log is opened ``immutable``
    (nothing can change it there). Writes on a read-only connection fail.
    """
    path = Path(db_path)
    if readonly:
        conn = _connect_readonly(path)
    else:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        _switch_to_wal(conn, path)
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def _switch_to_wal(conn: sqlite3.Connection, path: Path) -> None:
    """WAL journal mode, waiting up to the busy timeout while another process switches a new database to it.

    SQLite answers the switch with "database is locked" at once, without its busy handler, while
    another connection is in the middle of the same switch (two processes opening a new case
    together); that is waited out here. A database that answers with another mode cannot use WAL
    (some network file systems) and is refused at once.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(0.1, pause * 2)
            continue
        if str(mode).lower() != "wal":
            raise CaseSchemaError(f"{path}: could not switch the database to WAL mode (got {mode!r})")
        return


def _connect_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise CaseSchemaError(f"{path}: no case database there")
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(
        f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        wal = path.with_name(path.name + "-wal")
        if os.access(path.parent, os.W_OK):
            raise
        if wal.exists() and wal.stat().st_size > 0:
            raise CaseSchemaError(
                f"{path}: on read-only media with an unfinished write-ahead log ({wal.name}) and no index SQLite can "
                f"read ({exc}); copy the case folder to writable storage to open it"
            ) from exc
    # read-only media and no write-ahead log: the file is all there is, and nobody can change it
    return sqlite3.connect(
        f"{uri}?mode=ro&immutable=1",
        uri=True,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception (or interrupt) rolls back and re-raises.

    IMMEDIATE takes the write lock up front, so two processes appending to the custody chain
    queue (up to the busy timeout) instead of both reading the same chain head.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "readonly" in str(exc) or "read-only" in str(exc):
            from .errors import CaseReadOnly

            raise CaseReadOnly(f"the case database is read-only ({exc}); nothing was written") from exc
        raise
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`, one migration per transaction; returns the version the
    database had before the first migration this call applied (:data:`SCHEMA_VERSION` when it applied none,
    for example because another process had just done it)."""
    before: int | None = None
    while True:
        with write_transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CaseSchemaError(
                    f"case database has schema version {version}, newer than this tool understands "
                    f"({SCHEMA_VERSION}); upgrade dfd_lib to open it"
                )
            if version == SCHEMA_VERSION:
                return version if before is None else before
            if before is None:
                before = version
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")


def fetch_record(conn: sqlite3.Connection, table: str, row_id: int) -> dict[str, Any] | None:
    """The hashed columns of one record, exactly as the database returns them."""
    columns = HASHED_COLUMNS[table]
    row = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = ?", (row_id,)).fetchone()
    return None if row is None else dict(zip(columns, tuple(row)))
