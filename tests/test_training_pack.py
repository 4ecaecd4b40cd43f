"""Training packs (`dfd pack`), training without PyAV, and calibrating a model trained elsewhere (`--epochs 0`)."""

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from dfd_lib.cli import main
from dfd_lib.errors import TrainingConfigError
from tests.test_training_multi import sources  # noqa: F401 - the shared module-scoped fixture


@pytest.fixture(scope="module")
def pack(sources, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("packs") / "pack"
    lm = tmp_path_factory.mktemp("packs-lm")
    args = ["pack", str(sources / "spec.yaml"), "--out", str(out), "--landmarks", str(lm)]
    args += ["--limit", "crops=6", "--side", "96", "--format", "webp", "--quality", "85", "--monitor", "4"]
    assert main(args) == 0
    return out, lm


def test_pack_keeps_groups_whole_shrinks_images_and_records_every_hash(sources, pack):  # noqa: F811
    import pandas as pd

    from dfd_lib.training.spec import load_spec, read_spec

    out, _ = pack
    original = load_spec(read_spec(sources / "spec.yaml"))
    packed = load_spec(read_spec(out / "spec.yaml"))
    record = json.loads((out / "pack.json").read_text())
    for src in ("crops", "photos", "gan"):
        rows = pd.read_csv(out / record["sources"][src]["original_root"].split("/")[-1] / "labels.csv")
        files = {f["path"]: f for f in record["sources"][src]["files"]}
        assert set(files) == set(rows["path"])
        orig = original[original["source"] == src].set_index("path")
        for f in files.values():
            # every packed image is small, named with its own hash and its original's
            packed_file = out / record["sources"][src]["original_root"].split("/")[-1] / f["path"]
            assert hashlib.sha256(packed_file.read_bytes()).hexdigest() == f["sha256"]
            assert f["original_sha256"] == hashlib.sha256((sources / src / f["original"]).read_bytes()).hexdigest()
            with Image.open(packed_file) as im:
                assert im.format == "WEBP" and max(im.size) <= 96
        train = rows[rows["split"] == "train"]
        originals = [files[p]["original"] for p in train["path"]]
        assert set(orig.loc[originals, "role"]) == {"train"}  # no validation row is trained on
        assert set(rows.loc[rows["split"] == "test", "path"].map(lambda p: files[p]["original"])) <= set(
            orig.index[orig["role"] != "train"]
        )
    # The limit draws whole source-video groups: a group is packed with all its training rows or not at all.
    crops = original[(original["source"] == "crops") & (original["role"] == "train")]
    kept = set(packed.loc[(packed["source"] == "crops") & (packed["role"] == "train"), "group"])
    assert kept and len(kept) < crops["group"].nunique()
    assert (packed["role"] == "train").sum() < (original["role"] == "train").sum()
    for g in kept:
        n_packed = ((packed["source"] == "crops") & (packed["role"] == "train") & (packed["group"] == g)).sum()
        assert n_packed == (crops["group"] == g).sum()


def test_packed_faces_are_framed_as_from_the_original(sources, pack):  # noqa: F811
    """The landmarks travel into the packed image's coordinates: cutting the scanner's window from the packed
    image gives the window cut from the original (scaled), not some other part of the picture."""
    from dfd_lib.preprocess import resize_square
    from dfd_lib.training.dataset import frame_box
    from dfd_lib.training.landmarks import read_landmarks

    out, lm = pack
    record = json.loads((out / "pack.json").read_text())
    packed_lm = read_landmarks(out / "landmarks" / "landmarks-photos.csv")
    orig_lm = read_landmarks(lm / "landmarks-photos.csv")
    diffs = []
    for f in record["sources"]["photos"]["files"]:
        a = np.asarray(Image.open(sources / "photos" / f["original"]).convert("RGB"))
        b = np.asarray(Image.open(out / "photos" / f["path"]).convert("RGB"))
        wa = resize_square(frame_box(a, orig_lm[f["original"]][0], 0.7, 0.09), 64).astype(float)
        wb = resize_square(frame_box(b, packed_lm[f["path"]][0], 0.7, 0.09), 64).astype(float)
        # The window's corner is rounded to whole pixels of each image; in the packed one (about 30 px wide)
        # that is up to half a pixel, one pixel of the 64 px comparison: allow that much, no more.
        diffs.append(min(_inner_diff(wa, np.roll(wb, (dy, dx), axis=(0, 1))) for dy in (-1, 0, 1) for dx in (-1, 0, 1)))
    shifted = _inner_diff(wa, np.roll(wa, 8, axis=1))
    assert max(diffs) < shifted / 3, (diffs, shifted)  # compression, down-scaling and rounding only, no shift


def _inner_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference away from the border (where a rolled picture wraps round)."""
    return float(np.abs(a - b)[2:-2, 2:-2].mean())


def test_pack_refuses_a_used_folder_and_unknown_sources(sources, tmp_path, capsys):  # noqa: F811
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("keep me")
    spec = str(sources / "spec.yaml")
    for args, message in (
        (["--out", str(tmp_path / "used")], "is not empty"),
        (["--out", str(tmp_path / "new"), "--limit", "nosuch=3"], "unknown source(s) nosuch"),
        (["--out", str(tmp_path / "new"), "--limit", "crops"], "write SOURCE=N"),
    ):
        assert main(["pack", spec, *args]) != 0
        assert message in capsys.readouterr().err
    assert (tmp_path / "used" / "x").read_text() == "keep me" and not (tmp_path / "new").exists()


def test_without_h264_no_frame_goes_through_the_video_codec(monkeypatch):
    from dfd_lib.training import degrade
    from dfd_lib.training.augment import augment

    calls = []
    monkeypatch.setattr(degrade, "h264_roundtrip", lambda im, crf: calls.append(crf) or im)
    img = np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    for seed in range(200):
        assert augment(img, 64, np.random.default_rng(seed), h264=False).shape == (64, 64, 3)
    assert calls == []
    for seed in range(200):
        augment(img, 64, np.random.default_rng(seed))
    assert len(calls) > 20  # the default recipe does use it


def test_epochs_zero_needs_a_model_to_calibrate():
    from dfd_lib.training.config import TrainConfig

    with pytest.raises(TrainingConfigError, match="0 only with init_from"):
        TrainConfig(data="x", out="y", epochs=0)


def test_a_model_trained_on_a_pack_is_calibrated_on_the_full_spec_and_names_its_lineage(
    sources,  # noqa: F811
    pack,
    tmp_path,
):
    out, lm = pack
    common = ["--samples-per-epoch", "16", "--batch-size", "8", "--input-size", "64", "--workers", "0"]
    common += ["--monitor-size", "12", "--device", "cpu"]
    stage = tmp_path / "stage"
    args = ["train", str(out / "spec.yaml"), "--out", str(stage), "--name", "packed", "--epochs", "1"]
    args += ["--landmarks", str(out / "landmarks"), "--no-h264", "--no-pretrained", *common]
    assert main(args) == 0
    final = tmp_path / "final"
    args = ["train", str(sources / "spec.yaml"), "--out", str(final), "--name", "final", "--epochs", "0"]
    args += ["--init-from", str(stage / "packed.json"), "--landmarks", str(lm), *common]
    assert main(args) == 0
    stage_card = json.loads((stage / "packed.json").read_text())
    card = json.loads((final / "final.json").read_text())
    # Calibrated here without training: the same weights, measured on the original spec's held-out rows.
    import torch

    a = torch.load(stage / "packed.pt", weights_only=True)
    b = torch.load(final / "final.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert card["training"]["history"] == [] and card["training"]["epochs"] == 0
    assert card["split"]["n_validation"] > stage_card["split"]["n_validation"]
    assert set(card["metrics"]["validation_by_source"]) == {"crops", "photos", "gan"}
    # The lineage says what the weights were trained on, where, and without H.264.
    init = card["training"]["init"]
    assert init["sha256"] == stage_card["sha256"] and init["training"]["h264"] is False
    assert init["training"]["history"][0]["data"] == str(out / "spec.yaml")
    assert init["training"]["history"][0]["device"] == "cpu"
