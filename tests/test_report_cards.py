"""A report or bundle shows one model card's findings, never a mix; the others are named with their item counts."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pypdf
import pytest

from case_support import FakeScanner
from dfd_lib.cli import main
from dfd_lib.export import export_bundle
from dfd_lib.report import ReportError, collect_report_data, generate_report
from dfd_lib.report.summary import summarise
from report_support import CASE_NAME, NCRP_VALUES, case, report_case_store  # noqa: F401

SECOND = "second-opinion"


def _second_opinion(case) -> FakeScanner:
    """Score every item of the case again with another card (the latest finding of each item is now its)."""
    second = FakeScanner(SECOND, threshold=0.3)
    case.triage([], scanner=second, forensics=False)
    return second


def _models(data) -> set[str]:
    return {i.model_name for i in data.items if i.model_name}


def test_the_default_card_is_shown_and_the_card_that_scored_later_is_named(case, tiny_weights):
    second = _second_opinion(case)
    data = collect_report_data(case, weights_dir=tiny_weights)
    # before: each item showed its latest finding of any card, here the second card's (threshold 0.3, not 0.5)
    assert _models(data) == {"tiny-test-model"} and data.card.chosen_by == "default"
    assert [m.name for m in data.models] == ["tiny-test-model"]
    expected = case.items(model_name="tiny-test-model").dropna(subset=["score"]).set_index("item_id")["score"]
    assert {i.item_id: i.score for i in data.items if i.score is not None} == pytest.approx(expected.to_dict())
    n_second = len(case.items(model_name=SECOND)["model"].dropna())
    assert n_second == len(second.scanned) > 0
    assert data.card.others == ((SECOND, second.model.card.sha256, n_second),)
    (para,) = [p for p in summarise(data).paragraphs if p.startswith("Every score in this report")]
    assert "tiny-test-model" in para and "the installed default model" in para
    assert f"{SECOND} ({n_second} items)" in para and "dfd report --model NAME" in para


def test_the_examiner_chooses_the_card_and_its_threshold_decides(case, tiny_weights):
    second = _second_opinion(case)
    data = collect_report_data(case, weights_dir=tiny_weights, model=SECOND)
    assert _models(data) == {SECOND} and data.card.chosen_by == "examiner"
    assert [m.name for m in data.models] == [SECOND] and data.card.others[0][0] == "tiny-test-model"
    scored = [i for i in data.items if i.score is not None]
    assert scored and all(i.verdict == ("fake" if i.score >= 0.3 else "real") for i in scored)
    assert {i.item_id for i in scored} <= set(case.items(model_sha256=second.model.card.sha256)["item_id"])


def test_without_the_default_card_the_card_that_scored_last_is_shown(case, tmp_path):
    _second_opinion(case)
    data = collect_report_data(case, weights_dir=tmp_path / "no cards")
    assert _models(data) == {SECOND} and data.card.chosen_by == "latest"
    assert [name for name, _, _ in data.card.others] == ["tiny-test-model"]


def test_a_case_scored_by_one_card_names_it_and_no_other(case, tiny_weights):
    data = collect_report_data(case, weights_dir=tiny_weights)
    assert data.card.name == "tiny-test-model" and data.card.others == ()
    (para,) = [p for p in summarise(data).paragraphs if p.startswith("Every score in this report")]
    assert "also holds" not in para


def test_an_unknown_card_is_refused_before_anything_is_written_or_logged(case, tiny_weights, tmp_path, capsys):
    before = len(case.custody_entries())
    with pytest.raises(ReportError, match=r"model 'nope' scored no item of case .*tiny-test-model \(\d+ items\)"):
        generate_report(case, "pdf", tmp_path / "r.pdf", weights_dir=tiny_weights, model="nope")
    with pytest.raises(ReportError, match="model 'nope' scored no item"):
        export_bundle(case, "ncrp", tmp_path / "b.zip", values=NCRP_VALUES, weights_dir=tiny_weights, model="nope")
    assert len(case.custody_entries()) == before  # no verification, no form answers saved, no report entry
    store = str(case.path.parent)
    case.close()
    args = ["--cases-dir", store, "--weights-dir", str(tiny_weights), "--quiet", "--model", "nope"]
    assert main(["report", CASE_NAME, "--out", str(tmp_path / "r.pdf"), *args]) == 1
    assert "model 'nope' scored no item" in capsys.readouterr().err
    assert not (tmp_path / "r.pdf").exists() and not (tmp_path / "b.zip").exists()


def test_the_cli_report_and_bundle_show_the_chosen_cards_scores(case, tiny_weights, tmp_path, capsys):
    _second_opinion(case)
    store = str(case.path.parent)
    case.close()
    common = ["--cases-dir", store, "--weights-dir", str(tiny_weights), "--quiet"]
    assert main(["report", CASE_NAME, "--format", "html", "--out", str(tmp_path / "r.html"), *common]) == 0
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "one model, tiny-test-model" in html and f"{SECOND} (" in html
    fields = tmp_path / "fields.yaml"
    import yaml

    fields.write_text(yaml.safe_dump({"portal": "ncrp", "fields": NCRP_VALUES}), encoding="utf-8")
    rc = main(
        ["export", CASE_NAME, "--portal", "ncrp", "--out", str(tmp_path / "b.zip"), "--fields", str(fields)]
        + ["--model", SECOND, *common]
    )
    assert rc == 0, capsys.readouterr().err
    with zipfile.ZipFile(tmp_path / "b.zip") as z, z.open("report.pdf") as f:
        text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(f).pages).split())
    assert f"one model, {SECOND}" in text and "chosen by the examiner" in text


def test_dfd_show_lists_the_scores_the_report_shows_and_names_the_other_cards(case, tiny_weights, capsys):
    _second_opinion(case)
    default = case.items(model_name="tiny-test-model").dropna(subset=["score"])
    n_second = int(case.items(model_name=SECOND)["model"].notna().sum())  # items it has a finding for
    second = case.items(model_name=SECOND).dropna(subset=["score"])
    store = str(case.path.parent)
    case.close()
    common = ["--cases-dir", store, "--weights-dir", str(tiny_weights)]
    assert main(["show", CASE_NAME, *common]) == 0
    out = capsys.readouterr().out
    assert "scores of model tiny-test-model (the installed default model)" in out
    assert f"also scored by {SECOND} ({n_second} items): dfd show --model {SECOND}" in out
    assert main(["show", CASE_NAME, "--json", "--model", SECOND, *common]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out) if r["score"] is not None]
    assert {r["model"] for r in rows} == {SECOND}
    assert {r["item_id"]: r["score"] for r in rows} == pytest.approx(second.set_index("item_id")["score"].to_dict())
    assert len(default) and main(["show", CASE_NAME, "--model", "nope", *common]) == 1
    assert "model 'nope' scored no item" in capsys.readouterr().err


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    """dfd show CASE | head: the closed pipe is not reported as an error (exit status 141, as for SIGPIPE)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfd_lib", "models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    proc.stdout.close()  # before the command has printed anything
    err = proc.stderr.read().decode()
    assert proc.wait(120) == 141 and err == ""


def test_the_summary_lists_every_item_called_fake_not_only_the_top_five():
    """A case with 79 model-fake items listed 5 of them under 'Most suspicious items'."""
    from types import SimpleNamespace

    from dfd_lib.report.summary import MAX_LISTED, _most_suspicious

    def item(i, score, verdict, analyst=None):
        return SimpleNamespace(item_id=i, score=score, verdict=verdict, analyst_verdict=analyst)

    fakes = [item(i, 0.99 - i / 1000, "fake") for i in range(1, 13)]
    reals = [item(100 + i, 0.5 - i / 100, "real") for i in range(10)]
    marked = item(200, 0.05, "real", "likely_fake")  # the examiner's call, whatever the score
    listed = _most_suspicious([*reals, marked, *fakes], top_n=5)
    assert [i.item_id for i in listed] == [*range(1, 13), 200]
    assert [i.item_id for i in _most_suspicious(reals, top_n=5)] == [100, 101, 102, 103, 104]
    many = [item(i, 0.999, "fake") for i in range(MAX_LISTED + 10)]
    assert len(_most_suspicious(many, top_n=5)) == MAX_LISTED


def test_the_model_section_reads_as_sentences_not_a_dump_of_the_card():
    """The report's 'Measured performance' flattened the card's nested tables: five pages of 'validation_by_method
    ffpp/FaceSwap accuracy: 0.801; ...', 36 '(dict)' placeholders and 'synthetic auc: None'."""
    from pathlib import Path

    from dfd_lib.report.modelinfo import performance_lines

    card = json.loads((Path(__file__).resolve().parents[1] / "weights" / "dfd-lite0-multi.json").read_text())
    lines = performance_lines(card["metrics"])
    text = "\n".join(lines)
    rff = card["metrics"]["validation_by_source"]["rff"]
    assert f"rff: AUC {rff['auc']:.3f}, ECE {rff['ece']:.3f}, reals called fake {100 * rff['fpr']:.1f}%" in text
    assert "synthetic: AUC not measurable (one class)" in text and "Whole pipeline on the original images" in text
    assert "(dict)" not in text and "None" not in text and len(lines) <= 6 and len(text) < 3000
    assert performance_lines({}) == []
