"""Independent verification of a case: files re-hashed, custody chain walked, records re-hashed.

The report says precisely what is wrong: ``altered`` (a stored file whose hash differs from its
record), ``added`` (a file on disk the database does not know), ``removed`` (a recorded file
missing from disk) and ``chain_breaks`` (custody entries missing, edited or re-linked; records
— findings, items, sources, annotations, artifacts — edited, deleted or inserted outside the
tool, detected by their canonical hashes logged in the custody chain; newest entries deleted,
detected against the chain's anchor in the database and against anchors given from reports and
export bundles, see :mod:`dfd_lib.case.anchors`).

The database is read in one read transaction: a legitimate write by another process while
verify runs is simply not seen (it belongs to the next verification), never taken for tampering.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable

from ..media import sha256_file
from ..progress import Progress, ensure_progress
from .clock import parse_utc, utc_now
from .anchors import Anchor, AnchorError, read_anchor_file
from .custody import CustodyEntry, check_chain, read_anchor, read_entries, record_hash
from .errors import CaseError
from .files import ARTIFACTS_DIR, EVIDENCE_DIR, stored_file
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
        return asdict(self)


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
    # the anchor files given (--anchor) whose recorded head the log still holds, in words
    anchors_matched: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.altered or self.added or self.removed or self.chain_breaks)

    @property
    def problems(self) -> tuple[Issue, ...]:
        return self.altered + self.added + self.removed + self.chain_breaks

    def to_dict(self) -> dict:
        return {
            "case_id": self.case_id,
            "checked_utc": self.checked_utc,
            "ok": self.ok,
            "evidence_checked": self.evidence_checked,
            "artifacts_checked": self.artifacts_checked,
            "entries_checked": self.entries_checked,
            "records_checked": self.records_checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            **{
                k: [i.to_dict() for i in getattr(self, k)]
                for k in ("altered", "added", "removed", "chain_breaks", "warnings")
            },
            **({"anchors_matched": list(self.anchors_matched)} if self.anchors_matched else {}),
        }

    def lines(self) -> list[str]:
        """Human-readable report, one line per finding."""
        head = (
            f"case {self.case_id}: {'INTACT' if self.ok else 'NOT INTACT'} - {self.evidence_checked} evidence "
            f"files, {self.artifacts_checked} artifacts, {self.entries_checked} custody entries, "
            f"{self.records_checked} records checked; chain head #{self.head_seq} {self.head_hash[:16]}"
        )
        out = [head] + [f"  ANCHOR OK    {text}" for text in self.anchors_matched]
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
        label = "item" if table == "items" else "artifact"
        try:
            path = stored_file(case_dir, area, row["stored_name"], row["sha256"])
        except CaseError:  # an edited record naming a file elsewhere: never opened, never hashed
            altered.append(
                Issue(
                    "altered",
                    f"{table} #{row['id']}",
                    f"the stored file name recorded for {label} {row['id']} ({row['stored_name']!r}) is not one the "
                    "case gives (<sha256>.<ext>): the record was edited; the file it names was not read",
                    row["sha256"],
                    None,
                )
            )
            progress.advance(1)
            continue
        if not path.is_file():
            removed.append(Issue("removed", rel, f"stored file of {label} {row['id']} is missing", row["sha256"], None))
        else:
            got = sha256_file(path)
            if got != row["sha256"]:
                altered.append(
                    Issue(
                        "altered",
                        rel,
                        f"content of {label} {row['id']} differs from its intake hash",
                        row["sha256"],
                        got,
                    )
                )
            if path.stat().st_mode & 0o222:
                warnings.append(
                    Issue("warning", rel, f"stored file is writable (mode {oct(path.stat().st_mode & 0o777)})")
                )
        progress.advance(1)
    return len(rows), altered, removed, warnings


def _unknown_files(case_dir: Path, area: str, known: set[str]) -> list[Issue]:
    folder = case_dir / area
    if not folder.is_dir():
        return []
    return [
        Issue(
            "added",
            f"{area}/{p.name}" + ("/" if p.is_dir() else ""),
            "present on disk but not recorded in the case database",
        )
        for p in sorted(folder.iterdir())
        if p.is_dir() or p.name not in known
    ]


def _check_records(conn: sqlite3.Connection, entries: list[CustodyEntry]) -> tuple[int, list[Issue]]:
    logged: dict[tuple[str, int], tuple[str, int]] = {}
    issues: list[Issue] = []
    for e in entries:
        refs = e.details.get("records", []) if isinstance(e.details, dict) and not e.damaged else []
        if not isinstance(refs, list):
            refs = [refs]
        for ref in refs:
            if isinstance(ref, list) and len(ref) == 3 and isinstance(ref[1], int) and not isinstance(ref[1], bool):
                key = (str(ref[0]), ref[1])
                if key in logged:  # the tool logs a record once, as it is made: a second listing re-records it
                    issues.append(
                        Issue(
                            "chain_break",
                            f"custody #{e.seq}",
                            f"entry {e.seq} lists {key[0]} #{key[1]} again, already recorded by entry "
                            f"#{logged[key][1]}: the tool records each record once, when it is made; a second "
                            "listing would cover an edit of the record",
                            logged[key][0],
                            str(ref[2]),
                        )
                    )
                    continue  # the record is checked against the hash it was made with
                logged[key] = (str(ref[2]), e.seq)
            else:
                issues.append(
                    Issue(
                        "chain_break",
                        f"custody #{e.seq}",
                        f"entry {e.seq} is damaged: a record reference {str(ref)[:80]!r} is not [table, id, hash]",
                    )
                )
    checked, seen = 0, set()
    for table, columns in HASHED_COLUMNS.items():
        for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"):
            record = dict(zip(columns, tuple(row)))
            key = (table, record["id"])
            seen.add(key)
            checked += 1
            got = record_hash(record)
            if key not in logged:
                issues.append(
                    Issue(
                        "chain_break",
                        f"{table} #{record['id']}",
                        "record is not covered by any custody "
                        "entry (its entry was deleted, or it was inserted outside the tool)",
                        None,
                        got,
                    )
                )
            elif logged[key][0] != got:
                issues.append(
                    Issue(
                        "chain_break",
                        f"{table} #{record['id']}",
                        f"record was edited after custody entry #{logged[key][1]} recorded it",
                        logged[key][0],
                        got,
                    )
                )
    for key, (h, seq) in sorted(logged.items()):
        if key not in seen:
            issues.append(
                Issue(
                    "chain_break",
                    f"{key[0]} #{key[1]}",
                    f"record logged by custody entry #{seq} is missing from the database (deleted)",
                    h,
                    None,
                )
            )
    return checked, issues


def _check_case_info(conn: sqlite3.Connection, entries: list[CustodyEntry]) -> list[Issue]:
    logged: dict = {}
    issues: list[Issue] = []
    for e in entries:
        if e.action not in ("case_created", "case_updated") or e.damaged or "info" not in e.details:
            continue
        if isinstance(e.details["info"], dict):
            logged.update(e.details["info"])
        else:
            issues.append(
                Issue(
                    "chain_break",
                    f"custody #{e.seq}",
                    f"entry {e.seq} is damaged: its case information is not a JSON object",
                )
            )
    row = conn.execute("SELECT * FROM case_info").fetchone()
    if row is None:
        return issues + [Issue("chain_break", "case_info", "case metadata row is missing")]
    issues += [
        Issue("chain_break", f"case_info.{k}", "case metadata differs from the custody log", str(v), str(row[k]))
        for k, v in sorted(logged.items())
        if k in row.keys() and row[k] != v
    ]
    return issues + _check_case_origin(row, entries)


CREATED_SLACK_S = 5.0  # case_info.created_utc and the case_created entry are stamped by two clock reads


def _check_case_origin(row: sqlite3.Row, entries: list[CustodyEntry]) -> list[Issue]:
    """The case's id and opening time, which no case_updated entry changes, against the case_created entry that
    recorded them (the id exactly; the time exactly where the entry records it, else within a few seconds of the
    entry's own time, for cases made before it did)."""
    first = next((e for e in entries if e.action == "case_created" and not e.damaged), None)
    if first is None:
        return []
    issues = []
    recorded_id = first.details.get("case_id")
    if isinstance(recorded_id, str) and recorded_id != row["case_id"]:
        issues.append(
            Issue(
                "chain_break",
                "case_info.case_id",
                "the case id differs from the one the case was created with",
                recorded_id,
                str(row["case_id"]),
            )
        )
    recorded = first.details.get("created_utc")
    try:
        if isinstance(recorded, str):
            moved = recorded != row["created_utc"]
        else:
            moved = abs((parse_utc(row["created_utc"]) - parse_utc(first.time_utc)).total_seconds()) > CREATED_SLACK_S
    except (TypeError, ValueError):
        moved = True
    if moved:
        issues.append(
            Issue(
                "chain_break",
                "case_info.created_utc",
                "the case's opening time differs from the custody entry "
                f"#{first.seq} that recorded the case's creation",
                str(recorded or first.time_utc),
                str(row["created_utc"]),
            )
        )
    return issues


def recorded_case_id(entries: list[CustodyEntry], fallback: str) -> str:
    """The case id the case_created entry recorded (what reports and bundles carry in their anchors), else
    ``fallback`` (the folder's name)."""
    first = next((e for e in entries if e.action == "case_created" and not e.damaged), None)
    value = first.details.get("case_id") if first is not None else None
    return value if isinstance(value, str) and value else fallback


def _missing_after(entries: list[CustodyEntry], seq: int) -> str:
    last = entries[-1].seq if entries else 0
    return f"#{seq}" if seq == last + 1 else f"#{last + 1}..#{seq}"


def _check_head(entries: list[CustodyEntry], seq: int, head_hash: str, where: str, target: str) -> list[Issue]:
    """The log must still hold entry ``seq`` with ``head_hash`` (recorded by ``where``)."""
    by_seq = {e.seq: e for e in entries}
    if seq == 0:
        return []
    if seq not in by_seq:
        last = entries[-1].seq if entries else 0
        gone = _missing_after(entries, seq)
        what = (
            f"{'entries' if '..' in gone else 'entry'} {gone} {'are' if '..' in gone else 'is'} missing: the "
            f"log ends at #{last}"
            if seq > last
            else f"entry #{seq} is missing"
        )
        return [
            Issue(
                "chain_break",
                target,
                f"{where} records the chain head #{seq} {head_hash[:16]}..., but {what}"
                " (deleted after it was recorded)",
                head_hash,
                None,
            )
        ]
    if by_seq[seq].entry_hash != head_hash:
        return [
            Issue(
                "chain_break",
                target,
                f"{where} records entry #{seq} with hash {head_hash[:16]}..., but the "
                f"log's entry #{seq} has another hash (the log was rewritten from there)",
                head_hash,
                by_seq[seq].entry_hash,
            )
        ]
    return []


def _check_anchors(
    conn: sqlite3.Connection, entries: list[CustodyEntry], anchors: list[Anchor], case_id: str
) -> tuple[list[Issue], list[Issue]]:
    """(chain breaks, warnings) from the database anchor, heads logged by reports/exports, and anchor files."""
    breaks: list[Issue] = []
    warnings: list[Issue] = []
    head = entries[-1] if entries else None
    anchor = read_anchor(conn)
    if anchor is None:
        warnings.append(
            Issue(
                "warning",
                "custody anchor",
                "this case database has no chain anchor (made by an older "
                "version and opened read-only): deleted newest entries can only be found with --anchor",
            )
        )
    elif not anchor:
        if entries:
            breaks.append(
                Issue(
                    "chain_break",
                    "custody anchor",
                    "the chain anchor (head and entry count) is missing "
                    "from the database: it was deleted outside the tool",
                )
            )
    else:
        breaks += _check_head(entries, anchor["seq"], anchor["hash"], "the case's chain anchor", "custody anchor")
        if head is not None and head.seq > anchor["seq"]:
            breaks.append(
                Issue(
                    "chain_break",
                    "custody anchor",
                    f"entries after #{anchor['seq']} were added outside the tool (the anchor was not moved)",
                    anchor["hash"],
                    head.entry_hash,
                )
            )
        if anchor["entries"] != len(entries):
            breaks.append(
                Issue(
                    "chain_break",
                    "custody anchor",
                    f"the log holds {len(entries)} entries, the anchor recorded {anchor['entries']}",
                    str(anchor["entries"]),
                    str(len(entries)),
                )
            )
    for e in entries:  # heads recorded by report and export entries
        rec = e.details.get("custody_head") if not e.damaged else None
        if isinstance(rec, dict) and isinstance(rec.get("seq"), int) and isinstance(rec.get("hash"), str):
            breaks += _check_head(entries, rec["seq"], rec["hash"], f"{e.action} entry #{e.seq}", f"custody #{e.seq}")
    for a in anchors:
        target = f"anchor {a.source}"
        if a.case_id is not None and a.case_id != case_id:
            breaks.append(Issue("chain_break", target, f"this anchor belongs to case {a.case_id!r}, not {case_id!r}"))
            continue
        breaks += _check_head(entries, a.seq, a.hash, f"the file {Path(a.source).name}", target)
    return breaks, warnings


def _load_anchors(files: Iterable[str | os.PathLike]) -> list[Anchor]:
    """The anchors read from ``files``; AnchorError (nothing checked, nothing logged) for a file that cannot be
    read as one: a mistyped path is the user's mistake, not a break in the case's chain."""
    anchors = []
    for f in files:
        try:
            anchors.append(read_anchor_file(f))
        except AnchorError as exc:
            raise AnchorError(f"cannot check the case against {f}: {exc}") from exc
    return anchors


def verify_case(
    conn: sqlite3.Connection,
    case_dir: Path,
    case_id: str,
    progress: Progress | None = None,
    anchors: Iterable[str | os.PathLike] = (),
) -> VerificationReport:
    """Check everything; read-only (the caller logs the verification entry).

    ``anchors``: report, export bundle or custody-log files whose recorded chain head the log
    must still contain. The database is read in one read transaction (a consistent snapshot).
    """
    progress = ensure_progress(progress)
    anchor_list = _load_anchors(anchors)
    own_txn = not conn.in_transaction
    if own_txn:
        conn.execute("BEGIN")  # deferred: the first read fixes the snapshot every later read sees
    try:
        report = _verify_snapshot(conn, case_dir, case_id, progress, anchor_list)
    finally:
        if own_txn and conn.in_transaction:
            conn.execute("COMMIT")
    if report.added:  # a file published by a write that committed after the snapshot is not foreign
        known = {(EVIDENCE_DIR, r[0]) for r in conn.execute("SELECT stored_name FROM items")}
        known |= {(ARTIFACTS_DIR, r[0]) for r in conn.execute("SELECT stored_name FROM artifacts")}
        added = tuple(i for i in report.added if tuple(i.target.split("/", 1)) not in known)
        report = replace(report, added=added)
    return report


def _verify_snapshot(
    conn: sqlite3.Connection,
    case_dir: Path,
    case_id: str,
    progress: Progress,
    anchors: list[Anchor],
) -> VerificationReport:
    total = conn.execute("SELECT (SELECT COUNT(*) FROM items) + (SELECT COUNT(*) FROM artifacts)").fetchone()[0]
    entries = read_entries(conn)
    progress.start(total, "verify")
    try:
        n_ev, alt1, rem1, warn1 = _check_files(conn, case_dir, "items", EVIDENCE_DIR, progress)
        n_art, alt2, rem2, warn2 = _check_files(conn, case_dir, "artifacts", ARTIFACTS_DIR, progress)
    finally:
        progress.close()
    added = _unknown_files(case_dir, EVIDENCE_DIR, {r[0] for r in conn.execute("SELECT stored_name FROM items")})
    added += _unknown_files(case_dir, ARTIFACTS_DIR, {r[0] for r in conn.execute("SELECT stored_name FROM artifacts")})
    breaks = [Issue("chain_break", f"custody #{b.seq}", b.message) for b in check_chain(entries)]
    n_rec, rec_issues = _check_records(conn, entries)
    # anchors carry the id the case was created with, which a renamed or copied case folder keeps
    anchor_breaks, anchor_warnings = _check_anchors(conn, entries, anchors, recorded_case_id(entries, case_id))
    breaks += rec_issues + _check_case_info(conn, entries) + anchor_breaks
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    missing = [
        f"{t}_no_{op}" for t in APPEND_ONLY_TABLES for op in ("update", "delete") if f"{t}_no_{op}" not in triggers
    ]
    warnings = warn1 + warn2 + anchor_warnings
    if missing:
        warnings.append(Issue("warning", "database", f"append-only guard(s) removed: {', '.join(missing)}"))
    head = entries[-1] if entries else None
    return VerificationReport(
        case_id=case_id,
        checked_utc=utc_now(),
        evidence_checked=n_ev,
        artifacts_checked=n_art,
        entries_checked=len(entries),
        records_checked=n_rec,
        head_seq=head.seq if head else 0,
        head_hash=head.entry_hash if head else "",
        altered=tuple(alt1 + alt2),
        added=tuple(added),
        removed=tuple(rem1 + rem2),
        chain_breaks=tuple(breaks),
        warnings=tuple(warnings),
        anchors_matched=tuple(
            f"{Path(a.source).name}: the log still holds entry #{a.seq} with the hash it recorded"
            for a in anchors
            if not any(i.target == f"anchor {a.source}" for i in anchor_breaks)
        ),
    )
