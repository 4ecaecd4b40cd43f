"""The chain-of-custody log: append-only entries, each hashed over its fields and its predecessor's hash.

``entry_hash = SHA-256(canonical JSON of {seq, time_utc, action, actor, item_id, item_sha256,
details, prev_hash})``; the first entry's ``prev_hash`` is 64 zeros. Deleting, inserting or
editing an entry breaks the chain at that point. Entries that create evidence records
(items, sources, findings, annotations, artifacts) list ``details["records"]`` as
``[table, id, record_hash]`` so :mod:`dfd_lib.case.verify` can also prove those rows unchanged.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Literal, get_args

from ..fileio import json_ready
from .clock import utc_now
from .errors import CustodyBroken
from .store import fetch_record

__all__ = [
    "CustodyAction",
    "ACTIONS",
    "GENESIS_HASH",
    "CustodyEntry",
    "ChainBreak",
    "canonical_json",
    "sha256_json",
    "record_hash",
    "record_ref",
    "append_entry",
    "read_entries",
    "check_chain",
    "ANCHOR_TABLE",
    "read_anchor",
]

CustodyAction = Literal[
    "case_created", "case_updated", "intake", "analysis", "view", "annotation", "export", "report", "verification"
]
ACTIONS: frozenset[CustodyAction] = frozenset(get_args(CustodyAction))
GENESIS_HASH = "0" * 64
ANCHOR_TABLE = "custody_anchor"  # one row: head_seq, head_hash, entries - rewritten by every append
# Actions whose entry records the chain head the action saw (``details["custody_head"]``).
HEAD_RECORDING_ACTIONS = frozenset({"report", "export"})


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text, no NaN."""
    return json.dumps(json_ready(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def record_hash(record: dict[str, Any]) -> str:
    """Canonical hash of one database record (its hashed columns)."""
    return sha256_json(record)


def record_ref(conn: sqlite3.Connection, table: str, row_id: int) -> list:
    """``[table, id, hash]`` of a record as stored, for an entry's ``details["records"]``."""
    record = fetch_record(conn, table, row_id)
    if record is None:
        raise LookupError(f"{table} record {row_id} does not exist")
    return [table, int(row_id), record_hash(record)]


@dataclass(frozen=True)
class CustodyEntry:
    seq: int
    time_utc: str
    action: CustodyAction
    actor: str
    item_id: int | None
    item_sha256: str | None
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    entry_hash: str = ""
    damaged: str = ""  # why the stored entry could not be read as written (not hashed); "" when sound

    def hashed_fields(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time_utc": self.time_utc,
            "action": self.action,
            "actor": self.actor,
            "item_id": self.item_id,
            "item_sha256": self.item_sha256,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        return sha256_json(self.hashed_fields())

    def to_dict(self) -> dict[str, Any]:
        out = {**self.hashed_fields(), "entry_hash": self.entry_hash}
        if self.damaged:
            out["damaged"] = self.damaged
        return out


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str  # "missing" | "altered" | "relinked" | "damaged"
    message: str


def append_entry(
    conn: sqlite3.Connection,
    action: CustodyAction,
    actor: str,
    item_id: int | None = None,
    item_sha256: str | None = None,
    details: dict[str, Any] | None = None,
) -> CustodyEntry:
    """Append one entry; must run inside :func:`dfd_lib.case.store.write_transaction`."""
    if not conn.in_transaction:
        raise RuntimeError("custody entries are appended inside a write transaction (BEGIN IMMEDIATE)")
    if action not in ACTIONS:
        raise ValueError(f"unknown custody action {action!r}; known: {', '.join(sorted(ACTIONS))}")
    if not actor or not str(actor).strip():
        raise ValueError("every custody entry names its actor")
    head = conn.execute("SELECT seq, entry_hash FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
    _require_anchored(conn, head)
    seq, prev = (1, GENESIS_HASH) if head is None else (head["seq"] + 1, head["entry_hash"])
    details = dict(details or {})
    if action in HEAD_RECORDING_ACTIONS and head is not None:
        count = conn.execute("SELECT COUNT(*) FROM custody").fetchone()[0]
        details["custody_head"] = {"seq": head["seq"], "hash": head["entry_hash"], "entries": count}
    draft = CustodyEntry(
        seq=seq,
        time_utc=utc_now(),
        action=action,
        actor=str(actor),
        item_id=item_id,
        item_sha256=item_sha256,
        details=json_ready(details),
        prev_hash=prev,
    )
    entry = replace(draft, entry_hash=draft.compute_hash())
    conn.execute(
        "INSERT INTO custody (seq, time_utc, action, actor, item_id, item_sha256, details_json, prev_hash, entry_hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.seq,
            entry.time_utc,
            entry.action,
            entry.actor,
            entry.item_id,
            entry.item_sha256,
            canonical_json(entry.details),
            entry.prev_hash,
            entry.entry_hash,
        ),
    )
    # the anchor: the head and the number of entries, so a deleted newest entry cannot pass unnoticed
    conn.execute(
        f"INSERT OR REPLACE INTO {ANCHOR_TABLE} (singleton, head_seq, head_hash, entries)"
        " VALUES (1, ?, ?, (SELECT COUNT(*) FROM custody))",
        (entry.seq, entry.entry_hash),
    )
    return entry


def _require_anchored(conn: sqlite3.Connection, head: sqlite3.Row | None) -> None:
    """Refuse to append to a log that does not end where its anchor says (CustodyBroken).

    Appending would rewrite the anchor onto the shortened or rewritten chain, and every later verification would
    pass: the deletion of an examiner's entry would leave no trace. So a broken case takes no more entries at all
    (a case without an anchor table, older than schema version 2, has nothing to compare with)."""
    anchor = read_anchor(conn)
    if anchor is None or (not anchor and head is None):  # no anchor table; or a new case, nothing appended yet
        return
    count = conn.execute("SELECT COUNT(*) FROM custody").fetchone()[0]
    now = (head["seq"], head["entry_hash"], count) if head is not None else (0, GENESIS_HASH, 0)
    if anchor and (anchor["seq"], anchor["hash"], anchor["entries"]) == now:
        return
    recorded = f"#{anchor['seq']} ({anchor['entries']} entries)" if anchor else "nothing (its row was deleted)"
    raise CustodyBroken(
        f"the custody log ends at #{now[0]} ({now[2]} entries) but its anchor records {recorded}: entries were "
        "removed or rewritten outside dfd. Nothing more is recorded "
        "in this case, so that the break stays on record; `dfd verify` shows it. Examine the case database and "
        "restore it from a copy or an export bundle."
    )


def read_anchor(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The recorded chain head ``{"seq", "hash", "entries"}``; None when the case has no anchor table
    (a database older than schema version 2 opened read-only); ``{}`` when the table has no row."""
    try:
        row = conn.execute(f"SELECT head_seq, head_hash, entries FROM {ANCHOR_TABLE}").fetchone()
    except sqlite3.OperationalError:
        return None
    return {} if row is None else {"seq": row[0], "hash": row[1], "entries": row[2]}


def stored_json(raw: Any, kind: type = dict) -> tuple[Any, str]:
    """(value, damage) of JSON text stored in the case database: a value of ``kind`` (dict or list) and "", or, for
    text that is not such JSON (edited by hand, nested too deep to read), ``{"_unparseable": raw}`` (dict) or ``[]``
    (list) and what it is instead ("not valid JSON", "a JSON list, not an object", ...). A damaged column never stops verify, reports or exports; verify reports the record's hash."""
    try:
        value = json.loads(raw)
    except RecursionError:
        return ({"_unparseable": str(raw)[:200]} if kind is dict else []), "JSON nested too deep to read"
    except (TypeError, ValueError):
        return ({"_unparseable": raw} if kind is dict else []), "not valid JSON"
    if not isinstance(value, kind):
        wanted = "an object" if kind is dict else "a list"
        return ({"_unparseable": raw} if kind is dict else []), f"a JSON {type(value).__name__}, not {wanted}"
    return value, ""


def _parse_details(raw: Any) -> tuple[dict[str, Any], str]:
    """(details, damage) of a stored ``details_json``: damaged details read as ``{"_unparseable": raw}``."""
    details, damage = stored_json(raw)
    return details, (f"its details are {damage}" if damage else "")


def read_entries(conn: sqlite3.Connection, item_id: int | None = None) -> list[CustodyEntry]:
    """Entries in chain order (all, or those naming one item).

    Details that are not a JSON object read as ``{"_unparseable": text}`` with ``damaged`` saying why.
    """
    sql = "SELECT * FROM custody" + (" WHERE item_id = ?" if item_id is not None else "") + " ORDER BY seq"
    out = []
    for row in conn.execute(sql, () if item_id is None else (item_id,)):
        details, damaged = _parse_details(row["details_json"])
        out.append(
            CustodyEntry(
                seq=row["seq"],
                time_utc=row["time_utc"],
                action=row["action"],
                actor=row["actor"],
                item_id=row["item_id"],
                item_sha256=row["item_sha256"],
                details=details,
                prev_hash=row["prev_hash"],
                entry_hash=row["entry_hash"],
                damaged=damaged,
            )
        )
    return out


def check_chain(entries: Iterable[CustodyEntry]) -> list[ChainBreak]:
    """Walk the chain; report every missing, altered or re-linked entry (empty list = intact)."""
    breaks: list[ChainBreak] = []
    expected_seq, prev_hash = 1, GENESIS_HASH
    for e in entries:
        if e.damaged:
            breaks.append(
                ChainBreak(e.seq, "damaged", f"entry {e.seq} ({e.action}, {e.time_utc}) is damaged: {e.damaged}")
            )
        if e.seq != expected_seq:
            missing = f"{expected_seq}" if e.seq == expected_seq + 1 else f"{expected_seq}..{e.seq - 1}"
            breaks.append(
                ChainBreak(
                    expected_seq,
                    "missing",
                    f"entry {missing} missing: the log jumps from {expected_seq - 1} to {e.seq}",
                )
            )
        if not e.damaged and e.compute_hash() != e.entry_hash:
            breaks.append(
                ChainBreak(
                    e.seq,
                    "altered",
                    f"entry {e.seq} ({e.action}, {e.time_utc}) was edited: "
                    f"its content no longer matches its hash {e.entry_hash[:16]}...",
                )
            )
        if e.prev_hash != prev_hash and e.seq == expected_seq:
            breaks.append(
                ChainBreak(
                    e.seq, "relinked", f"entry {e.seq} does not link to entry {e.seq - 1} (previous-hash mismatch)"
                )
            )
        expected_seq, prev_hash = e.seq + 1, e.entry_hash
    return breaks
