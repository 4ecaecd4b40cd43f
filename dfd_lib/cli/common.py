"""Helpers shared by CLI commands: common options, tables, JSON/CSV output."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

from ..env import CASES_DIR_ENV, WEIGHTS_DIR_ENV

__all__ = ["add_model_options", "add_cases_dir_option", "add_sampling_options", "print_table", "write_json", "write_csv", "fmt_score", "shown"]


def add_model_options(p) -> None:
    p.add_argument("--model", default=None, help="model name from `dfd models` (default: the shipped default)")
    p.add_argument("--weights-dir", default=None,
                   help=f"folder holding model cards and weights (searched first; then ${WEIGHTS_DIR_ENV}, then the "
                        "shipped weights/)")


def add_cases_dir_option(p) -> None:
    p.add_argument("--cases-dir", default=None, metavar="DIR", help=f"case store (default: ${CASES_DIR_ENV}, else ./cases)")


def add_sampling_options(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--frames-per-second", type=float, default=1.0, metavar="F", help="video frames sampled per second (default 1)")
    g.add_argument("--every", type=int, default=None, metavar="K", help="sample every K-th video frame instead")
    p.add_argument("--min-face", type=int, default=40, metavar="PX", help="smallest face side in pixels (default 40)")
    p.add_argument("--face-threshold", type=float, default=0.90, help="MTCNN detection probability threshold (default 0.90)")


def shown(text: str) -> str:
    """Text that can be printed or written as UTF-8: bytes of a file name that are not valid UTF-8
    (kept by Python as lone surrogates) become ``\\xNN`` escapes instead of crashing the output."""
    from ..case.evidence import storable_text

    return storable_text(text)


def fmt_score(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def print_table(headers: Sequence[str], rows: Iterable[Sequence], out=None) -> None:
    import sys

    out = out or sys.stdout
    # one row per line: a line break in a file name is shown as an escape, not a new row
    rows = [[("" if c is None else shown(str(c)).replace("\r", "\\r").replace("\n", "\\n")) for c in r]
            for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line, file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)), file=out)


def write_json(path: str | os.PathLike, obj) -> None:
    from ..fileio import atomic_write

    atomic_write(path, json.dumps(obj, indent=2) + "\n")


def write_csv(path: str | os.PathLike, headers: Sequence[str], rows: Iterable[Sequence]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(headers)
        w.writerows([shown(c) if isinstance(c, str) else c for c in r] for r in rows)
