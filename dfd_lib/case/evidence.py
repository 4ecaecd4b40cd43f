"""Intake: hash each evidence file, keep one write-once copy per content, record every source.

The original is only read (never opened for writing, never renamed). Its SHA-256, MD5 and
SHA-1 are taken from the original, the copy is re-hashed before it is accepted, and the
original's size and modification time must be the same before and after, or the file is
refused as changing under our feet. The same content arriving from two places is one item
with two sources. A file that is empty or not a supported format is still an item (its
status says why it cannot be analysed); a path that cannot be read at all is recorded as an
intake error and the batch goes on.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Literal, get_args

from ..fileio import storable_text
from ..media import MEDIA_KINDS, SniffKind, file_hashes, sniff, walk_evidence
from ..progress import Progress, ensure_progress
from .clock import utc_now
from .custody import append_entry, record_ref
from .errors import CaseError
from .files import EVIDENCE_DIR, Staged, check_stored_name, discard, publish, stage_copy
from .store import write_transaction

__all__ = [
    "Source",
    "IntakeRecord",
    "IntakeOutcome",
    "INTAKE_OUTCOMES",
    "IntakeStatus",
    "INTAKE_STATUSES",
    "as_source",
    "ingest_paths",
    "ingest_file",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """Where an item came from (all optional, free text)."""

    device: str = ""  # e.g. "complainant's phone, IMEI ..."
    url: str = ""
    platform: str = ""  # e.g. "WhatsApp", "Instagram"
    notes: str = ""


IntakeOutcome = Literal["new", "new_source", "known", "error"]
INTAKE_OUTCOMES: tuple[IntakeOutcome, ...] = get_args(IntakeOutcome)
IntakeStatus = Literal["ok", "empty", "unsupported"]  # "ok": an image or video the tool decodes
INTAKE_STATUSES: tuple[IntakeStatus, ...] = get_args(IntakeStatus)


@dataclass(frozen=True)
class IntakeRecord:
    path: str  # the path as given (absolute)
    outcome: IntakeOutcome
    item_id: int | None
    sha256: str | None
    intake_status: IntakeStatus | None  # None for an error
    message: str
    changed_from: int | None = None  # the item this path was taken in as before, with other content


def as_source(source: Source | dict[str, Any] | str | None) -> Source:
    """Accept a Source, a dict with its fields, a URL or a free-text device description."""
    if source is None:
        return Source()
    if isinstance(source, Source):
        return source
    if isinstance(source, dict):
        unknown = set(source) - set(Source.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown source field(s): {', '.join(sorted(unknown))}")
        return Source(**{k: str(v) for k, v in source.items() if v is not None})
    text = str(source)
    return Source(url=text) if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I) else Source(device=text)


def shown_path(path: str | os.PathLike) -> str:
    """A path as text for records and messages (see :func:`storable_text`)."""
    return storable_text(os.fsdecode(path))


def _real(path: Path) -> Path:
    """The path with links resolved as far as they go; never raises for a symbolic link loop."""
    return Path(os.path.realpath(path))


def _stored_name(sha256: str, original: Path) -> str:
    ext = re.sub(r"[^a-z0-9]", "", original.suffix.lower())[:10]
    return sha256 + (f".{ext}" if ext else "")


def _mtime_utc(st: os.stat_result) -> str:
    return datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="microseconds")


ARCHIVE_NOTE = (
    "a ZIP archive: the files inside it are not examined; extract a copy into the evidence folder and take those in "
    "(the archive itself stays in the case as received)"
)


def _intake_status(kind: SniffKind, fmt: str, mime: str = "") -> tuple[IntakeStatus, str]:
    if kind in MEDIA_KINDS:
        return "ok", ""
    if kind == "empty":
        return "empty", "the file has zero bytes"
    if fmt == "HEIF":
        return "unsupported", "HEIF/AVIF images are not decoded by this tool; convert a copy to PNG"
    if mime == "application/zip":
        return "unsupported", ARCHIVE_NOTE
    return "unsupported", "content is not an image or video format the tool decodes"


def _record_error(conn: sqlite3.Connection, path: str, error: str, actor: str, acquired_by: str) -> IntakeRecord:
    path, error = storable_text(path), storable_text(error)
    with write_transaction(conn):
        cur = conn.execute(
            "INSERT INTO intake_errors (path, error, acquired_by, time_utc) VALUES (?, ?, ?, ?)",
            (path, error, acquired_by, utc_now()),
        )
        if cur.lastrowid is None:  # sqlite3 always sets it after a successful INSERT
            raise RuntimeError("sqlite3 gave no row id for the new intake error")
        append_entry(
            conn,
            "intake",
            actor,
            details={"path": path, "error": error, "records": [record_ref(conn, "intake_errors", cur.lastrowid)]},
        )
    log.warning("intake error: %s: %s", path, error)
    return IntakeRecord(path, "error", None, None, None, error)


def ingest_file(
    conn: sqlite3.Connection,
    case_dir: Path,
    path: str | os.PathLike,
    actor: str,
    acquired_by: str = "",
    source: Source = Source(),
    follow_links: bool = True,
) -> IntakeRecord:
    """Take one file into the case; never raises for a bad or unreadable file (it records it). ``follow_links=False``
    (a file met inside a folder): a symbolic link is refused, also one that replaced the file after the listing."""
    p = Path(os.path.abspath(path))
    shown = shown_path(p)
    try:
        if _real(p).is_relative_to(case_dir.resolve()):
            return _record_error(conn, shown, "refused: the file is inside the case folder itself", actor, acquired_by)
        if not follow_links and p.is_symlink():
            return _record_error(
                conn, shown, "became a symbolic link after the folder was listed: not followed", actor, acquired_by
            )
        if not p.exists():
            return _record_error(conn, shown, "no such file", actor, acquired_by)
        if not p.is_file():
            return _record_error(conn, shown, "not a regular file", actor, acquired_by)
        before = p.stat()
        hashes = file_hashes(p, follow_links=follow_links)  # the copy is checked against these hashes
        kind, mime, fmt = sniff(p)
        after = p.stat()
    except OSError as exc:
        return _record_error(conn, shown, f"cannot be read: {exc.strerror or exc}", actor, acquired_by)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        return _record_error(conn, shown, "the file changed while it was being hashed", actor, acquired_by)
    sha256 = hashes["sha256"]
    status, message = _intake_status(kind, fmt, mime)
    stored_name = _stored_name(sha256, p)
    staged: Staged | None = None
    known = conn.execute("SELECT id, stored_name FROM items WHERE sha256 = ?", (sha256,)).fetchone()
    if known is not None:
        try:  # the recorded name decides where a missing copy is restored: never outside evidence/
            stored_name = check_stored_name(known["stored_name"], sha256)
        except CaseError as exc:
            return _record_error(conn, shown, f"not taken in again: {exc}", actor, acquired_by)
    # a new content, or a known one whose stored copy is missing (this source can restore it)
    if known is None or not (case_dir / EVIDENCE_DIR / stored_name).is_file():
        try:
            staged = stage_copy(case_dir, EVIDENCE_DIR, p, stored_name, sha256)
        except (OSError, CaseError) as exc:
            return _record_error(conn, shown, f"could not be copied into the case: {exc}", actor, acquired_by)
    try:
        record = _commit(
            conn, p, hashes, kind, mime, fmt, status, message, stored_name, before, actor, acquired_by, source
        )
        if staged is not None:
            if record.outcome == "new":
                publish(case_dir, staged)
            elif not (case_dir / EVIDENCE_DIR / stored_name).exists():
                publish(case_dir, staged)  # the same verified bytes
                if known is not None:  # the copy was missing before this intake began: a restoration
                    record = _log_restored(conn, record, stored_name, actor)
                # else another process took the same content in a moment ago and has not published its copy yet
            else:
                discard(staged)
    except BaseException:
        if staged is not None:
            discard(staged)
        raise
    return record


def _log_restored(conn: sqlite3.Connection, record: IntakeRecord, stored_name: str, actor: str) -> IntakeRecord:
    """Record that a missing stored copy was put back from a source whose SHA-256 matched the item's."""
    rel = f"{EVIDENCE_DIR}/{stored_name}"
    with write_transaction(conn):
        append_entry(
            conn,
            "intake",
            actor,
            item_id=record.item_id,
            item_sha256=record.sha256,
            details={
                "path": record.path,
                "restored": rel,
                "note": "the stored copy was missing; restored from this source (SHA-256 verified)",
            },
        )
    log.warning("restored missing %s from %s", rel, record.path)
    text = f"{record.message}; the missing stored copy {rel} was restored from this file"
    return IntakeRecord(record.path, record.outcome, record.item_id, record.sha256, record.intake_status, text)


def _commit(
    conn, p, hashes, kind, mime, fmt, status, message, stored_name, st, actor, acquired_by, source
) -> IntakeRecord:
    sha256, now = hashes["sha256"], utc_now()
    src = asdict(source)
    shown, name = shown_path(p), storable_text(p.name)
    with write_transaction(conn):
        row = conn.execute("SELECT id, intake_status FROM items WHERE sha256 = ?", (sha256,)).fetchone()
        refs = []
        outcome: IntakeOutcome
        if row is None:
            cur = conn.execute(
                "INSERT INTO items (sha256, md5, sha1, size, mime, media_kind, format, stored_name, original_name,"
                " intake_status, intake_message, intake_utc, acquired_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    sha256,
                    hashes["md5"],
                    hashes["sha1"],
                    st.st_size,
                    mime,
                    kind,
                    fmt,
                    stored_name,
                    name,
                    status,
                    message,
                    now,
                    acquired_by,
                ),
            )
            item_id, outcome = cur.lastrowid, "new"
            refs.append(record_ref(conn, "items", item_id))
        else:
            item_id, status, outcome = row["id"], row["intake_status"], "new_source"
        # the same path and source again; or the same path with no source given at all (a rerun to resume a triage
        # without repeating --source-*), which adds nothing to what the case records of where the file came from
        bare = not (source.device or source.url or source.platform or source.notes)
        dup = conn.execute(
            "SELECT id FROM sources WHERE item_id = ? AND original_path = ?"
            " AND (? OR (device = ? AND url = ? AND platform = ?))",
            (item_id, shown, bare, source.device, source.url, source.platform),
        ).fetchone()
        if dup is not None:
            return IntakeRecord(shown, "known", item_id, sha256, status, "already in the case from this source")
        earlier = conn.execute(  # the same path taken in before with other content: the file changed since
            "SELECT s.item_id, i.sha256 FROM sources s JOIN items i ON i.id = s.item_id"
            " WHERE s.original_path = ? AND s.item_id != ? ORDER BY s.id DESC LIMIT 1",
            (shown, item_id),
        ).fetchone()
        cur = conn.execute(
            "INSERT INTO sources (item_id, original_path, original_mtime_utc, device, url, platform, acquired_by,"
            " notes, added_utc) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                item_id,
                shown,
                _mtime_utc(st),
                source.device,
                source.url,
                source.platform,
                acquired_by,
                source.notes,
                now,
            ),
        )
        refs.append(record_ref(conn, "sources", cur.lastrowid))
        append_entry(
            conn,
            "intake",
            actor,
            item_id=item_id,
            item_sha256=sha256,
            details={
                "path": shown,
                "stored": f"{EVIDENCE_DIR}/{stored_name}",
                "size": st.st_size,
                "md5": hashes["md5"],
                "sha1": hashes["sha1"],
                "mime": mime,
                "intake_status": status,
                "duplicate": outcome != "new",
                "source": {k: v for k, v in src.items() if v},
                "acquired_by": acquired_by,
                "records": refs,
                **(
                    {"changed_since": {"item_id": earlier["item_id"], "sha256": earlier["sha256"]}}
                    if earlier is not None
                    else {}
                ),
            },
        )
    text = message if outcome == "new" else "same content as an item already in the case; source added"
    if earlier is not None:
        text += (
            f"; changed: this path was taken in before with other content (item {earlier['item_id']}, SHA-256 "
            f"{earlier['sha256'][:16]}...); both are kept"
        )
    return IntakeRecord(shown, outcome, item_id, sha256, status, text, None if earlier is None else earlier["item_id"])


def ingest_paths(
    conn: sqlite3.Connection,
    case_dir: Path,
    paths: Iterable[str | os.PathLike],
    actor: str,
    acquired_by: str = "",
    source: Source = Source(),
    progress: Progress | None = None,
) -> list[IntakeRecord]:
    """Ingest files and folders (recursively); stops early, keeping what is done, if cancelled."""
    progress = ensure_progress(progress)
    home = case_dir.resolve()
    entries, own = [], 0
    for entry in walk_evidence(paths):
        if _real(entry.path).is_relative_to(home):
            own += 1  # the case's own database, copies and artifacts are never evidence of it
        else:
            entries.append(entry)
    if own:
        log.warning("skipped %d file(s) inside the case folder %s", own, case_dir)
    records: list[IntakeRecord] = []
    progress.start(len(entries), "intake")
    try:
        for entry in entries:
            if progress.cancelled():
                log.info("intake cancelled after %d of %d files", len(records), len(entries))
                break
            f = entry.path
            try:
                if entry.problem is not None:
                    rec = _record_error(conn, shown_path(os.path.abspath(f)), entry.problem, actor, acquired_by)
                else:
                    rec = ingest_file(conn, case_dir, f, actor, acquired_by, source, follow_links=not entry.in_folder)
            except Exception as exc:  # one bad file never ends the batch; it is recorded by name
                log.exception("intake of %s failed", shown_path(f))
                rec = _record_error(conn, shown_path(os.path.abspath(f)), f"intake failed: {exc}", actor, acquired_by)
            records.append(rec)
            progress.advance(1, file=Path(rec.path).name, outcome=rec.outcome)
    finally:
        progress.close()
    return records
