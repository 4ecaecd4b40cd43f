"""Report and export commands: ``dfd report``, ``dfd export`` and ``dfd portal-form``."""

from __future__ import annotations

import sys
from typing import Any

from .common import add_command, add_cases_dir_option, add_shown_card_options, person

__all__ = ["register", "ask_form"]


def _case_options(p) -> None:
    add_cases_dir_option(p)
    p.add_argument(
        "--examiner",
        type=person,
        default=None,
        help="who does this (recorded in the custody log; default: the case examiner)",
    )


def _writer_options(p) -> None:
    """The options of the commands that write a report (report, export), then the case options."""
    add_shown_card_options(p, "the report shows")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _case_options(p)


def register(sub) -> None:
    portals = "ncrp (India's cybercrime.gov.in) or generic"  # the real list comes with any unknown-name error
    p = add_command(sub, "report", run_report, "write the case report (read-only PDF, or HTML)")
    p.add_argument("case", metavar="CASE")
    p.add_argument("--format", choices=("pdf", "html"), default="pdf")
    p.add_argument("--out", default=None, metavar="FILE", help="output file or folder (default: CASE/reports/)")
    _writer_options(p)

    p = add_command(sub, "export", run_export, "write a portal-ready bundle (zip) for the authorities")
    p.add_argument("case", metavar="CASE")
    p.add_argument("--portal", required=True, help=f"portal profile: {portals} (or a profile .yaml)")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE.zip",
        help="the bundle to write, or an existing folder to write CASE_PORTAL.zip (CASE_PORTAL_anonymous.zip) into",
    )
    p.add_argument("--anonymous", action="store_true", help="leave the complainant out (where the portal allows it)")
    p.add_argument(
        "--fields",
        default=None,
        metavar="FIELDS.yaml",
        help="form answers (and optional file_rules) to save into the case before exporting",
    )
    p.add_argument(
        "--allow-unverified",
        action="store_true",
        help="export even if the case fails verification (the report says so)",
    )
    _writer_options(p)

    p = add_command(sub, "portal-form", run_portal_form, "fill in a portal's complaint form for a case")
    p.add_argument("case", metavar="CASE", nargs="?", help="the case (not needed with --template)")
    p.add_argument("--portal", required=True, help=f"portal profile: {portals}")
    p.add_argument("--from", dest="from_file", default=None, metavar="FIELDS.yaml", help="read the answers from YAML")
    p.add_argument("--template", action="store_true", help="print a commented YAML template of every field")
    p.add_argument("--anonymous", action="store_true", help="skip the complainant section when asking")
    _case_options(p)


def _open(args):
    from ..case import open_case

    return open_case(args.case, cases_dir=args.cases_dir, create=False)


def run_report(args) -> int:
    """Verify the case, then write a report with the findings, faces and Grad-CAM, forensic maps, the model card,
    versions and the custody log. The report's SHA-256 is recorded in the custody log.
    """
    from ..media import sha256_file
    from ..progress import TqdmProgress
    from ..report import generate_report

    from ..case import open_case

    verified: list = []  # the verification the report documents

    # a case on read-only media is reported read-only (to another folder, nothing logged)
    with open_case(args.case, cases_dir=args.cases_dir, create=False, readonly=None) as case:
        path = generate_report(
            case,
            args.format,
            args.out,
            TqdmProgress(disable=args.quiet, unit="item"),
            weights_dir=args.weights_dir,
            actor=args.examiner,
            on_verification=verified.append,
            model=args.model,
        )
        readonly = case.readonly
    if verified and not verified[-1].ok:  # documented in the report, but say it here too
        lines = verified[-1].lines()
        shown = lines[:21] + ([f"  ... and {len(lines) - 21} more"] if len(lines) > 21 else [])
        print(
            f"dfd report: WARNING: case {verified[-1].case_id} FAILED verification; the report documents it "
            "(run dfd verify for details):\n" + "\n".join(shown),
            file=sys.stderr,
        )
    print(f"wrote {path}")
    if readonly:
        print(
            f"SHA-256 {sha256_file(path)} (NOT recorded: the case is on read-only media, its custody log cannot "
            "be written; keep this hash with the report)"
        )
    else:
        print(f"SHA-256 {sha256_file(path)} (recorded in the custody log)")
    return 0


def run_export(args) -> int:
    """Validate the portal form answers (see dfd portal-form), then write one zip with report.pdf, evidence/,
    manifests, portal fields, the custody log, a draft BSA s.63 certificate (Part A) and SHA256SUMS. Sensitive items
    are withheld.
    """
    from ..progress import TqdmProgress
    from ..export import export_bundle
    from ..portal import load_portal, read_fields_file

    values = rules = None
    if args.fields:  # --portal may be a profile file: the fields file names the profile's name
        values, rules = read_fields_file(args.fields, load_portal(args.portal).name)
    with _open(args) as case:
        result = export_bundle(
            case,
            args.portal,
            args.out,
            anonymous=args.anonymous,
            progress=TqdmProgress(disable=args.quiet, unit="item"),
            values=values,
            file_rules=rules or None,
            actor=args.examiner,
            weights_dir=args.weights_dir,
            allow_unverified=args.allow_unverified,
            model=args.model,
        )
    ev = result.manifest["evidence"]
    count = {k: sum(e["included_as"] == k for e in ev) for k in ("original", "converted", "withheld", "not_included")}
    print(f"wrote {result.path} ({len(result.manifest['files']) + 3} files)")
    print(f"SHA-256 {result.sha256} (recorded in the custody log)")
    print(
        f"evidence: {count['original']} as acquired, {count['converted']} converted, {count['withheld']} withheld "
        f"(sensitive), {count['not_included']} not included"
    )
    for e in ev:
        if e["included_as"] in ("converted", "not_included"):
            print(f"  item {e['item_id']} {e['file_name']}: {e['reason']}")
    for note in result.manifest.get("notes", []):
        print(f"note: {note}")
    return 0


def _ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        from ..portal import PortalError

        raise PortalError("input ended before the form was complete; nothing was saved") from None


def _ask_field(f, choices, current: Any, clean: dict[str, Any]) -> Any:
    if choices:
        for i, c in enumerate(choices, 1):
            print(f"    {i:2d}. {c}")
    shown = "; ".join(current) if isinstance(current, list) else (current or "")
    need = " *" if f.is_required(clean) else ""
    for _ in range(3):
        if f.multiple:
            print(
                f"{f.label}{need}"
                + (f" [now: {shown}]" if shown else "")
                + " - one per line, empty line to finish ('-' clears, empty first line keeps)"
            )
            lines = []
            while line := _ask("    > ").strip():
                lines.append(line)
            raw: Any = current if not lines else ([] if lines == ["-"] else lines)
        else:
            text = _ask(f"{f.label}{need}" + (f" [{shown}]" if shown else "") + ": ").strip()
            raw = current if text == "" else "" if text == "-" else text
            if choices and isinstance(raw, str) and raw.isdigit() and 1 <= int(raw) <= len(choices):
                raw = choices[int(raw) - 1]
        value, problems = f.check(raw, clean)
        if not problems or problems == ["required"]:
            return value if not problems else raw
        for problem in problems:
            print(f"    ! {problem}")
    return raw


def ask_form(profile, current: dict[str, Any], anonymous: bool = False) -> dict[str, Any]:
    """Ask for every field in form order at the terminal (input()); Enter keeps the current answer."""
    answers: dict[str, Any] = {}
    clean: dict[str, Any] = {}
    section = None
    print(f"{profile.title}\n(Enter keeps the value in brackets, '-' clears it, * = required)")
    for f in profile.fields_for(anonymous):
        choices = f.choices(clean) if not (f.parent and not clean.get(f.parent)) else None
        if (f.parent and choices is None) or (f.required_if and not f.is_required(clean)):
            continue  # does not apply to the earlier answers (e.g. "platform, if Other")
        if f.section != section:
            section = f.section
            print(f"\n== {profile.section_label(section)} ==")
        answers[f.id] = _ask_field(f, choices, current.get(f.id), clean)
        clean[f.id], _ = f.check(answers[f.id], clean)
    if anonymous:  # keep stored complainant answers; the export leaves them out anyway
        answers.update({k: v for k, v in current.items() if k not in answers})
    return answers


def run_portal_form(args) -> int:
    """Ask for each field of the portal's form (or read them --from a YAML file) and store the answers in the case.
    --template prints every field as YAML.
    """
    from ..portal import load_portal, load_stored_fields, read_fields_file, render_template, save_portal_fields

    profile = load_portal(args.portal)
    if args.template:
        sys.stdout.write(render_template(profile))
        return 0
    if not args.case:
        print("dfd portal-form: error: give a CASE (or --template)", file=sys.stderr)
        return 2
    with _open(args) as case:
        rules = None
        if args.from_file:
            values, rules = read_fields_file(args.from_file, profile.name)
        else:
            before = load_stored_fields(case, profile.name)
            values = ask_form(profile, before.values if before else {}, args.anonymous)
            rules = before.file_rules if before else None
        stored = save_portal_fields(case, profile.name, values, rules or None, actor=args.examiner)
    problems = profile.validate(stored.values, args.anonymous)
    print(
        f"saved {len(stored.values)} answer(s) for {profile.name} in case {case.id} (custody entry #{stored.custody_seq})"
    )
    if problems:
        print(f"{len(problems)} field(s) still missing or invalid (export will refuse until they are fixed):")
        for problem in problems:
            print(f"  - {problem}")
    else:
        print("the form is complete: run dfd export")
    return 0
