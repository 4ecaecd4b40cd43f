"""`dfd train` refuses, before training, what would give a wrong model: a malformed data spec, a run without a
single training batch, a card calibrated or measured on one class. One line naming the fault; no card, no weights."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfd_lib.errors import DataError, DataSpecError
from tests.test_training_cli_errors import _one_line_error

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--epochs", "1", "--samples-per-epoch", "16", "--batch-size", "16", "--input-size", "64", "--workers", "0"]
FAST += ["--monitor-size", "8", "--device", "cpu"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """8 groups of a real crop and its self-blended fake (the set the training tests use)."""
    from dfd_lib.training.demo_set import make_demo_set

    return make_demo_set(tmp_path_factory.mktemp("demo") / "crops", n_groups=8)


def _relabel(demo: Path, dest: Path, split) -> Path:
    """A copy of the demo set whose labels.csv has a ``split`` column: ``split(label, group index)`` gives each row's."""
    shutil.copytree(demo, dest)
    rows = list(csv.DictReader((demo / "labels.csv").open()))
    with (dest / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "group", "split"])
        w.writerows([r["path"], r["label"], r["group"], split(r["label"], int(r["group"][1:]))] for r in rows)
    return dest


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def _refused(capsys, tmp_path: Path, data: Path, *extra: str) -> str:
    """The one-line error of `dfd train`, checked to have left no run folder (so no card and no weights)."""
    out = tmp_path / "run"
    err = _one_line_error(capsys, ["train", str(data), "--out", str(out), *FAST, *extra])
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    return err


# 1. The spec is checked whole, before anything is read: every key known, every value of its type and range.

SOURCE = "root: x, real_weight: 1, fake_weight: 1"


@pytest.mark.parametrize(
    "text, want",
    [
        (
            f"sources:\n  a: {{{SOURCE}, weigth: 2}}\n",
            "source 'a': unknown key 'weigth'; the keys known here are root, framing, validation, real_weight, fake_weight",
        ),
        (
            "sources:\n  a: {root: x, real_weight: 1, fake_weigth: 1}\n",
            "source 'a': unknown key 'fake_weigth' (did you mean 'fake_weight'?); the keys known here are root,",
        ),
        (f"sbi_shar: 0.3\nsources:\n  a: {{{SOURCE}}}\n", "unknown key 'sbi_shar' (did you mean 'sbi_share'?)"),
        (
            f"sources:\n  a: {{{SOURCE}, validation: {{group_fration: 0.2}}}}\n",
            "source 'a' validation: unknown key 'group_fration'",
        ),
        (
            "sources:\n  a: {root: x, real_weight: -0.5, fake_weight: 1}\n",
            "source 'a': real_weight -0.5 is out of range: it must be 0 or more",
        ),
        (
            "sources:\n  a: {root: x, real_weight: 1, fake_weight: -1}\n",
            "source 'a': fake_weight -1 is out of range: it must be 0 or more",
        ),
        (
            f"sources:\n  a: {{{SOURCE}, validation: {{group_fraction: 1.5}}}}\n",
            "source 'a': validation group_fraction 1.5 is out of range: it must lie strictly between 0 and 1",
        ),
        (
            f"sources:\n  a: {{{SOURCE}, validation: {{group_fraction: 0}}}}\n",
            "validation group_fraction 0 is out of range",
        ),
        (
            f"sources:\n  a: {{{SOURCE}, validation: {{group_fraction: 0.2, seed: 0.5}}}}\n",
            "source 'a' has a value of the wrong type: validation seed must be a whole number, not 0.5",
        ),
        (
            f"sources:\n  a: {{{SOURCE}, validation: {{column: split, group_fraction: 0.2}}}}\n",
            "has both 'column' (the source's own split) and 'group_fraction'",
        ),
        (
            "sources:\n  a: {root: x, real_weight: 1, fake_weight: .nan}\n",
            "source 'a': fake_weight nan is out of range: it must be 0 or more",
        ),
        (
            "sources:\n  a: {root: x, real_weight: 1, fake_weight: lots}\n",
            "source 'a' has a value of the wrong type: fake_weight must be a number, not 'lots'",
        ),
        (
            f"sources:\n  a: {{{SOURCE}, sbi: 'no'}}\n",
            "source 'a' has a value of the wrong type: sbi must be true or false, not 'no'",
        ),
        (
            f"sources:\n  a: {{{SOURCE}, exclude_methods: gan-x}}\n",
            "exclude_methods must be a list of method names, e.g. [gan-x], not 'gan-x'",
        ),
        (f"sources:\n  a: {{{SOURCE}, kind: real}}\n", "source 'a': kind 'real' names real faces"),
        (f"max_fpr: 1.5\nsources:\n  a: {{{SOURCE}}}\n", "max_fpr 1.5 is out of range: it must lie in [0, 1]"),
        (f"sbi_share: -0.1\nsources:\n  a: {{{SOURCE}}}\n", "sbi_share -0.1 is out of range: it must lie in [0, 1]"),
        (f"calibration_split_seed: one\nsources:\n  a: {{{SOURCE}}}\n", "calibration_split_seed must be a whole"),
    ],
)
def test_a_malformed_spec_is_refused_naming_the_source_the_key_and_what_is_allowed(tmp_path, text, want):
    from dfd_lib.training.spec import read_spec

    with pytest.raises(DataSpecError) as caught:
        read_spec(_spec(tmp_path, text))
    msg = str(caught.value)
    assert want in msg and msg.startswith(f"data spec {tmp_path / 's.yaml'}: ") and "\n" not in msg, msg


def test_every_fault_of_a_spec_is_named_at_once(tmp_path):
    from dfd_lib.training.spec import read_spec

    text = (
        "sources:\n  a: {root: x, real_weight: 1, fake_weight: 1, validation: {group_fraction: 1.5}}\n"
        "  b: {root: y, real_weight: -1, fake_weigth: 1}\n"
    )
    with pytest.raises(DataSpecError) as caught:
        read_spec(_spec(tmp_path, text))
    msg = str(caught.value)
    assert "source 'a': validation group_fraction 1.5" in msg and "source 'b': real_weight -1" in msg
    assert "source 'b': unknown key 'fake_weigth'" in msg


def test_the_shipped_recipes_are_accepted_and_one_misspelt_key_in_them_is_not(tmp_path):
    from dfd_lib.training.spec import check_training_mix, read_spec

    shipped = sorted((ROOT / "weights").glob("*.spec.yaml"))
    assert len(shipped) >= 4
    for path in shipped:
        check_training_mix(read_spec(path))  # data not needed: nothing is read from the sources
    text = (ROOT / "weights" / "dfd-lite0-multi.spec.yaml").read_text()
    assert "    fake_weight: 0.15\n" in text
    typo = _spec(tmp_path, text.replace("    fake_weight: 0.15\n", "    fake_weigth: 0.15\n"))
    with pytest.raises(DataSpecError, match=r"source 'rff': unknown key 'fake_weigth' \(did you mean 'fake_weight'"):
        read_spec(typo)


def test_dfd_train_refuses_a_misspelt_weight_before_writing_anything(tmp_path, capsys, demo):
    spec = _spec(tmp_path, f"sources:\n  crops: {{root: {demo}, real_weight: 1, fake_weigth: 1}}\n")
    err = _refused(capsys, tmp_path, spec)
    assert "source 'crops': unknown key 'fake_weigth' (did you mean 'fake_weight'?)" in err


def test_every_missing_source_folder_is_named(tmp_path, capsys):
    spec = _spec(tmp_path, "sources:\n  a: {root: gone_a, real_weight: 1}\n  b: {root: gone_b, fake_weight: 1}\n")
    err = _refused(capsys, tmp_path, spec)
    assert f"source a: folder {tmp_path / 'gone_a'} does not exist; source b: folder {tmp_path / 'gone_b'}" in err


@pytest.mark.parametrize(
    "extra, want",
    [
        ("exclude_methods: [fakes]", "source crops: exclude_methods names method(s) fakes that no row of"),
        ("method_kinds: {Face2Fase: reenactment}", "method_kinds names method(s) Face2Fase that no row of"),
        ("group_column: video", "source crops: labels.csv has no column 'video' (group_column)"),
    ],
)
def test_a_method_or_column_the_source_does_not_have_is_refused(tmp_path, capsys, demo, extra, want):
    """A misspelt method or group column would change nothing, silently: a leave-one-out check that leaves nothing
    out, or a split that puts frames of one video on both sides."""
    spec = _spec(tmp_path, f"sources:\n  crops: {{root: {demo}, real_weight: 1, fake_weight: 1, {extra}}}\n")
    assert want in _refused(capsys, tmp_path, spec)


# 2. A run that would train on no batch (a part of the mix with nothing to draw from) stops before training.


def test_a_spec_whose_fake_half_has_no_source_is_refused(tmp_path, capsys, demo):
    """The fake half is sbi_share pseudo-fakes and the rest real fakes by fake_weight: with no fake_weight the
    batches came out short (here 10 of 16: not one batch), and a card and weights were written anyway."""
    spec = _spec(tmp_path, f"sbi_share: 0.3\nsources:\n  crops: {{root: {demo}, real_weight: 1, fake_weight: 0}}\n")
    err = _refused(capsys, tmp_path, spec)
    assert (
        "no source has a fake_weight > 0, yet sbi_share 0.3 leaves 70% of each batch's fake half to real fakes" in err
    )


def test_sources_without_training_fakes_are_refused(tmp_path, capsys, demo):
    data = _relabel(demo, tmp_path / "crops", lambda label, g: "test" if label == "fake" or g % 2 else "train")
    spec = _spec(
        tmp_path,
        "sbi_share: 0.3\nsources:\n  crops: {root: crops, validation: {column: split}, real_weight: 1, fake_weight: 1}\n",
    )
    err = _refused(capsys, tmp_path, spec)
    assert err.endswith(
        "no training fakes: the source(s) with a fake_weight > 0 (crops) have no fake faces in their training part, "
        "and sbi_share 0.3 leaves 70% of each batch's fake half to them; nothing is trained (sbi_share: 1 trains on "
        "pseudo-fakes alone)"
    ), err
    assert data.is_dir()


def test_no_pseudo_fakes_without_a_face_in_any_training_real(tmp_path):
    """Checked again once MTCNN has looked for the faces pseudo-fakes are blended from."""
    from dfd_lib.training.multi import check_training_rows
    from dfd_lib.training.spec import read_spec

    spec = read_spec(_spec(tmp_path, "sources:\n  a: {root: x, real_weight: 1, fake_weight: 1}\n"))
    rows = pd.DataFrame({"source": "a", "abs_path": ["r0.jpg", "f0.jpg"], "label": [0, 1]})
    check_training_rows(spec, rows, {"r0.jpg": ("box", "points")})
    with pytest.raises(DataError, match=r"no pseudo-fakes can be made: of the sources that make them \(a\), no face"):
        check_training_rows(spec, rows, {}, "3 picture(s) of pipeline-framed sources had no face and were left out")


def test_an_epoch_without_a_full_batch_trains_nothing_and_saves_nothing(tmp_path):
    import torch

    from dfd_lib.training.config import TrainConfig
    from dfd_lib.training.train import fit

    cfg = TrainConfig(data=str(tmp_path), out=str(tmp_path), epochs=1, samples_per_epoch=16, batch_size=16)
    samples = [(torch.zeros(4), torch.tensor(float(i % 2))) for i in range(10)]
    with pytest.raises(
        DataError, match=r"epoch 1 has no training batch: 10 training sample\(s\) were drawn for batches of 16"
    ):
        fit(cfg, torch.nn.Linear(4, 1), lambda epoch, n: samples, [], np.zeros(0), "cpu", None)
    assert not (tmp_path / "checkpoint_last.pt").exists() and not (tmp_path / "history.json").exists()


# 3. A card is never calibrated or measured on one class: refused before training, and again when fitting.


def test_a_calibration_set_without_fakes_is_refused_before_training(tmp_path, capsys, demo):
    _relabel(demo, tmp_path / "crops", lambda label, g: "test" if label == "real" and g % 2 else "train")
    spec = _spec(
        tmp_path,
        "sources:\n  crops: {root: crops, validation: {column: split}, real_weight: 1, fake_weight: 1}\n",
    )
    err = _refused(capsys, tmp_path, spec)
    assert "error: the calibration set has no fake faces (2 real): a temperature and threshold cannot be fitted" in err


def test_a_single_folder_whose_calibration_half_has_no_fakes_is_refused_before_training(tmp_path, capsys, demo):
    """All fakes in one group, which falls on the training side: the old card was fitted on two reals (temperature
    at its bound, threshold 0.5) and carried NaN AUC and EER."""
    labels = tmp_path / "labels.csv"
    rows = list(csv.DictReader((demo / "labels.csv").open()))
    pd.DataFrame(
        {"path": [r["path"] for r in rows], "label": [r["label"] for r in rows]}
        | {"group": [r["group"] if r["label"] == "real" else "F" for r in rows]}
    ).to_csv(labels, index=False)
    err = _refused(capsys, tmp_path, demo, "--labels", str(labels), "--val-fraction", "0.5")
    assert "the calibration set has no fake faces (2 real): a temperature and threshold cannot be fitted" in err
    assert f"{demo} has 16 files in 9 group(s), val_fraction 0.5" in err


def _rows(labels, sources) -> pd.DataFrame:
    return pd.DataFrame({"label": labels, "source": sources, "method": ["m"] * len(labels)})


def test_calibration_across_sources_refuses_one_class_sets_naming_each_sources_counts():
    """`dfd models --recalibrate` fits on the card's lists through the same function: never on one class either."""
    from dfd_lib.training.multi import calibrate_sources

    z = np.array([-1.0, 0.5, 1.0, 2.0])
    both = _rows([0, 1, 0, 1], ["a", "a", "b", "b"])
    reals = _rows([0, 0, 0, 0], ["a", "a", "a", "b"])
    with pytest.raises(DataError, match=r"^the calibration set has no fake faces \(4 real; a: 3 real, 0 fake, b: 1"):
        calibrate_sources(z, reals, z, both, 0.1)
    fakes = _rows([1, 1, 1, 1], ["a"] * 4)
    with pytest.raises(DataError, match=r"^the held-out validation set has no real faces \(4 fake\): the card's AUC"):
        calibrate_sources(z, both, z, fakes, 0.1)
    temperature, _, threshold, metrics = calibrate_sources(z, both, z, both, 0.1)
    assert np.isfinite([temperature, threshold, metrics["validation"]["auc"]]).all()


def test_single_folder_calibration_refuses_one_class_sets():
    from dfd_lib.training.train import _calibrate

    z = {"calib": np.array([-1.0, 1.0, 0.5]), "val": np.array([0.2, 0.3])}
    with pytest.raises(DataError, match=r"^the held-out validation set has no fake faces \(2 real\)"):
        _calibrate(z, np.array([0, 1, 1]), np.array([0, 0]))
    with pytest.raises(DataError, match=r"^the calibration set is empty"):
        _calibrate({"calib": np.zeros(0), "val": z["val"]}, np.zeros(0, dtype=int), np.array([0, 1]))


def test_a_nan_in_the_calibration_or_the_headline_metrics_is_never_written():
    from dfd_lib.training.calibrate import check_fitted

    good = {"auc": 0.9, "ap": 0.9, "eer": 0.1, "ece": 0.05, "accuracy": 0.9, "tpr": 0.9, "fpr": 0.1}
    check_fitted(1.0, 0.0, 0.5, {"validation": good, "calibration": good})
    with pytest.raises(DataError, match=r"\(temperature, validation auc NaN or infinite\): no model card is written"):
        check_fitted(float("nan"), 0.0, 0.5, {"validation": good | {"auc": float("nan")}, "calibration": good})
