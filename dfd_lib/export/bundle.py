"""Portal-ready export bundle: one zip with the report, evidence, form answers, custody log, manifests and hashes.

The bundle describes the case as of its last content-changing custody entry (see
:mod:`dfd_lib.report.reportdata`), is written with fixed zip times in a fixed order, and so
exports of an unchanged case are byte-identical. The bundle's SHA-256 goes into the custody
log (action ``export``) after it is written. Its text files (portal fields as JSON and text,
custody log, manifest.csv, SHA256SUMS) are written by the functions below ``ExportResult``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import __version__
from ..case import Case, CustodyEntry, default_actor
from ..portal import PortalProfile, format_mb, load_portal, load_stored_fields, save_portal_fields
from ..portal.errors import PortalFieldsError
from ..progress import Progress, ensure_progress
from ..report.formats import check_output_path
from ..report.formatting import flowing, fmt_both, one_line
from ..report.pdf import render_pdf
from ..report.card_choice import choose_report_card
from ..report.reportdata import collect_report_data
from .bsa63 import render_part_a
from .errors import ExportCancelled, ExportError
from .evidence_prep import EvidenceEntry, plan_evidence
from .zipout import ZipMember, safe_component, write_zip

__all__ = [
    "ExportResult",
    "export_bundle",
    "dumps",
    "portal_fields_json",
    "portal_fields_text",
    "custody_log_json",
    "manifest_csv",
    "sha256sums",
    "bundle_name",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    manifest: dict[str, Any]


def dumps(obj: Any) -> bytes:
    """Stable JSON bytes: indented, keys in insertion order, UTF-8, trailing newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _withheld(entries: Sequence[EvidenceEntry]) -> list[dict[str, Any]]:
    return [
        {
            "item_id": e.item.item_id,
            "file_name": e.item.name,
            "sha256": e.item.sha256,
            "md5": e.item.md5,
            "sha1": e.item.sha1,
            "size": e.item.size,
            "description": e.item.description,
            "urls": list(e.urls),
            "reason": e.reason,
        }
        for e in entries
        if e.action in ("withheld", "not_included")
    ]


def portal_fields_json(
    profile: PortalProfile, values: dict[str, Any], anonymous: bool, entries: Sequence[EvidenceEntry]
) -> bytes:
    fields = [
        {
            "id": f.id,
            "label": f.label,
            "section": f.section,
            "section_label": profile.section_label(f.section),
            "value": values.get(f.id, ""),
        }
        for f in profile.fields_for(anonymous)
    ]
    return dumps(
        {
            "portal": profile.name,
            "title": profile.title,
            "url": profile.url,
            "profile_version": profile.version,
            "anonymous": anonymous,
            "fields": fields,
            "evidence_files": [e.arcname for e in entries if e.arcname],
            "not_uploaded": _withheld(entries),
        }
    )


def portal_fields_text(
    profile: PortalProfile,
    values: dict[str, Any],
    anonymous: bool,
    entries: Sequence[EvidenceEntry],
    file_rules_text: str,
    report_size: int,
    notes: Sequence[str] = (),
) -> bytes:
    out = [one_line(profile.title), one_line(profile.url) if profile.url else "", ""]
    out += textwrap.wrap(
        "Copy each answer into the portal's form, in this order. "
        + ("ANONYMOUS complaint: the complainant section is left out. " if anonymous else "")
        + "Upload the files listed at the end from the evidence/ folder.",
        92,
    )
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
            out += [f"{label}:"] + (
                [shown] if isinstance(value, list) else [textwrap.indent(p, "  ") for p in textwrap.wrap(shown, 88)]
            )
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
            out += textwrap.wrap(f"Reason: {flowing(e.reason)}", 88, initial_indent="    ", subsequent_indent="      ")
            out += textwrap.wrap(
                f"Description: {flowing(e.item.description)}", 88, initial_indent="    ", subsequent_indent="      "
            )
            out.append(f"    SHA-256: {e.item.sha256}")
            out += [f"    URL: {one_line(u)}" for u in e.urls]
    return ("\n".join(out).rstrip() + "\n").encode("utf-8")


def custody_log_json(case_id: str, entries: Sequence[CustodyEntry]) -> bytes:
    head = entries[-1] if entries else None
    return dumps(
        {
            "case_id": case_id,
            "note": "Entries up to the case state this bundle describes; entry_hash = SHA-256 of the canonical JSON of "
            "{seq, time_utc, action, actor, item_id, item_sha256, details, prev_hash} (sorted keys, no spaces).",
            "head_seq": head.seq if head else 0,
            "head_hash": head.entry_hash if head else "",
            "entries": [e.to_dict() for e in entries],
        }
    )


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


def _file_row(
    path: str, role: str, data: bytes | None = None, sha: str = "", size: int = 0, **extra: Any
) -> dict[str, Any]:
    if data is not None:
        sha, size = hashlib.sha256(data).hexdigest(), len(data)
    return {"path": path, "role": role, "sha256": sha, "size": size, **extra}


def _evidence_members(entries: list[EvidenceEntry]) -> tuple[list[ZipMember], list[dict[str, Any]]]:
    members, rows = [], []
    for e in entries:
        if e.arcname is None:
            continue
        if e.action == "converted":
            members.append(ZipMember(e.arcname, data=e.data))
            rows.append(
                _file_row(
                    e.arcname,
                    "evidence_converted",
                    sha=e.sha256,
                    size=e.size,
                    item_id=e.item.item_id,
                    original_sha256=e.item.sha256,
                    note=e.reason,
                )
            )
        else:
            members.append(ZipMember(e.arcname, path=e.item.evidence_path, sha256=e.item.sha256))
            rows.append(_file_row(e.arcname, "evidence_original", sha=e.sha256, size=e.size, item_id=e.item.item_id))
    return members, rows


def _evidence_record(e: EvidenceEntry) -> dict[str, Any]:
    it = e.item
    rec: dict[str, Any] = {
        "item_id": it.item_id,
        "file_name": it.name,
        "sha256": it.sha256,
        "md5": it.md5,
        "sha1": it.sha1,
        "size": it.size,
        "mime": it.mime,
        "included_as": e.action,
        "path": e.arcname,
        "reason": e.reason,
    }
    if e.action == "converted":
        rec["converted"] = {"sha256": e.sha256, "md5": e.md5, "sha1": e.sha1, "size": e.size}
    if e.action in ("withheld", "not_included"):
        rec.update(description=it.description, urls=list(e.urls))
    return rec


def bundle_name(case_id: str, portal: str, anonymous: bool = False) -> str:
    """The bundle's file name when the output given is a folder: ``<case>_<portal>[_anonymous].zip``."""
    return (
        f"{safe_component(case_id, 'case')}_{safe_component(portal, 'portal')}{'_anonymous' if anonymous else ''}.zip"
    )


def export_bundle(
    case: Case,
    portal: str,
    out: str | os.PathLike,
    anonymous: bool = False,
    progress: Progress | None = None,
    *,
    values: Mapping[str, Any] | None = None,
    file_rules: Mapping[str, Any] | None = None,
    actor: str | None = None,
    weights_dir: str | os.PathLike | None = None,
    allow_unverified: bool = False,
    model: str | None = None,
) -> ExportResult:
    """Validate the stored form answers and write the bundle to ``out`` (a file, or an existing folder to write
    ``<case>_<portal>[_anonymous].zip`` into; never the case database or a file in the case's evidence/, artifacts/
    or tmp/ folder: :class:`ExportError`).

    ``values`` / ``file_rules`` (e.g. from a fields YAML) are saved to the case first. Raises
    :class:`PortalFieldsError` listing every missing or invalid field, and :class:`ExportError`
    if the case does not verify (unless ``allow_unverified``). ``model``: the card whose findings the bundle's
    report and fields show (as for :func:`dfd_lib.report.generate_report`).
    """
    progress = ensure_progress(progress)
    profile = load_portal(portal)
    out = Path(out)
    if out.is_dir():
        out = out / bundle_name(case.id, profile.name, anonymous)
    check_output_path(case, out, ExportError, "the export bundle")
    choose_report_card(case, model, weights_dir)  # an unknown card is refused before anything is saved
    who = actor or case.info.examiner or default_actor()
    stored = load_stored_fields(case, profile.name)
    if values is not None or file_rules is not None:
        stored = save_portal_fields(
            case,
            profile.name,
            dict(values) if values is not None else (stored.values if stored else {}),
            dict(file_rules) if file_rules is not None else (stored.file_rules if stored else None),
            actor=who,
            only_if_changed=True,
        )
    answers = {} if stored is None else stored.values
    clean, problems = profile.check(answers, anonymous)
    if problems:
        raise PortalFieldsError(profile.name, problems)
    rules = profile.file_rules.merged(stored.file_rules if stored else None, "stored file_rules")
    progress.start(len(case.items()) + 3, f"export ({profile.name})")
    try:
        verification = case.verify(log_result=False)
        if not verification.ok and not allow_unverified:
            raise ExportError(
                f"case {case.id} failed verification; fix or explain it before exporting:\n"
                + "\n".join(verification.lines()[1:21])
            )
        data = collect_report_data(case, verification, snapshot=True, weights_dir=weights_dir, model=model)

        def step() -> None:
            if progress.cancelled():
                raise ExportCancelled(f"export of case {case.id} cancelled; nothing was written")
            progress.advance(1)

        step()
        report = render_pdf(data, progress_step=step)
        entries = plan_evidence(data.items, rules, verification)
        as_of = fmt_both(data.as_of_utc)
        notes = (
            []
            if rules.allows_size(len(report))
            else [
                f"report.pdf is {format_mb(len(report), rules.max_file_mb)}, over the assumed {rules.max_file_mb:g} MB limit; "
                "upload it in parts or hand it over with the bundle."
            ]
        )
        for note in notes:
            log.warning("case %s: %s", case.id, note)
        texts = {
            "report.pdf": (report, "report"),
            "portal_fields.json": (portal_fields_json(profile, clean, anonymous, entries), "portal_fields"),
            "portal_fields.txt": (
                portal_fields_text(profile, clean, anonymous, entries, rules.describe(), len(report), notes),
                "portal_fields",
            ),
            "custody_log.json": (custody_log_json(case.id, data.custody.entries), "custody_log"),
            "bsa63_part_a.txt": (render_part_a(data.info, entries, as_of).encode("utf-8"), "certificate_draft"),
        }
        members, rows = _evidence_members(entries)
        members += [ZipMember(name, data=body) for name, (body, _) in texts.items()]
        rows += [_file_row(name, role, body) for name, (body, role) in texts.items()]
        rows.sort(key=lambda r: r["path"])
        manifest = {
            "format": "dfd-export-bundle",
            "format_version": 1,
            "tool": f"dfd_lib {__version__}",
            "case_id": case.id,
            "portal": profile.name,
            "portal_title": profile.title,
            "anonymous": anonymous,
            "case_state": {
                "custody_seq": data.as_of_seq,
                "entry_hash": data.custody.head_hash,
                "time_utc": data.as_of_utc,
            },
            "verification": {
                "ok": verification.ok,
                "evidence_checked": verification.evidence_checked,
                "artifacts_checked": verification.artifacts_checked,
            },
            "file_rules": rules.to_dict(),
            "notes": notes,
            "files": rows,
            "evidence": [_evidence_record(e) for e in entries],
        }
        manifest_json = dumps(manifest)
        csv_rows = rows + [_file_row("manifest.json", "manifest", manifest_json)]
        manifest_text = manifest_csv(csv_rows)
        members += [ZipMember("manifest.json", data=manifest_json), ZipMember("manifest.csv", data=manifest_text)]
        sums = [(r["path"], r["sha256"]) for r in csv_rows] + [
            ("manifest.csv", hashlib.sha256(manifest_text).hexdigest())
        ]
        members.append(ZipMember("SHA256SUMS", data=sha256sums(sums)))
        step()
        sha = write_zip(members, out)
        size = out.stat().st_size
        case.log_action(
            "export",
            who,
            details={
                "portal": profile.name,
                "anonymous": anonymous,
                "file": out.name,
                "path": str(out.resolve()),
                "sha256": sha,
                "size": size,
                "files": len(members),
                "as_of_seq": data.as_of_seq,
                "report_sha256": hashlib.sha256(report).hexdigest(),
                "verification_ok": verification.ok,
                "withheld_items": [e.item.item_id for e in entries if e.action == "withheld"],
                "not_included_items": [e.item.item_id for e in entries if e.action == "not_included"],
                "converted": [[e.item.item_id, e.item.sha256, e.sha256] for e in entries if e.action == "converted"],
            },
        )
        progress.advance(1)
        log.info("case %s: exported %s for %s (SHA-256 %s)", case.id, out, profile.name, sha)
        return ExportResult(out, sha, manifest)
    finally:
        progress.close()
