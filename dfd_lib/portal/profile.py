"""Portal profiles: the fields of a complaint form and the rules for uploaded files, read from YAML.

Profiles live in ``dfd_lib/portal/profiles/<name>.yaml`` (``ncrp``, ``generic``): a YAML file added
there is a new portal, listed by :func:`portal_names`; a path to a YAML file of the same shape also works. ``PortalProfile.validate(values, anonymous)`` returns every
problem at once, so a user fixes the whole form in one pass.

A profile's ``timezone`` (a quoted UTC offset, ``"+05:30"`` when absent) is where its dates are
local: a date after today's date there is refused. A profile loaded by path is remembered by its
name for the rest of the process, so code that is handed only the name finds it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import PortalError
from .fieldcheck import IST, FORMATS, format_problem, is_empty, match_choice, normalise_value, parse_timezone
from .filerules import FileRules

__all__ = [
    "PortalField",
    "PortalProfile",
    "load_portal",
    "portal_names",
    "check_portal_name",
    "profile_from_dict",
    "PROFILES_PACKAGE",
    "PROFILES_DIR",
]

log = logging.getLogger(__name__)

PROFILES_PACKAGE, PROFILES_DIR = "dfd_lib.portal", "profiles"  # the shipped profiles: <package>/profiles/<name>.yaml

_FIELD_KEYS = {
    "id",
    "label",
    "section",
    "required",
    "allowed",
    "allowed_by",
    "required_if",
    "format",
    "pattern",
    "multiple",
    "multiline",
    "min_length",
    "max_length",
    "help",
}


@dataclass(frozen=True)
class PortalField:
    id: str
    label: str
    section: str
    required: bool = False
    allowed: tuple[str, ...] = ()
    parent: str | None = None  # allowed values depend on this field's value ...
    allowed_by: tuple[tuple[str, tuple[str, ...]], ...] = ()  # ... as (parent value, allowed values)
    required_if: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, values); "*" = any value
    format: str | None = None
    pattern: str | None = None
    multiple: bool = False
    multiline: bool = False
    min_length: int | None = None
    max_length: int | None = None
    help: str = ""
    tz: dt.tzinfo = IST  # the portal's time zone: a date after today's date there is refused

    def choices(self, values: Mapping[str, Any]) -> tuple[str, ...] | None:
        """Allowed values given the other answers; None when the field does not apply."""
        if self.parent is None:
            return self.allowed
        parent_value = values.get(self.parent) or ""
        for key, allowed in self.allowed_by:
            if key == parent_value:
                return allowed
        return None

    def is_required(self, values: Mapping[str, Any]) -> bool:
        if self.required:
            return True
        return any(
            not is_empty(values.get(f)) and ("*" in vals or values.get(f) in vals) for f, vals in self.required_if
        )

    def check(
        self, raw: Any, values: Mapping[str, Any], bad: frozenset[str] = frozenset()
    ) -> tuple[str | list[str], list[str]]:
        """This field's normalised value and its problems, given the (normalised) earlier answers.

        ``bad`` names earlier fields that already have problems: a field whose allowed values
        depend on one of them is not checked against its list (its parent's problem says enough).
        """
        value, problems = normalise_value(self.format, self.multiple, raw, self.tz)
        if self.parent is not None and (self.parent in bad or is_empty(values.get(self.parent))):
            if not is_empty(value) and self.parent not in bad:
                problems.append(f"answer {self.parent} first: the allowed values depend on it")
            return value, problems
        choices = self.choices(values)
        if choices is None:
            if self.parent is None:  # choices() is None only for a field that depends on a parent
                raise AssertionError(f"{self.id}: no allowed values yet no parent field")
            if not is_empty(value):
                problems.append(f"does not apply when {self.parent} is '{values.get(self.parent)}'; leave it empty")
            return ([] if self.multiple else ""), problems
        if is_empty(value):
            return value, problems or (["required"] if self.is_required(values) else [])
        items = value if isinstance(value, list) else [value]
        fixed: list[str] = []
        for text in items:
            if choices:
                match = match_choice(text, choices)
                if match is None:
                    shown = "; ".join(choices) if len(choices) <= 8 else "; ".join(choices[:8]) + "; ..."
                    problems.append(f"'{text}' is not one of the allowed values: {shown}")
                text = match or text
            if self.min_length is not None and len(text) < self.min_length:
                problems.append(f"{len(text)} characters; at least {self.min_length} are needed")
            if self.max_length is not None and len(text) > self.max_length:
                problems.append(f"{len(text)} characters; at most {self.max_length} are allowed")
            pattern_problem = format_problem(self.pattern, text)
            if pattern_problem:
                problems.append(pattern_problem + (f" ({self.help})" if self.help else ""))
            fixed.append(text)
        return (fixed if self.multiple else fixed[0]), problems


@dataclass(frozen=True)
class PortalProfile:
    name: str
    title: str
    url: str
    version: int
    notes: str
    sections: tuple[tuple[str, str], ...]
    fields: tuple[PortalField, ...]
    file_rules: FileRules
    anonymous_omit: tuple[str, ...] = ()
    anonymous_only_when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    anonymous_note: str = ""
    tz: dt.tzinfo = IST  # profile key ``timezone`` (a UTC offset); dates are judged in it
    source: str = ""  # the YAML file a profile loaded by path came from; "" for a shipped one

    @property
    def field_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.fields)

    def field(self, field_id: str) -> PortalField:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise PortalError(f"portal {self.name} has no field {field_id!r}; fields: {', '.join(self.field_ids)}")

    def section_label(self, section: str) -> str:
        return dict(self.sections).get(section, section)

    def fields_for(self, anonymous: bool = False) -> tuple[PortalField, ...]:
        """The form's fields in order; anonymous mode leaves out the complainant block."""
        return tuple(f for f in self.fields if not (anonymous and f.section in self.anonymous_omit))

    def check(self, values: Mapping[str, Any] | None, anonymous: bool = False) -> tuple[dict[str, Any], list[str]]:
        """``(clean values in form order, problems)``; a problem names the field id and label."""
        values = dict(values or {})
        problems: list[str] = []
        known = set(self.field_ids)
        for key in sorted(set(values) - known):
            problems.append(f"{key}: not a field of the {self.name} form (known: {', '.join(self.field_ids)})")
        clean: dict[str, Any] = {}
        bad: set[str] = set()
        for f in self.fields_for(anonymous):
            value, issues = f.check(values.get(f.id), clean, frozenset(bad))
            clean[f.id] = value
            if issues:
                bad.add(f.id)
            problems += [f"{f.id} ({f.label}): {issue}" for issue in issues]
        if anonymous:
            for field_id, allowed in self.anonymous_only_when:
                if clean.get(field_id) not in allowed:
                    problems.append(
                        f"{field_id} ({self.field(field_id).label}): anonymous reporting is only "
                        f"possible with {' or '.join(repr(a) for a in allowed)}"
                    )
        return clean, problems

    def validate(self, values: Mapping[str, Any] | None, anonymous: bool = False) -> list[str]:
        """Every missing or invalid field (empty list when the form is complete)."""
        return self.check(values, anonymous)[1]

    def clean(self, values: Mapping[str, Any] | None, anonymous: bool = False) -> dict[str, Any]:
        return self.check(values, anonymous)[0]


def portal_names() -> list[str]:
    """Profiles shipped inside the package."""
    folder = resources.files(PROFILES_PACKAGE) / PROFILES_DIR
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _pairs(mapping: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(mapping, dict):
        raise PortalError(f"{where} must be a mapping")
    return tuple(
        (str(k), tuple(str(v) for v in (vals if isinstance(vals, list) else [vals]))) for k, vals in mapping.items()
    )


def _field(raw: Any, sections: set[str], earlier: set[str], source: str, tz: dt.tzinfo = IST) -> PortalField:
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("label"):
        raise PortalError(f"{source}: every field needs an id and a label (got {raw!r})")
    fid = str(raw["id"])
    where = f"{source}: field {fid}"
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise PortalError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if raw.get("section") not in sections:
        raise PortalError(f"{where}: section {raw.get('section')!r} is not one of {', '.join(sorted(sections))}")
    if raw.get("format") is not None and raw["format"] not in FORMATS:
        raise PortalError(f"{where}: unknown format {raw['format']!r}; known: {', '.join(FORMATS)}")
    if raw.get("pattern"):
        try:
            re.compile(raw["pattern"])
        except re.error as exc:
            raise PortalError(f"{where}: pattern is not a valid regular expression: {exc}") from exc
    parent: str | None = None
    allowed_by: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if raw.get("allowed_by") is not None:
        spec = raw["allowed_by"]
        if not isinstance(spec, dict) or spec.get("field") not in earlier:
            raise PortalError(f"{where}: allowed_by needs 'field' naming an earlier field and 'values'")
        parent, allowed_by = str(spec["field"]), _pairs(spec.get("values"), f"{where}: allowed_by.values")
    required_if = _pairs(raw.get("required_if") or {}, f"{where}: required_if")
    for other, _ in required_if:
        if other not in earlier:
            raise PortalError(f"{where}: required_if names {other!r}, which is not an earlier field")
    return PortalField(
        id=fid,
        label=str(raw["label"]),
        section=str(raw["section"]),
        required=bool(raw.get("required", False)),
        allowed=tuple(str(a) for a in raw.get("allowed") or ()),
        parent=parent,
        allowed_by=allowed_by,
        required_if=required_if,
        format=raw.get("format"),
        pattern=raw.get("pattern"),
        multiple=bool(raw.get("multiple", False)),
        multiline=bool(raw.get("multiline", False)),
        min_length=raw.get("min_length"),
        max_length=raw.get("max_length"),
        help=" ".join(str(raw.get("help", "")).split()),
        tz=tz,
    )


_PORTAL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_portal_name(name: object, source: str = "portal profile") -> str:
    """A profile name names the file its answers are kept in (``<case>/portal/<name>.json``), so it
    must be a plain identifier: 1-64 lower-case letters, digits, '-' or '_', not starting with '-' or '_'."""
    text = str(name)
    if not _PORTAL_NAME.fullmatch(text):
        raise PortalError(
            f"{source}: portal name {text!r} must be 1-64 lower-case letters, digits, '-' or '_' "
            "(starting with a letter or digit); it names the file the form's answers are kept in"
        )
    return text


def profile_from_dict(data: Any, source: str, path: str | os.PathLike | None = None) -> PortalProfile:
    """A profile from its parsed YAML; ``path``: the file it was read from, when given by path."""
    if not isinstance(data, dict) or not data.get("name") or not isinstance(data.get("fields"), list):
        raise PortalError(f"{source}: a portal profile needs 'name', 'sections' and a list of 'fields'")
    check_portal_name(data["name"], source)
    tz = parse_timezone(data.get("timezone"), source)
    sections = tuple(
        (str(s["id"]), str(s.get("label", s["id"])))
        for s in data.get("sections") or ()
        if isinstance(s, dict) and s.get("id")
    )
    fields: list[PortalField] = []
    for raw in data["fields"]:
        f = _field(raw, {s for s, _ in sections}, {x.id for x in fields}, source, tz)
        if f.id in {x.id for x in fields}:
            raise PortalError(f"{source}: field id {f.id!r} appears twice")
        fields.append(f)
    anon = data.get("anonymous") or {}
    only_when = _pairs(anon.get("only_when") or {}, f"{source}: anonymous.only_when")
    return PortalProfile(
        name=str(data["name"]),
        title=str(data.get("title", data["name"])),
        url=str(data.get("url") or ""),
        version=int(data.get("version", 1)),
        notes=" ".join(str(data.get("notes", "")).split()),
        sections=sections,
        fields=tuple(fields),
        file_rules=FileRules.from_mapping(data.get("file_rules") or {}, source),
        anonymous_omit=tuple(anon.get("omit_sections") or ()),
        anonymous_only_when=only_when,
        anonymous_note=" ".join(str(anon.get("note", "")).split()),
        tz=tz,
        source="" if path is None else str(path),
    )


# Profiles loaded by path in this process, by name: the CLI loads ``--portal my.yaml`` and then
# passes the profile's name on (to the store, the export), so that name must find the same profile.
_BY_PATH: dict[str, PortalProfile] = {}


def load_portal(name: str | os.PathLike | PortalProfile) -> PortalProfile:
    """A shipped profile by name (``ncrp``, ``generic``) or a profile YAML file by path.

    A profile already loaded is returned as it is. The name of a profile loaded earlier (in this
    process) by path finds that profile, unless a shipped profile has the same name.
    """
    if isinstance(name, PortalProfile):
        return name
    text_name = str(name)
    if text_name.endswith((".yaml", ".yml")):
        path = Path(text_name)
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise PortalError(f"portal profile {path} could not be read: {exc.strerror or exc}") from exc
    else:
        if text_name not in portal_names():
            if text_name in _BY_PATH:
                return _BY_PATH[text_name]
            raise PortalError(
                f"unknown portal {text_name!r}; known: {', '.join(portal_names())} "
                "(or give the path of a profile .yaml file)"
            )
        text = (resources.files(PROFILES_PACKAGE) / PROFILES_DIR / f"{text_name}.yaml").read_text(encoding="utf-8")
        source = f"portal profile {text_name}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PortalError(f"{source} is not valid YAML: {exc}") from exc
    if not text_name.endswith((".yaml", ".yml")):
        return profile_from_dict(data, source)
    profile = profile_from_dict(data, source, text_name)
    if profile.name in portal_names():
        log.warning(
            "%s is named %r like a shipped profile: where only the name is passed on, the shipped one is used; "
            "give the copy a name of its own",
            source,
            profile.name,
        )
    else:
        _BY_PATH[profile.name] = profile
    return profile
