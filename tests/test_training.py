"""Training, calibration and evaluation on a tiny generated set (no ../shared needed)."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from dfd_lib.cli import main
from dfd_lib.training.calibrate import fit_temperature, sigmoid
from dfd_lib.training.data import load_labels, split_by_group
from dfd_lib.training.metrics import ece_sampling_noise, equal_error_rate, expected_calibration_error, summarize


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """16 groups: a jittered real crop of the public-domain astronaut and its self-blended fake."""
    from dfd_lib.training.demo_set import make_demo_set

    return make_demo_set(tmp_path_factory.mktemp("tiny"))


def test_split_is_by_group_and_deterministic(tiny_set):
    df = load_labels(tiny_set)
    tr, va = split_by_group(df, 0.4, seed=3)
    assert set(tr.group) & set(va.group) == set()
    assert len(tr) + len(va) == len(df)
    tr2, va2 = split_by_group(df, 0.4, seed=3)
    assert list(va.path) == list(va2.path)


def test_labels_from_folders_when_no_csv(tmp_path):
    for sub in ("real", "fake"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "a.jpg").write_bytes(b"x")
    df = load_labels(tmp_path)
    assert sorted(zip(df.path, df.label)) == [("fake/a.jpg", 1), ("real/a.jpg", 0)]


# What `dfd eval --json` writes for a folder, in this order (a contract with scripts that read it).
EVAL_JSON_KEYS = "n n_real n_fake n_no_face auc ap eer accuracy threshold ece ece_noise_p95 model".split()


def test_metrics_formulas():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    s = summarize(y, p, 0.5)
    assert s["auc"] == pytest.approx(0.75) and s["accuracy"] == pytest.approx(0.75)
    assert s["tpr"] == pytest.approx(0.5) and s["fpr"] == pytest.approx(0.0)
    assert equal_error_rate(np.array([0, 1]), np.array([0.2, 0.9]))[0] == pytest.approx(0.0)
    # Perfectly calibrated scores: ECE 0; overconfident ones: large.
    assert expected_calibration_error(np.array([0, 1] * 50), np.full(100, 0.5)) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([0, 1] * 50), np.full(100, 0.99)) > 0.4


def test_ece_noise_level_tells_sampling_noise_from_miscalibration():
    """On a few hundred rows perfectly calibrated scores still show an ECE of several hundredths; the noise
    level says how much, shrinks with more rows, and a real miscalibration stands far above it."""
    rng = np.random.default_rng(3)
    small, large = rng.uniform(0, 1, 200), rng.uniform(0, 1, 4000)
    noise_small, noise_large = ece_sampling_noise(small), ece_sampling_noise(large)
    assert 0.06 < noise_small < 0.16 and noise_large < 0.04 and noise_large < noise_small / 2
    calibrated = [expected_calibration_error(rng.random(200) < small, small) for _ in range(200)]
    assert 0.01 < np.mean(np.array(calibrated) > noise_small) < 0.12  # about 5% of perfect models exceed it
    overconfident = np.clip(small * 1.6 - 0.3, 0, 1)  # scores pushed away from 0.5
    assert expected_calibration_error(rng.random(4000) < large, np.clip(large * 1.6 - 0.3, 0, 1)) > 3 * noise_large
    assert ece_sampling_noise(overconfident) == ece_sampling_noise(overconfident)  # fixed seed: repeatable
    assert summarize(np.array([0, 1] * 100), small, 0.5)["ece_noise_p95"] == pytest.approx(noise_small)
    assert np.isnan(ece_sampling_noise(np.array([])))


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logit = rng.normal(0, 2, 20000)
    y = (rng.random(20000) < sigmoid(true_logit)).astype(int)
    t = fit_temperature(true_logit * 3.0, y)  # a model 3x overconfident
    assert t == pytest.approx(3.0, rel=0.1)


@pytest.mark.slow
def test_train_resume_and_eval_reproduces_card(tiny_set, tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        str(tiny_set),
        "--out",
        str(out),
        "--name",
        "tiny",
        "--epochs",
        "2",
        "--samples-per-epoch",
        "16",
        "--batch-size",
        "8",
        "--input-size",
        "64",
        "--val-fraction",
        "0.5",
        "--workers",
        "0",
        "--monitor-size",
        "8",
        "--device",
        "cpu",
    ]

    # First run dies when epoch 2 starts (as a killed process would); the rerun resumes from epoch 1.
    from dfd_lib.progress import NullProgress
    from dfd_lib.training import train as train_mod

    class Dies(NullProgress):
        def start(self, total, desc=""):
            if desc.startswith("epoch 2"):
                raise KeyboardInterrupt

    cfg = train_mod.TrainConfig(
        data=str(tiny_set),
        out=str(out),
        name="tiny",
        epochs=2,
        samples_per_epoch=16,
        batch_size=8,
        input_size=64,
        val_fraction=0.5,
        workers=0,
        monitor_size=8,
        device="cpu",
    )
    with pytest.raises(KeyboardInterrupt):
        train_mod.train(cfg, progress=Dies())
    first = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in first] == [1]
    # resuming with another schedule is refused, naming what changed (it would crash in the scheduler, or train on
    # the old schedule's rates)
    from dfd_lib.errors import TrainingConfigError

    with pytest.raises(TrainingConfigError, match="epochs 2 -> 3"):
        train_mod.train(replace(cfg, epochs=3), progress=NullProgress())
    assert main(args) == 0
    hist = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2] and hist[0] == first[0]

    card = json.loads((out / "tiny.json").read_text())
    for key in (
        "backbone",
        "input_size",
        "mean",
        "std",
        "temperature",
        "threshold",
        "training_data",
        "sha256",
        "split",
        "metrics",
    ):
        assert key in card
    val_list = out / "tiny.val_files.csv"
    assert val_list.exists() and (out / "tiny.calib_files.csv").exists()
    groups_val = {r["group"] for r in csv.DictReader(val_list.open())}
    groups_cal = {r["group"] for r in csv.DictReader((out / "tiny.calib_files.csv").open())}
    assert not groups_val & groups_cal

    res = tmp_path / "eval.json"
    assert (
        main(
            [
                "eval",
                str(tiny_set),
                "--crops",
                "--labels",
                str(val_list),
                "--weights-dir",
                str(out),
                "--model",
                "tiny",
                "--json",
                str(res),
                "--plots",
                str(tmp_path / "plots"),
                "--quiet",
            ]
        )
        == 0
    )
    got = json.loads(res.read_text())
    assert list(got) == EVAL_JSON_KEYS
    want = card["metrics"]["validation"]
    assert got["n"] == want["n"] and got["threshold"] == pytest.approx(card["threshold"])
    for k in ("auc", "accuracy", "ece"):
        if not np.isnan(want[k]):
            assert got[k] == pytest.approx(want[k], abs=0.02), k
    # Refitting the calibration from the saved logits gives the same card (same rule, same data).
    from dfd_lib.training.train import recalibrate_run

    again = recalibrate_run(out / "tiny.json")
    assert again.temperature == pytest.approx(card["temperature"], rel=1e-3)
    assert again.logit_bias == pytest.approx(card["logit_bias"], abs=1e-3) and again.sha256 == card["sha256"]
    for name in ("roc.png", "score_histogram.png", "reliability.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000

    # Test-time augmentation: the card says how logits are computed, and calibration follows it.
    assert card["tta"] == "hflip"
    with pytest.raises(ValueError, match="give data"):
        recalibrate_run(out / "tiny.json", tta="none")
    plain = recalibrate_run(out / "tiny.json", data=tiny_set, tta="none")
    assert plain.tta == "none" and plain.sha256 == card["sha256"]
    res2 = tmp_path / "eval_plain.json"
    assert (
        main(
            [
                "eval",
                str(tiny_set),
                "--crops",
                "--labels",
                str(val_list),
                "--weights-dir",
                str(out),
                "--model",
                "tiny",
                "--json",
                str(res2),
                "--quiet",
            ]
        )
        == 0
    )
    got2 = json.loads(res2.read_text())
    assert got2["threshold"] == pytest.approx(plain.threshold)
    assert got2["auc"] == pytest.approx(plain.metrics["validation"]["auc"], abs=0.02)
    bad = json.loads((out / "tiny.json").read_text()) | {"tta": "rot90"}
    from dfd_lib.errors import ModelCardError
    from dfd_lib.models.card import ModelCard

    with pytest.raises(ModelCardError, match="tta"):
        ModelCard.from_dict(bad)


def test_platt_scaling_recovers_temperature_and_bias():
    from dfd_lib.training.calibrate import apply_calibration, fit_platt

    rng = np.random.default_rng(1)
    true_logit = rng.normal(0, 2, 20000)
    y = (rng.random(20000) < sigmoid(true_logit)).astype(int)
    # A model 2x overconfident and shifted by -1.5 (as a training mix with extra pseudo-fakes would do).
    t, b = fit_platt(true_logit * 2.0 - 3.0, y)
    assert t == pytest.approx(2.0, rel=0.1) and b == pytest.approx(1.5, abs=0.15)
    p = apply_calibration(true_logit * 2.0 - 3.0, t, b)
    assert expected_calibration_error(y, p) < 0.02


def test_self_blend_check_scores_reals_against_their_own_pseudo_fakes(tiny_set, tmp_path):
    """`dfd eval --crops --self-blend`: the generalization check that needs no fake from any generator."""
    out = tmp_path / "sb.json"
    scores = tmp_path / "sb.csv"
    args = ["eval", str(tiny_set), "--crops", "--self-blend", "--landmarks", str(tmp_path / "lm.csv"), "--quiet"]
    assert main(args + ["--json", str(out), "--scores", str(scores)]) == 0
    got = json.loads(out.read_text())
    n_reals = sum(1 for p in (tiny_set / "real").iterdir())
    assert list(got) == EVAL_JSON_KEYS
    # Listed fakes are ignored: each real crop is paired with a pseudo-fake made from itself.
    assert got["n_real"] == n_reals and 0 < got["n_fake"] <= n_reals and got["n"] == got["n_real"] + got["n_fake"]
    rows = list(csv.DictReader(scores.open()))
    assert all(r["path"].startswith("real/") for r in rows)
    assert {r["path"] for r in rows if r["label"] == "1"} <= {
        r["path"] + "#self-blend" for r in rows if r["label"] == "0"
    }
    # The shipped model was trained with pseudo-fakes: it ranks them above their sources.
    assert got["auc"] > 0.7
    # Seeded: the same pseudo-fakes, the same scores.
    assert main(args + ["--scores", str(tmp_path / "again.csv")]) == 0
    assert (tmp_path / "again.csv").read_text() == scores.read_text()
    with pytest.raises(ValueError, match="crops"):
        from dfd_lib.training.evaluate import evaluate

        evaluate(tiny_set, self_blend=True)


def test_self_blend_check_reports_an_unreadable_real_and_scores_the_rest(tiny_set, tmp_path):
    import shutil

    from dfd_lib.training.evaluate import evaluate

    reals = sorted((tiny_set / "real").iterdir())[:3]
    (tmp_path / "real").mkdir()
    for p in reals:
        shutil.copy2(p, tmp_path / "real" / p.name)
    (tmp_path / "real" / "truncated.jpg").write_bytes(reals[0].read_bytes()[:200])
    r = evaluate(tmp_path, crops=True, self_blend=True)
    assert [(p, s) for p, s, _ in r.problems] == [("real/truncated.jpg", "unreadable")]
    assert r.metrics["n_real"] == 3 and r.metrics["n_fake"] == 3 and r.metrics["n_failed"] == 1
