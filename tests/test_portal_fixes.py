"""Portal fixes: dates judged in the portal's time zone, years before 1900 refused, profiles given
by path usable by the store and the CLI, upload limits in decimal megabytes."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from importlib import resources

import pytest
import yaml

from dfd_lib.case import open_case
from dfd_lib.cli import main
from dfd_lib.portal import (
    FileRules,
    PortalError,
    format_mb,
    load_portal,
    load_portal_fields,
    load_stored_fields,
    read_fields_file,
    save_portal_fields,
)
from dfd_lib.portal import fieldcheck
from dfd_lib.portal import profile as profile_module
from report_support import case, report_case_store  # noqa: F401 - pytest fixtures

UTC = dt.timezone.utc
NARRATIVE = "A fake profile uses morphed photographs of the complainant and asks her contacts for money."


def _set_clock(monkeypatch, when: dt.datetime) -> None:
    monkeypatch.setattr(fieldcheck, "_utc_now", lambda: when)


def _generic_dict() -> dict:
    return yaml.safe_load((resources.files("dfd_lib.portal") / "profiles" / "generic.yaml").read_text("utf-8"))


@pytest.fixture
def forget_path_profiles(monkeypatch):
    """Profiles loaded by path are remembered per process: each test starts with none."""
    monkeypatch.setattr(profile_module, "_BY_PATH", {})


@pytest.fixture
def myportal(tmp_path, forget_path_profiles):
    path = tmp_path / "profiles" / "my.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({**_generic_dict(), "name": "myportal"}, allow_unicode=True), encoding="utf-8")
    return path


# -- 1: "future" is judged in the portal's time zone (IST), not the host's ---------------------------


@pytest.mark.parametrize("name", ["ncrp", "generic"])
def test_today_in_india_is_not_in_the_future_late_in_the_utc_day(monkeypatch, name):
    _set_clock(monkeypatch, dt.datetime(2025, 11, 20, 21, 44, tzinfo=UTC))  # 03:14 on 21/11/2025 in India
    field = load_portal(name).field("incident_date")
    for given in ("21/11/2025", "2025-11-21", "21.11.2025", dt.date(2025, 11, 21)):
        assert field.check(given, {}) == ("21/11/2025", []), given
    value, problems = field.check("22/11/2025", {})
    assert problems == ["22/11/2025 is in the future (today is 21/11/2025 in UTC+05:30)"]
    assert load_portal(name).validate({"incident_date": dt.date(2025, 11, 22)}) != []
    # before 18:30 UTC it is still the 20th in India
    _set_clock(monkeypatch, dt.datetime(2025, 11, 20, 18, 29, tzinfo=UTC))
    assert field.check("20/11/2025", {}) == ("20/11/2025", [])
    assert "in the future" in field.check("21/11/2025", {})[1][0]


def test_a_profile_has_a_time_zone_of_its_own(monkeypatch, tmp_path, forget_path_profiles):
    assert load_portal("ncrp").tz == fieldcheck.IST and load_portal("generic").tz == fieldcheck.IST
    _set_clock(monkeypatch, dt.datetime(2025, 11, 21, 3, 0, tzinfo=UTC))  # 20/11 22:00 at UTC-05:00
    path = tmp_path / "west.yaml"
    path.write_text(yaml.safe_dump({**_generic_dict(), "name": "west", "timezone": "-05:00"}), encoding="utf-8")
    west = load_portal(str(path))
    assert west.tz.utcoffset(None) == dt.timedelta(hours=-5)
    assert west.field("incident_date").check("20/11/2025", {}) == ("20/11/2025", [])
    assert "in the future" in west.field("incident_date").check("21/11/2025", {})[1][0]
    assert load_portal("generic").field("incident_date").check("21/11/2025", {}) == ("21/11/2025", [])
    no_tz = {k: v for k, v in _generic_dict().items() if k != "timezone"}
    assert profile_module.profile_from_dict(no_tz, "test").tz == fieldcheck.IST  # default: India
    for text in ("+05:30", "UTC+05:30", "+0530", "IST", "Asia/Kolkata"):
        assert fieldcheck.parse_timezone(text) == fieldcheck.IST, text
    assert fieldcheck.parse_timezone("UTC") == UTC and fieldcheck.parse_timezone("+00:00") == UTC
    text = path.read_text()
    assert "timezone: -05:00" in text
    path.write_text(text.replace("timezone: -05:00", "timezone: +05:30"))  # unquoted, still a string
    assert load_portal(str(path)).tz == fieldcheck.IST
    path.write_text(text.replace("timezone: -05:00", "timezone: +5:30"))  # unquoted: YAML reads the number 330
    with pytest.raises(PortalError, match="write timezone in quotes"):
        load_portal(str(path))
    with pytest.raises(PortalError, match="not a UTC offset"):
        fieldcheck.parse_timezone("Europe/Paris")


# -- 2: years before 1900 are refused when first checked; years are always stored in four digits ------


@pytest.mark.parametrize("given", ["0025-11-03", "03.11.0025", "03/11/0025", "0001-01-01", "31-12-1899"])
def test_a_date_before_1900_is_refused_with_a_clear_message(given):
    field = load_portal("ncrp").field("incident_date")
    value, problems = field.check(given, {})
    assert value == given and len(problems) == 1
    assert "before 1900" in problems[0] and "write the year in full" in problems[0]


def test_a_yaml_date_before_1900_is_refused_too():
    value, problems = load_portal("generic").field("incident_date").check(dt.date(25, 11, 3), {})
    assert value == "0025-11-03" and "before 1900" in problems[0]


def test_old_but_possible_dates_pass_with_four_digit_years():
    field = load_portal("ncrp").field("incident_date")
    assert field.check("1900-01-01", {}) == ("01/01/1900", [])
    assert field.check("03.11.1930", {}) == ("03/11/1930", [])
    assert field.check(dt.date(1930, 11, 3), {}) == ("03/11/1930", [])
    assert fieldcheck.normalise_scalar(None, dt.date(1930, 1, 2)) == ("02/01/1930", None)


def test_a_date_before_1900_is_never_stored_as_a_two_digit_year(tmp_path):
    with open_case("FIR 7", cases_dir=tmp_path / "cases") as c:
        stored = save_portal_fields(c, "generic", {"incident_date": "0025-11-03", "narrative": NARRATIVE})
        assert stored.values["incident_date"] == "0025-11-03"  # kept as typed, not '03/11/25'
        problems = load_portal("generic").validate(load_portal_fields(c, "generic"))
        assert len(problems) == 1 and "before 1900" in problems[0]


# -- 3: a profile given by path works with the store, the portal-form command and the export ----------


def test_a_profile_given_by_path_saves_and_loads_fields(tmp_path, myportal):
    profile = load_portal(str(myportal))
    assert profile.name == "myportal" and profile.source == str(myportal)
    values = {"incident_date": "2025-11-20", "narrative": NARRATIVE}
    with open_case("FIR 8", cases_dir=tmp_path / "cases") as c:
        stored = save_portal_fields(c, profile, values, {"max_file_mb": 5}, actor="SI Kulkarni")
        assert stored.portal == "myportal" and (c.path / "portal" / "myportal.json").exists()
        for ref in (profile, str(myportal), myportal, "myportal"):  # object, path (str or Path), remembered name
            got = load_stored_fields(c, ref)
            assert got.values == {"incident_date": "20/11/2025", "narrative": NARRATIVE}, ref
            assert got.file_rules == {"max_file_mb": 5} and got.sha256 == stored.sha256
        again = save_portal_fields(c, "myportal", values, {"max_file_mb": 5}, only_if_changed=True)
        assert again.custody_seq == stored.custody_seq
        again = save_portal_fields(c, str(myportal), values, {"max_file_mb": 5}, only_if_changed=True)
        assert again.custody_seq == stored.custody_seq
        assert c.verify(log_result=False).ok
        with pytest.raises(PortalError, match="not field"):
            save_portal_fields(c, "myportal", {"colour": "red"})
        profile_module._BY_PATH.clear()  # a fresh process: the object still works, the bare name does not
        assert load_portal_fields(c, profile)["narrative"] == NARRATIVE
        with pytest.raises(PortalError, match="unknown portal 'myportal'"):
            load_stored_fields(c, "myportal")


def test_a_copy_named_like_a_shipped_profile_does_not_replace_it_by_name(tmp_path, forget_path_profiles):
    path = tmp_path / "generic.yaml"
    data = _generic_dict()
    data["fields"] = [f for f in data["fields"] if f["id"] != "location"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert "location" not in load_portal(str(path)).field_ids
    assert "location" in load_portal("generic").field_ids


def test_read_fields_file_takes_the_profile_or_its_path(tmp_path, myportal):
    fields = tmp_path / "fields.yaml"
    fields.write_text(yaml.safe_dump({"portal": "myportal", "fields": {"narrative": NARRATIVE}}), encoding="utf-8")
    for ref in (str(myportal), load_portal(str(myportal)), "myportal"):
        assert read_fields_file(fields, ref) == ({"narrative": NARRATIVE}, {})
    with pytest.raises(PortalError, match="is for portal 'myportal', not 'generic'"):
        read_fields_file(fields, "generic")


def test_portal_form_and_export_with_a_profile_given_by_path(case, tiny_weights, tmp_path, myportal, capsys):
    store, case_id = str(case.path.parent), case.id
    case.close()
    fields = tmp_path / "fields.yaml"
    fields.write_text(
        yaml.safe_dump({"portal": "myportal", "fields": {"incident_date": "20.11.2025", "narrative": NARRATIVE}}),
        encoding="utf-8",
    )
    args = ["--portal", str(myportal), "--cases-dir", store]
    assert main(["portal-form", case_id, "--from", str(fields), *args]) == 0
    assert "saved 2 answer(s) for myportal" in capsys.readouterr().out
    out = tmp_path / "bundle.zip"
    cmd = ["export", case_id, "--fields", str(fields), "--out", str(out), "--weights-dir", str(tiny_weights)]
    assert main([*cmd, "--quiet", *args]) == 0, capsys.readouterr().err
    with zipfile.ZipFile(out) as z:
        portal_fields = json.loads(z.read("portal_fields.json"))
    assert "myportal" in json.dumps(portal_fields) and "20/11/2025" in json.dumps(portal_fields)
    with open_case(case_id, cases_dir=store, create=False) as c:
        assert load_portal_fields(c, load_portal(str(myportal)))["incident_date"] == "20/11/2025"


# -- 4: upload limits in decimal megabytes, and sizes printed in the same unit ------------------------


def test_max_file_mb_is_decimal_megabytes():
    rules = load_portal("ncrp").file_rules
    assert rules.max_file_mb == 10 and rules.max_file_bytes == 10_000_000
    assert rules.allows_size(10_000_000) and not rules.allows_size(10_000_001)
    assert not rules.allows_size(10 * 1024 * 1024)  # 10 MiB is over a 10 MB limit
    assert "at most 10 MB per file" in rules.describe()
    assert FileRules.from_mapping({"max_file_mb": 0.06}).max_file_bytes == 60_000
    assert FileRules.from_mapping({"max_file_mb": 4.35}).max_file_bytes == 4_350_000
    assert FileRules.from_mapping({"max_file_mb": None}).max_file_bytes is None


def test_sizes_are_printed_in_the_same_megabytes():
    assert format_mb(10_500_000) == "10.5 MB" and format_mb(10 * 1024 * 1024) == "10.5 MB"
    assert format_mb(10_000_001, 10) == "10.000001 MB"  # never "10.0 MB is over the 10 MB limit"
    assert format_mb(10_040_000, 10) == "10.04 MB"
