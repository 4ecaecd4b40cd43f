"""The Voila dashboard in a real browser (Chromium through Playwright), driven as an investigator would."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CASE_NAME = "FIR 77 of 2025"
NOTE = "Face boundary looks blended around the jaw."

NCRP = {  # in form order: a drop-down's choices depend on the answer above it
    "complaint_path": "Report Other Cyber Crime",
    "category": "Online and Social Media Related Crime",
    "sub_category": "Cheating by Impersonation",
    "incident_date": "2025-03-01",
    "incident_time": "14:30",
    "platform": "WhatsApp",
    "incident_state": "Maharashtra",
    "narrative": "A photograph with the complainant's face swapped onto another body was sent to her contacts on "
    "WhatsApp from an unknown number, with threats to post more. The attached report shows the "
    "analysis of the image and the chain of custody of the evidence.",
    "complainant_name": "A. Complainant",
    "complainant_mobile": "9876543210",
    "complainant_address": "12 MG Road, Pune",
    "complainant_state": "Maharashtra",
}
CHOICE_FIELDS = {"complaint_path", "category", "sub_category", "platform", "incident_state", "complainant_state"}
# `make screenshot` (DFD_UPDATE_DOCS=1) refreshes docs/dashboard.png: that run scores with the shipped model, so the
# README shows real scores; every other run uses the tiny test model.
UPDATE_DOCS = bool(os.environ.get("DFD_UPDATE_DOCS"))
SHIPPED_WEIGHTS, SHIPPED_MODEL = ROOT / "weights", "dfd-lite0-multi"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Wait until the server answers (any HTTP status: /login needs no token and starts no kernel)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"voila did not answer at {url}:\n{log.read_text()[-3000:]}")


TOKEN = "browser-test-token-0123456789"


@pytest.fixture()
def voila(tmp_path: Path, tiny_weights: Path):
    """The dashboard as `make dashboard` serves it (workbench.serve: token, Host check) with the tiny model (the
    shipped one when UPDATE_DOCS), an empty case store and tmp_path as the evidence root; killed afterwards. Yields
    the URL with its token."""
    port = _free_port()
    cases = tmp_path / "cases"
    cases.mkdir()
    weights = SHIPPED_WEIGHTS if UPDATE_DOCS else tiny_weights
    env = {
        **os.environ,
        "DFD_WEIGHTS_DIR": str(weights),
        "DFD_CASES_DIR": str(cases),
        "PYTHONPATH": str(ROOT),
        "DFD_DASHBOARD_TOKEN": TOKEN,
        "DFD_EVIDENCE_ROOTS": str(tmp_path),
    }
    log = tmp_path / "voila.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.serve", f"--port={port}", "--show-tracebacks"],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/login", proc, log)
        yield f"http://127.0.0.1:{port}/?token={TOKEN}", cases, log
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_dashboard_refuses_missing_token_and_foreign_host(voila) -> None:
    """In Chromium: without the token (or with a wrong one) the page is the login form, not the workbench; a page
    addressed to a foreign host name that resolves to this machine (DNS rebinding: Chromium's resolver maps
    attacker.example to 127.0.0.1) is refused with 403 even with the right token."""
    from urllib.parse import urlsplit

    from playwright.sync_api import sync_playwright

    url, _, _ = voila
    port = urlsplit(url).port
    base = f"http://127.0.0.1:{port}"
    args = CHROMIUM_ARGS + ["--host-resolver-rules=MAP attacker.example 127.0.0.1", "--no-proxy-server"]

    def session_cookies(page) -> list[str]:  # jupyter_server's login cookie (the login form also sets _xsrf)
        return [c["name"] for c in page.context.cookies() if c["name"].startswith("username-")]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
        try:
            page = browser.new_page()
            for plain in (f"{base}/", f"{base}/?token=wrong"):
                resp = page.goto(plain, timeout=120_000)
                assert resp is not None and resp.status in (200, 401, 403), (plain, resp and resp.status)
                if resp.status == 200:  # redirected to the login form, which asks for the token
                    assert urlsplit(page.url).path.endswith("/login"), page.url
                    assert page.locator("input[type=password]").count() >= 1, page.content()[:2000]
                page.wait_for_timeout(2000)  # time for any widget to render, were the workbench served
                assert page.locator(".dfd-case-bar, .jp-OutputArea, .widget-box").count() == 0, page.content()[:2000]
            assert not session_cookies(page), "no session cookie without the token"

            resp = page.goto(f"http://attacker.example:{port}/?token={TOKEN}", timeout=120_000)
            assert resp is not None and resp.status == 403, resp and resp.status
            assert page.locator(".dfd-case-bar, .jp-OutputArea, .widget-box").count() == 0
            assert not session_cookies(page), "the refused request set no session cookie"

            # the control: the same browser and token, addressed to this machine, are let in
            resp = page.goto(f"{base}/?token={TOKEN}", timeout=120_000)
            assert resp is not None and resp.status == 200 and session_cookies(page), resp and resp.status
        finally:
            browser.close()


def _evidence(tmp_path: Path, examples: Path) -> tuple[Path, Path]:
    folder = tmp_path / "evidence"
    (folder / "problem_files").mkdir(parents=True)
    for name in ("astronaut.jpg", "astronaut_blended_face.jpg"):
        shutil.copy2(examples / name, folder / name)
    shutil.copy2(examples / "problem_files" / "empty.jpg", folder / "problem_files" / "empty.jpg")
    upload = tmp_path / "to_upload"
    upload.mkdir()
    shutil.copy2(examples / "coffee_no_face.jpg", upload / "coffee_no_face.jpg")
    return folder, upload / "coffee_no_face.jpg"


def _clipped(locator) -> bool:
    """Whether the element or anything in it is cut off (its content wider than its box: an ellipsis)."""
    return not locator.evaluate(
        "el => [el, ...el.querySelectorAll('*')].every(e => e.scrollWidth <= e.clientWidth + 1)"
    )


# a common laptop and a common desktop window: the page must show everything whole at both
SIZES = ({"width": 1366, "height": 768}, {"width": 1920, "height": 1080})
_CUT_OFF_JS = """root => {
  const out = [], name = e => e.tagName + '.' + [...e.classList].filter(c => c.startsWith('dfd') || c.startsWith('widget-')).join('.');
  const text = e => (e.innerText || e.value || e.placeholder || '').slice(0, 60);
  for (const e of root.querySelectorAll('*')) {
    if (e.closest('.noUi-target')) continue;  // the range slider's handles overhang its track by design
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    for (let p = e.parentElement; p; p = p.parentElement) {  // the boxes around it, up to root, that clip
      const pr = p.getBoundingClientRect();
      if (getComputedStyle(p).overflowX !== 'visible' && (r.right > pr.right + 1 || r.left < pr.left - 1)) {
        out.push([name(e), 'cut by', name(p), text(e)]);
        break;
      }
      if (p === root) break;
    }
    // its own content cut, unless deliberately with an ellipsis and a tooltip (what is typed in a box scrolls in it)
    const cs = getComputedStyle(e), typed = e.tagName === 'INPUT' || e.tagName === 'TEXTAREA';
    if (!typed && cs.overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 1 && !(cs.textOverflow === 'ellipsis' && e.closest('[title]')))
      out.push([name(e), 'content cut', text(e)]);
    if (e.tagName === 'INPUT' && e.placeholder) {  // a placeholder wider than its box
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = cs.font;
      const room = e.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      if (ctx.measureText(e.placeholder).width > room) out.push([name(e), 'placeholder cut', e.placeholder]);
    }
    if (e.tagName === 'TEXTAREA' && e.placeholder) {  // a placeholder taller than its box: measured on a copy
      const c = e.cloneNode();
      Object.assign(c.style, {position: 'absolute', visibility: 'hidden', width: cs.width, height: cs.height});
      c.value = e.placeholder;
      e.parentNode.appendChild(c);
      if (c.scrollHeight > c.clientHeight + 1) out.push([name(e), 'placeholder cut', e.placeholder]);
      c.remove();
    }
  }
  return out;
}"""


def _cut_off(locator) -> list:
    """What in the element is cut off: by a box around it, in its own box (except a deliberate ellipsis with a
    tooltip), or an input's placeholder that does not fit its input. Empty when everything shows whole."""
    return locator.evaluate(_CUT_OFF_JS)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_dashboard_triage_review_export(voila, tmp_path: Path, examples: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, cases, log = voila
    folder, upload = _evidence(tmp_path, examples)
    shots = tmp_path / "screens"
    shots.mkdir()
    t0 = time.monotonic()

    def shot(page, name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"))

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1100}, accept_downloads=True)
            page.goto(url, timeout=120_000)
            expect(page.locator(".dfd-case-bar")).to_be_visible(timeout=180_000)
            shot(page, "01_start")

            # 1. create the case
            page.locator(".dfd-case-name input").fill(CASE_NAME)
            page.locator(".dfd-examiner input").fill("Insp. Rao")
            page.locator(".dfd-agency input").fill("Cyber Cell Pune")
            page.locator("button.dfd-open-case").click()
            expect(page.locator(".dfd-case-summary")).to_contain_text("fir-77-of-2025", timeout=60_000)
            shot(page, "02_case")

            # 2. triage a folder plus one uploaded file, watching the progress
            page.locator(".dfd-evidence-path input").fill(str(folder))
            with page.expect_file_chooser() as chooser:  # the upload widget's file input is not in the DOM
                page.locator(".dfd-upload").click()
            chooser.value.set_files(str(upload))
            expect(page.locator(".dfd-upload")).to_contain_text("1", timeout=30_000)
            assert not _clipped(page.locator(".dfd-upload")), page.locator(".dfd-upload").inner_html()
            page.locator("button.dfd-triage").click()
            expect(page.locator(".dfd-progress-text")).to_contain_text("done:", timeout=300_000)
            expect(page.locator(".dfd-counts")).to_contain_text("4 of 4", timeout=60_000)
            shot(page, "03_triaged")

            # 3. open the most suspicious item: its Grad-CAM overlay is shown
            page.locator("button.dfd-tile-open").first.click()
            expect(page.locator(".dfd-item-facts")).to_contain_text(
                f"model {SHIPPED_MODEL if UPDATE_DOCS else 'tiny-test-model'}", timeout=60_000
            )
            cam = page.locator(".dfd-gradcam img, img.dfd-gradcam").first
            expect(cam).to_be_visible(timeout=120_000)
            assert cam.evaluate("el => el.complete && el.naturalWidth") > 0
            page.locator(".dfd-opacity input, .dfd-opacity").first.scroll_into_view_if_needed()
            shot(page, "04_item")
            for size in SIZES:  # the grid's filters, tiles and the item view fit a laptop's window as a desktop's
                page.set_viewport_size(size)
                page.wait_for_timeout(500)
                assert _cut_off(page.locator(".dfd-workbench")) == [], size
            page.set_viewport_size({"width": 1440, "height": 1100})

            # 4. review: a note typed, the verdict given with the keyboard (mouse over the picture, key 1 = fake)
            page.locator(".dfd-notes textarea").fill(NOTE)
            page.locator(".dfd-picture").hover()
            page.keyboard.press("1")
            expect(page.locator(".dfd-status")).to_contain_text("review saved", timeout=60_000)
            expect(page.locator(".dfd-custody-tab")).to_contain_text("annotation", timeout=60_000)
            shot(page, "05_reviewed")

            # 5. the portal form, generated from the NCRP profile, then the bundle downloaded
            page.locator(".lm-TabBar-tab", has_text="Report & export").click()
            expect(page.locator(".dfd-portal-form")).to_be_visible(timeout=30_000)
            anonymous = page.locator(".dfd-anonymous")  # its whole label is shown, not cut off with an ellipsis
            expect(anonymous).to_contain_text("anonymous complaint (leave out the complainant block)")
            assert not _clipped(anonymous), anonymous.inner_html()
            assert "YAML" not in (page.locator(".dfd-field-incident_time input").get_attribute("placeholder") or "")
            hint = page.locator(".dfd-field-narrative textarea").get_attribute("placeholder") or ""
            assert hint.startswith("What happened") and hint.endswith("characters (assumption).")  # whole
            for size in SIZES:  # every hint and label of the form shows whole
                page.set_viewport_size(size)
                page.wait_for_timeout(500)
                assert _cut_off(page.locator(".dfd-workbench")) == [], size
            page.set_viewport_size({"width": 1440, "height": 1100})
            for field, value in NCRP.items():
                box = page.locator(f".dfd-field-{field}")
                if field in CHOICE_FIELDS:
                    box.locator("select").select_option(label=value, timeout=30_000)
                else:
                    box.locator("input, textarea").fill(value)
            page.locator("button.dfd-check-form").click()
            expect(page.locator(".dfd-form-problems")).to_contain_text("the form is complete", timeout=30_000)
            page.locator("button.dfd-bundle").click()
            link = page.locator("a.dfd-download-bundle")
            expect(link).to_be_visible(timeout=300_000)
            shot(page, "06_export")
            with page.expect_download(timeout=60_000) as download:
                link.click()
            bundle = tmp_path / "downloaded" / download.value.suggested_filename
            download.value.save_as(bundle)
            page.locator(".lm-TabBar-tab", has_text="Triage & review").click()
            page.locator(".dfd-case-bar").scroll_into_view_if_needed()
            expect(page.locator(".dfd-gradcam img, img.dfd-gradcam").first).to_be_visible(timeout=30_000)
            shot(page, "07_final")
        finally:
            browser.close()
    elapsed = time.monotonic() - t0

    from dfd_lib.case import open_case
    from dfd_lib.portal import load_portal_fields

    case = open_case(CASE_NAME, cases_dir=cases, create=False)
    try:
        items = case.items()
        top = items.sort_values("score", ascending=False).iloc[0]
        assert top["analyst_verdict"] == "fake" and top["notes"] == NOTE
        log_df = case.custody_log()
        assert {"view", "annotation", "analysis", "intake"} <= set(log_df["action"])
        assert "coffee_no_face.jpg" in set(items["name"])
        assert case.verify(log_result=False).ok
        export = log_df[log_df["action"] == "export"].iloc[-1]["details"]
        assert export["portal"] == "ncrp" and export["sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
        with zipfile.ZipFile(bundle) as z:
            assert z.testzip() is None
            names = z.namelist()
        assert any(n.endswith(".pdf") for n in names) and any("astronaut_blended_face" in n for n in names), names
        assert load_portal_fields(case, "ncrp")["sub_category"] == NCRP["sub_category"]
    finally:
        case.close()
    if UPDATE_DOCS:  # refresh the README screenshot on purpose only: tests leave the tree clean
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy2(shots / "07_final.png", ROOT / "docs" / "dashboard.png")
    print(f"browser session took {elapsed:.1f} s; screenshots in {shots}")
