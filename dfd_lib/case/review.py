"""Analyst review: verdicts, notes, tags and the sensitive-content flag, kept as a history.

Every call to :func:`annotate` appends a complete record (fields not given are carried over
from the previous record), so the current review is simply the latest record and every
earlier state stays visible. A form that saves every field passes ``based_on``, the review
version it was loaded from (:func:`review_version`); when another examiner saved in between,
the save is refused with :class:`StaleReview` instead of silently undoing their changes
(a cleared sensitive flag, a lost note). Items flagged ``sensitive`` (sexual or child-abuse material)
must be withheld from exports; :func:`sensitive_item_ids` is what exporters consult.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass

from .clock import utc_now
from .custody import append_entry, canonical_json, record_ref, stored_json
from .errors import StaleReview
from .store import VERDICTS, write_transaction

__all__ = [
    "VERDICTS",
    "Annotation",
    "annotate",
    "history",
    "current_annotation",
    "review_version",
    "sensitive_item_ids",
    "normalise_tags",
    "StaleReview",
]


@dataclass(frozen=True)
class Annotation:
    id: int
    item_id: int
    verdict: str | None
    notes: str
    tags: tuple[str, ...]
    sensitive: bool
    reviewer: str
    created_utc: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Annotation":
        return cls(
            row["id"],
            row["item_id"],
            row["verdict"],
            row["notes"],
            tuple(stored_json(row["tags_json"], list)[0]),
            bool(row["sensitive"]),
            row["reviewer"],
            row["created_utc"],
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "tags": list(self.tags)}


def normalise_tags(tags: str | list[str] | tuple[str, ...] | set[str]) -> tuple[str, ...]:
    """``"a, b,a"`` or ``["a", " b"]`` -> ``("a", "b")``: stripped, de-duplicated, first spelling kept, order kept."""
    raw = tags.split(",") if isinstance(tags, str) else list(tags)
    out: list[str] = []
    for t in raw:
        t = " ".join(str(t).split())
        if t and t.lower() not in {o.lower() for o in out}:
            out.append(t)
    return tuple(out)


def current_annotation(conn: sqlite3.Connection, item_id: int) -> Annotation | None:
    row = conn.execute("SELECT * FROM annotations WHERE item_id = ? ORDER BY id DESC LIMIT 1", (item_id,)).fetchone()
    return None if row is None else Annotation.from_row(row)


def review_version(annotation: Annotation | None) -> int:
    """The version a review form was loaded from: the current record's id, 0 when never reviewed."""
    return 0 if annotation is None else annotation.id


def history(conn: sqlite3.Connection, item_id: int) -> list[Annotation]:
    """Every review record of an item, oldest first."""
    rows = conn.execute("SELECT * FROM annotations WHERE item_id = ? ORDER BY id", (item_id,)).fetchall()
    return [Annotation.from_row(r) for r in rows]


def annotate(
    conn: sqlite3.Connection,
    item_id: int,
    item_sha256: str,
    reviewer: str,
    verdict: str | None = None,
    notes: str | None = None,
    tags: str | list[str] | tuple[str, ...] | None = None,
    sensitive: bool | None = None,
    based_on: int | None = None,
) -> Annotation:
    """Record a new review state; ``None`` for a field keeps its current value.

    ``based_on`` (optional) is the :func:`review_version` the caller's values were based on;
    if the item's review has changed since, nothing is written and :class:`StaleReview` is raised.
    """
    if verdict is not None and verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; choose one of: {', '.join(VERDICTS)}")
    if not reviewer or not str(reviewer).strip():
        raise ValueError("an annotation names its reviewer")
    with write_transaction(conn):
        prev = current_annotation(conn, item_id)
        if based_on is not None and review_version(prev) != based_on:
            raise StaleReview(
                f"item {item_id}: the review was changed by {prev.reviewer if prev else 'someone'} at "
                f"{prev.created_utc if prev else 'an unknown time'} (record {review_version(prev)}) after this form "
                f"was loaded (record {based_on or 'none'}); nothing was saved. Reload the item to see the current "
                "review, then save again",
                current=prev,
            )
        new_verdict = verdict if verdict is not None else (prev.verdict if prev else None)
        new_notes = notes if notes is not None else (prev.notes if prev else "")
        new_tags = normalise_tags(tags) if tags is not None else (prev.tags if prev else ())
        new_sensitive = bool(sensitive) if sensitive is not None else (prev.sensitive if prev else False)
        cur = conn.execute(
            "INSERT INTO annotations (item_id, verdict, notes, tags_json, sensitive, reviewer, created_utc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                item_id,
                new_verdict,
                new_notes,
                canonical_json(list(new_tags)),
                int(new_sensitive),
                str(reviewer),
                utc_now(),
            ),
        )
        if cur.lastrowid is None:  # sqlite3 always sets it after a successful INSERT
            raise RuntimeError("sqlite3 gave no row id for the new annotation")
        ref = record_ref(conn, "annotations", cur.lastrowid)
        changed = [
            k
            for k, old, new in (
                ("verdict", prev and prev.verdict, new_verdict),
                ("notes", prev and prev.notes, new_notes),
                ("tags", prev and prev.tags, new_tags),
                ("sensitive", prev and prev.sensitive, new_sensitive),
            )
            if prev is None or old != new
        ]
        append_entry(
            conn,
            "annotation",
            str(reviewer),
            item_id=item_id,
            item_sha256=item_sha256,
            details={
                "verdict": new_verdict,
                "tags": list(new_tags),
                "sensitive": new_sensitive,
                "changed": changed,
                "records": [ref],
            },
        )
        row = conn.execute("SELECT * FROM annotations WHERE id = ?", (cur.lastrowid,)).fetchone()
    return Annotation.from_row(row)


def sensitive_item_ids(conn: sqlite3.Connection) -> set[int]:
    """Items whose current review flags them sensitive (to be withheld from exports)."""
    rows = conn.execute(
        "SELECT a.item_id FROM annotations a WHERE a.id = (SELECT MAX(id) FROM annotations b WHERE b.item_id = a.item_id)"
        " AND a.sensitive = 1"
    ).fetchall()
    return {r[0] for r in rows}
