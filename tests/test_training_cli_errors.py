"""`dfd train` / `dfd eval` on bad input: one line naming the problem and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dfd_lib.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _one_line_error(capsys, argv: list[str], command: str = "train") -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 1, err
    assert err.startswith(f"dfd {command}: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_dfd_train_with_a_bad_spec_yaml_prints_one_line_and_exits_non_zero(tmp_path):
    spec = tmp_path / "bad.spec.yaml"
    spec.write_text("name: x\nsources: [1, 2\n")
    proc = subprocess.run(
        [sys.executable, "-m", "dfd_lib", "train", str(spec), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"dfd train: error: data spec {spec} cannot be read as YAML: ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize(
    "spec_text, match",
    [
        ("sources:\n  a: {root: a, real_weight: heavy}\n", "source 'a' has a value of the wrong type"),
        ("sources:\n  a: {root: no_such_folder, real_weight: 1}\n", "no_such_folder does not exist"),
    ],
)
def test_dfd_train_with_a_bad_spec_value_or_missing_source_folder(tmp_path, capsys, spec_text, match):
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text)
    assert match in _one_line_error(capsys, ["train", str(spec), "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_dfd_train_with_a_missing_data_folder(tmp_path, capsys):
    err = _one_line_error(capsys, ["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")])
    assert f"{tmp_path / 'nowhere'} has no labels.csv and no files under real/ or fake/" in err
    assert not (tmp_path / "run").exists()


def test_dfd_train_with_labels_listing_missing_files(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "labels.csv").write_text("path,label\nreal/a.png,real\nfake/b.png,fake\n")
    err = _one_line_error(capsys, ["train", str(tmp_path / "data"), "--out", str(tmp_path / "run")])
    assert "2 of the 2 listed files do not exist" in err and "real/a.png" in err


@pytest.mark.parametrize(
    "option, match",
    [
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--val-fraction", "1.5"], "val_fraction must lie strictly between 0 and 1"),
        (["--sbi-share", "2"], "sbi_share must lie in [0, 1]"),
        (["--device", "gpu"], "device 'gpu' is not auto, cpu, cuda or cuda:N"),
    ],
)
def test_dfd_train_with_a_bad_setting_names_it(tmp_path, capsys, option, match):
    err = _one_line_error(capsys, ["train", str(tmp_path), "--out", str(tmp_path / "run"), *option])
    assert match in err


def test_dfd_eval_self_blend_on_a_spec_is_refused_in_one_line(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("sources:\n  a: {root: a, real_weight: 1}\n")
    err = _one_line_error(capsys, ["eval", str(spec), "--self-blend"], command="eval")
    assert "--self-blend takes a folder of crops" in err


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "cannot be read as CSV"),
        ("path,label\n", "lists no files"),
        ("path,label\n,fake\n", "without a path"),
    ],
)
def test_dfd_eval_with_an_empty_or_pathless_labels_file(tmp_path, capsys, text, match):
    (tmp_path / "crops").mkdir()
    labels = tmp_path / "labels.csv"
    labels.write_text(text)
    err = _one_line_error(capsys, ["eval", str(tmp_path / "crops"), "--crops", "--labels", str(labels)], "eval")
    assert match in err


def test_dfd_eval_of_one_class_says_why_ranking_is_undefined_and_writes_valid_json(
    tmp_path, capsys, tiny_weights, examples
):
    import json
    import shutil

    (tmp_path / "crops" / "real").mkdir(parents=True)
    shutil.copy(examples / "astronaut.jpg", tmp_path / "crops" / "real" / "a.jpg")
    out = tmp_path / "eval.json"
    rc = main(["eval", str(tmp_path / "crops"), "--crops", "--weights-dir", str(tiny_weights), "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "nan" not in text.lower() and "need real and fake files; here 1 real and 0 fake" in text
    record = json.loads(out.read_text())  # strict JSON: no bare NaN
    assert record["auc"] is None and record["n_real"] == 1 and record["n_fake"] == 0


def test_settings_a_model_card_would_refuse_are_refused_before_training(tmp_path, capsys):
    """A run must not train for hours and then write a card that cannot be loaded."""
    from dfd_lib.errors import DataError, TrainingConfigError
    from dfd_lib.training.config import TrainConfig

    for kw, match in (
        ({"crop_scale": 0.1}, "crop_scale must lie between 0.3 and 4"),
        ({"input_size": 16}, "at least 32"),
    ):
        with pytest.raises(TrainingConfigError, match=match):
            TrainConfig(data=str(tmp_path), out=str(tmp_path / "run"), **kw)
    from dfd_lib.training.pack import pack_spec

    with pytest.raises(DataError, match="side must be at least 32"):
        pack_spec(None, tmp_path / "pack", tmp_path / "lm", side=0)  # refused before the spec is read


def test_a_truncated_training_image_is_named(tmp_path, examples):
    from types import SimpleNamespace

    from dfd_lib.errors import DataError
    from dfd_lib.training.dataset import CropDataset

    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "cut.jpg").write_bytes((examples / "astronaut.jpg").read_bytes()[:3000])
    with pytest.raises(DataError, match="fake/cut.jpg cannot be decoded"):
        CropDataset.load(SimpleNamespace(root=tmp_path), "fake/cut.jpg")


def test_self_blend_without_real_crops_says_so(tmp_path, capsys, examples):
    import shutil

    (tmp_path / "crops" / "fake").mkdir(parents=True)
    shutil.copy(examples / "astronaut.jpg", tmp_path / "crops" / "fake" / "a.jpg")
    err = _one_line_error(capsys, ["eval", str(tmp_path / "crops"), "--crops", "--self-blend"], "eval")
    assert "none are listed" in err
