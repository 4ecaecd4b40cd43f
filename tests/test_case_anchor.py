"""The custody chain's anchored head, damaged custody entries, and verify's consistent snapshot."""

from __future__ import annotations

import json
import sqlite3

import pytest

from dfd_lib.case import open_case
from dfd_lib.case import verify as verify_mod
from case_support import raw_sql, reviewed_case


@pytest.fixture
def case(tmp_path):
    c = reviewed_case(tmp_path, "anchor", 2)
    yield c
    c.close()


_sql = raw_sql


# -- A: deleting the newest entries is caught -------------------------------------------------------------------


def test_deleting_newest_review_and_its_entry_is_not_intact(case):
    entries = case.custody_entries()
    last = entries[-1]
    assert last.action == "annotation"
    _sql(
        case,
        "DROP TRIGGER annotations_no_delete",
        "DROP TRIGGER custody_no_delete",
        "DELETE FROM annotations WHERE id = (SELECT MAX(id) FROM annotations)",
        f"DELETE FROM custody WHERE seq = {last.seq}",
    )
    report = case.verify(log_result=False)
    assert not report.ok, report.lines()
    msgs = [i.message for i in report.chain_breaks]
    assert any(f"#{last.seq}" in m and "missing" in m for m in msgs), msgs
    assert any(i.target == "custody anchor" for i in report.chain_breaks)


def test_anchor_follows_every_append(case):
    report = case.verify()  # logged: one more entry
    entries = case.custody_entries()
    row = sqlite3.connect(case.db_path).execute("SELECT head_seq, head_hash, entries FROM custody_anchor").fetchone()
    assert row == (entries[-1].seq, entries[-1].entry_hash, len(entries))
    assert report.ok and case.verify(log_result=False).ok


def test_report_entry_records_its_head_and_a_deleted_anchor_row_is_named(case):
    """A report/export entry records the head it saw; cutting the log back and deleting the anchor row is named."""
    case.log_action("view", "Insp. Rao")
    report_entry = case.log_action("report", "Insp. Rao", details={"format": "html"})
    # the report entry records the anchor of the log as the report saw it
    assert report_entry.details["custody_head"]["seq"] == report_entry.seq - 1
    head = report_entry.details["custody_head"]
    # forge: drop the 'view' entry and everything after it, then remove the anchor row too
    _sql(
        case,
        "DROP TRIGGER custody_no_delete",
        f"DELETE FROM custody WHERE seq >= {head['seq']}",
        "DELETE FROM custody_anchor",
    )
    report = case.verify(log_result=False)
    assert not report.ok
    assert any("anchor" in i.target for i in report.chain_breaks)


def test_external_anchor_from_an_export_style_custody_log(case, tmp_path):
    entries = case.custody_entries()
    anchor_file = tmp_path / "custody_log.json"
    anchor_file.write_text(
        json.dumps(
            {
                "case_id": case.id,
                "head_seq": entries[-1].seq,
                "head_hash": entries[-1].entry_hash,
                "entries": len(entries),
            }
        )
    )
    assert case.verify(log_result=False, anchors=[anchor_file]).ok
    _sql(
        case,
        "DROP TRIGGER custody_no_delete",
        f"DELETE FROM custody WHERE seq = {entries[-1].seq}",
        "UPDATE custody_anchor SET head_seq = head_seq - 1, entries = entries - 1, head_hash = "
        f"'{entries[-2].entry_hash}'",
        "DROP TRIGGER annotations_no_delete",
        "DELETE FROM annotations",
    )
    report = case.verify(log_result=False, anchors=[anchor_file])
    assert not report.ok
    [issue] = [i for i in report.chain_breaks if i.target.startswith("anchor ")]
    assert f"#{entries[-1].seq}" in issue.message and "missing" in issue.message


def test_cli_verify_with_anchor(case, tmp_path, capsys):
    from dfd_lib.cli import main

    bad = tmp_path / "anchor.json"
    bad.write_text(json.dumps({"head_seq": 999, "head_hash": "ab" * 32}))
    assert main(["verify", "anchor", "--cases-dir", str(case.path.parent), "--anchor", str(bad)]) == 3
    out = capsys.readouterr().out
    assert "NOT INTACT" in out and "#999" in out


# -- B: damaged custody details are reported, never a crash ------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["{not json", "[1, 2]", '"text"', "null", '{"records": [["items", "x", "h"], 7, "z"], "info": 5}']
)
def test_damaged_details_are_reported_not_crashing(case, raw, tmp_path):
    seq = case.custody_entries()[1].seq
    conn = sqlite3.connect(case.db_path, isolation_level=None)
    conn.execute("DROP TRIGGER custody_no_update")
    conn.execute("UPDATE custody SET details_json = ? WHERE seq = ?", (raw, seq))
    conn.close()
    report = case.verify()  # logs the (failed) verification
    assert not report.ok
    assert any(i.target == f"custody #{seq}" for i in report.chain_breaks), report.lines()
    assert all(isinstance(e.details, dict) for e in case.custody_entries())
    log = case.custody_log()
    assert len(log) == len(case.custody_entries())
    from dfd_lib.report import collect_report_data
    from dfd_lib.export.bundle import custody_log_json

    data = collect_report_data(case, report, snapshot=True)
    assert json.loads(custody_log_json(case.id, data.custody.entries))["head_seq"] > 0
    from dfd_lib.report import generate_report

    html = generate_report(case, "html", tmp_path / "r.html").read_text()
    assert "NOT INTACT" in html and f"custody #{seq}" in html


def test_damaged_entry_says_damaged(case):
    seq = case.custody_entries()[1].seq
    _sql(case, "DROP TRIGGER custody_no_update", f"UPDATE custody SET details_json = '[1]' WHERE seq = {seq}")
    report = case.verify(log_result=False)
    assert any(i.target == f"custody #{seq}" and "damaged" in i.message for i in report.chain_breaks)


def test_concurrent_append_during_verify_is_not_tampering(case, monkeypatch):
    """Another process annotates while verify runs: verify sees one snapshot, and stays intact."""
    other = open_case(case.id, cases_dir=case.path.parent, create=False)
    real = verify_mod.read_entries
    done = []

    def read_then_other_writes(conn, *a, **kw):
        entries = real(conn, *a, **kw)
        if not done:
            done.append(other.annotate(2, verdict="real", reviewer="Insp. Iyer"))
        return entries

    monkeypatch.setattr(verify_mod, "read_entries", read_then_other_writes)
    try:
        report = case.verify()
    finally:
        other.close()
    assert done, "the concurrent write did not happen"
    assert report.ok, report.lines()
    assert case.custody_entries()[-1].details["ok"] is True


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_report_file_is_an_anchor_against_a_cut_back_log(case, tmp_path, fmt):
    """Delete the newest review, its entry and everything after, and forge the database anchor to match:
    the report written before still names the missing entries."""
    from dfd_lib.report import generate_report

    out = generate_report(case, fmt, tmp_path / f"r.{fmt}")
    assert case.verify(log_result=False, anchors=[out]).ok
    entries = case.custody_entries()
    review = max(e.seq for e in entries if e.action == "annotation")
    keep = entries[review - 2]
    _sql(
        case,
        "DROP TRIGGER custody_no_delete",
        "DROP TRIGGER annotations_no_delete",
        "DELETE FROM annotations WHERE id = (SELECT MAX(id) FROM annotations)",
        f"DELETE FROM custody WHERE seq >= {review}",
        f"UPDATE custody_anchor SET head_seq = {keep.seq}, head_hash = '{keep.entry_hash}', entries = {keep.seq}",
    )
    assert case.verify(log_result=False).ok  # a consistent forgery: only an outside anchor can tell
    report = case.verify(log_result=False, anchors=[out])
    assert not report.ok
    [issue] = report.chain_breaks
    assert issue.target == f"anchor {out}" and "missing" in issue.message and f"#{review}" in issue.message


def test_a_cut_log_takes_no_more_entries_so_the_break_stays_on_record(case):
    """Deleting the newest entry (an examiner's verdict) with the guards put back must fail every later
    verification: no append (verification, annotation, triage) may move the anchor onto the shortened chain."""
    from dfd_lib.case.errors import CustodyBroken

    case.annotate(1, "fake", reviewer="alice", notes="face swap confirmed")
    last = case.custody_entries()[-1]
    _sql(
        case,
        "DROP TRIGGER custody_no_delete",
        f"DELETE FROM custody WHERE seq = {last.seq}",
        "CREATE TRIGGER custody_no_delete BEFORE DELETE ON custody BEGIN SELECT RAISE(ABORT, 'append-only'); END",
    )
    for _ in range(2):
        report = case.verify()
        assert not report.ok and any(i.target == "custody anchor" for i in report.chain_breaks)
        assert any("not recorded" in w.message for w in report.warnings)
    with pytest.raises(CustodyBroken, match=f"anchor records #{last.seq}"):
        case.annotate(2, "real", reviewer="bob")
    assert case.custody_entries()[-1].seq == last.seq - 1  # nothing was appended


def test_deleting_the_anchor_row_too_does_not_reopen_the_log(case):
    from dfd_lib.case.errors import CustodyBroken

    _sql(case, "DELETE FROM custody_anchor")
    with pytest.raises(CustodyBroken, match="row was deleted"):
        case.log_action("view", "Insp. Rao")
    assert not case.verify().ok


def test_a_mistyped_anchor_file_is_refused_not_logged_as_tampering(case, tmp_path, capsys):
    from dfd_lib.case.anchors import AnchorError
    from dfd_lib.cli import main

    before = len(case.custody_entries())
    with pytest.raises(AnchorError, match="nonexistent.zip"):
        case.verify(anchors=[tmp_path / "nonexistent.zip"])
    not_a_bundle = tmp_path / "notes.txt"
    not_a_bundle.write_text("not an export bundle")
    rc = main(["verify", "anchor", "--cases-dir", str(case.path.parent), "--anchor", str(not_a_bundle)])
    err = capsys.readouterr().err
    assert rc not in (0, 3) and "notes.txt" in err  # a usage error, not "NOT INTACT"
    assert len(case.custody_entries()) == before and case.verify(log_result=False).ok
