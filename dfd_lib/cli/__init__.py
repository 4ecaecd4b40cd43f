"""The ``dfd`` command line: one sub-command module per job, all calling the library."""

from __future__ import annotations

import argparse
import errno
import io
import logging
import os
import signal
import sqlite3
import sys
from typing import Sequence

from ..errors import DfdError

__all__ = ["main", "build_parser"]


def _command_modules():
    # Explicit list: a new command is one module with register(subparsers) and one name here.
    from . import (
        case_cmd,
        eval_cmd,
        forensics_cmd,
        models_cmd,
        notebook_cmd,
        pack_cmd,
        report_cmd,
        scan_cmd,
        train_cmd,
    )

    return [scan_cmd, case_cmd, forensics_cmd, report_cmd, notebook_cmd, models_cmd, train_cmd, pack_cmd, eval_cmd]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="dfd", description="Deepfake forensic workbench")
    parser.add_argument("--version", action="version", version=f"dfd {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DfdError as exc:
        print(f"dfd {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (dfd show CASE | head): stop quietly, as other tools do
        try:  # nothing more reaches the closed pipe, not even the interpreter's last flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return 128 + signal.SIGPIPE
    except (OSError, sqlite3.OperationalError) as exc:  # the machine's fault (disk full, I/O error), not a bug
        logging.getLogger("dfd_lib.cli").debug("dfd %s failed", args.command, exc_info=True)
        full = getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in str(exc)
        hint = "; free some space and run the same command again" if full else ""
        print(f"dfd {args.command}: error: {exc}{hint}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # a damaged case database met after it was opened
        print(
            f"dfd {args.command}: error: a case database could not be read ({exc}); restore it from a backup",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        resumable = (
            " (what was recorded is kept: run the same command again to finish)" if args.command == "triage" else ""
        )
        print(f"dfd {args.command}: interrupted{resumable}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
