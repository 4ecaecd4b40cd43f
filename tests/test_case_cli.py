"""The case commands through ``dfd_lib.cli.main``: triage, cases, show, annotate, verify."""

from __future__ import annotations

import json

import pytest

from dfd_lib.case import open_case
from dfd_lib.case.triage import load_forensics
from dfd_lib.cli import main
from case_support import FakeScanner, make_images


@pytest.fixture
def store(tmp_path, monkeypatch):
    import dfd_lib.cli.scan_cmd as scan_cmd

    monkeypatch.setattr(scan_cmd, "scanner_from_args", lambda args: FakeScanner())
    make_images(tmp_path / "ev", 3)
    (tmp_path / "ev" / "empty.jpg").write_bytes(b"")
    return tmp_path


def _triage(store, *extra):
    return main(
        [
            "triage",
            str(store / "ev"),
            "--case",
            "FIR 7 of 2025",
            "--examiner",
            "Insp. Rao",
            "--cases-dir",
            str(store / "cases"),
            "--quiet",
            "--no-forensics",
            *extra,
        ]
    )


def test_triage_then_show_annotate_and_list(store, capsys):
    assert _triage(store, "--source-platform", "WhatsApp") == 0
    out = capsys.readouterr().out
    assert "case fir-7-of-2025" in out and "intake: 4 new" in out and "analysed 4" in out
    lines = [ln for ln in out.splitlines() if ln.split()[:1] and ln.split()[0].isdigit()]
    assert len(lines) == 4 and lines[-1].split()[2] == "-"  # the unscored empty file comes last

    assert main(["show", "FIR 7 of 2025", "--cases-dir", str(store / "cases"), "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 4
    for key in ("path", "sha256", "status", "score", "analyst_verdict"):
        assert key in items[0]
    scored = [i for i in items if i["status"] == "scored"]
    assert len(scored) == 3 and all(0 <= i["score"] <= 1 for i in scored)
    target = scored[0]

    assert (
        main(
            [
                "annotate",
                "fir-7-of-2025",
                target["sha256"][:12],
                "--verdict",
                "likely_fake",
                "--tags",
                "a,b",
                "--notes",
                "blending at jaw",
                "--sensitive",
                "--reviewer",
                "SI Khan",
                "--cases-dir",
                str(store / "cases"),
            ]
        )
        == 0
    )
    assert "likely_fake" in capsys.readouterr().out
    assert main(["show", "fir-7-of-2025", "--cases-dir", str(store / "cases"), "--json"]) == 0
    after = {i["sha256"]: i for i in json.loads(capsys.readouterr().out)}[target["sha256"]]
    assert after["analyst_verdict"] == "likely_fake" and after["tags"] == ["a", "b"] and after["sensitive"] is True

    assert main(["show", "fir-7-of-2025", "--cases-dir", str(store / "cases")]) == 0
    assert "likely_fake [SENSITIVE]" in capsys.readouterr().out

    assert main(["cases", "--cases-dir", str(store / "cases"), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["id"] == "fir-7-of-2025" and listed["items"] == 4 and listed["examiner"] == "Insp. Rao"

    with open_case("fir-7-of-2025", cases_dir=store / "cases", create=False) as case:
        assert set(case.sources()["platform"]) == {"WhatsApp"}
        assert case.custody_log()["actor"].iloc[-1] == "SI Khan"


def test_triage_twice_is_idempotent(store, capsys):
    assert _triage(store) == 0
    capsys.readouterr()
    assert _triage(store) == 0
    out = capsys.readouterr().out
    assert "intake: 0 new" in out and "analysed 0" in out
    assert main(["verify", "fir-7-of-2025", "--cases-dir", str(store / "cases"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_errors_are_reported_not_raised(store, capsys):
    cases = str(store / "cases")
    assert main(["show", "nope", "--cases-dir", cases]) == 1
    assert "no case 'nope'" in capsys.readouterr().err
    assert _triage(store) == 0
    assert main(["annotate", "fir-7-of-2025", "99", "--verdict", "real", "--cases-dir", cases]) == 1
    assert "no evidence item" in capsys.readouterr().err
    assert main(["annotate", "fir-7-of-2025", "1", "--cases-dir", cases]) == 2
    with pytest.raises(SystemExit):
        main(["annotate", "fir-7-of-2025", "1", "--verdict", "maybe", "--cases-dir", cases])
    assert main(["triage", str(store / "ev"), "--case", "../evil", "--cases-dir", cases, "--quiet"]) == 1
    assert "path separator" in capsys.readouterr().err


def test_cases_empty_store(tmp_path, capsys):
    assert main(["cases", "--cases-dir", str(tmp_path / "none")]) == 0
    assert "no cases" in capsys.readouterr().out


def test_real_scanner_end_to_end(tiny_weights, examples, tmp_path, capsys):
    """The real scan pipeline on the bundled sample evidence, through the CLI."""
    cases = tmp_path / "cases"
    argv = [
        "triage",
        str(examples),
        "--case",
        "sample",
        "--cases-dir",
        str(cases),
        "--weights-dir",
        str(tiny_weights),
        "--examiner",
        "tester",
        "--quiet",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    with open_case("sample", cases_dir=cases, create=False) as case:
        items = case.items().set_index("name")
        assert items.loc["astronaut.jpg", "status"] == "scored" and items.loc["astronaut.jpg", "n_faces"] >= 1
        assert items.loc["coffee_no_face.jpg", "status"] == "no_face"
        assert items.loc["notes.jpg", "status"] == "unsupported" and items.loc["empty.jpg", "status"] == "unreadable"
        assert items.loc["astronaut_clip.mp4", "status"] == "scored"
        det = case.findings(kind="detector").query("kind == 'detector'")
        assert set(det["model_name"]) == {"tiny-test-model"} and det["model_sha256"].str.len().eq(64).all()
        assert det["params"].iloc[0]["frames_per_second"] == 1.0
        scored = det[det.status == "scored"]
        assert all(any(a["kind"] == "gradcam" for a in arts) for arts in scored["artifacts"])
        if load_forensics() is not None:  # dfd_lib.forensics is present: its results are findings too
            photo = int(items.loc["astronaut.jpg", "item_id"])
            forensic = case.findings(item=photo, kind="forensic")
            assert len(forensic) >= 3 and set(forensic["status"]) <= {"ok", "not_applicable", "error"}
            maps = [a for arts in forensic["artifacts"] for a in arts]
            assert maps and all((case.path / a["path"]).is_file() for a in maps)
        report = case.verify()
        assert report.ok, report.lines()
    assert main(argv) == 0  # a second run finds nothing to do
    assert "analysed 0" in capsys.readouterr().out


def test_annotate_based_on_an_old_record_is_refused(tmp_path, capsys):
    cases = str(tmp_path / "cases")
    with open_case("FIR 8", cases_dir=cases) as case:
        [rec] = case.ingest(make_images(tmp_path / "ev", 1))
        first = case.annotate(rec.item_id, notes="flagged by SI Khan", sensitive=True, reviewer="SI Khan")
    assert (
        main(["annotate", "fir-8", str(rec.item_id), "--not-sensitive", "--based-on", "0", "--cases-dir", cases]) == 1
    )
    err = capsys.readouterr().err
    assert "SI Khan" in err and "nothing was saved" in err
    assert (
        main(
            [
                "annotate",
                "fir-8",
                str(rec.item_id),
                "--verdict",
                "fake",
                "--based-on",
                str(first.id),
                "--cases-dir",
                cases,
            ]
        )
        == 0
    )
    assert f"record {first.id + 1}" in capsys.readouterr().out
    with open_case("fir-8", cases_dir=cases, create=False) as case:
        assert [a.sensitive for a in case.history(rec.item_id)] == [True, True]


def _cases(store):
    return ["--cases-dir", str(store / "cases")]


def test_a_blank_examiner_is_a_usage_error_and_makes_no_case(store, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["triage", str(store / "ev"), "--case", "blank", "--examiner", "   ", *_cases(store), "--quiet"])
    assert exit_.value.code == 2 and "must name a person" in capsys.readouterr().err
    assert not (store / "cases" / "blank").exists()
    assert _triage(store) == 0
    with pytest.raises(SystemExit):
        main(["annotate", "FIR 7 of 2025", "1", "--verdict", "real", "--reviewer", " \t", *_cases(store)])


@pytest.mark.parametrize("option", ["--examiner", "--source-device", "--agency"])
def test_text_typed_in_another_encoding_is_a_usage_error_and_makes_no_case(store, capsys, option):
    """A terminal set to Latin-1 passes b'Insp. R\\xe3o', which Python keeps as a lone surrogate: the examiner crashed
    the case's creation and a source turned every file into an intake error; both are now refused up front."""
    latin1 = "Insp. R\udce3o"  # what os.fsdecode makes of the bytes
    with pytest.raises(SystemExit) as exit_:
        main(["triage", str(store / "ev"), "--case", "enc", option, latin1, *_cases(store), "--quiet"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Insp. R\\xe3o" in err and "not UTF-8" in err and "Traceback" not in err
    assert not (store / "cases" / "enc").exists()


def test_a_damaged_or_deleted_case_database_is_said_plainly(store, capsys):
    assert _triage(store) == 0
    case_dir = next((store / "cases").iterdir())
    db = case_dir / "case.db"
    db.write_bytes(db.read_bytes()[:8192])  # cut short: "database disk image is malformed"
    for wal in case_dir.glob("case.db-*"):
        wal.unlink()
    capsys.readouterr()
    assert main(["verify", "FIR 7 of 2025", *_cases(store)]) == 1
    err = capsys.readouterr().err
    assert "damaged" in err and "Traceback" not in err
    db.unlink()  # gone altogether: no new, empty case is made over the old case's evidence
    assert _triage(store) == 1
    assert "no case database" in capsys.readouterr().err and not db.exists()


def test_control_characters_in_file_names_cannot_forge_output(store, capsys):
    evil = store / "ev" / "x\x1b[31mred\nintake error: FAKE.png"
    evil.write_bytes((store / "ev" / "empty.jpg").read_bytes())  # empty: an intake error carrying the name
    (store / "ev" / "empty.jpg").unlink()
    _triage(store)
    assert main(["show", "FIR 7 of 2025", *_cases(store)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31mred\\nintake error: FAKE.png" in out
    assert not any(line.startswith("intake error: FAKE") for line in out.splitlines())


def test_files_not_taken_in_are_listed_by_show_and_the_report(store, tmp_path, capsys):
    from dfd_lib.report.html import render_html
    from dfd_lib.report.pdf import render_pdf
    from dfd_lib.report.reportdata import collect_report_data

    outside = tmp_path / "outside.png"
    outside.write_bytes((next((store / "ev").glob("*.png"))).read_bytes())
    (store / "ev" / "leaves_the_folder.png").symlink_to(outside)
    assert _triage(store) == 0
    capsys.readouterr()
    assert main(["show", "FIR 7 of 2025", *_cases(store)]) == 0
    out = capsys.readouterr().out
    assert "files not taken in (1;" in out and "leaves_the_folder.png" in out
    with open_case("FIR 7 of 2025", store / "cases", create=False) as case:
        data = collect_report_data(case)
        [(when, path, why)] = data.not_taken_in
        assert path.endswith("leaves_the_folder.png") and why and when
        html = render_html(data).decode()
        assert "Files not taken in (1)" in html and "leaves_the_folder.png" in html
        assert len(render_pdf(data)) > 1000


def test_a_file_changed_since_an_earlier_intake_is_said_to_have_changed(store, capsys):
    """Re-triaging a folder in which a file's content changed adds a new item: the examiner is told the path was
    taken in before with other content, and the custody log records which item it was."""
    assert _triage(store) == 0
    first = sorted((store / "ev").glob("*.png"))[0]
    with open_case("FIR 7 of 2025", store / "cases", create=False) as case:
        items = case.items()
        before = int(items.loc[items["path"] == str(first), "item_id"].iloc[0])
    first.write_bytes(first.read_bytes() + b"appended")
    capsys.readouterr()
    assert _triage(store) == 0
    out = capsys.readouterr().out
    assert "changed since an earlier intake" in out and first.name in out and f"item {before} before" in out
    with open_case("FIR 7 of 2025", store / "cases", create=False) as case:
        last = [e for e in case.custody_entries() if e.action == "intake"][-1]
        assert last.details["changed_since"]["item_id"] == before and case.verify(log_result=False).ok
