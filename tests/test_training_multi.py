"""Multi-source training and evaluation, degradations, calibration across sources, novelty (no ../shared needed)."""

import csv
import json

import numpy as np
import pytest

from dfd_lib.cli import main
from dfd_lib.errors import DataError


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Three small sources beside a spec: face crops with groups, whole photos with a split column, fakes only."""
    from PIL import Image
    from skimage import data

    from dfd_lib.training.demo_set import make_demo_set
    from dfd_lib.training.sbi import self_blend

    root = tmp_path_factory.mktemp("multi")
    make_demo_set(root / "crops", n_groups=12)
    astro = data.astronaut()
    rng = np.random.default_rng(0)
    (root / "photos" / "real").mkdir(parents=True)
    (root / "photos" / "fake").mkdir(parents=True)
    (root / "gan" / "fake").mkdir(parents=True)
    rows, gan_rows = [], []
    from dfd_lib.faces import FaceDetector

    face = FaceDetector().detect(astro)[0]
    for i in range(12):
        dx, dy = rng.integers(-20, 20, size=2)
        x0, y0 = 100 + int(dx), 25 + int(dy)
        photo = np.ascontiguousarray(astro[y0 : y0 + 300, x0 : x0 + 300])
        photo = np.clip(photo * rng.uniform(0.85, 1.15), 0, 255).astype(np.uint8)
        fake, _ = self_blend(photo, np.array(face.landmarks) - [x0, y0], rng)
        split = "test" if i % 3 == 0 else "train"
        Image.fromarray(photo).save(root / "photos" / "real" / f"r{i}.jpg", quality=92)
        Image.fromarray(fake).save(root / "photos" / "fake" / f"f{i}.jpg", quality=92)
        rows += [(f"real/r{i}.jpg", "real", "real", split), (f"fake/f{i}.jpg", "fake", "blend", split)]
        gan = np.ascontiguousarray(np.flip(photo, 1))
        gan = (gan.astype(np.float32) * 0.6 + 90).astype(np.uint8)
        Image.fromarray(gan).save(root / "gan" / "fake" / f"g{i}.jpg", quality=92)
        gan_rows.append((f"fake/g{i}.jpg", "fake", "gan-x", f"demographic{i % 2}"))
    for name, header, body in (
        ("photos", ["path", "label", "method", "split"], rows),
        ("gan", ["path", "label", "method", "group"], gan_rows),
    ):
        with open(root / name / "labels.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(body)
    (root / "spec.yaml").write_text(
        "name: tiny-multi\nsbi_share: 0.3\nmax_fpr: 0.2\nsources:\n"
        "  crops: {root: crops, framing: as_given, validation: {group_fraction: 0.5, seed: 0}, real_weight: 0.5, fake_weight: 0.4}\n"
        "  photos: {root: photos, framing: pipeline, group_column: null, validation: {column: split, value: test},"
        " real_weight: 0.5, fake_weight: 0.3}\n"
        "  gan: {root: gan, framing: pipeline, kind: synthetic, group_column: null, sbi: false, validation: {group_fraction: 0.5},"
        " real_weight: 0.0, fake_weight: 0.3}\n"
    )
    return root


def test_spec_roles_keep_groups_apart_and_every_source_in_both_halves(sources):
    from dfd_lib.training.spec import load_spec, read_spec

    spec = read_spec(sources / "spec.yaml")
    assert [s.name for s in spec.sources] == ["crops", "photos", "gan"]
    t = load_spec(spec)
    assert set(t["role"]) == {"train", "calib", "val"}
    for src in ("crops", "photos", "gan"):
        roles = set(t.loc[t["source"] == src, "role"])
        assert {"calib", "val"} <= roles, src
    crops = t[t["source"] == "crops"]
    by_role = {r: set(crops.loc[crops["role"] == r, "group"]) for r in ("train", "calib", "val")}
    assert (
        not (by_role["train"] & by_role["calib"])
        and not (by_role["train"] & by_role["val"])
        and not (by_role["calib"] & by_role["val"])
    )
    photos = t[t["source"] == "photos"]
    assert set(photos.loc[photos["role"] == "train", "path"]) == {
        f"{k}/{c}{i}.jpg" for i in range(12) if i % 3 for k, c in (("real", "r"), ("fake", "f"))
    }
    # The gan source's group column names demographics, not people: every file is its own group.
    assert set(t.loc[t["source"] == "gan", "group"]) == set(t.loc[t["source"] == "gan", "path"])
    # Deterministic.
    assert load_spec(spec).equals(t)


@pytest.mark.parametrize(
    "text, match",
    [
        ("sources: {}\n", "sources"),
        ("sources:\n  a: {framing: as_given}\n", "root"),
        ("sources:\n  a: {root: x, framing: stretched, real_weight: 1}\n", "framing"),
        ("sources:\n  a: {root: x, real_weight: 0}\n", "real_weight"),
        ("sources:\n  a: {root: x, real_weight: 1, validation: {by: magic}}\n", "validation"),
        ("sources: [\n", r"cannot be read as YAML: .* at line 2, column 1$"),
        ("sources:\n  a: {root: x, real_weight: lots}\n", "source 'a' has a value of the wrong type"),
        ("sources:\n  a: {root: x, real_weight: 1, validation: {group_fraction: most}}\n", "wrong type"),
        ("sources:\n  a: {root: x, real_weight: 1, validation: 0.2}\n", "validation needs"),
        ("sources:\n  a: {root: x, real_weight: 1}\nmax_fpr: low\n", "wrong type"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(tmp_path, text, match):
    from dfd_lib.errors import DataSpecError
    from dfd_lib.training.spec import read_spec

    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(DataSpecError, match=match) as caught:
        read_spec(tmp_path / "s.yaml")
    assert isinstance(caught.value, DataError) and "\n" not in str(caught.value)  # one line for the CLI


def test_threshold_rule_bounds_every_sources_false_positives():
    from dfd_lib.training.calibrate import choose_threshold_multi

    rng = np.random.default_rng(0)
    # Source b's reals score high (a domain the model over-calls): the EER point alone would flag many of them.
    y = np.r_[np.zeros(400), np.ones(400), np.zeros(100), np.ones(100)].astype(int)
    src = np.array(["a"] * 800 + ["b"] * 200)
    p = np.r_[rng.beta(2, 5, 400), rng.beta(5, 2, 400), rng.beta(4, 3, 100), rng.beta(6, 2, 100)]
    t = choose_threshold_multi(y, p, src, max_fpr=0.05)
    for s in ("a", "b"):
        reals = p[(src == s) & (y == 0)]
        assert (reals >= t).mean() <= 0.05
    assert choose_threshold_multi(y, p, src, max_fpr=0.5) < t


def test_calibration_weighting_keeps_a_source_of_fakes_only_from_dragging_the_others():
    from dfd_lib.training.calibrate import (
        SOURCE_WEIGHT_POWERS,
        apply_calibration,
        fit_platt,
        fit_platt_sources,
        source_weights,
    )
    from dfd_lib.training.metrics import ece_sampling_noise, expected_calibration_error

    rng = np.random.default_rng(0)
    # Source a: 2,000 faces whose raw logits are already calibrated (labels drawn from sigmoid(z)).
    za = rng.normal(0, 2.5, 2000)
    ya = (rng.random(2000) < 1 / (1 + np.exp(-za))).astype(int)
    # Source g: 300 fakes only, scored high (a generator the model knows well).
    zg = rng.normal(3.0, 1.0, 300)
    z, y = np.r_[za, zg], np.r_[ya, np.ones(300, dtype=int)]
    src = np.array(["a"] * 2000 + ["g"] * 300)

    t, b, fit = fit_platt_sources(z, y, src)
    assert fit["source_weight_power"] in SOURCE_WEIGHT_POWERS and set(fit["tried"]) == {
        f"{p:g}" for p in SOURCE_WEIGHT_POWERS
    }
    pa = apply_calibration(za, t, b)
    # The kept fit leaves source a within its sampling noise ...
    assert expected_calibration_error(ya, pa) <= ece_sampling_noise(pa)
    # ... where weighting every source alike lets the 300 fakes pull every score up and miscalibrate a.
    te, be = fit_platt(z, y, source_weights(src))
    assert be > b + 0.1
    pe = apply_calibration(za, te, be)
    assert expected_calibration_error(ya, pe) > ece_sampling_noise(pe) > 0
    # Judged on a alone: "calibrated" on a source of fakes only would just mean "scored 1".
    assert fit["judged_sources"] == ["a"]
    worst = {p: v["worst"] for p, v in fit["tried"].items()}
    assert worst[f"{fit['source_weight_power']:g}"] == min(worst.values())


def test_degradations_keep_the_size_and_change_the_pixels():
    from dfd_lib.training.degrade import compress, degrade, denoise, down_up, h264_roundtrip, jpeg_roundtrip, sharpen

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:97, 0:131]
    img = np.stack([(xx * 2) % 256, (yy * 3) % 256, ((xx + yy) * 5) % 256], -1).astype(np.uint8)  # odd sizes on purpose
    for out in (
        h264_roundtrip(img, 35),
        jpeg_roundtrip(img, 40),
        sharpen(img, 1.0, 1.0),
        denoise(img, 1.0),
        down_up(img, 30, rng),
        degrade(img, rng),
        compress(img, rng),
    ):
        assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(h264_roundtrip(img, 40).astype(int) - img).mean() > 1.0
    # Sharpening raises high-frequency energy, smoothing lowers it: both classes see both.
    lap = lambda a: float(np.abs(np.diff(a.astype(float), axis=1)).mean())  # noqa: E731
    assert lap(sharpen(img, 1.0, 1.0)) > lap(img) > lap(down_up(img, 30, rng))


def test_epoch_mix_follows_the_spec_weights():
    from dfd_lib.training.dataset import epoch_samples_multi

    pools = {
        "a": {
            "reals": [f"a/r{i}" for i in range(50)],
            "fakes": [f"a/f{i}" for i in range(50)],
            "sbi": ["a/r0"],
            "framing": "as_given",
            "real_weight": 0.75,
            "fake_weight": 0.5,
        },
        "b": {
            "reals": [f"b/r{i}" for i in range(5)],
            "fakes": [],
            "sbi": [],
            "framing": "pipeline",
            "real_weight": 0.25,
            "fake_weight": 0.5,
        },
        "g": {
            "reals": [],
            "fakes": [f"g/f{i}" for i in range(9)],
            "sbi": [],
            "framing": "pipeline",
            "real_weight": 0.0,
            "fake_weight": 0.5,
        },
    }
    s = epoch_samples_multi(pools, 4000, 0.2, np.random.default_rng(0))
    assert len(s) == 4000 and sum(x.label for x in s) == 2000
    reals = [x for x in s if x.label == 0]
    assert 0.7 < sum(x.path.startswith("a/") for x in reals) / len(reals) < 0.8
    assert sum(x.kind == "sbi" for x in s) == 400
    fakes = [x for x in s if x.kind == "fake"]
    assert (
        0.45 < sum(x.path.startswith("g/") for x in fakes) / len(fakes) < 0.55
    )  # b has no fakes: its share goes to a and g
    assert all(x.framing == "pipeline" for x in s if x.path.startswith(("b/", "g/")))


def _eval_crops(sources, out, res):
    """`dfd eval --crops` of the tiny model on its held-out list; the metrics it writes."""
    args = ["eval", str(sources / "spec.yaml"), "--crops", "--labels", str(out / "tiny-multi.val_files.csv")]
    args += ["--weights-dir", str(out), "--model", "tiny-multi", "--json", str(res), "--quiet"]
    assert main(args) == 0
    return json.loads(res.read_text())


@pytest.mark.slow
def test_train_on_a_spec_records_per_source_metrics_and_eval_reproduces_them(sources, tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        str(sources / "spec.yaml"),
        "--out",
        str(out),
        "--name",
        "tiny-multi",
        "--epochs",
        "1",
        "--samples-per-epoch",
        "16",
        "--batch-size",
        "8",
        "--input-size",
        "64",
        "--workers",
        "0",
        "--monitor-size",
        "12",
        "--device",
        "cpu",
        "--landmarks",
        str(tmp_path / "lm"),
    ]
    assert main(args) == 0
    card = json.loads((out / "tiny-multi.json").read_text())
    m = card["metrics"]
    assert set(m["validation_by_source"]) == {"crops", "photos", "gan"}
    assert "gan/gan-x vs all reals" in m["validation_by_method"] and "photos/blend" in m["validation_by_method"]
    assert card["split"]["spec"] == "spec.yaml" and card["training"]["spec"]["sbi_share"] == 0.3
    rows = list(csv.DictReader((out / "tiny-multi.val_files.csv").open()))
    assert rows and set(rows[0]) == {"source", "path", "label", "method", "group", "x1", "y1", "x2", "y2"}
    # Pipeline-framed rows carry the box their crop was cut from, so eval frames the very same crops.
    assert all(r["x1"] for r in rows if r["source"] == "photos") and not any(
        r["x1"] for r in rows if r["source"] == "crops"
    )
    # The novelty statistics ship beside the weights, hash-checked.
    nov = card["novelty"]
    assert (
        (out / nov["file"]).is_file()
        and nov["threshold"] > 0
        and set(nov["flagged_share_validation_by_source"]) == {"crops", "photos", "gan"}
    )
    # They read block 3's channel statistics, which the ONNX export gives the scan as a third output.
    assert nov["blocks"] == [3] and card["onnx"]["block_stats_of"] == [3] and "block(s) 3" in nov["rule"]
    kh = card["kind_head"]
    assert kh["classes"] == ["swap", "synthetic"] and (out / kh["file"]).is_file()
    assert set(kh["validation_held_out_fakes"]) == {"swap", "synthetic"}

    got = _eval_crops(sources, out, tmp_path / "eval.json")
    for src, want in m["validation_by_source"].items():
        for k in ("ece", "tpr", "fpr"):
            if want[k] is not None:
                assert got["by_source"][src][k] == pytest.approx(want[k], abs=1e-3), (src, k)
    assert got["threshold"] == pytest.approx(card["threshold"])

    # Through the whole pipeline (face search on the photos, verdicts), per source as well.
    res2 = tmp_path / "eval_pipeline.json"
    assert (
        main(
            [
                "eval",
                str(sources / "spec.yaml"),
                "--labels",
                str(out / "tiny-multi.val_files.csv"),
                "--weights-dir",
                str(out),
                "--model",
                "tiny-multi",
                "--json",
                str(res2),
                "--quiet",
            ]
        )
        == 0
    )
    pipe = json.loads(res2.read_text())
    assert pipe["mode"] == "pipeline" and pipe["n"] + pipe["n_no_face"] + pipe["n_failed"] == len(rows)
    assert all("inconclusive_share" in d for d in pipe["by_source"].values())

    # The statistics can be fitted again from the card's lists and the spec (a rule change needs no new training):
    # same file names, hashes that match, the scan's ONNX export made again.
    assert main(["models", "--refit-novelty", str(out / "tiny-multi.json"), "--spec", str(sources / "spec.yaml")]) == 0
    again = json.loads((out / "tiny-multi.json").read_text())
    assert again["novelty"]["blocks"] == [3] and again["kind_head"] == card["kind_head"]
    assert again["onnx"]["block_stats_of"] == [3]
    from dfd_lib.models.checkpoint import load_model as _load

    refitted = _load("tiny-multi", weights_dir=out, runtime="onnx")
    assert refitted.novelty is not None and refitted.novelty.threshold == pytest.approx(again["novelty"]["threshold"])

    # The calibration and threshold can be fitted again by today's rules from the card's lists (weights kept): the
    # card records the fit and what it replaced, and dfd eval reproduces its figures.
    assert main(["models", "--recalibrate", str(out / "tiny-multi.json"), "--spec", str(sources / "spec.yaml")]) == 0
    recal = json.loads((out / "tiny-multi.json").read_text())
    fit = recal["metrics"]["calibration_fit"]
    assert recal["sha256"] == again["sha256"] and fit["previous"]["threshold"] == pytest.approx(again["threshold"])
    assert fit["judged_sources"] == ["crops", "photos"] and "power" in recal["calibration_rule"]
    got = _eval_crops(sources, out, tmp_path / "eval_recal.json")
    assert got["threshold"] == pytest.approx(recal["threshold"])
    for src, want in recal["metrics"]["validation_by_source"].items():
        assert got["by_source"][src]["ece"] == pytest.approx(want["ece"], abs=1e-3), src

    # Moving the card to several framings per face fits calibration, novelty and kind head again on their average,
    # and dfd eval reproduces the figures it records.
    spec_arg = ["--spec", str(sources / "spec.yaml")]
    assert (
        main(["models", "--recalibrate", str(out / "tiny-multi.json"), *spec_arg, "--view-scales", "0.6", "0.7"]) == 0
    )
    moved = json.loads((out / "tiny-multi.json").read_text())
    assert moved["view_scales"] == [0.6, 0.7] and moved["sha256"] == recal["sha256"]
    assert set(moved["kind_head"]["validation_held_out_fakes"]) == {"swap", "synthetic"}
    assert _load("tiny-multi", weights_dir=out, runtime="onnx").novelty is not None  # side files match the card
    got = _eval_crops(sources, out, tmp_path / "eval_views.json")
    assert got["threshold"] == pytest.approx(moved["threshold"])
    for src, want in moved["metrics"]["validation_by_source"].items():
        assert got["by_source"][src]["ece"] == pytest.approx(want["ece"], abs=1e-3), src
    assert not [f for f in out.iterdir() if f.is_dir() and f.name.startswith("tmp")]  # the working copy is gone

    # An altered novelty file makes the model refuse to load.
    from dfd_lib.errors import ModelCardMismatch
    from dfd_lib.models.checkpoint import load_model

    nov_path = out / nov["file"]
    raw = bytearray(nov_path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    nov_path.write_bytes(bytes(raw))
    with pytest.raises(ModelCardMismatch, match="novelty"):
        load_model("tiny-multi", weights_dir=out)
