"""Read-side views of a case as pandas DataFrames, and item look-up by id or SHA-256 prefix."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Literal, get_args

import pandas as pd

from ..results import FileStatus
from .custody import CustodyEntry, stored_json
from .errors import AmbiguousItem, CaseError, ItemNotFound
from .files import EVIDENCE_DIR, stored_file
from .findings import DETECTOR

__all__ = [
    "ItemStatus",
    "ITEM_STATUSES",
    "ITEM_COLUMNS",
    "resolve_item",
    "items_frame",
    "findings_frame",
    "sources_frame",
    "custody_frame",
    "sort_by_suspicion",
]

# An item's status: its detector finding's, else "pending" (taken in, not analysed yet), else its intake
# status ("empty"; "unsupported" is also a FileStatus).
ItemStatus = Literal[FileStatus, "pending", "empty"]
ITEM_STATUSES: tuple[ItemStatus, ...] = get_args(ItemStatus)

ITEM_COLUMNS = [
    "item_id",
    "path",
    "name",
    "sha256",
    "size",
    "mime",
    "media_kind",
    "intake_status",
    "status",
    "message",
    "score",
    "verdict",
    "model",
    "model_sha256",
    "n_faces",
    "analyst_verdict",
    "tags",
    "sensitive",
    "reviewer",
    "notes",
    "n_sources",
    "intake_utc",
    "stored_path",
    "md5",
    "sha1",
]


def resolve_item(conn: sqlite3.Connection, ref: int | str) -> sqlite3.Row:
    """An item by id (int or decimal string) or by a SHA-256 prefix of at least 6 hex digits."""
    if isinstance(ref, sqlite3.Row):
        ref = ref["id"]
    text = str(ref).strip().lower()
    by_id = None
    if isinstance(ref, int) or text.isdigit():
        by_id = conn.execute("SELECT * FROM items WHERE id = ?", (int(text),)).fetchone()
        if isinstance(ref, int):
            if by_id is None:
                raise ItemNotFound(f"no evidence item with id {ref}")
            return by_id
    by_hash: list[sqlite3.Row] = []
    if len(text) >= 6 and re.fullmatch(r"[0-9a-f]+", text):
        by_hash = conn.execute("SELECT * FROM items WHERE sha256 LIKE ? ORDER BY id LIMIT 3", (text + "%",)).fetchall()
    if by_id is not None and by_hash and by_hash[0]["id"] != by_id["id"]:
        raise AmbiguousItem(f"{ref!r} is both item id {by_id['id']} and a SHA-256 prefix; give more digits")
    if len(by_hash) > 1:
        raise AmbiguousItem(f"SHA-256 prefix {text!r} matches several items; give more digits")
    if by_id is not None:
        return by_id
    if by_hash:
        return by_hash[0]
    raise ItemNotFound(f"no evidence item with id or SHA-256 prefix {ref!r} (prefixes need 6+ hex digits)")


def _stored_path(case_dir: Path, stored_name: str, sha256: str) -> Path:
    """Where an item's stored copy is; for a recorded name the case never gives (an edited database), a name in
    evidence/ that never exists, so every reader finds the copy missing and nothing outside the case is opened
    (dfd verify names the edited record)."""
    try:
        return stored_file(case_dir, EVIDENCE_DIR, stored_name, sha256)
    except CaseError:
        return case_dir / EVIDENCE_DIR / "recorded-name-invalid"


def items_frame(
    conn: sqlite3.Connection,
    case_dir: Path,
    model_sha256: str | None = None,
    item_id: int | None = None,
    model_name: str | None = None,
) -> pd.DataFrame:
    """One row per item (or only ``item_id``'s): intake facts, latest detector finding (of one model if given:
    its weights' ``model_sha256`` and, where given, its card's ``model_name``, as two cards may score the same
    weights differently) and current review."""
    rows = conn.execute(
        """SELECT i.*, (SELECT original_path FROM sources s WHERE s.item_id = i.id ORDER BY s.id LIMIT 1) AS path,
                  (SELECT COUNT(*) FROM sources s WHERE s.item_id = i.id) AS n_sources,
                  f.status AS f_status, f.message AS f_message, f.score, f.verdict AS f_verdict, f.model_name,
                  f.model_sha256, f.result_json, a.verdict AS a_verdict, a.tags_json, a.sensitive, a.reviewer, a.notes
           FROM items i
           LEFT JOIN findings f ON f.id = (SELECT MAX(id) FROM findings g WHERE g.item_id = i.id AND g.kind = ?
                                           AND (? IS NULL OR g.model_sha256 = ?)
                                           AND (? IS NULL OR g.model_name = ?))
           LEFT JOIN annotations a ON a.id = (SELECT MAX(id) FROM annotations b WHERE b.item_id = i.id)
           WHERE (? IS NULL OR i.id = ?)
           ORDER BY i.id""",
        (DETECTOR, model_sha256, model_sha256, model_name, model_name, item_id, item_id),
    ).fetchall()
    records = []
    for r in rows:
        pending = "pending" if r["intake_status"] == "ok" else r["intake_status"]
        records.append(
            {
                "item_id": r["id"],
                "path": r["path"],
                "name": r["original_name"],
                "sha256": r["sha256"],
                "size": r["size"],
                "mime": r["mime"],
                "media_kind": r["media_kind"],
                "intake_status": r["intake_status"],
                "status": r["f_status"] or pending,
                "message": r["f_message"] or r["intake_message"],
                "score": r["score"],
                "verdict": r["f_verdict"],
                "model": r["model_name"],
                "model_sha256": r["model_sha256"],
                "n_faces": len(stored_json(r["result_json"])[0].get("faces", [])) if r["result_json"] else None,
                "analyst_verdict": r["a_verdict"],
                "tags": stored_json(r["tags_json"], list)[0] if r["tags_json"] else [],
                "sensitive": bool(r["sensitive"]),
                "reviewer": r["reviewer"],
                "notes": r["notes"],
                "n_sources": r["n_sources"],
                "intake_utc": r["intake_utc"],
                "stored_path": str(_stored_path(case_dir, r["stored_name"], r["sha256"])),
                "md5": r["md5"],
                "sha1": r["sha1"],
            }
        )
    df = pd.DataFrame.from_records(records, columns=ITEM_COLUMNS)
    df["score"] = df["score"].astype(float)
    df["n_faces"] = df["n_faces"].astype("Int64")
    df["sensitive"] = df["sensitive"].astype(bool)
    for col in ("path", "message", "verdict", "model", "model_sha256", "analyst_verdict", "reviewer", "notes"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def sort_by_suspicion(df: pd.DataFrame) -> pd.DataFrame:
    """Highest score first; unscored items after, in item order."""
    return df.sort_values(["score", "item_id"], ascending=[False, True], na_position="last", kind="stable").reset_index(
        drop=True
    )


def findings_frame(conn: sqlite3.Connection, item_id: int | None = None, kind: str | None = None) -> pd.DataFrame:
    sql = (
        "SELECT * FROM findings WHERE (? IS NULL OR item_id = ?) AND (? IS NULL OR kind = ? OR kind LIKE ?)"
        " ORDER BY item_id, id"
    )
    like = None if kind is None else (kind if kind.endswith("%") else kind + ":%")
    rows = conn.execute(sql, (item_id, item_id, kind, kind, like)).fetchall()
    cols = [d[0] for d in conn.execute("SELECT * FROM findings LIMIT 0").description]
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    for col, shape in (("params_json", dict), ("artifacts_json", list), ("result_json", dict)):
        df[col.removesuffix("_json")] = df[col].map(lambda raw, shape=shape: stored_json(raw, shape)[0])
    return df.drop(columns=["params_json", "artifacts_json", "result_json"])


def sources_frame(conn: sqlite3.Connection, item_id: int | None = None) -> pd.DataFrame:
    rows = conn.execute("SELECT * FROM sources WHERE (? IS NULL OR item_id = ?) ORDER BY id", (item_id, item_id))
    cols = [d[0] for d in rows.description]
    return pd.DataFrame([tuple(r) for r in rows.fetchall()], columns=cols)


def custody_frame(entries: list[CustodyEntry]) -> pd.DataFrame:
    cols = ["seq", "time_utc", "action", "actor", "item_id", "item_sha256", "details", "prev_hash", "entry_hash"]
    df = pd.DataFrame([e.to_dict() for e in entries], columns=cols)
    df["item_id"] = df["item_id"].astype("Int64")
    df["item_sha256"] = df["item_sha256"].astype(object).where(df["item_sha256"].notna(), None)
    return df
