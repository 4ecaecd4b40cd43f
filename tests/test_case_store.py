"""Case store: intake hashing, dedupe, untouched originals, bad files, review history, custody log."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat

import pytest

from dfd_lib.case import (
    VERDICTS,
    CaseNotFound,
    InvalidCaseName,
    ItemNotFound,
    case_id_from_name,
    format_ist,
    list_cases,
    open_case,
    to_ist,
)
from dfd_lib.case.custody import check_chain
from dfd_lib.case.files import STAGING_DIR, stage_copy
from dfd_lib.case.store import SCHEMA_VERSION
from case_support import make_deep_tree, make_images, remove_deep_tree, write_image


@pytest.fixture
def case(tmp_path):
    c = open_case("Test Case 1", cases_dir=tmp_path / "cases", examiner="Insp. Rao", agency="Cyber Cell")
    yield c
    c.close()


def _digests(path):
    data = path.read_bytes()
    return {n: hashlib.new(n, data).hexdigest() for n in ("sha256", "md5", "sha1")}


def test_case_layout_metadata_and_schema(case, tmp_path):
    assert case.id == "test-case-1" and case.path == tmp_path / "cases" / "test-case-1"
    for sub in ("case.db", "evidence", "artifacts"):
        assert (case.path / sub).exists()
    info = case.info
    assert (info.title, info.examiner, info.agency) == ("Test Case 1", "Insp. Rao", "Cyber Cell")
    assert info.created_utc.endswith("+00:00") and info.created_ist.endswith("IST")
    conn = sqlite3.connect(case.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    log = case.custody_log()
    assert list(log["action"]) == ["case_created"] and log["actor"][0] == "Insp. Rao"


def test_reopen_and_missing_case(case, tmp_path):
    again = open_case("Test Case 1", cases_dir=tmp_path / "cases", create=False)
    assert again.info.title == "Test Case 1" and len(again.custody_log()) == 1
    again.close()
    with pytest.raises(CaseNotFound, match="test-case-1"):
        open_case("no such case", cases_dir=tmp_path / "cases", create=False)
    df = list_cases(tmp_path / "cases")
    assert list(df["id"]) == ["test-case-1"] and df["items"][0] == 0


def test_cases_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DFD_CASES_DIR", str(tmp_path / "envstore"))
    with open_case("env case") as c:
        assert c.path == tmp_path / "envstore" / "env-case"


@pytest.mark.parametrize(
    "bad", ["../escape", "a/b", "a\\b", "..", ".hidden", "", "   ", "nul", "x\x00y", "a\nb", "!!!"]
)
def test_hostile_case_names_refused(bad, tmp_path):
    with pytest.raises(InvalidCaseName):
        open_case(bad, cases_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_case_id_slug():
    assert case_id_from_name("FIR 123 of 2025, Pune") == "fir-123-of-2025-pune"
    assert case_id_from_name("Café  Été").startswith("cafe-ete-")  # non-ASCII: slug plus a hash of the name
    assert len(case_id_from_name("x" * 300)) == 64


def test_intake_hashes_match_hashlib(case, tmp_path):
    src = write_image(tmp_path / "in" / "photo.JPG", seed=1, fmt="JPEG")
    [rec] = case.ingest([src], acquired_by="SI Khan", source={"platform": "WhatsApp", "device": "phone A"})
    assert rec.outcome == "new" and rec.intake_status == "ok"
    item = case.item(rec.item_id)
    assert {k: item[k] for k in ("sha256", "md5", "sha1")} == _digests(src)
    assert item["size"] == src.stat().st_size and item["mime"] == "image/jpeg"
    assert item["stored_name"] == f"{item['sha256']}.jpg" and item["acquired_by"] == "SI Khan"
    src_rows = case.sources(rec.item_id)
    assert list(src_rows["platform"]) == ["WhatsApp"] and list(src_rows["original_path"]) == [str(src)]
    entry = case.custody_log().iloc[-1]
    assert entry["action"] == "intake" and entry["item_sha256"] == item["sha256"]
    assert entry["details"]["md5"] == item["md5"] and entry["details"]["sha1"] == item["sha1"]


def test_originals_untouched_and_copies_read_only(case, tmp_path):
    files = make_images(tmp_path / "in", 3)
    os.utime(files[0], (1_000_000_000, 1_000_000_000))
    before = {f: (_digests(f)["sha256"], f.stat().st_mtime_ns, stat.S_IMODE(f.stat().st_mode)) for f in files}
    case.ingest([tmp_path / "in"])
    after = {f: (_digests(f)["sha256"], f.stat().st_mtime_ns, stat.S_IMODE(f.stat().st_mode)) for f in files}
    assert before == after
    stored = sorted((case.path / "evidence").iterdir())
    assert len(stored) == 3
    for p in stored:
        assert stat.S_IMODE(p.stat().st_mode) == 0o444
        assert p.name.split(".")[0] == _digests(p)["sha256"]
    assert not any((case.path / STAGING_DIR).rglob("*.part"))


def test_same_content_twice_is_one_item_with_two_sources(case, tmp_path):
    a = write_image(tmp_path / "a" / "x.png", seed=7)
    b = tmp_path / "b" / "copy_of_x.png"
    b.parent.mkdir()
    b.write_bytes(a.read_bytes())
    recs = case.ingest([a]) + case.ingest([b], source="https://example.org/post/1")
    assert [r.outcome for r in recs] == ["new", "new_source"]
    assert recs[0].item_id == recs[1].item_id
    assert len(case.items()) == 1 and case.items()["n_sources"][0] == 2
    srcs = case.sources(recs[0].item_id)
    assert list(srcs["original_path"]) == [str(a), str(b)] and srcs["url"][1] == "https://example.org/post/1"
    # the same path again is recognised, not recorded twice
    assert case.ingest([a])[0].outcome == "known"
    assert len(case.sources()) == 2 and len(list((case.path / "evidence").iterdir())) == 1
    # the same path again without the source it came with (a triage resumed without repeating --source-*): known,
    # not a second source without the URL (every file was listed twice in the report and the s.63 draft)
    assert case.ingest([b])[0].outcome == "known" and len(case.sources()) == 2
    # with a source it did not come with before: that is news, recorded
    assert case.ingest([b], source="WhatsApp backup")[0].outcome == "new_source" and len(case.sources()) == 3


def test_bad_files_become_items_and_unreadable_paths_are_recorded(case, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture")
    write_image(folder / "ok.png", seed=3)
    locked = folder / "locked.png"
    locked.write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    locked.chmod(0)
    try:
        recs = case.ingest([folder, tmp_path / "missing.png"])
    finally:
        locked.chmod(0o644)
    by_name = {os.path.basename(r.path): r for r in recs}
    assert (
        by_name["empty.jpg"].intake_status == "empty" and by_name["empty.jpg"].sha256 == hashlib.sha256(b"").hexdigest()
    )
    assert by_name["notes.jpg"].intake_status == "unsupported"
    assert by_name["ok.png"].intake_status == "ok"
    assert by_name["missing.png"].outcome == "error" and "no such file" in by_name["missing.png"].message
    if os.geteuid() != 0:  # root can read anything
        assert by_name["locked.png"].outcome == "error" and "cannot be read" in by_name["locked.png"].message
    items = case.items().set_index("name")
    assert items.loc["empty.jpg", "status"] == "empty" and items.loc["notes.jpg", "status"] == "unsupported"
    assert items.loc["ok.png", "status"] == "pending"
    errors = case.intake_errors()
    assert str(tmp_path / "missing.png") in set(errors["path"])
    assert any(e["action"] == "intake" and "error" in e["details"] for e in case.custody_log().to_dict("records"))


def test_copy_that_does_not_match_is_refused(case, tmp_path):
    src = write_image(tmp_path / "x.png", seed=5)
    with pytest.raises(Exception, match="changed while it was being copied"):
        stage_copy(case.path, "evidence", src, "0" * 64 + ".png", "0" * 64)
    assert not any((case.path / STAGING_DIR).rglob("*.part"))


def test_annotation_history_keeps_every_state(case, tmp_path):
    [rec] = case.ingest([write_image(tmp_path / "p.png", seed=2)])
    first = case.annotate(rec.item_id, verdict="likely_fake", tags="whatsapp, morphed,WhatsApp", reviewer="A")
    second = case.annotate(rec.sha256[:10], notes="face edges blended", reviewer="B")
    third = case.annotate(rec.item_id, verdict="fake", sensitive=True, reviewer="A")
    hist = case.history(rec.item_id)
    assert [h.id for h in hist] == [first.id, second.id, third.id]
    assert [h.verdict for h in hist] == ["likely_fake", "likely_fake", "fake"]
    assert hist[0].tags == ("whatsapp", "morphed") and hist[2].tags == ("whatsapp", "morphed")
    assert [h.notes for h in hist] == ["", "face edges blended", "face edges blended"]
    assert [h.sensitive for h in hist] == [False, False, True] and [h.reviewer for h in hist] == ["A", "B", "A"]
    row = case.items().iloc[0]
    assert row["analyst_verdict"] == "fake" and row["sensitive"] and row["tags"] == ["whatsapp", "morphed"]
    assert case.sensitive_items() == {rec.item_id}
    case.annotate(rec.item_id, sensitive=False, reviewer="A")
    assert case.sensitive_items() == set() and len(case.history(rec.item_id)) == 4
    assert sum(case.custody_log()["action"] == "annotation") == 4
    with pytest.raises(ValueError, match="unknown verdict"):
        case.annotate(rec.item_id, verdict="definitely", reviewer="A")
    assert "inconclusive" in VERDICTS


def test_item_lookup(case, tmp_path):
    [rec] = case.ingest([write_image(tmp_path / "p.png", seed=2)])
    assert case.item(rec.item_id)["sha256"] == rec.sha256
    assert case.item(str(rec.item_id))["id"] == rec.item_id
    assert case.item(rec.sha256[:8].upper())["id"] == rec.item_id
    with pytest.raises(ItemNotFound):
        case.item(99)
    with pytest.raises(ItemNotFound):
        case.item("abc")


def test_log_action_extends_a_valid_chain(case, tmp_path):
    [rec] = case.ingest([write_image(tmp_path / "p.png", seed=2)])
    e = case.log_action("export", "Insp. Rao", item=rec.item_id, details={"bundle_sha256": "ab" * 32})
    v = case.log_action("view", "dashboard-user")
    assert (e.seq + 1, e.entry_hash) == (v.seq, v.prev_hash)
    assert e.item_sha256 == rec.sha256
    entries = case.custody_entries()
    assert [x.seq for x in entries] == list(range(1, len(entries) + 1)) and check_chain(entries) == []
    with pytest.raises(ValueError, match="unknown custody action"):
        case.log_action("delete_everything", "x")
    with pytest.raises(ValueError, match="reserved"):
        case.log_action("view", "x", details={"records": []})
    assert len(case.custody_log(rec.item_id)) == 2  # intake + export


def test_append_only_guards_refuse_edits(case, tmp_path):
    case.ingest([write_image(tmp_path / "p.png", seed=2)])
    conn = sqlite3.connect(case.db_path)
    for sql in (
        "UPDATE custody SET actor = 'mallory'",
        "DELETE FROM custody",
        "UPDATE items SET size = 1",
        "DELETE FROM sources",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    conn.close()


def test_update_info_is_logged(case):
    case.update_info(actor="Insp. Rao", target_portal="sahyog", description="morphed images")
    assert case.info.target_portal == "sahyog"
    last = case.custody_log().iloc[-1]
    assert last["action"] == "case_updated" and last["details"]["info"]["target_portal"] == "sahyog"
    assert case.verify().ok


def test_ist_rendering():
    assert format_ist("2025-01-31T20:00:00+00:00") == "01-02-2025 01:30:00 IST"
    assert to_ist("2025-01-31T20:00:00").utcoffset().total_seconds() == 5.5 * 3600
    assert format_ist(None) == ""


def test_interrupted_publish_is_recovered_on_open(case, tmp_path):
    [rec] = case.ingest([write_image(tmp_path / "p.png", seed=9)])
    stored = case.evidence_path(rec.item_id)
    staging = case.path / STAGING_DIR / "evidence"
    # as if killed after the commit but before the rename into evidence/
    os.replace(stored, staging / f"{stored.name}.4242-deadbeef.part")
    # and a leftover of a run killed before its commit: stale (old) and fresh
    stale = staging / "f00.png.1-aaaaaaaa.part"
    stale.write_bytes(b"x")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    fresh = staging / "f01.png.1-bbbbbbbb.part"
    fresh.write_bytes(b"y")
    assert [i.target for i in case.verify(log_result=False).removed] == [f"evidence/{stored.name}"]
    reopened = open_case(case.id, cases_dir=case.path.parent)
    try:
        assert stored.is_file() and reopened.verify().ok
        assert not stale.exists() and fresh.exists()
    finally:
        reopened.close()


def test_newer_schema_is_refused(case):
    from dfd_lib.case import CaseSchemaError

    conn = sqlite3.connect(case.db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CaseSchemaError, match="newer"):
        open_case(case.id, cases_dir=case.path.parent)


def test_the_case_folder_itself_is_never_ingested(tmp_path):
    make_images(tmp_path / "work", 2)
    with open_case("inside", cases_dir=tmp_path / "work" / "cases") as c:
        first = c.ingest([tmp_path / "work"])
        again = c.ingest([tmp_path / "work"])
        assert [r.outcome for r in first] == ["new", "new"] and [r.outcome for r in again] == ["known", "known"]
        assert c.intake_errors().empty and len(c.items()) == 2


def test_non_utf8_file_names_are_taken_in_and_the_batch_goes_on(case, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    bad = folder / os.fsdecode(b"\xff\xferaw.png")  # not valid UTF-8 on disk
    write_image(bad, seed=21)
    write_image(folder / "zz_after.png", seed=22)
    recs = case.ingest([folder, folder / os.fsdecode(b"\xff\xferaw.png.missing")])
    by_name = {os.path.basename(r.path): r for r in recs}  # escaped, storable text
    assert sorted(by_name) == ["\\xff\\xferaw.png", "\\xff\\xferaw.png.missing", "zz_after.png"]
    assert by_name["\\xff\\xferaw.png"].outcome == "new" and by_name["zz_after.png"].outcome == "new"
    missing = by_name["\\xff\\xferaw.png.missing"]
    assert missing.outcome == "error" and "no such file" in missing.message
    shown = [by_name["\\xff\\xferaw.png"].path, None, missing.path]
    items = case.items()
    assert len(items) == 2 and "\\xff\\xferaw.png" in set(items["name"])
    assert shown[0] in set(case.sources()["original_path"])
    assert shown[2] in set(case.intake_errors()["path"])
    assert case.verify(log_result=False).ok
    assert case.ingest([bad])[0].outcome == "known"  # the same source is recognised again


def test_opening_the_case_while_another_writer_stages_keeps_its_copy(case, tmp_path):
    from dfd_lib.case.files import publish, recover

    src = write_image(tmp_path / "old.png", seed=23)
    os.utime(src, (1_000_000_000, 1_000_000_000))  # an original last modified years ago
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    staged = stage_copy(case.path, "evidence", src, f"{sha}.png", sha)  # writer: copied, not yet committed
    assert staged.path.stat().st_mtime == 1_000_000_000  # the copy keeps the original's times
    # a second process opens the case meanwhile and tidies staging
    done = recover(case.path, lambda area, name: None)
    assert staged.path.exists(), done
    reopened = open_case(case.id, cases_dir=case.path.parent)
    reopened.close()
    assert staged.path.exists()
    target = publish(case.path, staged)
    assert target.is_file() and os.stat(target).st_mtime == 1_000_000_000


def test_reingest_restores_a_missing_stored_copy(case, tmp_path):
    src = write_image(tmp_path / "p.png", seed=24)
    [rec] = case.ingest([src])
    stored = case.evidence_path(rec.item_id)
    stored.chmod(0o644)
    stored.unlink()  # e.g. lost to a concurrent clean-up
    assert not case.verify(log_result=False).ok
    [again] = case.ingest([src])
    assert again.outcome == "known" and again.item_id == rec.item_id and "restored" in again.message
    assert stored.is_file() and hashlib.sha256(stored.read_bytes()).hexdigest() == rec.sha256
    assert not os.stat(stored).st_mode & 0o222  # write-once copy again
    assert case.verify(log_result=False).ok
    assert any("restored" in e["details"] for e in case.custody_log().to_dict("records"))
    assert len(case.items()) == 1 and len(case.sources()) == 1


def test_every_path_given_ends_as_an_item_or_a_named_intake_error(case, tmp_path, monkeypatch, request):
    folder = tmp_path / "in"
    write_image(folder / ".hidden" / "h.png", seed=31)
    write_image(folder / ".dot.png", seed=32)
    write_image(folder / "locked" / "x.png", seed=33)
    write_image(tmp_path / "elsewhere.png", seed=34)
    (folder / "link.png").symlink_to(tmp_path / "elsewhere.png")
    request.addfinalizer(lambda: remove_deep_tree(folder / "deep"))
    write_image(make_deep_tree(folder / "deep", 1000) / "bottom.png", seed=35)  # deeper than the recursion limit
    loop = tmp_path / "loop"
    (tmp_path / "loop2").symlink_to(loop)
    loop.symlink_to(tmp_path / "loop2")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):  # as for a folder without read permission (root reads all)
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    recs = case.ingest([folder, loop])
    by_name = {os.path.basename(r.path): r for r in recs}
    assert by_name["h.png"].outcome == "new" and by_name[".dot.png"].outcome == "new"
    assert by_name["bottom.png"].outcome == "new"
    assert by_name["locked"].outcome == "error" and "cannot be read" in by_name["locked"].message
    assert by_name["link.png"].outcome == "error" and "not followed" in by_name["link.png"].message
    assert by_name["loop"].outcome == "error" and "symbolic link loop" in by_name["loop"].message
    assert len(case.items()) == 3
    assert {str(folder / "locked"), str(folder / "link.png"), str(loop)} <= set(case.intake_errors()["path"])


def test_names_that_differ_only_in_non_ascii_letters_are_different_cases(tmp_path):
    from dfd_lib.case import CaseNameConflict

    store = tmp_path / "cases"
    a, b = "केस 123", "मामला 123"  # both used to become "123"
    assert case_id_from_name(a) != case_id_from_name(b)
    assert case_id_from_name(a).startswith("123-") and case_id_from_name(a) == case_id_from_name(a)
    assert case_id_from_name("FIR 123 of 2025, Pune") == "fir-123-of-2025-pune"  # ASCII ids unchanged
    with open_case(a, cases_dir=store, examiner="Insp. Rao") as ca:
        ca.ingest([write_image(tmp_path / "a.png", seed=41)])
    with open_case(b, cases_dir=store) as cb:
        assert cb.path != ca.path and cb.items().empty and cb.info.title == b
    with open_case(a, cases_dir=store) as again:  # the same name reopens its own case
        assert again.path == ca.path and len(again.items()) == 1
    assert open_case("केस", cases_dir=store).id.startswith("case-")  # no ASCII letters at all

    # an ASCII name whose slug is another case's folder: create refuses to open it
    with open_case("FIR 7", cases_dir=store) as c7:
        pass
    with pytest.raises(CaseNameConflict, match="FIR 7"):
        open_case("fir 7", cases_dir=store)
    with open_case(c7.id, cases_dir=store) as by_id:  # opening by the id is always allowed
        assert by_id.path == c7.path


def test_case_made_under_an_earlier_id_scheme_is_still_found(tmp_path, monkeypatch):
    from dfd_lib.case import CaseNameConflict, catalog

    store = tmp_path / "cases"
    real_append = catalog.append_entry

    def append_without_name(conn, action, actor, item_id=None, item_sha256=None, details=None):
        details = {k: v for k, v in (details or {}).items() if k != "name"}  # earlier versions kept no name
        return real_append(conn, action, actor, item_id, item_sha256, details)

    with monkeypatch.context() as m:
        m.setattr(catalog, "append_entry", append_without_name)
        with open_case("old-slug", cases_dir=store) as old:
            old.update_info(title="केस 99")  # an earlier version filed "केस 99" as "99", titled with the name
    os.replace(store / "old-slug", store / "99")
    with open_case("केस 99", cases_dir=store) as again:
        assert again.path == store / "99"
    with pytest.raises(CaseNameConflict, match="'99'"):
        open_case("मामला 99", cases_dir=store)  # the same old id, but another case's title
    assert old.path.name == "old-slug"
    # a folder this version made for an ASCII name is not mistaken for an old one
    with open_case("7", cases_dir=store) as ascii_case, open_case("केस 7", cases_dir=store) as hindi:
        assert ascii_case.path.name == "7" and hindi.path.name.startswith("7-") and hindi.items().empty


def test_a_stale_review_save_is_refused_and_keeps_the_other_examiners_review(case, tmp_path):
    from dfd_lib.case import StaleReview, review_version

    [rec] = case.ingest([write_image(tmp_path / "p.png", seed=51)])
    form_a = review_version(None)  # examiner A opens the item: never reviewed
    other = open_case(case.id, cases_dir=case.path.parent)  # examiner B, another process
    try:
        b = other.annotate(
            rec.item_id, verdict="fake", notes="minor; do not export", sensitive=True, reviewer="SI Khan", based_on=0
        )
    finally:
        other.close()
    with pytest.raises(StaleReview, match="SI Khan") as err:  # A saves the form loaded before B's save
        case.annotate(
            rec.item_id, verdict="real", notes="", tags="", sensitive=False, reviewer="Insp. Rao", based_on=form_a
        )
    assert err.value.current == b
    assert case.history(rec.item_id) == [b] and case.sensitive_items() == {rec.item_id}
    # after reloading, A's save is based on B's record and goes through
    a = case.annotate(
        rec.item_id,
        verdict="likely_fake",
        notes=b.notes,
        tags="",
        sensitive=True,
        reviewer="Insp. Rao",
        based_on=review_version(b),
    )
    assert [h.id for h in case.history(rec.item_id)] == [b.id, a.id] and a.sensitive and a.notes == b.notes
    case.annotate(rec.item_id, tags="x", reviewer="Insp. Rao")  # without based_on: a change of the given fields
    assert case.history(rec.item_id)[-1].sensitive and case.verify(log_result=False).ok


def test_two_processes_opening_a_new_case_at_once_wait_for_the_wal_switch(tmp_path, monkeypatch):
    """While one process switches a new case database to WAL, SQLite answers another's switch with "database is
    locked" at once, without waiting: opening must wait that out, not fail (seen with two triage processes starting
    on one new case). Any other error is not retried."""
    from dfd_lib.case import store

    real_connect = sqlite3.connect
    refusals = {"left": 3, "error": "database is locked"}

    class Racing:
        def __init__(self, conn):
            object.__setattr__(self, "_conn", conn)

        def __getattr__(self, name):
            return getattr(self._conn, name)

        def __setattr__(self, name, value):
            setattr(self._conn, name, value)

        def execute(self, sql, *args):
            if sql.startswith("PRAGMA journal_mode") and refusals["left"]:
                refusals["left"] -= 1
                raise sqlite3.OperationalError(refusals["error"])
            return self._conn.execute(sql, *args)

    monkeypatch.setattr(store.sqlite3, "connect", lambda *a, **k: Racing(real_connect(*a, **k)))
    conn = store.connect(tmp_path / "case.db")
    assert refusals["left"] == 0
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()

    refusals.update(left=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        store.connect(tmp_path / "other.db")


def test_an_archive_is_kept_and_said_to_need_extracting(case, tmp_path):
    import zipfile

    archive = tmp_path / "photos_backup.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("IMG_0001.jpg", b"\xff\xd8\xff" + b"\0" * 100)
    (rec,) = case.ingest([archive])
    item = case.item(rec.item_id)
    assert (
        item["intake_status"] == "unsupported" and "extract a copy into the evidence folder" in item["intake_message"]
    )
