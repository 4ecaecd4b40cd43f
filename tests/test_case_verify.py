"""Tamper detection: verify names precisely what was altered, added, removed or broken."""

from __future__ import annotations

import os

import pytest

from case_support import raw_sql, reviewed_case


@pytest.fixture
def case(tmp_path):
    c = reviewed_case(tmp_path, "tamper", 3)
    yield c
    c.close()


_sql = raw_sql


def test_untouched_case_verifies_and_verification_is_logged(case):
    report = case.verify(actor="auditor")
    assert report.ok, report.lines()
    assert report.evidence_checked == 3 and report.artifacts_checked == 9  # 2 crops + 1 Grad-CAM per image
    assert report.problems == () and report.warnings == ()
    last = case.custody_log().iloc[-1]
    assert last["action"] == "verification" and last["actor"] == "auditor" and last["details"]["ok"] is True
    assert last["details"]["head_seq"] == report.head_seq == last["seq"] - 1
    assert case.verify().ok  # the verification entry itself keeps the chain valid


def test_changed_evidence_byte_is_reported_as_altered(case):
    item = case.item(2)
    path = case.evidence_path(2)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    report = case.verify()
    assert not report.ok
    [issue] = report.altered
    assert issue.target == f"evidence/{item['stored_name']}" and issue.expected == item["sha256"]
    assert issue.actual != item["sha256"] and "item 2" in issue.message
    assert report.added == report.removed == report.chain_breaks == ()
    assert any("writable" in w.message for w in report.warnings)
    assert case.custody_log().iloc[-1]["details"]["altered"] == 1


def test_added_and_removed_files_are_reported(case):
    (case.evidence_dir / "planted.jpg").write_bytes(b"\xff\xd8\xffplanted")
    art = sorted(case.artifacts_dir.iterdir())[0]
    art.unlink()
    report = case.verify()
    assert [i.target for i in report.added] == ["evidence/planted.jpg"]
    assert [i.target for i in report.removed] == [f"artifacts/{art.name}"]
    assert report.altered == () and report.chain_breaks == ()


def test_deleted_log_entry_breaks_the_chain_at_that_point(case):
    _sql(case, "DROP TRIGGER custody_no_delete", "DELETE FROM custody WHERE seq = 3")
    report = case.verify()
    assert not report.ok
    first = report.chain_breaks[0]
    assert first.target == "custody #3" and "missing" in first.message
    # the records that entry 3 (an intake) vouched for are now uncovered, and named
    assert any(i.target == "items #2" and "not covered" in i.message for i in report.chain_breaks)
    assert report.altered == report.added == report.removed == ()


def test_edited_log_entry_is_reported(case):
    _sql(case, "DROP TRIGGER custody_no_update", "UPDATE custody SET actor = 'mallory' WHERE seq = 2")
    report = case.verify()
    assert [i.target for i in report.chain_breaks] == ["custody #2"]
    assert "edited" in report.chain_breaks[0].message


def test_edited_finding_is_reported_precisely(case):
    fid = int(case.findings(item=3, kind="detector").query("kind == 'detector'")["id"].iloc[0])
    _sql(case, "DROP TRIGGER findings_no_update", f"UPDATE findings SET score = 0.001 WHERE id = {fid}")
    report = case.verify()
    assert [i.target for i in report.chain_breaks] == [f"findings #{fid}"]
    issue = report.chain_breaks[0]
    assert "edited" in issue.message and issue.expected != issue.actual


def test_an_edited_finding_listed_again_in_a_new_entry_is_still_reported(case):
    """A tamperer edits a score, then appends one well-hashed custody entry listing the record with its new hash
    (the anchor moved with it): the record was checked against the last listing only and verified INTACT."""
    import sqlite3

    from dfd_lib.case.custody import append_entry, record_ref

    fid = int(case.findings(item=3, kind="detector").query("kind == 'detector'")["id"].iloc[0])
    _sql(case, "DROP TRIGGER findings_no_update", f"UPDATE findings SET score = 0.001 WHERE id = {fid}")
    conn = sqlite3.connect(case.db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("BEGIN IMMEDIATE")
    entry = append_entry(conn, "analysis", "Insp. Rao", details={"records": [record_ref(conn, "findings", fid)]})
    conn.execute("UPDATE custody_anchor SET head_seq = ?, head_hash = ?", (entry.seq, entry.entry_hash))
    conn.execute("COMMIT")
    conn.close()
    report = case.verify(log_result=False)
    assert not report.ok
    by_target = {i.target: i for i in report.chain_breaks}
    assert set(by_target) == {f"custody #{entry.seq}", f"findings #{fid}"}
    assert f"lists findings #{fid} again" in by_target[f"custody #{entry.seq}"].message
    assert "edited after custody entry" in by_target[f"findings #{fid}"].message  # against the hash it was made with


def test_deleted_and_forged_findings_are_reported(case):
    fid = int(case.findings(item=1)["id"].iloc[0])
    _sql(
        case,
        "DROP TRIGGER findings_no_delete",
        f"DELETE FROM findings WHERE id = {fid}",
        "INSERT INTO findings (item_id, kind, subject, status, result_json, created_utc)"
        " VALUES (2, 'detector', 'file', 'scored', '{}', '2025-01-01T00:00:00+00:00')",
    )
    report = case.verify()
    msgs = {i.target: i.message for i in report.chain_breaks}
    assert "deleted" in msgs[f"findings #{fid}"]
    forged = max(int(t.split("#")[1]) for t in msgs if t.startswith("findings"))
    assert "not covered" in msgs[f"findings #{forged}"]


def test_edited_annotation_and_removed_guard_are_reported(case):
    _sql(case, "DROP TRIGGER annotations_no_update", "UPDATE annotations SET verdict = 'real'")
    report = case.verify()
    assert [i.target for i in report.chain_breaks] == ["annotations #1"]
    assert any("annotations_no_update" in w.message for w in report.warnings)


def test_cli_verify_exit_status(case, capsys):
    from dfd_lib.cli import main

    cases_dir = str(case.path.parent)
    assert main(["verify", "tamper", "--cases-dir", cases_dir]) == 0
    assert "INTACT" in capsys.readouterr().out
    os.chmod(case.evidence_path(1), 0o644)
    case.evidence_path(1).write_bytes(b"replaced")
    assert main(["verify", "tamper", "--cases-dir", cases_dir]) != 0
    out = capsys.readouterr().out
    assert "NOT INTACT" in out and f"evidence/{case.item(1)['stored_name']}" in out and "ALTERED" in out


@pytest.mark.parametrize(
    ("column", "value"), [("case_id", "FIR-0000-OTHER"), ("created_utc", "2024-01-01T00:00:00.000000+00:00")]
)
def test_an_edited_case_id_or_opening_time_is_reported(case, column, value):
    """case_info has no guard and no case_updated entry covers these two columns: the report showed the edited id
    or back-dated opening under 'Verification: INTACT'."""
    _sql(case, f"UPDATE case_info SET {column} = '{value}'")
    report = case.verify(log_result=False)
    assert [i.target for i in report.chain_breaks] == [f"case_info.{column}"]
    assert report.chain_breaks[0].actual == value


def test_a_case_made_before_its_opening_time_was_logged_is_checked_against_its_first_entry(case):
    import json
    import sqlite3

    conn = sqlite3.connect(case.db_path)
    details = json.loads(conn.execute("SELECT details_json FROM custody WHERE seq = 1").fetchone()[0])
    conn.close()
    assert details["created_utc"] == case.info.created_utc  # logged since 2026-12-08
    from dfd_lib.case.verify import _check_case_origin

    entry = case.custody_entries()[0]
    old = type(entry)(**{**entry.__dict__, "details": {k: v for k, v in details.items() if k != "created_utc"}})
    row = {"case_id": case.id, "created_utc": entry.time_utc}
    assert _check_case_origin(row, [old]) == []
    moved = _check_case_origin({**row, "created_utc": "2024-01-01T00:00:00+00:00"}, [old])
    assert [i.target for i in moved] == ["case_info.created_utc"]


def test_a_copied_case_folder_verifies_against_its_own_reports(case, tmp_path, tiny_weights):
    import shutil

    from dfd_lib.case import open_case
    from dfd_lib.report import generate_report

    report = generate_report(case, "html", tmp_path / "r.html", weights_dir=tiny_weights)
    copy = tmp_path / "copies" / "tamper-copy"
    shutil.copytree(case.path, copy)
    with open_case("tamper-copy", cases_dir=copy.parent, create=False) as again:
        result = again.verify(log_result=False, anchors=[report])
    assert result.ok, result.lines()
    # a matching anchor is said, not passed over in silence
    (matched,) = result.anchors_matched
    assert matched.startswith("r.html: the log still holds entry #") and matched.endswith("the hash it recorded")
    assert any(line.startswith("  ANCHOR OK    r.html") for line in result.lines())
