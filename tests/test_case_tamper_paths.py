"""A case database edited by hand must never make the tool read or write outside the case's own folders."""

from __future__ import annotations

import os

import pytest

from case_support import FakeScanner, raw_sql, reviewed_case
from dfd_lib.case import CaseError, open_case


def _point_item_at(case, item_id: int, name: str) -> str:
    """Give item ``item_id`` the stored name ``name`` (as a tamperer would) and delete its stored copy."""
    old = case.item(item_id)["stored_name"]
    raw_sql(case, "DROP TRIGGER items_no_update", f"UPDATE items SET stored_name = '{name}' WHERE id = {item_id}")
    stored = case.evidence_dir / old
    os.chmod(stored, 0o644)
    stored.unlink()
    return old


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_taking_a_file_in_again_never_restores_it_outside_the_case(tmp_path, kind):
    """The stored name decides where a missing copy is restored: an edited one used to receive the evidence's bytes
    anywhere (a .pth file in site-packages runs at Python's next start)."""
    outside = tmp_path / "outside" / "evil.pth"
    outside.parent.mkdir()
    case = reviewed_case(tmp_path, "tampered", 2)
    try:
        name = str(outside) if kind == "absolute" else f"../../outside/{outside.name}"
        _point_item_at(case, 1, name)
        df = case.triage([tmp_path / "ev"], scanner=FakeScanner(), forensics=False)
        assert not outside.exists() and not list(outside.parent.iterdir())
        (error,) = df.attrs["intake_errors"]
        assert error["path"].endswith("img_000.png") and "which this tool never gives" in error["error"]
        assert "which this tool never gives" in case.intake_errors()["error"].iloc[-1]
        with pytest.raises(CaseError, match="never gives"):
            case.evidence_path(1)
        assert case.items().loc[0, "stored_path"].startswith(str(case.evidence_dir))
        report = case.verify(log_result=False)
        assert not report.ok
        assert any(i.target == "items #1" and "was edited" in i.message for i in report.problems)
    finally:
        case.close()


def test_a_pending_item_with_an_edited_name_is_failed_not_read(tmp_path):
    case = reviewed_case(tmp_path, "tampered", 2)
    try:
        secret = tmp_path / "secret.jpg"
        secret.write_bytes((case.evidence_dir / case.item(2)["stored_name"]).read_bytes())
        _point_item_at(case, 2, str(secret))
        other = FakeScanner("second-opinion")
        df = case.triage([], scanner=other, forensics=False)
        assert str(secret) not in other.scanned and len(other.scanned) == 1  # item 1 only
        assert df.attrs["failed"] == 1 and df.set_index("item_id").loc[2, "run"] == "failed"
        (failure,) = df.attrs["failures"]
        assert failure["item_id"] == 2 and "which this tool never gives" in failure["message"]
    finally:
        case.close()


def test_a_report_of_a_case_with_an_edited_name_shows_no_outside_file(tmp_path, tiny_weights):
    from dfd_lib.report import collect_report_data

    case = reviewed_case(tmp_path, "tampered", 2)
    try:
        outside = tmp_path / "outside.png"
        outside.write_bytes((case.evidence_dir / case.item(1)["stored_name"]).read_bytes())
        _point_item_at(case, 1, str(outside))
        data = collect_report_data(case, case.verify(log_result=False), weights_dir=tiny_weights)
        item = next(i for i in data.items if i.item_id == 1)
        assert item.evidence_path.parent == case.evidence_dir and not item.evidence_path.exists()
    finally:
        case.close()


def test_reopening_keeps_refusing(tmp_path):
    case = reviewed_case(tmp_path, "tampered", 1)
    _point_item_at(case, 1, "/etc/passwd")
    case.close()
    with open_case("tampered", cases_dir=tmp_path / "cases", create=False) as again:
        assert not again.verify(log_result=False).ok


def test_json_nested_too_deep_to_read_never_stops_verify_or_a_report(tmp_path, tiny_weights):
    """Hand-inserted rows (allowed by the append-only triggers) with 200,000 levels of nesting: verify and the
    report stopped with a RecursionError traceback."""
    from dfd_lib.report import generate_report

    deep = "[" * 200_000 + "]" * 200_000
    case = reviewed_case(tmp_path, "deep", 1)
    try:
        head = case.custody_entries()[-1]
        raw_sql(
            case,
            "INSERT INTO findings (item_id, kind, subject, model_name, model_sha256, status, result_json, params_json,"
            f" created_utc) VALUES (1, 'forensic:zzz', 'file', 'zzz', '', 'ok', '{deep}', '{deep}', '{head.time_utc}')",
            f"INSERT INTO custody VALUES ({head.seq + 1}, '{head.time_utc}', 'view', 'x', NULL, NULL, '{deep}',"
            f" '{head.entry_hash}', 'forged')",
            f"UPDATE custody_anchor SET head_seq = {head.seq + 1}, head_hash = 'forged',"
            " entries = (SELECT COUNT(*) FROM custody)",
        )
        report = case.verify(log_result=False)
        assert not report.ok
        messages = " ".join(i.message for i in report.problems)
        assert "nested too deep" in messages and "not covered by any custody entry" in messages
        out = generate_report(case, "html", tmp_path / "r.html", weights_dir=tiny_weights)
        assert "NOT INTACT" in out.read_text(encoding="utf-8")
    finally:
        case.close()


def test_a_case_whose_opening_time_is_not_a_time_still_opens_verifies_and_reports(tmp_path, tiny_weights):
    """The dashboard's case bar said 'No case open' and verify only 'Invalid isoformat string' (websec #9)."""
    from dfd_lib.report import generate_report

    case = reviewed_case(tmp_path, "badtime", 1)
    try:
        raw_sql(case, "UPDATE case_info SET created_utc = 'yesterday-ish'")
        assert case.info.created_ist == "yesterday-ish (not a valid time)"
        report = case.verify(log_result=False)
        assert [i.target for i in report.chain_breaks] == ["case_info.created_utc"]
        text = generate_report(case, "html", tmp_path / "r.html", weights_dir=tiny_weights).read_text("utf-8")
        assert "yesterday-ish (not a valid time)" in text and "NOT INTACT" in text
    finally:
        case.close()


def test_a_file_swapped_for_a_link_after_the_folder_was_listed_is_not_followed(tmp_path, monkeypatch):
    """A shared intake folder: between the listing and the reading, b.jpg becomes a link to a file outside the
    evidence roots; it used to be followed and its target copied into the case as 'b.jpg' (websec #3)."""
    from case_support import write_image
    from dfd_lib.case import evidence as evidence_mod

    ev, secret = tmp_path / "ev", tmp_path / "secret.txt"
    write_image(ev / "a.png", seed=1)
    write_image(ev / "b.png", seed=2)
    secret.write_text("not evidence: a file outside the roots")
    listed = evidence_mod.walk_evidence

    def walk_then_swap(paths):
        entries = list(listed(paths))
        (ev / "b.png").unlink()
        (ev / "b.png").symlink_to(secret)
        yield from entries

    monkeypatch.setattr(evidence_mod, "walk_evidence", walk_then_swap)
    case = open_case("swap", cases_dir=tmp_path / "cases", examiner="Insp. Rao")
    try:
        records = case.ingest([ev])
        assert [r.outcome for r in records] == ["new", "error"]
        assert "became a symbolic link" in records[1].message
        assert len(case.items()) == 1 and all(
            p.stat().st_size != secret.stat().st_size for p in case.evidence_dir.iterdir()
        )
    finally:
        case.close()
