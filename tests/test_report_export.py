"""Portal export bundles: contents, hashes, safety of names and sensitive items, determinism, the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import zipfile

import pypdf
import pytest
import yaml

from dfd_lib.case.custody import CustodyEntry, check_chain
from dfd_lib.cli import main
from dfd_lib.export import ExportError, export_bundle
from dfd_lib.export.zipout import FIXED_DATE_TIME, check_arcname, safe_component
from dfd_lib.portal import PortalFieldsError, save_portal_fields
from report_support import (  # noqa: F401 - case, report_case_store and item_id_of are pytest fixtures
    NCRP_VALUES,
    SOURCE_URL,
    UNICODE_NAME,
    case,
    item_id_of,
    report_case_store,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def test_missing_fields_are_refused_with_the_full_list(case, tmp_path, capsys):
    before = len(case.custody_entries())
    with pytest.raises(PortalFieldsError) as err:
        export_bundle(case, "ncrp", tmp_path / "b.zip")
    required = [
        "complaint_path",
        "incident_date",
        "incident_time",
        "platform",
        "incident_state",
        "narrative",
        "complainant_name",
        "complainant_mobile",
        "complainant_address",
        "complainant_state",
    ]
    assert len(err.value.problems) == len(required)
    for field_id in required:
        assert f"  - {field_id} (" in str(err.value)
    assert not (tmp_path / "b.zip").exists() and len(case.custody_entries()) == before
    store, case_id = str(case.path.parent), case.id
    case.close()
    assert (
        main(["export", case_id, "--portal", "ncrp", "--out", str(tmp_path / "b.zip"), "--cases-dir", store, "--quiet"])
        == 1
    )
    message = capsys.readouterr().err
    assert message.count("dfd export: error:") == 1 and all(f in message for f in required)


def test_bundle_contents_hashes_and_custody(case, tiny_weights, tmp_path):
    result = export_bundle(case, "ncrp", tmp_path / "bundle.zip", values=NCRP_VALUES, weights_dir=tiny_weights)
    data = (tmp_path / "bundle.zip").read_bytes()
    assert result.sha256 == _sha(data)
    members = _members(tmp_path / "bundle.zip")
    names = list(members)
    assert names == sorted(names)
    for name in (
        "report.pdf",
        "manifest.json",
        "manifest.csv",
        "portal_fields.json",
        "portal_fields.txt",
        "custody_log.json",
        "bsa63_part_a.txt",
        "SHA256SUMS",
    ):
        assert name in members, name
    for name in names:
        check_arcname(name)
        assert not name.startswith("/") and ".." not in name.split("/") and name.isascii()
    with zipfile.ZipFile(tmp_path / "bundle.zip") as zf:
        assert {i.date_time for i in zf.infolist()} == {FIXED_DATE_TIME}
    manifest = json.loads(members["manifest.json"])
    assert manifest == result.manifest
    for row in manifest["files"]:
        assert _sha(members[row["path"]]) == row["sha256"] and len(members[row["path"]]) == row["size"]
    rows = list(csv.DictReader(io.StringIO(members["manifest.csv"].decode())))
    assert {r["path"] for r in rows} == set(names) - {"manifest.csv", "SHA256SUMS"}
    sums = dict(reversed(line.split("  ", 1)) for line in members["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(names) - {"SHA256SUMS"}
    assert all(_sha(members[n]) == h for n, h in sums.items())
    if shutil.which("sha256sum"):
        folder = tmp_path / "x"
        zipfile.ZipFile(tmp_path / "bundle.zip").extractall(folder)
        subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=folder, check=True)
    # Every non-sensitive item with an accepted format is included as acquired, byte for byte.
    items = case.items()
    evidence = {e["item_id"]: e for e in manifest["evidence"]}
    for _, it in items.iterrows():
        rec = evidence[int(it["item_id"])]
        if rec["included_as"] == "original":
            assert _sha(members[rec["path"]]) == it["sha256"]
    assert evidence[item_id_of(case, "notes.jpg")]["included_as"] == "not_included"  # text, not an image
    unicode_item = item_id_of(case, UNICODE_NAME)
    assert evidence[unicode_item]["path"] == f"evidence/{unicode_item:03d}_uni.jpg"  # Devanagari/CJK dropped
    # Report, certificate, portal text.
    assert len(pypdf.PdfReader(io.BytesIO(members["report.pdf"])).pages) >= 3
    cert = members["bsa63_part_a.txt"].decode()
    for _, it in items.iterrows():
        assert it["sha256"] in cert and it["md5"] in cert and it["sha1"] in cert
    assert "63(4)(c)" in cert and "(Name and signature)" in cert and "Place:" in cert
    text = members["portal_fields.txt"].decode()
    labels = [
        "Portal path",
        "Category of complaint",
        "Sub-category",
        "Approximate date",
        "Additional information",
        "Suspect social-media",
        "Complainant name",
    ]
    assert [text.index(lbl) for lbl in labels] == sorted(text.index(lbl) for lbl in labels)
    assert "Fake/Impersonating Profile" in text and "20/11/2025" in text and "Priya Sharma" in text
    fields = json.loads(members["portal_fields.json"])
    assert [f["id"] for f in fields["fields"]][:3] == ["complaint_path", "category", "sub_category"]
    # Custody: the log in the bundle is an intact chain; the export itself is logged with the bundle's hash.
    log = json.loads(members["custody_log.json"])
    entries = [CustodyEntry(**{k: v for k, v in e.items()}) for e in log["entries"]]
    assert check_chain(entries) == [] and log["head_seq"] == manifest["case_state"]["custody_seq"]
    last = case.custody_entries()[-1]
    assert last.action == "export" and last.details["sha256"] == result.sha256
    assert last.details["report_sha256"] == _sha(members["report.pdf"])
    assert case.verify(log_result=False).ok


def test_same_case_exports_byte_identically(case, tiny_weights, tmp_path):
    a = export_bundle(case, "ncrp", tmp_path / "a.zip", values=NCRP_VALUES, weights_dir=tiny_weights)
    case.verify()  # verifications, reports and exports do not change what a bundle describes
    b = export_bundle(case, "ncrp", tmp_path / "b.zip", values=NCRP_VALUES, weights_dir=tiny_weights)
    assert a.sha256 == b.sha256 and (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    case.annotate(1, notes="second look: the ear does not match", reviewer="Insp. Rao")
    c = export_bundle(case, "ncrp", tmp_path / "c.zip", weights_dir=tiny_weights)
    assert c.sha256 != a.sha256  # a new review is new content


def test_sensitive_item_is_withheld_from_the_bundle(case, tiny_weights, tmp_path):
    item = item_id_of(case, "astronaut_blended_face.jpg")
    case.annotate(item, sensitive=True, notes="intimate image", reviewer="Insp. Rao")
    row = case.items().set_index("item_id").loc[item]
    original = case.evidence_path(item).read_bytes()
    found = case.findings(item)
    artifacts = [(case.path / a["path"]).read_bytes() for arts in found["artifacts"] for a in arts]
    assert len(artifacts) >= 4  # face crop, Grad-CAM, forensic maps
    result = export_bundle(case, "ncrp", tmp_path / "b.zip", values=NCRP_VALUES, weights_dir=tiny_weights)
    members = _members(tmp_path / "b.zip")
    for name, body in members.items():
        assert row["sha256"] not in name
        assert body != original and original not in body, name
        for art in artifacts:
            assert art not in body, name
    rec = next(e for e in result.manifest["evidence"] if e["item_id"] == item)
    assert rec["included_as"] == "withheld" and rec["path"] is None
    assert SOURCE_URL in rec["urls"] and "intimate image" in rec["description"]
    assert not any(r.get("item_id") == item for r in result.manifest["files"])
    text = members["portal_fields.txt"].decode()
    assert row["sha256"] in text and SOURCE_URL in text
    assert row["sha256"] in members["bsa63_part_a.txt"].decode()
    assert case.custody_entries()[-1].details["withheld_items"] == [item]


def test_file_rules_override_converts_and_notes(case, tiny_weights, tmp_path):
    rules = {"allowed_formats": ["jpeg", "mp4", "pdf"], "max_file_mb": 0.06}
    result = export_bundle(
        case, "ncrp", tmp_path / "b.zip", values=NCRP_VALUES, file_rules=rules, weights_dir=tiny_weights
    )
    members = _members(tmp_path / "b.zip")
    ev = {e["file_name"]: e for e in result.manifest["evidence"]}
    png = ev["two_faces.png"]
    assert (
        png["included_as"] == "converted" and png["path"].endswith(".jpg") and "PNG is not an accepted" in png["reason"]
    )
    big = ev["astronaut.jpg"]  # 74,962 bytes > 0.06 MB: re-encoded and downscaled
    assert big["included_as"] == "converted" and "downscaled" in big["reason"]
    for rec in (png, big):
        body = members[rec["path"]]
        assert body[:3] == b"\xff\xd8\xff" and len(body) <= 0.06 * 1_000_000
        assert _sha(body) == rec["converted"]["sha256"] and rec["sha256"] != rec["converted"]["sha256"]
        row = next(r for r in result.manifest["files"] if r["path"] == rec["path"])
        assert row["role"] == "evidence_converted" and row["original_sha256"] == rec["sha256"]
    video = ev["astronaut_clip.mp4"]
    assert video["included_as"] == "not_included" and "over the 0.06 MB limit" in video["reason"]
    assert "note" in members["portal_fields.txt"].decode().lower()
    assert any(big["converted"]["sha256"] in line for line in members["bsa63_part_a.txt"].decode().splitlines())


def test_anonymous_export_leaves_the_complainant_out(case, tiny_weights, tmp_path):
    values = dict(
        NCRP_VALUES,
        complaint_path="Report Women/Child Related Crime",
        category="Sexually Explicit Content",
        sub_category="",
    )
    with pytest.raises(PortalFieldsError, match="anonymous reporting is only possible"):
        export_bundle(case, "ncrp", tmp_path / "x.zip", anonymous=True, values=NCRP_VALUES)
    export_bundle(case, "ncrp", tmp_path / "b.zip", anonymous=True, values=values, weights_dir=tiny_weights)
    members = _members(tmp_path / "b.zip")
    for name in ("portal_fields.json", "portal_fields.txt", "manifest.json", "custody_log.json"):
        body = members[name].decode()
        for secret in ("Priya Sharma", "98765", "priya@example.org", "MG Road"):
            assert secret not in body, (name, secret)
    assert "ANONYMOUS" in members["portal_fields.txt"].decode()


def test_unverified_case_is_not_exported(case, tiny_weights, tmp_path):
    save_portal_fields(case, "ncrp", NCRP_VALUES)
    stored = case.evidence_path(1)
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes() + b"tampered")
    with pytest.raises(ExportError, match="failed verification"):
        export_bundle(case, "ncrp", tmp_path / "b.zip", weights_dir=tiny_weights)
    assert not (tmp_path / "b.zip").exists()


def test_archive_names_are_sanitised():
    assert safe_component("../../etc/passwd") == "etc_passwd"
    assert safe_component(UNICODE_NAME.rsplit(".", 1)[0]) == "uni"
    assert safe_component("फोटो") == "file" and safe_component("..") == "file"
    for bad in ("/abs/x", "../x", "a/../b", "a\\b", "C:/x", "", "a//b", "./a"):
        with pytest.raises(ExportError):
            check_arcname(bad)


def test_cli_export_with_fields_file(case, tiny_weights, tmp_path, capsys):
    store, case_id = str(case.path.parent), case.id
    case.close()
    fields = tmp_path / "fields.yaml"
    fields.write_text(
        yaml.safe_dump({"portal": "ncrp", "fields": NCRP_VALUES, "file_rules": {"max_file_mb": 5}}, allow_unicode=True)
    )
    out = tmp_path / "bundle.zip"
    assert (
        main(
            [
                "export",
                case_id,
                "--portal",
                "ncrp",
                "--fields",
                str(fields),
                "--out",
                str(out),
                "--cases-dir",
                store,
                "--weights-dir",
                str(tiny_weights),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert _sha(out.read_bytes()) in printed and "withheld" in printed
    manifest = json.loads(_members(out)["manifest.json"])
    assert manifest["file_rules"]["max_file_mb"] == 5


def test_line_breaks_in_names_cannot_add_lines_to_the_certificate_or_portal_text(case, tiny_weights, tmp_path):
    fake = "0" * 64
    evil = tmp_path / "ev" / f"chat.jpg\nSHA-256: {fake}\r\nItem 99: forged.jpg"
    evil.parent.mkdir()
    evil.write_text("not a picture: a chat export")  # unsupported, so listed by name as not uploaded
    [rec] = case.ingest([evil], source={"device": f"phone\nSHA-256: {fake}", "platform": "WhatsApp\u2028Item 98: x"})
    export_bundle(case, "ncrp", tmp_path / "bundle.zip", values=NCRP_VALUES, weights_dir=tiny_weights)
    members = _members(tmp_path / "bundle.zip")
    for name in ("bsa63_part_a.txt", "portal_fields.txt"):
        text = members[name].decode()
        lines = text.splitlines()
        assert not any(fake in ln for ln in lines if ln.strip().startswith("SHA-256:")), name
        assert not any(ln.strip().startswith(("Item 99:", "Item 98:")) for ln in lines), name
        assert "chat.jpg\\nSHA-256" in text, name  # the name is still shown, its line breaks spelled out
        assert f"SHA-256: {rec.sha256}" in text, name
    assert "phone\\nSHA-256" in members["bsa63_part_a.txt"].decode()


def test_damaged_custody_details_are_exported_as_damaged_not_a_crash(case, tmp_path):
    import sqlite3

    save_portal_fields(case, "ncrp", NCRP_VALUES)
    seq = case.custody_entries()[1].seq
    conn = sqlite3.connect(case.db_path, isolation_level=None)
    conn.execute("DROP TRIGGER custody_no_update")
    conn.execute('UPDATE custody SET details_json = \'["not", "an object"]\' WHERE seq = ?', (seq,))
    conn.close()
    with pytest.raises(ExportError, match=f"custody #{seq}"):
        export_bundle(case, "ncrp", tmp_path / "refused.zip")
    result = export_bundle(case, "ncrp", tmp_path / "b.zip", allow_unverified=True)
    log = json.loads(_members(result.path)["custody_log.json"])
    [damaged] = [e for e in log["entries"] if e["seq"] == seq]
    assert "not an object" in damaged["damaged"]
