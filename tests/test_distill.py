"""Distillation from a teacher card (``dfd train --teacher``): the student's second target must be exactly the
teacher's answer at all of its framings, pseudo-fakes must keep their label alone, and the loss must mix the two
as documented."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dfd_lib.errors import TrainingConfigError


@pytest.fixture(scope="module")
def teacher_weights(tiny_variant):
    """The tiny test model with a card that scores each face at three framings."""
    return tiny_variant(view_scales=[0.62, 0.70, 0.78], tta="hflip")


def test_soft_target_loss_mixes_label_and_teacher_and_ignores_missing_targets():
    import torch
    import torch.nn.functional as F

    from dfd_lib.training.distill import soft_target_loss

    z = torch.tensor([2.0, -1.0, 0.5])
    y = torch.tensor([1.0, 0.0, 1.0])
    t = torch.tensor([-3.0, float("nan"), 4.0])
    hard = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    soft = F.binary_cross_entropy_with_logits(z, torch.sigmoid(torch.tensor([-3.0, 0.0, 4.0])), reduction="none")
    want = (0.7 * hard[0] + 0.3 * soft[0] + hard[1] + 0.7 * hard[2] + 0.3 * soft[2]) / 3
    assert float(soft_target_loss(z, y, t, 0.3)) == pytest.approx(float(want), rel=1e-6)
    none = torch.full((3,), float("nan"))
    assert float(soft_target_loss(z, y, none, 0.3)) == pytest.approx(float(hard.mean()), rel=1e-6)
    # With weight 1 a face the teacher calls real pulls the student's logit down although its label is fake.
    zg = torch.tensor([0.0], requires_grad=True)
    soft_target_loss(zg, torch.tensor([1.0]), torch.tensor([-5.0]), 1.0).backward()
    assert zg.grad is not None and float(zg.grad[0]) > 0


def test_training_items_carry_the_teachers_logit_except_pseudo_fakes(tmp_path):
    from dfd_lib.training.data import Sample
    from dfd_lib.training.dataset import CropDataset
    from dfd_lib.training.demo_set import make_demo_set

    root = make_demo_set(tmp_path / "crops", n_groups=2)
    reals = sorted(str(p) for p in (root / "real").iterdir())
    fakes = sorted(str(p) for p in (root / "fake").iterdir())
    samples = [Sample(reals[0], 0, "real"), Sample(fakes[0], 1, "fake"), Sample(reals[1], 1, "sbi")]
    from dfd_lib.faces import FaceDetector

    from PIL import Image

    face = FaceDetector().detect(np.asarray(Image.open(reals[1]).convert("RGB")))[0]
    ds = CropDataset(
        "/",
        samples,
        64,
        (0.5,) * 3,
        (0.5,) * 3,
        train=True,
        landmarks={reals[1]: (face.box, np.array(face.landmarks))},
        targets={reals[0]: -2.5, reals[1]: 1.0},
    )
    items = [ds[i] for i in range(3)]
    assert all(len(it) == 3 and it[0].shape == (3, 64, 64) for it in items)
    assert float(items[0][2]) == pytest.approx(-2.5)
    assert np.isnan(float(items[1][2]))  # no teacher logit for this picture
    assert np.isnan(float(items[2][2])) and float(items[2][1]) == 1.0  # the blended picture is not what it saw
    plain = CropDataset("/", samples[:1], 64, (0.5,) * 3, (0.5,) * 3, train=True)
    assert len(plain[0]) == 2


def test_teacher_targets_are_the_cards_view_averaged_logits_and_are_cached(teacher_weights, tmp_path, monkeypatch):
    from PIL import Image

    from dfd_lib.detector import Detector
    from dfd_lib.models.checkpoint import load_model
    from dfd_lib.training import distill
    from dfd_lib.training.demo_set import make_demo_set
    from dfd_lib.training.spec import read_spec

    root = make_demo_set(tmp_path / "crops", n_groups=2)
    (tmp_path / "spec.yaml").write_text(
        "name: t\nsources:\n  crops: {root: crops, framing: as_given, validation: {group_fraction: 0.5}, real_weight: 1.0, fake_weight: 1.0}\n"
    )
    spec = read_spec(tmp_path / "spec.yaml")
    paths = sorted(str(p) for p in (root / "real").iterdir())
    assert len(paths) >= 2
    rows = pd.DataFrame({"abs_path": paths, "label": 0, "source": "crops"})
    teacher = load_model(None, teacher_weights)
    cache = tmp_path / "teacher_logits.npz"
    got = distill.teacher_targets(spec, rows, {}, teacher, cache)
    crops = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    want = Detector(teacher).logits(crops)  # each crop framed again at the card's three scales, mirrored
    np.testing.assert_allclose([got[p] for p in paths], want, atol=1e-4)
    assert cache.is_file()

    def no_scoring(*_a, **_k):
        raise AssertionError("the cached logits should have been used")

    monkeypatch.setattr("dfd_lib.training.multi.crop_loader", no_scoring)
    assert distill.teacher_targets(spec, rows, {}, teacher, cache) == got
    with pytest.raises(AssertionError, match="cached"):  # other rows: computed again
        distill.teacher_targets(spec, rows.iloc[:1], {}, teacher, cache)
    # the same weights under a card that frames faces otherwise (as the fast card scores the default's weights)
    from dataclasses import replace

    one_framing = replace(teacher, card=replace(teacher.card, view_scales=()))
    assert one_framing.card.sha256 == teacher.card.sha256
    with pytest.raises(AssertionError, match="cached"):
        distill.teacher_targets(spec, rows, {}, one_framing, cache)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"data": "folder", "teacher": "t.json"}, "multi-source data spec"),
        ({"data": "s.yaml", "teacher": "t.json", "teacher_weight": 0.0}, "teacher_weight"),
        ({"data": "s.yaml", "teacher": "t.json", "teacher_weight": 1.5}, "teacher_weight"),
    ],
)
def test_bad_teacher_settings_are_refused(kwargs, match):
    from dfd_lib.training.config import TrainConfig

    with pytest.raises(TrainingConfigError, match=match):
        TrainConfig(out="o", **kwargs)


@pytest.mark.slow
def test_dfd_train_with_a_teacher_records_it_and_caches_its_logits(teacher_weights, tmp_path):
    from dfd_lib.cli import main
    from dfd_lib.training.demo_set import make_demo_set

    make_demo_set(tmp_path / "crops", n_groups=8)
    (tmp_path / "spec.yaml").write_text(
        "name: t\nsbi_share: 0.3\nmax_fpr: 0.3\nsources:\n  crops: {root: crops, framing: as_given, "
        "validation: {group_fraction: 0.5, seed: 0}, real_weight: 1.0, fake_weight: 1.0}\n"
    )
    out = tmp_path / "run"
    teacher = teacher_weights / "tiny-test-model.json"
    args = ["train", str(tmp_path / "spec.yaml"), "--out", str(out), "--name", "student", "--teacher", str(teacher)]
    args += ["--teacher-weight", "0.4", "--epochs", "1", "--samples-per-epoch", "16", "--batch-size", "8"]
    args += ["--input-size", "64", "--workers", "0", "--monitor-size", "8", "--device", "cpu"]
    args += ["--landmarks", str(tmp_path / "lm")]
    assert main(args) == 0
    card = json.loads((out / "student.json").read_text())
    t = card["training"]["teacher"]
    assert t["sha256"] == json.loads(teacher.read_text())["sha256"] and t["weight"] == 0.4
    assert t["view_scales"] == [0.62, 0.70, 0.78]
    assert card["view_scales"] == []  # the student scores one framing
    cached = np.load(out / "teacher_logits.npz")
    assert len(cached["paths"]) > 0 and np.isfinite(cached["logits"]).all()
