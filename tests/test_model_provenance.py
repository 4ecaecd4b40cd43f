"""Which model card is used: an explicit, safe search order; the card's SHA-256 recorded with every finding."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil

from dfd_lib.case import open_case
from dfd_lib.models import find_card, weights_dirs


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _planted_weights(folder, tiny_weights):
    """A ./weights with a card that claims to be the default model (a different card file)."""
    folder.mkdir()
    shutil.copy(tiny_weights / "tiny-test-model.pt", folder / "planted.pt")
    doc = json.loads((tiny_weights / "tiny-test-model.json").read_text())
    doc.update(name="planted-model", weights_file="planted.pt", default=True, threshold=0.01)
    (folder / "planted.json").write_text(json.dumps(doc))


def test_weights_in_the_current_directory_do_not_override_the_installed_model(tmp_path, monkeypatch, tiny_weights):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DFD_WEIGHTS_DIR", raising=False)
    _planted_weights(tmp_path / "weights", tiny_weights)
    assert (tmp_path / "weights").resolve() not in weights_dirs()
    path, card = find_card(None)
    assert card.name != "planted-model" and path.parent != (tmp_path / "weights").resolve()
    # asked for explicitly, the folder is used
    assert find_card(None, weights_dir="weights")[1].name == "planted-model"
    monkeypatch.setenv("DFD_WEIGHTS_DIR", str(tmp_path / "weights"))
    assert find_card(None)[1].name == "planted-model"


def test_search_order_is_option_then_env_then_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").mkdir()
    monkeypatch.setenv("DFD_WEIGHTS_DIR", str(tmp_path / "env"))
    dirs = weights_dirs(tmp_path / "opt")
    assert dirs[:2] == [(tmp_path / "opt").resolve(), (tmp_path / "env").resolve()]
    assert len(dirs) == 3 and dirs[2].name == "weights"


def test_loaded_card_is_logged_and_recorded_with_every_detector_finding(
    tmp_path, scanner, tiny_weights, examples, caplog
):
    from dfd_lib.models import load_model

    card_sha = _sha(tiny_weights / "tiny-test-model.json")
    with caplog.at_level(logging.INFO, logger="dfd_lib.models.checkpoint"):
        m = load_model(None, tiny_weights)
    assert m.card_sha256 == card_sha
    assert any(card_sha in r.getMessage() and "tiny-test-model.json" in r.getMessage() for r in caplog.records)
    with open_case("prov", cases_dir=tmp_path / "cases", examiner="Insp. Rao") as case:
        case.triage([examples / "astronaut.jpg", examples / "coffee_no_face.jpg"], scanner=scanner, forensics=False)
        det = case.findings(kind="detector")
        assert len(det) >= 2
        for params in det["params"]:
            assert params["model_card"]["card_sha256"] == card_sha


def test_report_model_section_shows_the_card_sha256(tmp_path, scanner, tiny_weights, examples):
    from dfd_lib.report import generate_report

    card_sha = _sha(tiny_weights / "tiny-test-model.json")
    with open_case("prov-report", cases_dir=tmp_path / "cases", examiner="Insp. Rao") as case:
        case.triage([examples / "astronaut.jpg"], scanner=scanner, forensics=False)
        html = generate_report(case, "html", tmp_path / "r.html", weights_dir=tiny_weights).read_text()
        # the card is not installed where the report is written: the recorded hash is still shown
        html2 = generate_report(case, "html", tmp_path / "r2.html", weights_dir=tmp_path / "none").read_text()
    section = html[html.index("Model used for the scores") :]
    assert "Card SHA-256" in section and card_sha in section
    assert card_sha in html2[html2.index("Model used for the scores") :]
