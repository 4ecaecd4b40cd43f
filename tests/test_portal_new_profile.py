"""Adding a portal is adding one YAML file to the profiles folder: the new portal is listed, checked and exported.

The test does not write into dfd_lib/portal/profiles/ (tests leave the tree clean): it makes a
package whose profiles/ folder holds the shipped profiles plus a toy one, and points the portal
package at it, the one place the folder is named (``dfd_lib.portal.profile.PROFILES_PACKAGE``).
"""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from importlib import resources

import pytest

from dfd_lib.cli import main
from dfd_lib.export import export_bundle
from dfd_lib.portal import PortalFieldsError, load_portal, load_portal_fields, portal_names, save_portal_fields
from dfd_lib.portal import profile as profile_module
from report_support import case, item_id_of, report_case_store  # noqa: F401

TOY_YAML = """\
# Portal profile: a toy portal, added by a test the way a contributor adds one.
name: toy
title: Toy complaint portal
url: https://toy.example
version: 1
notes: A test profile with two sections; only PNG files of at most 1 MB are uploaded.

sections:
  - id: complaint
    label: Complaint
  - id: reporter
    label: Reporter

anonymous:
  omit_sections: [reporter]
  note: The reporter block is left out.

file_rules:
  allowed_formats: [png]
  max_file_mb: 1
  convert_images_to: png
  jpeg_quality: 90
  assumption: The toy portal takes PNG files of at most 1 MB.

fields:
  - id: channel
    label: Where it was seen
    section: complaint
    required: true
    allowed: [Website, App]
  - id: seen_on
    label: Date seen
    section: complaint
    required: true
    format: date
  - id: summary
    label: What happened
    section: complaint
    required: true
    min_length: 20
    multiline: true
  - id: reporter_email
    label: Reporter email
    section: reporter
    required: true
    format: email
"""

TOY_VALUES = {
    "channel": "website",
    "seen_on": "2025-11-20",
    "summary": "A morphed photograph of the reporter was posted on a website.",
    "reporter_email": "reporter@example.org",
}


@pytest.fixture
def toy_profiles(tmp_path, monkeypatch):
    """The shipped profiles plus profiles/toy.yaml, in a package the portal profiles are read from."""
    package = tmp_path / "pkg" / "toy_portal_profiles"
    folder = package / profile_module.PROFILES_DIR
    folder.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Portal profiles for a test."""\n', encoding="utf-8")
    for shipped in (resources.files("dfd_lib.portal") / "profiles").iterdir():
        if shipped.name.endswith(".yaml"):
            shutil.copyfile(str(shipped), folder / shipped.name)
    (folder / "toy.yaml").write_text(TOY_YAML, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    monkeypatch.setattr(profile_module, "PROFILES_PACKAGE", "toy_portal_profiles")
    yield folder
    sys.modules.pop("toy_portal_profiles", None)  # the next test's package lies in its own tmp_path


def test_a_profile_added_as_yaml_is_listed_checked_and_exported(toy_profiles, case, tiny_weights, tmp_path, capsys):
    # listed everywhere a portal is chosen: the library, the CLI template, the dashboard's drop-down
    assert portal_names() == ["generic", "ncrp", "toy"]
    toy = load_portal("toy")
    assert toy.field_ids == ("channel", "seen_on", "summary", "reporter_email") and toy.file_rules.max_file_mb == 1
    assert main(["portal-form", "--portal", "toy", "--template"]) == 0
    assert "# Portal fields for: Toy complaint portal (https://toy.example)" in capsys.readouterr().out

    # its fields are checked: nothing exported until the form is complete
    with pytest.raises(PortalFieldsError) as err:
        export_bundle(case, "toy", tmp_path / "none.zip", weights_dir=tiny_weights)
    assert [p.split(" ", 1)[0] for p in err.value.problems] == list(toy.field_ids)
    bad = {**TOY_VALUES, "channel": "Radio", "seen_on": "2999-01-01", "summary": "short", "reporter_email": "x@"}
    with pytest.raises(PortalFieldsError) as err:
        export_bundle(case, "toy", tmp_path / "none.zip", values=bad, weights_dir=tiny_weights)
    assert len(err.value.problems) == 4 and "'Radio' is not one of the allowed values" in err.value.problems[0]
    assert not (tmp_path / "none.zip").exists()

    # answers stored with the case, then the bundle: its manifest, form answers and file rules are the toy's
    save_portal_fields(case, "toy", TOY_VALUES, actor="SI Kulkarni")
    assert load_portal_fields(case, "toy")["channel"] == "Website" and (case.path / "portal" / "toy.json").exists()
    result = export_bundle(case, "toy", tmp_path / "toy.zip", weights_dir=tiny_weights)
    with zipfile.ZipFile(result.path) as z:
        fields = json.loads(z.read("portal_fields.json"))
        names = z.namelist()
    assert result.manifest["portal"] == "toy" and result.manifest["portal_title"] == "Toy complaint portal"
    assert [(f["id"], f["value"]) for f in fields["fields"]] == [
        ("channel", "Website"),
        ("seen_on", "20/11/2025"),
        ("summary", TOY_VALUES["summary"]),
        ("reporter_email", "reporter@example.org"),
    ]
    evidence = {e["item_id"]: e for e in result.manifest["evidence"]}
    jpeg = evidence[item_id_of(case, "astronaut.jpg")]  # a JPEG is not a PNG: converted under the toy's rules
    assert jpeg["included_as"] == "converted" and jpeg["path"].endswith(".png") and jpeg["path"] in names
    video = evidence[item_id_of(case, "astronaut_clip.mp4")]
    assert video["included_as"] == "not_included" and "MP4 is not an accepted format" in video["reason"]
    assert case.custody_entries()[-1].details["portal"] == "toy"

    # anonymous: the reporter section is left out, so its required field is not asked for
    anon = export_bundle(case, "toy", tmp_path / "anon.zip", anonymous=True, weights_dir=tiny_weights)
    with zipfile.ZipFile(anon.path) as z:
        assert "reporter_email" not in [f["id"] for f in json.loads(z.read("portal_fields.json"))["fields"]]


def test_the_dashboard_offers_and_checks_an_added_profile(toy_profiles, tmp_path, tiny_weights):
    pytest.importorskip("ipywidgets")
    from workbench import AppState, Workbench

    app = Workbench(AppState(tmp_path / "cases", tiny_weights, evidence_roots=[]))
    try:
        app.state.open_case("FIR 5 of 2025", examiner="Insp. Rao")
        panel = app.export
        assert list(panel.portal.options) == ["generic", "ncrp", "toy"]
        panel.portal.value = "toy"
        assert list(panel.form.inputs) == ["channel", "seen_on", "summary", "reporter_email"]
        assert list(panel.form.inputs["channel"].options) == ["", "Website", "App"]
        assert len(panel.form.check()) == 4
        for key, value in {**TOY_VALUES, "channel": "Website"}.items():
            panel.form.inputs[key].value = value
        assert panel.form.check() == []
        panel.save_button.click()
        assert load_portal_fields(app.state.case, "toy")["seen_on"] == "20/11/2025"
    finally:
        app.close_all()
