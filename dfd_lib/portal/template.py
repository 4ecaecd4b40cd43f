"""A commented YAML template of every field of a portal form (``dfd portal-form --template``).

The template is valid YAML: filled in, it is read back by ``dfd portal-form CASE --from FILE``
or ``dfd export --fields FILE``.
"""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

from .fieldcheck import FORMATS

if TYPE_CHECKING:
    from .profile import PortalField, PortalProfile

__all__ = ["render_template"]


def _comment(text: str, indent: str = "  ", width: int = 96) -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, width - len(indent) - 2)] or [f"{indent}#"]


def _field_lines(f: "PortalField") -> list[str]:
    need = "required" if f.required else "optional"
    if f.required_if:
        need = "required if " + ", ".join(
            f"{k} is " + ("given" if "*" in v else " or ".join(v)) for k, v in f.required_if
        )
    if f.parent and f.required:
        need = "required where a list below applies"
    kind = "a list, one entry per item" if f.multiple else ("choose one" if f.allowed or f.parent else "text")
    if f.format:
        kind += f", {FORMATS[f.format]}"
    if f.min_length or f.max_length:
        kind += f", {f.min_length or 0}-{f.max_length or 'any'} characters"
    lines = _comment(f"{f.label} ({need}; {kind})")
    if f.help:
        lines += _comment(f.help)
    if f.format == "time":  # unquoted, YAML reads 14:30 as the number 870
        lines += _comment("Quote the time in YAML ('14:30').")
    if f.allowed:
        lines += _comment("One of:") + [f"  #   - {a}" for a in f.allowed]
    for parent_value, allowed in f.allowed_by:
        lines += _comment(f"When {f.parent} is '{parent_value}', one of:") + [f"  #   - {a}" for a in allowed]
    if f.parent:
        lines += _comment(f"For any other {f.parent}: leave empty.")
    lines.append(f"  {f.id}: []" if f.multiple else f'  {f.id}: ""')
    return lines


def render_template(profile: "PortalProfile") -> str:
    out = [f"# Portal fields for: {profile.title}" + (f" ({profile.url})" if profile.url else "")]
    out += _comment(profile.notes, indent="") if profile.notes else []
    out += [
        "#",
        "# Fill in the values (quote text that contains ': ' or starts with a special character), then run",
        f"#   dfd portal-form CASE --portal {profile.name} --from THIS_FILE.yaml",
        f"#   dfd export CASE --portal {profile.name} --out bundle.zip",
    ]
    if profile.anonymous_omit:
        out += _comment(
            f"With --anonymous the section(s) {', '.join(profile.section_label(s) for s in profile.anonymous_omit)}"
            f" are left out. {profile.anonymous_note}",
            indent="",
        )
    out += [f"portal: {profile.name}", "fields:"]
    section = None
    for f in profile.fields:
        if f.section != section:
            section = f.section
            out += [
                "",
                f"  # == {profile.section_label(section)} " + "=" * max(3, 80 - len(profile.section_label(section))),
            ]
        out += _field_lines(f)
    rules = profile.file_rules
    out += ["", "# Upload rules assumed for this portal; uncomment and change them if the portal differs."]
    out += _comment(rules.assumption, indent="") if rules.assumption else []
    out += [
        "# file_rules:",
        f"#   allowed_formats: {json.dumps(list(rules.allowed_formats))}",
        f"#   max_file_mb: {json.dumps(rules.max_file_mb)}",
        f"#   convert_images_to: {json.dumps(rules.convert_images_to)}",
        f"#   jpeg_quality: {rules.jpeg_quality}",
    ]
    return "\n".join(out) + "\n"
