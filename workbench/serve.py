"""Serve the dashboard with Voila, locked down: a token, the Host check on, a stated upload limit.

``python -m workbench.serve [--ip 127.0.0.1] [--port 8866]`` (what ``make dashboard`` runs):

* a **token** is always required. It is ``$DFD_DASHBOARD_TOKEN`` when set, else a new random one,
  and is printed with the URL to open (as Jupyter does); requests without it get 403 or the login
  page, the kernel websocket included.
* the **Host check** stays on: only requests addressed to ``localhost`` or a loopback address are
  served, so a web page elsewhere cannot reach the dashboard by DNS rebinding. Names under which
  the dashboard is legitimately reached (e.g. when listening on a LAN) are added with
  ``--allow-host NAME`` or ``$DFD_DASHBOARD_HOSTS`` (comma-separated).
* **uploads** through the page may total ``$DFD_UPLOAD_MAX_MB`` MiB per batch (default
  :data:`workbench.state.DEFAULT_UPLOAD_MAX_MB`); tornado's own 10 MiB websocket limit, which
  silently dropped the connection, is raised to twice that, so that a batch over the limit arrives and
  is refused with a message (a batch over twice the limit still drops the connection).
* the evidence **path box** reads only under ``$DFD_EVIDENCE_ROOTS`` (see :mod:`workbench.state`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Sequence

from dfd_lib.env import DASHBOARD_HOSTS_ENV as HOSTS_ENV, DASHBOARD_TOKEN_ENV as TOKEN_ENV, EVIDENCE_ROOTS_ENV

from .state import upload_limit_bytes

__all__ = ["NOTEBOOK", "TOKEN_ENV", "HOSTS_ENV", "allowed_hosts", "tornado_settings", "voila_argv", "main"]

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "dashboard.ipynb"
# headroom over the files themselves: the upload message also carries names, types and framing
_MESSAGE_OVERHEAD = 1 << 20


def allowed_hosts(extra: Sequence[str] = ()) -> list[str]:
    """Host names served (loopback IP addresses always are): localhost plus the configured ones."""
    names = ["localhost"] + [h.strip() for h in os.environ.get(HOSTS_ENV, "").split(",")] + list(extra)
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return out


def tornado_settings(extra_hosts: Sequence[str] = ()) -> dict:
    """Settings laid over Voila's: Host check on (Voila turns it off), upload-sized websocket messages."""
    return {
        "allow_remote_access": False,  # jupyter_server's Host check: 403 for any other Host
        "local_hostnames": allowed_hosts(extra_hosts),
        # twice the upload limit: a batch over the limit (up to twice it) still arrives, and is refused with a
        # message (workbench.intake) instead of the connection dropping without a word
        "websocket_max_message_size": 2 * upload_limit_bytes() + _MESSAGE_OVERHEAD,
    }


def voila_argv(ip: str, port: int) -> list[str]:
    return [str(NOTEBOOK), "--no-browser", f"--Voila.ip={ip}", f"--port={port}", "--Voila.port_retries=0"]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m workbench.serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help=f"another host name the dashboard is reached by (also ${HOSTS_ENV})",
    )
    p.add_argument("--show-tracebacks", action="store_true", help="show Python tracebacks in the page (tests)")
    args = p.parse_args(argv)
    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)

    from voila.app import Voila

    extra = ["--VoilaConfiguration.show_tracebacks=True"] if args.show_tracebacks else []
    app = Voila()
    app.initialize(voila_argv(args.ip, args.port) + extra)
    app.token = token  # set here, not on the command line, where other users could read it
    app.tornado_settings = {**app.tornado_settings, **tornado_settings(args.allow_host)}
    shown = "localhost" if args.ip in ("127.0.0.1", "::1", "localhost") else args.ip
    limit = upload_limit_bytes() / (1 << 20)
    print(
        f"Dashboard: http://{shown}:{args.port}/?token={token}\n"
        f"  (token required; Host names served: {', '.join(allowed_hosts(args.allow_host))} and loopback "
        f"addresses; uploads up to {limit:g} MiB per batch; evidence folders: "
        f"{os.environ.get(EVIDENCE_ROOTS_ENV) or 'none (uploads only)'})",
        flush=True,
    )
    app.start()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
