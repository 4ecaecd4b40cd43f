"""The text files of an export bundle: portal fields (JSON and text), custody log, manifests, SHA256SUMS."""
from __future__ import annotations

import csv
import io
import json
import textwrap
from typing import Any, Sequence

from ..case import CustodyEntry
from .evidence_prep import EvidenceEntry
from .portal import PortalProfile
from .text import flowing, one_line

__all__ = ["dumps", "portal_fields_json", "portal_fields_text", "custody_log_json", "manifest_csv", "sha256sums"]


def dumps(obj: Any) -> bytes:
    """Stable JSON bytes: indented, keys in insertion order, UTF-8, trailing newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _withheld(entries: Sequence[EvidenceEntry]) -> list[dict[str, Any]]:
    return [{"item_id": e.item.item_id, "file_name": e.item.name, "sha256": e.item.sha256, "md5": e.item.md5,
             "sha1": e.item.sha1, "size": e.item.size, "description": e.item.description, "urls": list(e.urls),
             "reason": e.reason} for e in entries if e.action in ("withheld", "not_included")]


def portal_fields_json(profile: PortalProfile, values: dict[str, Any], anonymous: bool,
                       entries: Sequence[EvidenceEntry]) -> bytes:
    fields = [{"id": f.id, "label": f.label, "section": f.section, "section_label": profile.section_label(f.section),
               "value": values.get(f.id, "")} for f in profile.fields_for(anonymous)]
    return dumps({
        "portal": profile.name, "title": profile.title, "url": profile.url, "profile_version": profile.version,
        "anonymous": anonymous, "fields": fields,
        "evidence_files": [e.arcname for e in entries if e.arcname],
        "not_uploaded": _withheld(entries),
    })


def portal_fields_text(profile: PortalProfile, values: dict[str, Any], anonymous: bool,
                       entries: Sequence[EvidenceEntry], file_rules_text: str, report_size: int,
                       notes: Sequence[str] = ()) -> bytes:
    out = [one_line(profile.title), one_line(profile.url) if profile.url else "", ""]
    out += textwrap.wrap("Copy each answer into the portal's form, in this order. "
                         + ("ANONYMOUS complaint: the complainant section is left out. " if anonymous else "")
                         + "Upload the files listed at the end from the evidence/ folder.", 92)
    section = None
    for f in profile.fields_for(anonymous):
        if f.section != section:
            section = f.section
            title = one_line(profile.section_label(section))
            out += ["", title.upper(), "-" * len(title)]
        value = values.get(f.id, "")
        label = one_line(f.label)
        # every answer is one line (a list: one line per entry; free text: wrapped, its breaks as spaces)
        shown = "\n".join(f"  - {one_line(v)}" for v in value) if isinstance(value, list) else flowing(value)
        if not shown:
            out.append(f"{label}: (leave empty)")
        elif len(shown) > 60 or isinstance(value, list):
            out += [f"{label}:"] + ([shown] if isinstance(value, list) else
                                    [textwrap.indent(p, "  ") for p in textwrap.wrap(shown, 88)])
        else:
            out.append(f"{label}: {shown}")
    out += ["", "FILES TO UPLOAD", "---------------"]
    out += textwrap.wrap(f"Upload rules assumed: {flowing(file_rules_text)}", 92)
    out += [f"  report.pdf  ({report_size:,} bytes; the examination report)"]
    out += [f"  {one_line(e.arcname)}  ({e.size:,} bytes, SHA-256 {e.sha256})" for e in entries if e.arcname]
    for note in notes:
        out += textwrap.wrap(f"NOTE: {flowing(note)}", 92)
    held = [e for e in entries if e.action in ("withheld", "not_included")]
    if held:
        out += ["", "NOT UPLOADED (give the description, hash and URL instead)", "-" * 57]
        for e in held:
            out.append(f"  Item {e.item.item_id}: {one_line(e.item.name)}")
            # continuation lines are indented deeper than the SHA-256/URL lines, so free text such as
            # analyst notes can never pass for one of them
            out += textwrap.wrap(f"Reason: {flowing(e.reason)}", 88, initial_indent="    ",
                                 subsequent_indent="      ")
            out += textwrap.wrap(f"Description: {flowing(e.item.description)}", 88, initial_indent="    ",
                                 subsequent_indent="      ")
            out.append(f"    SHA-256: {e.item.sha256}")
            out += [f"    URL: {one_line(u)}" for u in e.urls]
    return ("\n".join(out).rstrip() + "\n").encode("utf-8")


def custody_log_json(case_id: str, entries: Sequence[CustodyEntry]) -> bytes:
    head = entries[-1] if entries else None
    return dumps({
        "case_id": case_id,
        "note": "Entries up to the case state this bundle describes; entry_hash = SHA-256 of the canonical JSON of "
                "{seq, time_utc, action, actor, item_id, item_sha256, details, prev_hash} (sorted keys, no spaces).",
        "head_seq": head.seq if head else 0, "head_hash": head.entry_hash if head else "",
        "entries": [e.to_dict() for e in entries],
    })


def manifest_csv(files: Sequence[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    cols = ["path", "role", "sha256", "size", "item_id", "original_sha256", "note"]
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for f in files:
        w.writerow({c: f.get(c, "") if f.get(c) is not None else "" for c in cols})
    return buf.getvalue().encode("utf-8")


def sha256sums(files: Sequence[tuple[str, str]]) -> bytes:
    """``sha256sum -c`` format: '<hex>  <name>' per line (binary-safe names only; checked earlier)."""
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(files, key=lambda x: x[0])).encode("utf-8")
