"""Export and report integrity: altered stored copies are never shipped, outputs never overwrite the case's own files,
the CLI warns about a failed verification, accepts a folder for --out and a profile file for --portal."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import pytest
import yaml
from PIL import Image

from dfd_lib.cli import main
from dfd_lib.export import ExportError, export_bundle
from dfd_lib.export.evidence_prep import plan_evidence
from dfd_lib.portal import load_portal, save_portal_fields
from dfd_lib.report import ReportError, generate_report
from report_support import (  # noqa: F401 - case, report_case_store and item_id_of are pytest fixtures
    CASE_NAME,
    NCRP_VALUES,
    case,
    item_id_of,
    report_case_store,
)

ALTERED = "no longer matches the SHA-256 recorded at intake"


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _replace_stored(case, item: int, data: bytes) -> str:
    stored = case.evidence_path(item)
    stored.chmod(0o644)
    stored.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _other_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 30, 30)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _record(result, name: str) -> dict:
    return next(e for e in result.manifest["evidence"] if e["file_name"] == name)


def test_altered_copy_is_not_shipped_as_a_converted_copy(case, tiny_weights, tmp_path):
    item = item_id_of(case, "astronaut.jpg")
    intake_sha = case.item(item)["sha256"]
    now = _replace_stored(case, item, _other_jpeg())  # a valid picture: conversion itself would succeed
    rules = {"allowed_formats": ["jpeg", "mp4", "pdf"], "max_file_mb": 0.06}  # astronaut.jpg must be converted
    result = export_bundle(
        case,
        "ncrp",
        tmp_path / "b.zip",
        values=NCRP_VALUES,
        file_rules=rules,
        weights_dir=tiny_weights,
        allow_unverified=True,
    )
    rec = _record(result, "astronaut.jpg")
    assert rec["included_as"] == "not_included" and rec["path"] is None
    assert ALTERED in rec["reason"] and now in rec["reason"] and "dfd verify" in rec["reason"]
    assert "converted" not in rec
    assert not any(r.get("item_id") == item for r in result.manifest["files"])
    members = _members(tmp_path / "b.zip")
    assert not any(n.startswith(f"evidence/{item:03d}_") for n in members)
    cert = members["bsa63_part_a.txt"].decode()
    block = cert[cert.index(f"Item {item}: astronaut.jpg") :].split("\n\n")[0]
    assert "converted copy" not in block and "not included in this bundle" in block and intake_sha in block
    assert result.manifest["verification"]["ok"] is False
    assert item in case.custody_entries()[-1].details["not_included_items"]
    assert not any(c[0] == item for c in case.custody_entries()[-1].details["converted"])
    # the other pictures are still converted from intact copies
    assert _record(result, "two_faces.png")["included_as"] == "converted"


def test_planning_without_a_verification_hashes_every_copy(case):
    item = item_id_of(case, "astronaut.jpg")
    intact = item_id_of(case, "two_faces.png")
    now = _replace_stored(case, item, case.evidence_path(item).read_bytes() + b"appended")
    details = (case.detail(item), case.detail(intact))
    as_acquired = load_portal("generic").file_rules
    converting = load_portal("ncrp").file_rules.merged({"allowed_formats": ["jpeg"], "max_file_mb": 0.06}, "test")
    for rules in (as_acquired, converting):
        bad, good = plan_evidence(details, rules)
        assert bad.action == "not_included" and ALTERED in bad.reason and now in bad.reason
        assert good.action in ("original", "converted")
    # with the verification run for the export, what it flagged is not included (not hashed again)
    bad, good = plan_evidence(details, as_acquired, case.verify(log_result=False))
    assert bad.action == "not_included" and now in bad.reason and good.action == "original"


def test_appended_bytes_do_not_make_an_unverified_export_fail(case, tiny_weights, tmp_path):
    item = item_id_of(case, "astronaut.jpg")
    now = _replace_stored(case, item, case.evidence_path(item).read_bytes() + b"tampered")
    save_portal_fields(case, "ncrp", NCRP_VALUES)
    with pytest.raises(ExportError, match="failed verification"):
        export_bundle(case, "ncrp", tmp_path / "refused.zip", weights_dir=tiny_weights)
    result = export_bundle(case, "ncrp", tmp_path / "b.zip", weights_dir=tiny_weights, allow_unverified=True)
    rec = _record(result, "astronaut.jpg")
    assert rec["included_as"] == "not_included" and now in rec["reason"]
    assert _record(result, "coffee_no_face.jpg")["included_as"] == "original"
    assert not any(n.startswith(f"evidence/{item:03d}_") for n in _members(result.path))


def _protected_paths(case) -> list:
    stored = case.evidence_path(1)
    artifact = next(p for p in case.artifacts_dir.rglob("*") if p.is_file())
    return [
        case.db_path,
        case.path / "case.db-wal",
        case.path / "case.db-journal",
        stored,
        case.evidence_dir,  # a folder: the file would go inside it
        case.evidence_dir / "new.pdf",
        artifact,
        case.path / "tmp" / "x.zip",
        case.path / "evidence" / ".." / "case.db",
    ]


def _snapshot(case) -> dict:
    files = [case.db_path, *case.evidence_dir.iterdir(), *(p for p in case.artifacts_dir.rglob("*") if p.is_file())]
    return {p: p.read_bytes() for p in files}


def test_report_refuses_to_write_over_the_case(case, tmp_path):
    before = _snapshot(case)
    entries = len(case.custody_entries())
    link = tmp_path / "innocent.pdf"
    link.symlink_to(case.db_path)
    for out in [*_protected_paths(case), link]:
        with pytest.raises(ReportError, match="refusing to write the report"):
            generate_report(case, "html", out)
    assert _snapshot(case) == before and len(case.custody_entries()) == entries
    assert link.is_symlink()
    # the default place, inside the case folder, and a folder of the case other than the protected ones still work
    assert generate_report(case, "html").parent == case.path / "reports"
    assert generate_report(case, "html", case.path).parent == case.path


def test_export_refuses_to_write_over_the_case(case, tmp_path):
    save_portal_fields(case, "ncrp", NCRP_VALUES)
    before = _snapshot(case)
    entries = len(case.custody_entries())
    link = tmp_path / "bundle.zip"
    link.symlink_to(case.evidence_path(1))
    for out in [*_protected_paths(case), link]:
        with pytest.raises(ExportError, match="refusing to write the export bundle"):
            export_bundle(case, "ncrp", out)
    assert _snapshot(case) == before and len(case.custody_entries()) == entries


def test_cli_report_refuses_the_case_database(case, capsys):
    store, case_id, db = str(case.path.parent), case.id, case.db_path
    before = db.read_bytes()
    case.close()
    assert main(["report", case_id, "--out", str(db), "--cases-dir", store, "--quiet"]) == 1
    assert "refusing to write the report" in capsys.readouterr().err
    assert db.read_bytes() == before


def test_export_to_a_folder_names_the_bundle(case, tiny_weights, tmp_path, capsys):
    save_portal_fields(case, "ncrp", NCRP_VALUES)
    folder = tmp_path / "out"
    folder.mkdir()
    result = export_bundle(case, "ncrp", folder, weights_dir=tiny_weights)
    assert result.path == folder / f"{case.id}_ncrp.zip" and zipfile.is_zipfile(result.path)
    save_portal_fields(case, "generic", {"narrative": NCRP_VALUES["narrative"]})
    store, case_id = str(case.path.parent), case.id
    case.close()
    args = ["export", case_id, "--portal", "generic", "--out", str(folder), "--cases-dir", store, "--quiet"]
    assert main(args + ["--anonymous"]) == 0
    out = folder / f"{case_id}_generic_anonymous.zip"
    assert zipfile.is_zipfile(out) and str(out) in capsys.readouterr().out


def test_cli_report_warns_when_the_case_fails_verification(case, tmp_path, capsys):
    item = item_id_of(case, "astronaut.jpg")
    _replace_stored(case, item, case.evidence_path(item).read_bytes() + b"x")
    stored_name = case.evidence_path(item).name
    store, case_id = str(case.path.parent), case.id
    case.close()
    out = tmp_path / "r.html"
    assert main(["report", case_id, "--format", "html", "--out", str(out), "--cases-dir", store, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "FAILED verification" in captured.err and stored_name in captured.err
    assert "WARNING" not in captured.out and out.is_file()


def test_cli_report_on_an_intact_case_prints_no_warning(case, tmp_path, capsys):
    store, case_id = str(case.path.parent), case.id
    case.close()
    out = tmp_path / "r.html"
    assert main(["report", case_id, "--format", "html", "--out", str(out), "--cases-dir", store, "--quiet"]) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_cli_export_with_a_profile_file_and_its_fields_file(case, tmp_path, capsys):
    profile = yaml.safe_load(load_portal_text("generic"))
    profile["name"] = "myportal"
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True))
    fields = tmp_path / "fields.yaml"
    narrative = "A profile uses a morphed photograph of the complainant to ask her contacts for money."
    fields.write_text(yaml.safe_dump({"portal": "myportal", "fields": {"narrative": narrative}}))
    store, case_id = str(case.path.parent), case.id
    case.close()
    out = tmp_path / "b.zip"
    args = ["export", case_id, "--portal", str(path), "--fields", str(fields), "--out", str(out)]
    assert main(args + ["--cases-dir", store, "--quiet"]) == 0, capsys.readouterr().err
    manifest = json.loads(_members(out)["manifest.json"])
    assert manifest["portal"] == "myportal"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({"portal": "ncrp", "fields": {}}))
    args = ["export", case_id, "--portal", str(path), "--fields", str(wrong), "--out", str(tmp_path / "c.zip")]
    assert main(args + ["--cases-dir", store, "--quiet"]) == 1
    assert "is for portal 'ncrp', not 'myportal'" in capsys.readouterr().err


def load_portal_text(name: str) -> str:
    from importlib import resources

    from dfd_lib.portal.profile import PROFILES_DIR, PROFILES_PACKAGE

    return (resources.files(PROFILES_PACKAGE) / PROFILES_DIR / f"{name}.yaml").read_text(encoding="utf-8")


def test_unrelated_output_paths_are_accepted(case, tmp_path):
    out = tmp_path / "case.db"  # the same name elsewhere is fine
    assert generate_report(case, "html", out) == out and out.is_file()
    os.makedirs(tmp_path / "evidence")
    assert generate_report(case, "html", tmp_path / "evidence" / "r.html").is_file()


def test_an_animated_picture_is_not_converted_to_its_first_frame(tmp_path, examples):
    """Converting keeps one picture: an animated GIF whose later frames were examined (and may hold the face) is
    listed as not included, never shipped as its first frame."""
    from dfd_lib.case import open_case

    face = Image.open(examples / "astronaut.jpg").convert("RGB")
    gif = tmp_path / "ev" / "profile.gif"
    gif.parent.mkdir()
    Image.new("RGB", face.size, (90, 120, 150)).save(gif, save_all=True, append_images=[face], duration=400)
    still = tmp_path / "ev" / "still.png"
    face.save(still)
    with open_case("animated", tmp_path / "cases", examiner="Insp. Rao") as case:
        case.ingest([gif, still])
        details = tuple(case.details())
        rules = load_portal("ncrp").file_rules.merged({"allowed_formats": ["jpeg"]}, "test")
        entries = {e.item.name: e for e in plan_evidence(details, rules)}
    assert entries["profile.gif"].action == "not_included" and "2 frames or pages" in entries["profile.gif"].reason
    assert entries["still.png"].action == "converted"


def test_another_cases_database_and_write_once_folders_are_refused_too(case, tmp_path):
    """--out may name any path: the database or evidence/ of another case in the store was overwritten."""
    from dfd_lib.case import open_case

    with open_case("other", cases_dir=tmp_path / "cases", examiner="Insp. Rao") as other:
        db, evidence = other.db_path, other.evidence_dir
    evidence.mkdir(exist_ok=True)
    before = db.read_bytes()
    with pytest.raises(ReportError, match="that is the database of the case in"):
        generate_report(case, "html", db)
    with pytest.raises(ReportError, match="inside the evidence/ folder of the case in"):
        generate_report(case, "html", evidence / "r.html")
    with pytest.raises(ExportError, match="database of the case in"):
        export_bundle(case, "ncrp", db, values=NCRP_VALUES)
    assert db.read_bytes() == before and not (evidence / "r.html").exists()


def test_an_existing_file_is_replaced_only_if_this_case_wrote_it(case, tmp_path):
    original = tmp_path / "IMG_2041.pdf"  # say, a document among the seized files
    original.write_bytes(b"%PDF-1.4 the complainant's own document")
    with pytest.raises(ReportError, match="refusing to replace .* case report-test did not write"):
        generate_report(case, "pdf", original)
    assert original.read_bytes() == b"%PDF-1.4 the complainant's own document"
    out = tmp_path / "report.html"
    first = generate_report(case, "html", out).read_bytes()
    assert generate_report(case, "html", out) == out and out.read_bytes() != first  # its own earlier report: replaced


def test_the_case_notebook_is_never_written_over_a_case_database(case, tmp_path):
    from dfd_lib.case import CaseError
    from dfd_lib.case.notebook import run_case_notebook

    store = case.path.parent
    db = case.db_path
    case.close()
    before = db.read_bytes()
    with pytest.raises(CaseError, match="refusing to write the case notebook .* database of case"):
        run_case_notebook(CASE_NAME, cases_dir=str(store), out=str(db))
    assert db.read_bytes() == before
