"""Case commands: ``dfd triage``, ``dfd cases``, ``dfd show``, ``dfd verify``, ``dfd annotate``."""

from __future__ import annotations

import json
import sys
from typing import Any

from ..fileio import json_ready
from .common import (
    person,
    recorded_text,
    terminal_safe,
    add_command,
    add_cases_dir_option,
    add_model_options,
    add_shown_card_options,
    add_sampling_options,
    default_of,
    fmt_score,
    print_table,
    scan_settings_from_args,
)

__all__ = ["register", "VERIFY_FAILED"]

VERIFY_FAILED = 3  # exit status of `dfd verify` when the case is not intact


def register(sub) -> None:
    from ..case import VERDICTS, Source

    p = add_command(sub, "triage", run_triage, "take evidence into a case and scan it (resumable)")
    p.add_argument("paths", nargs="+", metavar="EVIDENCE", help="files or folders (searched recursively)")
    p.add_argument("--case", required=True, metavar="NAME", help="case name (created if new)")
    p.add_argument(
        "--examiner", type=person, default=None, help="who performs the triage (recorded in the custody log)"
    )
    p.add_argument("--title", type=recorded_text, default=None, help="case title when creating it")
    p.add_argument("--agency", type=recorded_text, default=None, help="agency or unit when creating the case")
    p.add_argument("--acquired-by", type=person, default=None, help="who acquired the evidence (default: the examiner)")
    p.add_argument(
        "--source-device",
        type=recorded_text,
        default=default_of(Source, "device"),
        help="device the evidence came from",
    )
    p.add_argument(
        "--source-url", type=recorded_text, default=default_of(Source, "url"), help="URL the evidence came from"
    )
    p.add_argument(
        "--source-platform", type=recorded_text, default=default_of(Source, "platform"), help="platform, e.g. WhatsApp"
    )
    p.add_argument("--no-forensics", action="store_true", help="skip the forensic analyses of images")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    dist = p.add_argument_group(
        "scale-out (Dask)",
        "compute the analyses on Dask workers; this process still "
        "keeps the case and writes every finding (see docs/scaling.md)",
    )
    where = dist.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="start a local Dask cluster of N worker processes, one thread each",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="submit to a running Dask scheduler (workers need the same package and model)",
    )
    dist.add_argument(
        "--upload",
        action="store_true",
        help="send each item's bytes to the workers instead of letting them read the case folder on a shared path",
    )
    dist.add_argument(
        "--worker-case-dir",
        default=None,
        metavar="DIR",
        help="where the workers see this case's folder on the shared file system (default: the same path as here)",
    )
    dist.add_argument(
        "--allowed-failures",
        type=int,
        default=None,
        metavar="K",
        help="with --workers: worker deaths one item may cause before it is recorded as an error "
        "(default 2); a remote scheduler uses its own distributed.scheduler.allowed-failures",
    )
    add_cases_dir_option(p)
    add_model_options(p)
    add_sampling_options(p)

    p = add_command(sub, "cases", run_cases, "list the cases in the case store")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_cases_dir_option(p)

    p = add_command(sub, "show", run_show, "list a case's evidence items with scores and verdicts")
    p.add_argument("case", metavar="CASE")
    p.add_argument("--json", action="store_true", help="print the items as one JSON array, an object per evidence item")
    add_shown_card_options(p, "are listed, as in the report")
    add_cases_dir_option(p)

    p = add_command(
        sub,
        "verify",
        run_verify,
        "re-hash a case's files and check its custody chain",
        description=f"Exit status 0 when the case is intact, {VERIFY_FAILED} when anything was "
        "altered, added, removed or the custody chain is broken.",
    )
    p.add_argument("case", metavar="CASE")
    p.add_argument("--examiner", type=person, default=None, help="who verifies (recorded in the custody log)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="FILE",
        help="a report (PDF/HTML), export bundle (.zip) or custody_log.json of this case: the custody "
        "log must still hold the chain head it recorded (repeatable)",
    )
    add_cases_dir_option(p)

    p = add_command(sub, "annotate", run_annotate, "record an analyst's review of an evidence item")
    p.add_argument("case", metavar="CASE")
    p.add_argument("item", metavar="ITEM", help="item id or SHA-256 prefix (6+ hex digits)")
    p.add_argument("--verdict", choices=VERDICTS, default=None)
    p.add_argument("--notes", type=recorded_text, default=None)
    p.add_argument("--tags", type=recorded_text, default=None, help="comma-separated tags (replace the current tags)")
    flag = p.add_mutually_exclusive_group()
    flag.add_argument(
        "--sensitive",
        dest="sensitive",
        action="store_true",
        default=None,
        help="sexual or child-abuse material: withhold the media from exports",
    )
    flag.add_argument("--not-sensitive", dest="sensitive", action="store_false", help="clear the sensitive flag")
    p.add_argument("--reviewer", type=person, default=None, help="who reviews (default: the case examiner)")
    p.add_argument(
        "--based-on",
        dest="based_on",
        type=int,
        default=None,
        metavar="RECORD",
        help="refuse to save unless the item's current review is record RECORD (0: never reviewed), "
        "so a review written by someone else meanwhile is never overwritten",
    )
    add_cases_dir_option(p)


def _plain(v: Any) -> Any:
    """A JSON-ready Python value from a pandas cell (NaN/NA -> None, numpy scalars -> Python)."""
    return json_ready(v, strict=False)


def _print_items(df, with_run: bool = False) -> None:
    headers = ["item", "score", "verdict", "status", "faces", "analyst", "tags", "file", "sha256"]
    if with_run:
        headers.insert(1, "this run")
    rows = []
    for r in df.to_dict("records"):
        score = _plain(r["score"])
        faces = _plain(r["n_faces"])
        row = [
            r["item_id"],
            fmt_score(score),
            _plain(r["verdict"]) or "-",
            r["status"],
            "-" if faces is None else int(faces),
            (_plain(r["analyst_verdict"]) or "-") + (" [SENSITIVE]" if r["sensitive"] else ""),
            ",".join(r["tags"]),
            _plain(r["path"]) or r["name"],
            r["sha256"][:12],
        ]
        if with_run:
            row.insert(1, r["run"])
        rows.append(row)
    print_table(headers, rows)


def _dask_triage(args, client):
    from ..case.distributed import DaskTriage, ScannerSpec

    spec = ScannerSpec(args.model, args.weights_dir, settings=scan_settings_from_args(args))
    return DaskTriage(client, spec, upload=args.upload, worker_case_dir=args.worker_case_dir)


def run_triage(args) -> int:
    """Create or open a case, hash and copy the evidence into it, and score every item that lacks findings for the
    model. Interrupted runs are finished by running the same command again.
    """
    import contextlib

    from ..case import Source, open_case
    from ..progress import TqdmProgress
    from .scan_cmd import scanner_from_args

    distributed = args.workers is not None or args.scheduler is not None
    if not distributed and (args.upload or args.worker_case_dir or args.allowed_failures is not None):
        print(
            "dfd triage: --upload, --worker-case-dir and --allowed-failures need --workers or --scheduler",
            file=sys.stderr,
        )
        return 2
    if args.workers is not None and args.workers < 1:
        print("dfd triage: --workers must be at least 1", file=sys.stderr)
        return 2
    case = open_case(
        args.case, args.cases_dir, create=True, title=args.title, examiner=args.examiner, agency=args.agency
    )
    scanner = None
    try:
        source = Source(device=args.source_device, url=args.source_url, platform=args.source_platform)
        with contextlib.ExitStack() as stack:
            dask = None
            if distributed:
                from ..case.distributed import DEFAULT_ALLOWED_FAILURES, dask_client

                failures = DEFAULT_ALLOWED_FAILURES if args.allowed_failures is None else args.allowed_failures
                client = stack.enter_context(dask_client(args.workers, args.scheduler, failures))
                dask = _dask_triage(args, client)
                if not args.quiet:
                    link = getattr(client, "dashboard_link", None) if args.scheduler else None
                    print(
                        f"Dask: {args.scheduler or f'local cluster of {args.workers} process(es)'}"
                        + (f"; dashboard {link}" if link else ""),
                        file=sys.stderr,
                    )
            else:
                scanner = scanner_from_args(args)
            df = case.triage(
                args.paths,
                scanner=scanner,
                progress=TqdmProgress(disable=args.quiet),
                examiner=args.examiner,
                forensics=not args.no_forensics,
                acquired_by=args.acquired_by,
                source=source,
                dask=dask,
            )
    finally:
        close = getattr(scanner, "close", None)
        if callable(close):
            close()
        case.close()
    a = df.attrs
    print(f"case {case.id} ({case.path}); model {a['model']} (sha256 {a['model_sha256'][:12]}...)")
    _print_items(df, with_run=True)
    intake = a["intake"]
    print(
        f"intake: {intake['new']} new, {intake['new_source']} new source(s) of known items, {intake['known']} "
        f"already in the case, {intake['error']} error(s); analysed {a['analysed']}, failed {a['failed']}"
    )
    for err in a["intake_errors"]:
        print(f"  intake error: {terminal_safe(str(err['path']))}: {terminal_safe(str(err['error']))}")
    for fail in a["failures"]:
        print(f"  item {fail['item_id']} failed (still pending): {terminal_safe(str(fail['message']))}")
    for ch in a["intake_changed"]:
        print(
            f"  changed since an earlier intake: {terminal_safe(str(ch['path']))} is item {ch['item_id']} now, "
            f"item {ch['before']} before (both kept)"
        )
    if a["cancelled"]:
        print("triage was cancelled: run the same command again to finish it")
    return 1 if a["failed"] else 0


def run_cases(args) -> int:
    from ..case import format_ist, list_cases

    df = list_cases(args.cases_dir)
    if args.json:
        print(json.dumps([{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")], indent=2))
        return 0
    if df.empty:
        print("no cases")
        return 0
    print_table(
        ["case", "title", "examiner", "agency", "items", "created (IST)", "updated (IST)", "note"],
        [
            (
                r["id"],
                r["title"],
                r["examiner"],
                r["agency"],
                _plain(r["items"]),
                format_ist(r["created_utc"]),
                format_ist(r["updated_utc"]),
                r["error"],
            )
            for r in df.to_dict("records")
        ],
    )
    return 0


def run_show(args) -> int:
    from ..case import open_case

    from ..report.card_choice import choose_report_card

    with open_case(args.case, args.cases_dir, create=False, readonly=True) as case:
        card = choose_report_card(case, args.model, args.weights_dir)  # the scores the report would show
        df = case.items(*card.key)
        info = case.info
        refused = case.intake_errors()
    if args.json:
        from ..case.queries import ITEM_COLUMNS

        keep = [c for c in ITEM_COLUMNS if c not in ("notes", "stored_path")]  # notes: free text, in `case show` only
        print(json.dumps([{k: _plain(r[k]) for k in keep} for r in df.to_dict("records")], indent=2))
        return 0
    print(
        f"case {info.id}: {info.title} | examiner {info.examiner or '-'} | agency {info.agency or '-'} | "
        f"created {info.created_ist} | updated {info.updated_ist}"
    )
    if card.name is not None:
        print(f"scores of model {terminal_safe(card.name)}" + (f" ({card.chosen_by_words})" if card.others else ""))
    for name, _, n in card.others:
        shown_name = terminal_safe(name)  # read from the case: never a terminal escape
        print(f"  also scored by {shown_name} ({n} item{'s' if n != 1 else ''}): dfd show --model {shown_name}")
    _print_items(df)
    if len(refused):
        print(f"files not taken in ({len(refused)}; nothing about their content was examined):")
        for r in refused.itertuples():
            print(f"  {terminal_safe(str(r.path))}: {terminal_safe(str(r.error))}")
    return 0


def run_verify(args) -> int:
    from ..case import open_case

    with open_case(args.case, args.cases_dir, create=False, readonly=None) as case:
        report = case.verify(actor=args.examiner, anchors=args.anchor)
        readonly = case.readonly
    if args.json:
        print(json.dumps({**report.to_dict(), "logged": not readonly}, indent=2))
    else:
        print("\n".join(report.lines()))
        if readonly:
            print("note: the case is on read-only media: this verification was not logged in its custody log")
    return 0 if report.ok else VERIFY_FAILED


def run_annotate(args) -> int:
    from ..case import open_case

    if args.verdict is None and args.notes is None and args.tags is None and args.sensitive is None:
        print(
            "dfd annotate: give at least one of --verdict, --notes, --tags, --sensitive/--not-sensitive",
            file=sys.stderr,
        )
        return 2
    with open_case(args.case, args.cases_dir, create=False) as case:
        a = case.annotate(
            args.item,
            verdict=args.verdict,
            notes=args.notes,
            tags=args.tags,
            sensitive=args.sensitive,
            reviewer=args.reviewer,
            based_on=args.based_on,
        )
    print(
        f"item {a.item_id}: verdict {a.verdict or '-'}, tags {','.join(a.tags) or '-'}, "
        f"sensitive {'yes' if a.sensitive else 'no'} (record {a.id} by {a.reviewer})"
    )
    return 0
