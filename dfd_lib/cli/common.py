"""Helpers shared by CLI commands: common options, tables, JSON/CSV output."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import inspect
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..env import CASES_DIR_ENV, WEIGHTS_DIR_ENV
from ..fileio import storable_text

__all__ = [
    "add_command",
    "default_of",
    "add_model_options",
    "add_cases_dir_option",
    "add_sampling_options",
    "person",
    "terminal_safe",
    "scan_settings_from_args",
    "print_table",
    "write_json",
    "write_csv",
    "fmt_score",
    "shown",
]


def default_of(owner: Callable[..., Any], name: str) -> Any:
    """The library's default for an option: field ``name`` of dataclass ``owner``, or parameter ``name`` of
    function ``owner``. CLI options take their defaults from here, never from a second literal."""
    if isinstance(owner, type) and dataclasses.is_dataclass(owner):
        f = next(f for f in dataclasses.fields(owner) if f.name == name)
        if f.default is not dataclasses.MISSING:
            return f.default
        if f.default_factory is not dataclasses.MISSING:
            return f.default_factory()
        raise ValueError(f"{owner.__name__}.{name} has no default")
    default = inspect.signature(owner).parameters[name].default
    if default is inspect.Parameter.empty:
        raise ValueError(f"{owner.__name__}({name}) has no default")
    return default


def add_command(sub, name: str, run: Callable[[Any], int | None], help: str, **kwargs: Any):
    """Register the sub-command ``name`` (one line ``help`` in ``dfd --help``) that runs ``run(args)``.

    ``dfd NAME --help`` describes the command with ``run``'s docstring (argparse re-wraps it), unless a
    ``description=`` is given (for a text that must be computed).
    """
    kwargs.setdefault("description", inspect.getdoc(run))
    p = sub.add_parser(name, help=help, **kwargs)
    p.set_defaults(func=run)
    return p


def add_model_options(p) -> None:
    p.add_argument("--model", default=None, help="model name from `dfd models` (default: the shipped default)")
    p.add_argument(
        "--weights-dir",
        default=None,
        help=f"folder holding model cards and weights (searched first; then ${WEIGHTS_DIR_ENV}, then the "
        "shipped weights/)",
    )


def add_shown_card_options(p, what: str) -> None:
    """--model and --weights-dir of the commands that show a case's scores (show, report, export): one card's."""
    p.add_argument(
        "--model",
        default=None,
        metavar="CARD",
        help=f"the model card whose scores {what}, one card at a time (default: the default card where it scored the "
        "case, else the card that scored last; the others are named with their item counts)",
    )
    p.add_argument(
        "--weights-dir", default=None, help="folder holding model cards (the default card, the model section)"
    )


def add_cases_dir_option(p) -> None:
    p.add_argument(
        "--cases-dir", default=None, metavar="DIR", help=f"case store (default: ${CASES_DIR_ENV}, else ./cases)"
    )


def positive_number(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type: ``kind`` (int or float) of the text, refused unless finite and above 0."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def recorded_text(text: str) -> str:
    """An argparse type for free text the case records (title, agency, source, notes): refused if it holds bytes that
    are not UTF-8 (a terminal set to another encoding), which the case could only store as escapes."""
    if storable_text(text) != text:
        raise argparse.ArgumentTypeError(
            f"'{storable_text(text)}' holds bytes that are not UTF-8 text; set the terminal to UTF-8 and type it again"
        )
    return text


def person(text: str) -> str:
    """An argparse type for who does something (examiner, reviewer): recorded in the custody log, so it must name
    someone: stripped, not blank, UTF-8, no control characters."""
    name = recorded_text(text).strip()
    if not name:
        raise argparse.ArgumentTypeError("must name a person (it is recorded in the custody log), not be blank")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise argparse.ArgumentTypeError(f"{name!r} holds control characters")
    return name


def _scan_setting_option(p, flag: str, field: str, type_: Callable[[str], Any], metavar: str | None, help: str) -> None:
    """An option whose default is field ``field`` of :class:`dfd_lib.scan.ScanSettings`."""
    from ..scan import ScanSettings

    p.add_argument(flag, type=type_, default=default_of(ScanSettings, field), metavar=metavar, help=help)


def add_sampling_options(p) -> None:
    """The scan settings a user may change; defaults from :class:`dfd_lib.scan.ScanSettings`."""
    from ..scan import ScanSettings

    g = p.add_mutually_exclusive_group()
    _scan_setting_option(
        g,
        "--frames-per-second",
        "fps",
        positive_number(float),
        "F",
        "video frames sampled per second (default %(default)g)",
    )
    _scan_setting_option(g, "--every", "every", positive_number(int), "K", "sample every K-th video frame instead")
    _scan_setting_option(
        p,
        "--min-face",
        "min_face_size",
        positive_number(int),
        "PX",
        "smallest face side in pixels (default %(default)s)",
    )
    _scan_setting_option(
        p,
        "--face-threshold",
        "face_threshold",
        float,
        None,
        "MTCNN detection probability threshold (default %(default).2f)",
    )
    _scan_setting_option(
        p,
        "--memory-mb",
        "memory_mb",
        int,
        "MB",
        "peak memory of the scan (default %(default)s): larger pictures are decoded reduced (JPEG) or refused "
        "as too_large; 0 for no bound beyond the pixel limits",
    )
    p.add_argument(
        "--early-stop",
        action="store_true",
        default=default_of(ScanSettings, "early_stop"),
        help="video: stop sampling once the verdict is fake whatever the remaining frames score (faster on "
        "fakes; the frame timeline then ends there, and the message says so)",
    )


def scan_settings_from_args(args) -> dict:
    """ScanSettings keywords from the sampling options (``--every`` replaces the per-second rate)."""
    return dict(
        fps=None if args.every else args.frames_per_second,
        every=args.every,
        min_face_size=args.min_face,
        face_threshold=args.face_threshold,
        memory_mb=args.memory_mb or None,
        early_stop=args.early_stop,
    )


def shown(text: str) -> str:
    """Text that can be printed or written as UTF-8: bytes of a file name that are not valid UTF-8
    (kept by Python as lone surrogates) become ``\\xNN`` escapes instead of crashing the output."""
    return storable_text(text)


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def terminal_safe(text: str) -> str:
    """``shown(text)`` with every control character (C0, DEL, C1) escaped: a file name cannot start a new output
    line, move the cursor or recolour the terminal, so what an examiner reads is what the name holds."""
    return "".join(
        _NAMED_ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 32 or 127 <= ord(ch) < 160 else ch)
        for ch in shown(text)
    )


def fmt_score(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def print_table(headers: Sequence[str], rows: Iterable[Sequence], out=None) -> None:
    import sys

    out = out or sys.stdout
    # one row per line: a line break in a file name is shown as an escape, not a new row
    rows = [["" if c is None else terminal_safe(str(c)) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line, file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)), file=out)


def write_json(path: str | os.PathLike, obj) -> None:
    """``obj`` as JSON that any reader accepts: NaN and infinities (an undefined metric) are written as null."""
    from ..fileio import atomic_write, json_ready

    atomic_write(path, json.dumps(json_ready(obj, strict=False), indent=2, allow_nan=False) + "\n")


def write_csv(path: str | os.PathLike, headers: Sequence[str], rows: Iterable[Sequence]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(headers)
        w.writerows([shown(c) if isinstance(c, str) else c for c in r] for r in rows)
