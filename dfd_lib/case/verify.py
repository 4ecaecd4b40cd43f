"""Independent verification of a case: files re-hashed, custody chain walked, records re-hashed.

The report says precisely what is wrong: ``altered`` (a stored file whose hash differs from its
record), ``added`` (a file on disk the database does not know), ``removed`` (a recorded file
missing from disk) and ``chain_breaks`` (custody entries missing, edited or re-linked; records
— findings, items, sources, annotations, artifacts — edited, deleted or inserted outside the
tool, detected by their canonical hashes logged in the custody chain).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..media import sha256_file
from ..progress import Progress, ensure_progress
from .clock import utc_now
from .custody import CustodyEntry, check_chain, read_entries, record_hash
from .files import ARTIFACTS_DIR, EVIDENCE_DIR
from .store import APPEND_ONLY_TABLES, HASHED_COLUMNS

__all__ = ["Issue", "VerificationReport", "verify_case"]


@dataclass(frozen=True)
class Issue:
    category: str  # "altered" | "added" | "removed" | "chain_break" | "warning"
    target: str  # e.g. "evidence/<sha>.jpg", "custody #12", "findings #7"
    message: str
    expected: str | None = None
    actual: str | None = None

    def to_dict(self) -> dict:
        return {"category": self.category, "target": self.target, "message": self.message,
                "expected": self.expected, "actual": self.actual}


@dataclass(frozen=True)
class VerificationReport:
    case_id: str
    checked_utc: str
    evidence_checked: int
    artifacts_checked: int
    entries_checked: int
    records_checked: int
    head_seq: int
    head_hash: str
    altered: tuple[Issue, ...] = ()
    added: tuple[Issue, ...] = ()
    removed: tuple[Issue, ...] = ()
    chain_breaks: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not (self.altered or self.added or self.removed or self.chain_breaks)

    @property
    def problems(self) -> tuple[Issue, ...]:
        return self.altered + self.added + self.removed + self.chain_breaks

    def to_dict(self) -> dict:
        return {
            "case_id": self.case_id, "checked_utc": self.checked_utc, "ok": self.ok,
            "evidence_checked": self.evidence_checked, "artifacts_checked": self.artifacts_checked,
            "entries_checked": self.entries_checked, "records_checked": self.records_checked,
            "head_seq": self.head_seq, "head_hash": self.head_hash,
            **{k: [i.to_dict() for i in getattr(self, k)] for k in ("altered", "added", "removed", "chain_breaks",
                                                                   "warnings")},
        }

    def lines(self) -> list[str]:
        """Human-readable report, one line per finding."""
        head = (f"case {self.case_id}: {'INTACT' if self.ok else 'NOT INTACT'} - {self.evidence_checked} evidence "
                f"files, {self.artifacts_checked} artifacts, {self.entries_checked} custody entries, "
                f"{self.records_checked} records checked; chain head #{self.head_seq} {self.head_hash[:16]}")
        out = [head]
        for issue in self.problems + self.warnings:
            extra = ""
            if issue.expected or issue.actual:
                extra = f" (expected {issue.expected or '-'}, found {issue.actual or '-'})"
            out.append(f"  {issue.category.upper():12} {issue.target}: {issue.message}{extra}")
        return out


def _check_files(conn, case_dir: Path, table: str, area: str, progress: Progress) -> tuple[int, list, list, list]:
    altered, removed, warnings = [], [], []
    rows = conn.execute(f"SELECT id, sha256, stored_name FROM {table} ORDER BY id").fetchall()
    for row in rows:
        rel = f"{area}/{row['stored_name']}"
        path = case_dir / area / row["stored_name"]
        label = "item" if table == "items" else "artifact"
        if not path.is_file():
            removed.append(Issue("removed", rel, f"stored file of {label} {row['id']} is missing", row["sha256"], None))
        else:
            got = sha256_file(path)
            if got != row["sha256"]:
                altered.append(Issue("altered", rel, f"content of {label} {row['id']} differs from its intake hash",
                                     row["sha256"], got))
            if path.stat().st_mode & 0o222:
                warnings.append(Issue("warning", rel, f"stored file is writable (mode {oct(path.stat().st_mode & 0o777)})"))
        progress.advance(1)
    return len(rows), altered, removed, warnings


def _unknown_files(case_dir: Path, area: str, known: set[str]) -> list[Issue]:
    folder = case_dir / area
    if not folder.is_dir():
        return []
    return [
        Issue("added", f"{area}/{p.name}" + ("/" if p.is_dir() else ""),
              "present on disk but not recorded in the case database")
        for p in sorted(folder.iterdir())
        if p.is_dir() or p.name not in known
    ]


def _check_records(conn: sqlite3.Connection, entries: list[CustodyEntry]) -> tuple[int, list[Issue]]:
    logged: dict[tuple[str, int], tuple[str, int]] = {}
    for e in entries:
        for ref in e.details.get("records", []) if isinstance(e.details, dict) else []:
            if isinstance(ref, list) and len(ref) == 3:
                logged[(str(ref[0]), int(ref[1]))] = (str(ref[2]), e.seq)
    issues, checked, seen = [], 0, set()
    for table, columns in HASHED_COLUMNS.items():
        for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"):
            record = dict(zip(columns, tuple(row)))
            key = (table, record["id"])
            seen.add(key)
            checked += 1
            got = record_hash(record)
            if key not in logged:
                issues.append(Issue("chain_break", f"{table} #{record['id']}", "record is not covered by any custody "
                                    "entry (its entry was deleted, or it was inserted outside the tool)", None, got))
            elif logged[key][0] != got:
                issues.append(Issue("chain_break", f"{table} #{record['id']}", f"record was edited after custody entry "
                                    f"#{logged[key][1]} recorded it", logged[key][0], got))
    for key, (h, seq) in sorted(logged.items()):
        if key not in seen:
            issues.append(Issue("chain_break", f"{key[0]} #{key[1]}", f"record logged by custody entry #{seq} is "
                                "missing from the database (deleted)", h, None))
    return checked, issues


def _check_case_info(conn: sqlite3.Connection, entries: list[CustodyEntry]) -> list[Issue]:
    logged: dict = {}
    for e in entries:
        if e.action in ("case_created", "case_updated") and isinstance(e.details.get("info"), dict):
            logged.update(e.details["info"])
    row = conn.execute("SELECT * FROM case_info").fetchone()
    if row is None:
        return [Issue("chain_break", "case_info", "case metadata row is missing")]
    return [Issue("chain_break", f"case_info.{k}", "case metadata differs from the custody log", str(v), str(row[k]))
            for k, v in sorted(logged.items()) if k in row.keys() and row[k] != v]


def verify_case(conn: sqlite3.Connection, case_dir: Path, case_id: str, progress: Progress | None = None) -> VerificationReport:
    """Check everything; read-only (the caller logs the verification entry)."""
    progress = ensure_progress(progress)
    total = conn.execute("SELECT (SELECT COUNT(*) FROM items) + (SELECT COUNT(*) FROM artifacts)").fetchone()[0]
    progress.start(total, "verify")
    try:
        n_ev, alt1, rem1, warn1 = _check_files(conn, case_dir, "items", EVIDENCE_DIR, progress)
        n_art, alt2, rem2, warn2 = _check_files(conn, case_dir, "artifacts", ARTIFACTS_DIR, progress)
    finally:
        progress.close()
    added = _unknown_files(case_dir, EVIDENCE_DIR, {r[0] for r in conn.execute("SELECT stored_name FROM items")})
    added += _unknown_files(case_dir, ARTIFACTS_DIR, {r[0] for r in conn.execute("SELECT stored_name FROM artifacts")})
    entries = read_entries(conn)
    breaks = [Issue("chain_break", f"custody #{b.seq}", b.message) for b in check_chain(entries)]
    n_rec, rec_issues = _check_records(conn, entries)
    breaks += rec_issues + _check_case_info(conn, entries)
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    missing = [f"{t}_no_{op}" for t in APPEND_ONLY_TABLES for op in ("update", "delete") if f"{t}_no_{op}" not in triggers]
    warnings = warn1 + warn2
    if missing:
        warnings.append(Issue("warning", "database", f"append-only guard(s) removed: {', '.join(missing)}"))
    head = entries[-1] if entries else None
    return VerificationReport(
        case_id=case_id, checked_utc=utc_now(), evidence_checked=n_ev, artifacts_checked=n_art,
        entries_checked=len(entries), records_checked=n_rec, head_seq=head.seq if head else 0,
        head_hash=head.entry_hash if head else "", altered=tuple(alt1 + alt2), added=tuple(added),
        removed=tuple(rem1 + rem2), chain_breaks=tuple(breaks), warnings=tuple(warnings),
    )
