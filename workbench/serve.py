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
  :data:`workbench.state.DEFAULT_UPLOAD_MAX_MB`), the limit the upload button states. The page sends
  a batch as one websocket message, and its FileUpload widget cannot check sizes before sending.
  tornado's websocket limit (10 MiB by default) is raised to twice the upload limit: a batch over the
  limit but under twice it arrives, and the workbench refuses it with a message (workbench.intake). A
  bigger batch cannot be let in without holding it all in memory: tornado drops the connection as
  soon as the message's header announces its length, before reading it; the page reconnects at
  once, and this server then tells the workbench, which says in the page that the upload was too
  large and was not received (before, it was lost without a word).
* the evidence **path box** reads only under ``$DFD_EVIDENCE_ROOTS`` (see :mod:`workbench.state`).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import uuid
from pathlib import Path
from typing import Any, Sequence

from dfd_lib.env import (
    CASES_DIR_ENV,
    DASHBOARD_HOSTS_ENV as HOSTS_ENV,
    DASHBOARD_TOKEN_ENV as TOKEN_ENV,
    EVIDENCE_ROOTS_ENV,
)

from .state import UPLOAD_DROPPED_TARGET, upload_limit_bytes

__all__ = [
    "NOTEBOOK",
    "TOKEN_ENV",
    "HOSTS_ENV",
    "allowed_hosts",
    "tornado_settings",
    "transport_limit_bytes",
    "voila_argv",
    "main",
]

log = logging.getLogger(__name__)

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


def transport_limit_bytes() -> int:
    """The largest websocket message let in: twice the upload limit (and framing), so that a batch over the limit,
    up to twice it, still arrives and is refused with a message (workbench.intake); a bigger one is dropped."""
    return 2 * upload_limit_bytes() + _MESSAGE_OVERHEAD


def tornado_settings(extra_hosts: Sequence[str] = ()) -> dict:
    """Settings laid over Voila's: Host check on (Voila turns it off), upload-sized websocket messages, and
    jupyter_server's request log, which leaves tokens out (tornado's own logged ``/?token=...`` in full)."""
    from jupyter_server.log import log_request

    return {
        "allow_remote_access": False,  # jupyter_server's Host check: 403 for any other Host
        "local_hostnames": allowed_hosts(extra_hosts),
        "websocket_max_message_size": transport_limit_bytes(),
        "log_function": log_request,
    }


def tell_kernel_upload_dropped(kernel_manager: Any, kernel_id: str, limit_bytes: int) -> None:
    """Tell the workbench in kernel ``kernel_id`` that a message (an upload) over ``limit_bytes`` was dropped: a
    comm opened on the kernel's shell channel to :data:`UPLOAD_DROPPED_TARGET`; the workbench says so in the page,
    which has reconnected meanwhile (messages to a page reconnecting are kept for it by jupyter_server)."""
    try:
        kernel = kernel_manager.get_kernel(kernel_id)
        stream = kernel.connect_shell()
        content = {
            "comm_id": uuid.uuid4().hex,
            "target_name": UPLOAD_DROPPED_TARGET,
            "data": {"limit_bytes": limit_bytes},
        }
        kernel.session.send(stream, "comm_open", content)
    except Exception as exc:  # the server goes on; the page has reconnected, only the message is missing
        log.error("could not tell kernel %s that an upload was too large: %s", kernel_id, exc, exc_info=True)
        return
    from tornado.ioloop import IOLoop

    IOLoop.current().call_later(10, stream.close)  # time to send; nothing is read back


def dashboard_app_class() -> type:
    """Voila, with a kernel websocket that tells the workbench when a message too big for it dropped it."""
    from voila.app import Voila
    from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

    class KernelWebsocket(VoilaKernelWebsocketHandler):
        too_big = False  # set when tornado closed this connection with 1009 ("message too big")

        def get_websocket_protocol(self) -> Any:
            protocol = super().get_websocket_protocol()
            if protocol is not None:
                close = protocol.close

                def close_noting_why(code: int | None = None, reason: str | None = None) -> None:
                    if code == 1009:  # tornado read the message's length from its header, and nothing more
                        self.too_big = True
                    close(code, reason)

                protocol.close = close_noting_why
            return protocol

        def on_close(self) -> None:
            super().on_close()
            if self.too_big:
                kernel_id = getattr(self, "kernel_id", None)
                log.warning(
                    "kernel %s: a message over %d bytes (an upload) was refused and its connection dropped",
                    kernel_id,
                    self.max_message_size,
                )
                if kernel_id:
                    tell_kernel_upload_dropped(self.kernel_manager, kernel_id, self.max_message_size)

    from voila.static_file_handler import AllowListFileHandler

    class DashboardVoila(Voila):
        def init_handlers(self) -> list:
            # no /voila/files/: Voila serves pictures under the notebook's folder from it without the token or the
            # Host check, and a case store there (evidence, face crops) would be open to anyone on the network
            return [
                (h[0], KernelWebsocket, *h[2:]) if h[1] is VoilaKernelWebsocketHandler else h
                for h in super().init_handlers()
                if h[1] is not AllowListFileHandler
            ]

        def listen(self) -> None:
            # tornado's defaults read a 100 MB request body before any token or Host check, and drop a websocket
            # message over 100 MiB without the 1009 close the page is told about: bodies are refused over 1 MiB
            # (the dashboard posts none bigger), the read buffer is the websocket limit's size
            listen = self.app.listen

            def bounded(port: int, address: str = "", **kwargs: Any) -> Any:
                return listen(port, address, **{**http_server_settings(), **kwargs})

            self.app.listen = bounded
            super().listen()

    return DashboardVoila


def http_server_settings() -> dict:
    """tornado HTTPServer limits: request bodies (never an upload: uploads come over the websocket), the read
    buffer (the largest websocket message let in, so that a bigger one ends with the close the page is told
    about) and idle or slow connections."""
    return {
        "max_body_size": 1 << 20,
        "max_buffer_size": transport_limit_bytes() + (1 << 20),
        "idle_connection_timeout": 300,
        "body_timeout": 60,
    }


# A kernel no page is connected to (a closed tab, a page load that never connected) is shut down after this
# long; an open dashboard, connected, is never culled however long it idles.
KERNEL_CULL_IDLE_S = 600


def voila_argv(ip: str, port: int) -> list[str]:
    return [
        str(NOTEBOOK),
        "--no-browser",
        f"--Voila.ip={ip}",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--MappingKernelManager.cull_idle_timeout={KERNEL_CULL_IDLE_S}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
    ]


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
    # kernels run in the notebook's folder: a relative (or unset) case store would land under notebooks/
    os.environ[CASES_DIR_ENV] = os.path.abspath(os.environ.get(CASES_DIR_ENV) or "cases")

    extra = ["--VoilaConfiguration.show_tracebacks=True"] if args.show_tracebacks else []
    app = dashboard_app_class()()
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
