"""Portal profiles, form validation, the YAML template, stored answers and `dfd portal-form`."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from dfd_lib.cli import main
from dfd_lib.portal import (
    PortalError,
    load_portal,
    load_portal_fields,
    load_stored_fields,
    portal_names,
    render_template,
    save_portal_fields,
)
from report_support import CASE_NAME, NCRP_VALUES, case, report_case_store  # noqa: F401

REQUIRED_NCRP = [
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


def test_shipped_profiles_load_with_their_lists():
    assert {"ncrp", "generic"} <= set(portal_names())
    ncrp = load_portal("ncrp")
    states = ncrp.field("incident_state").allowed
    assert len(states) == 36 and "Delhi" in states and "Ladakh" in states and "Tamil Nadu" in states
    cats = dict(ncrp.field("category").allowed_by)
    assert "Sexually Explicit Content" in cats["Report Women/Child Related Crime"]
    subs = [s for _, vals in ncrp.field("sub_category").allowed_by for s in vals]
    for name in (
        "Fake/Impersonating Profile",
        "Cyber Bullying / Stalking / Sexting",
        "Cheating by Impersonation",
        "Profile Hacking / Identity Theft",
    ):
        assert name in subs
    assert ncrp.file_rules.max_file_mb == 10 and "jpeg" in ncrp.file_rules.allowed_formats
    assert "assum" in ncrp.file_rules.assumption.lower()
    assert ncrp.anonymous_omit == ("complainant",)


def test_unknown_portal_lists_the_known_ones():
    with pytest.raises(PortalError, match="known: generic, ncrp"):
        load_portal("ic3")


@pytest.mark.parametrize("name", ["ncrp", "generic"])
def test_template_lists_every_field_and_reads_back(name, capsys):
    profile = load_portal(name)
    text = render_template(profile)
    data = yaml.safe_load(text)
    assert data["portal"] == name and list(data["fields"]) == list(profile.field_ids)
    for f in profile.fields:
        assert f.label in text
    assert "  # Quote the time in YAML ('14:30').\n  incident_time: \"\"" in text  # the CLI template's own hint
    assert main(["portal-form", "--portal", name, "--template"]) == 0
    assert capsys.readouterr().out == text


def test_validation_lists_every_problem_at_once():
    ncrp = load_portal("ncrp")
    problems = ncrp.validate({})
    assert [p.split(" ", 1)[0] for p in problems] == REQUIRED_NCRP
    anon = ncrp.validate({}, anonymous=True)
    assert not any(p.startswith("complainant") for p in anon[:-1])
    assert "anonymous reporting is only possible" in anon[-1]
    assert ncrp.validate(NCRP_VALUES) == []
    bad = dict(
        NCRP_VALUES,
        incident_time=870,
        incident_date="2999-01-01",
        urls=["ftp://x"],
        sub_category="Other",
        complainant_mobile="12345",
        shoe_size="9",
    )
    problems = ncrp.validate(bad)
    joined = "\n".join(problems)
    for fragment in (
        "shoe_size: not a field",
        "write the time in quotes, e.g. '14:30'",
        "in the future",
        "'ftp://x' is not a web address",
        "sub_category (Sub-category): 'Other' is not one of",
        "complainant_mobile",
        "Indian mobile",
    ):
        assert fragment in joined, fragment
    assert len(problems) == 6


def test_values_are_normalised_and_dependent_fields_checked():
    ncrp = load_portal("ncrp")
    clean = ncrp.clean(NCRP_VALUES)
    assert clean["incident_date"] == "20/11/2025" and clean["sub_category"] == "Fake/Impersonating Profile"
    women = dict(
        NCRP_VALUES,
        complaint_path="report women/child related crime",
        category="Sexually Explicit Content",
        sub_category="",
    )
    assert ncrp.validate(women, anonymous=True) == []
    assert ncrp.clean(women, anonymous=True)["complaint_path"] == "Report Women/Child Related Crime"
    assert "complainant_name" not in ncrp.clean(women, anonymous=True)
    wrong = dict(women, sub_category="Cheating by Impersonation")
    assert any("does not apply" in p for p in ncrp.validate(wrong))
    assert any("required" in p for p in ncrp.validate(dict(NCRP_VALUES, platform="Other")))
    assert any(
        p.startswith("complainant_id_number") for p in ncrp.validate(dict(NCRP_VALUES, complainant_id_type="PAN"))
    )


def test_file_rules_override_is_checked():
    rules = load_portal("ncrp").file_rules
    merged = rules.merged({"max_file_mb": 25, "allowed_formats": ["JPG", ".png"]})
    assert merged.max_file_mb == 25 and merged.allowed_formats == ("jpeg", "png")
    with pytest.raises(PortalError) as err:
        rules.merged({"max_file_mb": -1, "allowed_formats": ["exe"], "colour": "red"})
    for fragment in ("max_file_mb", "exe", "colour"):
        assert fragment in str(err.value)


def test_saved_fields_are_logged_and_tampering_is_detected(case):
    stored = save_portal_fields(case, "ncrp", NCRP_VALUES, {"max_file_mb": 20}, actor="SI Kulkarni")
    last = case.custody_entries()[-1]
    assert last.action == "case_updated" and last.actor == "SI Kulkarni"
    info = last.details["portal_fields"]
    assert info["sha256"] == stored.sha256 and "narrative" in info["fields"]
    assert "Priya" not in json.dumps(last.details)  # answers stay out of the custody log
    assert load_portal_fields(case, "ncrp")["incident_date"] == "20/11/2025"
    assert load_stored_fields(case, "ncrp").file_rules == {"max_file_mb": 20}
    assert case.verify(log_result=False).ok
    again = save_portal_fields(case, "ncrp", NCRP_VALUES, {"max_file_mb": 20}, only_if_changed=True)
    assert again.custody_seq == stored.custody_seq  # nothing new written or logged
    path = case.path / "portal" / "ncrp.json"
    path.write_text(path.read_text().replace("Priya", "Pria"))
    with pytest.raises(PortalError, match="changed outside dfd"):
        load_portal_fields(case, "ncrp")
    with pytest.raises(PortalError, match="not field"):
        save_portal_fields(case, "ncrp", {"colour": "red"})


def test_portal_form_from_yaml(case, tmp_path, capsys):
    store, case_id = str(case.path.parent), case.id
    case.close()
    fields = tmp_path / "fields.yaml"
    fields.write_text(yaml.safe_dump({"portal": "ncrp", "fields": dict(NCRP_VALUES, narrative="too short")}))
    assert main(["portal-form", case_id, "--portal", "ncrp", "--from", str(fields), "--cases-dir", store]) == 0
    out = capsys.readouterr().out
    assert "saved" in out and "1 field(s) still missing or invalid" in out and "at least 200" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("portal: generic\nfields: {}\n")
    assert main(["portal-form", case_id, "--portal", "ncrp", "--from", str(bad), "--cases-dir", store]) == 1
    assert "is for portal 'generic'" in capsys.readouterr().err


def test_portal_form_interactive(case, monkeypatch, capsys):
    store, case_id = str(case.path.parent), case.id
    case.close()
    answers = [
        "1",  # Report Women/Child Related Crime
        "3",  # Sexually Explicit Content (no sub-category on this path)
        "31/13/2025",
        "20/11/2025",  # an invalid date is asked again
        "14:30",
        "",  # reason for delay: none
        "2",  # Instagram
        "https://www.instagram.com/p/abc/",
        "",  # URLs, one per line, empty line ends
        "Delhi",
        "",
        "",  # state; no district, no police station
        "Morphed intimate pictures of the victim are circulated on Instagram by an account that impersonates her; "
        "the analysis found face swaps in two photographs and she wants them taken down and the account traced.",
        "",
        "",
        "",
        "",
        "",
        "",
        "",  # suspect details left empty (three list fields end with one empty line each)
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(answers) + "\n"))
    assert main(["portal-form", case_id, "--portal", "ncrp", "--anonymous", "--cases-dir", store]) == 0
    out = capsys.readouterr().out
    assert "is not a date" in out and "the form is complete" in out
    from dfd_lib.case import open_case

    with open_case(CASE_NAME, cases_dir=store, create=False) as c:
        values = load_portal_fields(c, "ncrp")
    assert values["category"] == "Sexually Explicit Content" and values["incident_date"] == "20/11/2025"
    assert values["urls"] == ["https://www.instagram.com/p/abc/"] and "sub_category" not in values
    monkeypatch.setattr("sys.stdin", io.StringIO("1\n"))
    assert main(["portal-form", case_id, "--portal", "ncrp", "--cases-dir", store]) == 1
    assert "input ended" in capsys.readouterr().err


def test_a_crash_during_a_form_save_never_blocks_loading(case, monkeypatch):
    import os

    from dfd_lib.portal import store as portal_store

    first = save_portal_fields(case, "ncrp", NCRP_VALUES, actor="SI Kulkarni")
    changed = {**NCRP_VALUES, "narrative": NCRP_VALUES["narrative"] + " Second statement recorded."}

    # killed after the file is written but before its custody entry commits
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(case, "log_action", killed)
        with pytest.raises(KeyboardInterrupt):
            save_portal_fields(case, "ncrp", changed, actor="SI Kulkarni")
    stored = load_stored_fields(case, "ncrp")  # the last logged answers, intact
    assert stored.sha256 == first.sha256 and stored.values["narrative"] == NCRP_VALUES["narrative"]

    # killed after the custody entry commits but before the file is renamed into place
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("ncrp.json"):
            raise KeyboardInterrupt
        return real_replace(src, dst, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(portal_store.os, "replace", replace)
        with pytest.raises(KeyboardInterrupt):
            save_portal_fields(case, "ncrp", changed, actor="SI Kulkarni")
    stored = load_stored_fields(case, "ncrp")  # the logged save is completed
    assert stored.values["narrative"].endswith("Second statement recorded.")
    assert stored.custody_seq == case.custody_entries()[-1].seq and case.verify(log_result=False).ok
    assert not list((case.path / "portal").glob("*.pending"))
    assert save_portal_fields(case, "ncrp", NCRP_VALUES).values["narrative"] == NCRP_VALUES["narrative"]
    assert load_portal_fields(case, "ncrp")["narrative"] == NCRP_VALUES["narrative"]


def test_a_custom_profile_name_cannot_write_outside_the_case(tmp_path):
    from importlib import resources

    from dfd_lib.case import open_case
    from dfd_lib.portal import store as portal_store

    generic = yaml.safe_load((resources.files("dfd_lib.portal") / "profiles" / "generic.yaml").read_text("utf-8"))
    with open_case("FIR 3", cases_dir=tmp_path / "cases") as c:
        for bad in ("../../../escaped", "/tmp/abs", "..", "a/b", ".hidden", "Sub Dir"):
            custom = tmp_path / "custom.yaml"
            custom.write_text(yaml.safe_dump({**generic, "name": bad}), encoding="utf-8")
            with pytest.raises(PortalError, match="portal name"):
                load_portal(str(custom))
            with pytest.raises(PortalError, match="portal name"):
                save_portal_fields(c, str(custom), {})
            with pytest.raises(PortalError, match="portal name"):
                portal_store.fields_path(c, bad)
        assert not (tmp_path / "escaped.json").exists() and not list(tmp_path.rglob("escaped*"))
        custom.write_text(yaml.safe_dump({**generic, "name": "state-portal_2"}), encoding="utf-8")
        assert load_portal(str(custom)).name == "state-portal_2"
        assert portal_store.fields_path(c, "state-portal_2") == c.path / "portal" / "state-portal_2.json"
