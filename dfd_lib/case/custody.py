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
import math
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any, Iterable

from .clock import utc_now
from .store import fetch_record

__all__ = [
    "ACTIONS",
    "GENESIS_HASH",
    "CustodyEntry",
    "ChainBreak",
    "clean_json",
    "canonical_json",
    "sha256_json",
    "record_hash",
    "record_ref",
    "append_entry",
    "read_entries",
    "check_chain",
]

ACTIONS = frozenset(
    {"case_created", "case_updated", "intake", "analysis", "view", "annotation", "export", "report", "verification"}
)
GENESIS_HASH = "0" * 64


def clean_json(obj: Any) -> Any:
    """A JSON-ready copy: numpy scalars and arrays to Python, tuples to lists, NaN/inf to None."""
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [clean_json(v) for v in items]
    if isinstance(obj, PurePath):
        return str(obj)
    tolist = getattr(obj, "tolist", None)  # numpy scalar or array
    if callable(tolist):
        return clean_json(tolist())
    raise TypeError(f"cannot store a {type(obj).__name__} in a case record")


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text, no NaN."""
    return json.dumps(clean_json(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


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
    action: str
    actor: str
    item_id: int | None
    item_sha256: str | None
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    entry_hash: str = ""

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
        return {**self.hashed_fields(), "entry_hash": self.entry_hash}


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str  # "missing" | "altered" | "relinked" | "unreadable"
    message: str


def append_entry(
    conn: sqlite3.Connection,
    action: str,
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
    seq, prev = (1, GENESIS_HASH) if head is None else (head["seq"] + 1, head["entry_hash"])
    draft = CustodyEntry(
        seq=seq,
        time_utc=utc_now(),
        action=action,
        actor=str(actor),
        item_id=item_id,
        item_sha256=item_sha256,
        details=clean_json(details or {}),
        prev_hash=prev,
    )
    entry = replace(draft, entry_hash=draft.compute_hash())
    conn.execute(
        "INSERT INTO custody (seq, time_utc, action, actor, item_id, item_sha256, details_json, prev_hash, entry_hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (entry.seq, entry.time_utc, entry.action, entry.actor, entry.item_id, entry.item_sha256,
         canonical_json(entry.details), entry.prev_hash, entry.entry_hash),
    )
    return entry


def read_entries(conn: sqlite3.Connection, item_id: int | None = None) -> list[CustodyEntry]:
    """Entries in chain order (all, or those naming one item). Unparseable details read as ``{"_unparseable": text}``."""
    sql = "SELECT * FROM custody" + (" WHERE item_id = ?" if item_id is not None else "") + " ORDER BY seq"
    out = []
    for row in conn.execute(sql, () if item_id is None else (item_id,)):
        try:
            details = json.loads(row["details_json"])
        except (TypeError, ValueError):
            details = {"_unparseable": row["details_json"]}
        out.append(
            CustodyEntry(
                seq=row["seq"], time_utc=row["time_utc"], action=row["action"], actor=row["actor"],
                item_id=row["item_id"], item_sha256=row["item_sha256"], details=details,
                prev_hash=row["prev_hash"], entry_hash=row["entry_hash"],
            )
        )
    return out


def check_chain(entries: Iterable[CustodyEntry]) -> list[ChainBreak]:
    """Walk the chain; report every missing, altered or re-linked entry (empty list = intact)."""
    breaks: list[ChainBreak] = []
    expected_seq, prev_hash = 1, GENESIS_HASH
    for e in entries:
        if "_unparseable" in e.details and len(e.details) == 1:
            breaks.append(ChainBreak(e.seq, "unreadable", f"entry {e.seq}: details are not valid JSON"))
        if e.seq != expected_seq:
            missing = f"{expected_seq}" if e.seq == expected_seq + 1 else f"{expected_seq}..{e.seq - 1}"
            breaks.append(ChainBreak(expected_seq, "missing", f"entry {missing} missing: the log jumps from "
                                     f"{expected_seq - 1} to {e.seq}"))
        if e.compute_hash() != e.entry_hash:
            breaks.append(ChainBreak(e.seq, "altered", f"entry {e.seq} ({e.action}, {e.time_utc}) was edited: "
                                     f"its content no longer matches its hash {e.entry_hash[:16]}..."))
        if e.prev_hash != prev_hash and e.seq == expected_seq:
            breaks.append(ChainBreak(e.seq, "relinked", f"entry {e.seq} does not link to entry {e.seq - 1} "
                                     "(previous-hash mismatch)"))
        expected_seq, prev_hash = e.seq + 1, e.entry_hash
    return breaks
