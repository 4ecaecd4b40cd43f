"""The dashboard server refuses requests without its token and requests addressed to a foreign Host (plain HTTP)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, host: str | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}", **(headers or {})})
        resp = conn.getresponse()
        headers = dict(resp.getheaders())
        headers["cookies"] = [c.split(";", 1)[0] for c in resp.msg.get_all("Set-Cookie") or []]
        return resp.status, headers, resp.read()
    finally:
        conn.close()


@contextlib.contextmanager
def _serving(tmp_path: Path, tiny_weights: Path, upload_max_mb: str | None = None):
    """``python -m workbench.serve`` on a free port (the default upload limit unless ``upload_max_mb``)."""
    port = _free_port()
    (tmp_path / "cases").mkdir()
    env = {
        **os.environ,
        "DFD_WEIGHTS_DIR": str(tiny_weights),
        "DFD_CASES_DIR": str(tmp_path / "cases"),
        "PYTHONPATH": str(ROOT),
        "DFD_DASHBOARD_TOKEN": TOKEN,
    }
    env.pop("DFD_EVIDENCE_ROOTS", None)
    env.pop("DFD_UPLOAD_MAX_MB", None)  # the default limit
    if upload_max_mb is not None:
        env["DFD_UPLOAD_MAX_MB"] = upload_max_mb
    log = tmp_path / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        end = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                _get(port, "/login")
                break
            except OSError:
                if time.monotonic() > end:
                    raise TimeoutError(log.read_text()[-3000:])
                time.sleep(0.5)
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture()
def served(tmp_path: Path, tiny_weights: Path):
    with _serving(tmp_path, tiny_weights) as served:
        yield served


def test_token_required_and_foreign_host_refused(served) -> None:
    port, log = served
    printed = log.read_text()
    assert f"http://localhost:{port}/?token={TOKEN}" in printed  # the URL to open is printed with its token
    status, headers, _ = _get(port, "/")
    assert status in (302, 401, 403) and (status != 302 or "login" in headers.get("Location", "")), status
    status, headers, _ = _get(port, "/?token=wrong")
    assert status in (302, 401, 403) and (status != 302 or "login" in headers.get("Location", "")), status
    # DNS rebinding: the right token, but the request is addressed to another host name
    status, _, _ = _get(port, f"/?token={TOKEN}", host=f"attacker.example:{port}")
    assert status == 403
    status, _, _ = _get(port, f"/voila/api/shutdown/x?token={TOKEN}", host="attacker.example")
    assert status == 403
    status, headers, body = _get(port, f"/?token={TOKEN}")
    assert status == 200 and b"<html" in body.lower()
    cookie = "; ".join(headers["cookies"])
    assert cookie, "the token login sets a session cookie"

    # the kernel websocket the page uses: with the session cookie, only the page's own origin is accepted
    import re

    ids = sorted(set(re.findall(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", body)))
    assert ids, "the page names the kernel it started"
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Cookie": cookie,
    }
    own = {**upgrade, "Origin": f"http://127.0.0.1:{port}"}
    foreign = {**upgrade, "Origin": f"http://attacker.example:{port}"}
    accepted = [k for k in ids if _get(port, f"/api/kernels/{k.decode()}/channels", headers=own)[0] == 101]
    assert accepted, "the page's own websocket is accepted"
    channels = f"/api/kernels/{accepted[0].decode()}/channels"
    # a page elsewhere, riding on the session cookie: refused
    assert _get(port, channels, headers=foreign)[0] == 403
    # DNS rebinding: that page's Host and Origin are both the attacker's name: refused by the Host check
    assert _get(port, channels, host=f"attacker.example:{port}", headers=foreign)[0] == 403
    # no cookie and no token: refused
    assert _get(port, channels, headers={k: v for k, v in own.items() if k != "Cookie"})[0] in (302, 401, 403)


def test_upload_sized_messages_keep_the_connection(served) -> None:
    """Uploads travel as one websocket message: over tornado's default 10 MiB the connection was closed (1009)."""
    import asyncio
    import re

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    port, _ = served
    status, headers, body = _get(port, f"/?token={TOKEN}")
    assert status == 200
    ids = sorted(set(re.findall(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", body)))

    async def send_big() -> int | None:
        for k in ids:
            req = HTTPRequest(
                f"ws://127.0.0.1:{port}/api/kernels/{k.decode()}/channels",
                headers={"Cookie": "; ".join(headers["cookies"]), "Origin": f"http://127.0.0.1:{port}"},
            )
            try:
                ws = await websocket_connect(req)
            except Exception:
                continue
            await ws.write_message(b"\0" * (12 << 20), binary=True)
            try:
                await asyncio.wait_for(ws.read_message(), 5)
            except asyncio.TimeoutError:
                pass
            code = ws.close_code
            ws.close()
            return code
        raise AssertionError("no kernel websocket accepted")

    assert asyncio.run(send_big()) != 1009  # 1009: message too big


def test_an_upload_too_big_for_the_connection_is_reported_when_the_page_reconnects(
    tmp_path: Path, tiny_weights: Path
) -> None:
    """A batch over twice the upload limit cannot arrive: the server drops the connection on reading the message's
    length (memory stays bounded). The page reconnects at once, as the dashboard's front end does, and then reads,
    in the workbench's status line, that the upload was too large and not received (before: not a word)."""
    import asyncio
    import re
    import uuid

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import WebSocketClosedError, websocket_connect

    with _serving(tmp_path, tiny_weights, upload_max_mb="1") as (port, log):  # 1 MiB: messages over 3 MiB drop
        status, headers, body = _get(port, f"/?token={TOKEN}")
        assert status == 200
        ids = sorted(set(re.findall(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", body)))
        session = str(uuid.uuid4())

        def request(kernel: bytes) -> HTTPRequest:
            return HTTPRequest(
                f"ws://127.0.0.1:{port}/api/kernels/{kernel.decode()}/channels?session_id={session}",
                headers={"Cookie": "; ".join(headers["cookies"]), "Origin": f"http://127.0.0.1:{port}"},
            )

        async def upload_too_big() -> tuple[bool, list[str]]:
            for k in ids:
                try:
                    ws = await websocket_connect(request(k))
                except Exception:
                    continue
                try:
                    await ws.write_message(b"\0" * (4 << 20), binary=True)
                except WebSocketClosedError:  # dropped while it was being sent
                    pass
                dropped = await asyncio.wait_for(ws.read_message(), 30) is None
                again = await websocket_connect(request(k))  # the page's reconnection, same session
                texts: list[str] = []
                end = time.monotonic() + 60
                while time.monotonic() < end:
                    try:
                        msg = await asyncio.wait_for(again.read_message(), max(0.1, end - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                    if msg is None:
                        break
                    if isinstance(msg, str):
                        texts.append(msg)
                        if "too large to send" in msg:
                            break
                again.close()
                return dropped, texts
            raise AssertionError("no kernel websocket accepted")

        dropped, texts = asyncio.run(upload_too_big())
    assert dropped, "a message over the transport limit closes the connection"
    said = [t for t in texts if "too large to send" in t]
    assert said, f"the page is told what happened: {texts[-5:]}\n{log.read_text()[-2000:]}"
    assert "were not received" in said[0] and "1 MiB at most" in said[0] and "evidence folder" in said[0]


def test_no_file_route_no_token_in_the_log_and_no_big_request_body(tmp_path: Path, tiny_weights: Path) -> None:
    """Voila served pictures under the notebook's folder without the token or the Host check (a case store there:
    evidence and face crops), logged `/?token=...` in full, and read 100 MB request bodies before any check."""
    import uuid

    probe = ROOT / "notebooks" / f"probe-{uuid.uuid4().hex[:8]}.png"
    probe.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    try:
        with _serving(tmp_path, tiny_weights) as (port, log):
            for path, host in (
                (probe.name, None),
                (probe.name, "attacker.example"),
                (f"{probe.name}?token={TOKEN}", None),
            ):
                status, _, body = _get(port, f"/voila/files/{path}", host=host)
                assert status != 200 and not body.startswith(b"\x89PNG"), status  # not served, token or not
            assert _get(port, f"/?token={TOKEN}", host="attacker.example")[0] == 403  # logged as refused
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:  # 50 MB announced, none sent: answered at once, nothing read
                conn.putrequest("POST", "/login")
                conn.putheader("Host", "attacker.example")
                conn.putheader("Content-Length", str(50_000_000))
                conn.endheaders()
                assert conn.getresponse().status == 400
            finally:
                conn.close()
            time.sleep(1)  # the log line is written after the response
            lines = [line for line in log.read_text().splitlines() if TOKEN in line]
        assert lines and all(line.startswith("Dashboard: http") for line in lines), lines
    finally:
        probe.unlink(missing_ok=True)
