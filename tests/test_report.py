"""The case report: PDF text and pictures, HTML twin, sensitive items, custody entries, the CLI."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess

import pypdf
import pytest
from pypdf.constants import UserAccessPermissions

from dfd_lib.cli import main
from dfd_lib.errors import RegistryError
from dfd_lib.progress import CallbackProgress
from dfd_lib.report import REPORT_FORMATS, ReportCancelled, ReportSettings, collect_report_data, generate_report
from report_support import CASE_NAME, UNICODE_NAME, case, item_id_of, report_case_store  # noqa: F401


def _text(path) -> str:
    """All text of the PDF, runs of white space (justified lines) collapsed to one space."""
    reader = pypdf.PdfReader(str(path))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _image_count(path) -> int:
    return sum(len(page.images) for page in pypdf.PdfReader(str(path)).pages)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pdf_report_content_and_custody(case, tiny_weights, tmp_path):
    out = generate_report(case, "pdf", tmp_path / "r.pdf", weights_dir=tiny_weights)
    assert out == tmp_path / "r.pdf" and out.read_bytes().startswith(b"%PDF")
    text = _text(out)
    squashed = re.sub(r"\s+", "", text)
    info = case.info
    for expected in (
        info.id,
        info.title,
        "Insp. Rao",
        "Cyber Cell Pune",
        "UTC",
        "IST",
        "Summary of findings",
        "Most suspicious items",
        "tiny-test-model",
        "Known limits",
        "Verification",
        "INTACT",
        "Chain head",
        "fpdf2",
        "facenet-pytorch",
        "timm",
        "torch",
        "numpy",
        "pillow",
        "Blur along the jaw line",
        "likely fake",
        "Score of each sampled frame",
    ):
        assert expected in text, expected
    for sha in case.items()["sha256"]:
        assert sha in squashed  # every item's full SHA-256, not cut off
    pages = len(pypdf.PdfReader(str(out)).pages)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert f"Case {info.id}" in text
    # Read-only: printing and copying allowed, modification not.
    perms = pypdf.PdfReader(str(out)).user_access_permissions
    assert perms & UserAccessPermissions.PRINT and not perms & UserAccessPermissions.MODIFY
    # Thumbnails, face crops, Grad-CAM overlays, forensic maps and the frame plot are embedded.
    assert _image_count(out) >= 15
    entries = case.custody_entries()
    assert [e.action for e in entries[-2:]] == ["verification", "report"]
    assert entries[-1].details["sha256"] == _sha(out) and entries[-1].details["format"] == "pdf"
    assert case.verify(log_result=False).ok


def test_unicode_file_name_is_drawn_or_spelled_out(case, tiny_weights, tmp_path):
    from dfd_lib.report.fonts import script_fonts

    out = generate_report(case, "pdf", tmp_path / "r.pdf", weights_dir=tiny_weights)
    text = _text(out)
    # Chinese has no font here: written as code points, never dropped or drawn as boxes
    assert "ünï.jpg" in text and "<U+8BC1>" in text
    if script_fonts():  # Noto Sans Devanagari installed (CI installs fonts-noto-core): drawn, shaped, embedded
        assert "<U+092B>" not in text and "फोटो" in text
        assert b"NotoSansDevanagari" in out.read_bytes()
    else:  # without it, spelled out
        assert "<U+092B>" in text


def test_a_report_without_indian_scripts_does_not_load_their_fonts(case, tiny_weights, tmp_path):
    """Shaping costs five times the rendering time: only a report holding such text pays for it."""
    from dfd_lib.report.fonts import needs_script_fonts, script_fonts

    assert not needs_script_fonts("Insp. Rao, ünï.jpg, 0.943 — ok") and not needs_script_fonts("证据")
    assert needs_script_fonts("निरीक्षक राजेश") == bool(script_fonts())
    assert needs_script_fonts("அருண் குமார்") == bool(script_fonts())


def test_pdf_page_renders_to_png(case, tiny_weights, tmp_path):
    out = generate_report(case, "pdf", tmp_path / "r.pdf", weights_dir=tiny_weights)
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: page rendering not checked")
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(out), str(tmp_path / "page")], check=True)
    from PIL import Image

    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    assert page.width > 250 and page.height > 300
    lo, hi = page.getextrema()
    assert hi - lo > 150  # text and pictures, not a blank page


def test_sensitive_item_pixels_never_in_the_report(case, tiny_weights, tmp_path):
    item = item_id_of(case, "astronaut_blended_face.jpg")
    data = collect_report_data(case, weights_dir=tiny_weights)
    view = next(i for i in data.items if i.item_id == item)
    own_images = (
        1
        + sum(1 for f in view.faces if f.crop and (f.gradcam or f is view.faces[0]))
        + sum(1 for f in view.faces if f.gradcam)
        + sum(1 for f in view.forensics if f.map)
    )
    assert own_images >= 4  # thumbnail, crop, Grad-CAM, forensic maps
    before = generate_report(case, "pdf", tmp_path / "before.pdf", weights_dir=tiny_weights)
    html_before = generate_report(case, "html", tmp_path / "before.html", weights_dir=tiny_weights).read_text()
    crop = base64.b64encode(view.faces[0].crop.read_bytes()).decode()
    assert crop in html_before  # the check below can fail

    case.annotate(item, sensitive=True, notes="intimate image; do not reproduce", reviewer="Insp. Rao")
    after = generate_report(case, "pdf", tmp_path / "after.pdf", weights_dir=tiny_weights)
    html_after = generate_report(case, "html", tmp_path / "after.html", weights_dir=tiny_weights).read_text()
    assert _image_count(before) - _image_count(after) == own_images
    text = _text(after)
    assert "Flagged sensitive" in text and view.sha256 in re.sub(r"\s+", "", text)
    assert crop not in html_after
    for art in [f.crop for f in view.faces] + [f.gradcam for f in view.faces] + [f.map for f in view.forensics]:
        if art is not None:
            assert base64.b64encode(art.read_bytes()).decode() not in html_after
    assert "withheld (sensitive)" in html_after


def test_html_report_is_self_contained(case, tiny_weights, tmp_path):
    out = generate_report(case, "html", tmp_path / "r.html", weights_dir=tiny_weights)
    html = out.read_text(encoding="utf-8")
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    for sha in case.items()["sha256"]:
        assert sha in html
    assert UNICODE_NAME in html and "tiny-test-model" in html
    last = case.custody_entries()[-1]
    assert last.action == "report" and last.details["format"] == "html" and last.details["sha256"] == _sha(out)


def test_report_says_when_the_model_card_is_not_installed(case, tmp_path, monkeypatch):
    monkeypatch.setenv("DFD_WEIGHTS_DIR", str(tmp_path / "none"))
    monkeypatch.chdir(tmp_path)
    data = collect_report_data(case, weights_dir=tmp_path / "none")
    assert [m.installed for m in data.models] == [False]
    text = _text(generate_report(case, "pdf", tmp_path / "r.pdf", weights_dir=tmp_path / "none"))
    assert "not installed" in text or "different weights" in text
    assert "tiny-test-model" in text and "threshold" in text


def test_cancelled_report_writes_and_logs_nothing(case, tiny_weights, tmp_path):
    before = [e.action for e in case.custody_entries()]
    progress = CallbackProgress(should_cancel=lambda: True)
    with pytest.raises(ReportCancelled):
        generate_report(case, "pdf", tmp_path / "r.pdf", progress=progress, weights_dir=tiny_weights)
    assert not (tmp_path / "r.pdf").exists()
    assert "report" not in [e.action for e in case.custody_entries()][len(before) :]


def test_report_formats_are_the_registered_ones_and_an_unknown_one_writes_nothing(case, tiny_weights, tmp_path):
    assert REPORT_FORMATS.names() == ["html", "pdf"] and [f.name for f in REPORT_FORMATS] == ["pdf", "html"]
    assert all(f.description for f in REPORT_FORMATS)
    before = len(case.custody_entries())
    with pytest.raises(RegistryError, match="unknown report format 'docx'; known: html, pdf"):
        generate_report(case, "docx", tmp_path / "r.docx", weights_dir=tiny_weights)
    assert not (tmp_path / "r.docx").exists() and len(case.custody_entries()) == before
    out = REPORT_FORMATS.get("html").generate(case, ReportSettings(tmp_path / "r.html", str(tiny_weights)))
    assert out == tmp_path / "r.html" and case.custody_entries()[-1].details["format"] == "html"


def test_cli_report_and_errors(case, tiny_weights, tmp_path, capsys):
    store = str(case.path.parent)
    case.close()
    rc = main(
        [
            "report",
            case.id,
            "--cases-dir",
            store,
            "--out",
            str(tmp_path / "cli.pdf"),
            "--quiet",
            "--weights-dir",
            str(tiny_weights),
            "--examiner",
            "SI Kulkarni",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and (tmp_path / "cli.pdf").exists()
    assert _sha(tmp_path / "cli.pdf") in out
    assert main(["report", "no such case", "--cases-dir", store]) == 1
    assert "no case" in capsys.readouterr().err
    # Default location: inside the case folder, under reports/.
    assert main(["report", CASE_NAME, "--cases-dir", store, "--format", "html", "--quiet"]) == 0
    assert len(list((case.path / "reports").glob("report_*.html"))) == 1


def test_each_card_of_shared_weights_describes_its_own_findings(tiny_weights, tmp_path):
    """The fast card scores the default's weights: a report on its findings must quote its card (threshold,
    limits), never the other card's, whichever the weights folder lists first."""
    import json

    from dfd_lib.report.modelinfo import describe_models

    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    card = json.loads((weights / "tiny-test-model.json").read_text())
    sha = card["sha256"]
    card.update(name="a-fast-card", default=False, threshold=0.8)  # listed before tiny-test-model
    (weights / "a-fast-card.json").write_text(json.dumps(card))
    views = describe_models([("tiny-test-model", sha, {}), ("a-fast-card", sha, {})], weights)
    assert [(v.name, v.installed, v.card.name, v.card.threshold) for v in views] == [
        ("tiny-test-model", True, "tiny-test-model", 0.5),
        ("a-fast-card", True, "a-fast-card", 0.8),
    ]
    (weights / "a-fast-card.json").unlink()
    (only,) = describe_models([("a-fast-card", sha, {})], weights)
    assert not only.installed and only.card is None and "under another card (tiny-test-model)" in only.note


def test_values_read_from_a_tampered_case_are_text_in_the_html_report(case, tiny_weights, tmp_path):
    """Any column of a hand-inserted custody row can hold markup (SQLite does not enforce the column types): the
    HTML report must show it as text, never run it when the report is opened."""
    import sqlite3

    markup = "<img src=x onerror=alert(document.domain)>"
    head = case.custody_entries()[-1]
    conn = sqlite3.connect(case.db_path, isolation_level=None)
    conn.execute(
        "INSERT INTO custody VALUES (?, ?, 'view', 'someone', ?, NULL, '{}', ?, ?)",
        (head.seq + 1, head.time_utc, markup, head.entry_hash, markup),
    )
    conn.execute(
        "UPDATE custody_anchor SET head_seq = ?, head_hash = ?, entries = (SELECT COUNT(*) FROM custody)",
        (head.seq + 1, markup),
    )
    conn.close()
    out = generate_report(case, "html", tmp_path / "r.html", weights_dir=tiny_weights)
    text = out.read_text(encoding="utf-8")
    assert markup not in text and "&lt;img src=x onerror=alert(document.domain)&gt;" in text
    assert "NOT INTACT" in text
