"""CONTRIBUTING.md's recipes, followed once each: a toy backbone scanned end to end, a toy analysis seen in triage."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from case_support import FakeScanner, make_images


# -- "Add a backbone": one Backbone registered on BACKBONES, a card naming it, and every command can use it --------


def _toy_backbone():
    import torch
    from torch import nn

    from dfd_lib.models import Backbone

    class ToyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.head = nn.Linear(4, 1)

        def forward(self, x):
            return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))

    return Backbone(
        name="toy_cnn",
        build=lambda pretrained: ToyNet(),
        cam_layer=lambda m: m.conv,
        input_size=64,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        description="recipe test: two layers",
        has_pretrained=False,
    )


@pytest.fixture
def toy_backbone():
    from dfd_lib.models import BACKBONES

    bb = BACKBONES.register(_toy_backbone())
    try:
        yield bb
    finally:
        BACKBONES.unregister(bb.name)
    assert "toy_cnn" not in BACKBONES


def test_a_registered_toy_backbone_scans_the_sample_evidence_end_to_end(toy_backbone, tmp_path, examples, capsys):
    import torch

    from dfd_lib.cli import main
    from dfd_lib.models import ModelCard, save_checkpoint
    from dfd_lib.scan import Scanner

    torch.manual_seed(0)
    card = ModelCard(
        name="toy-model",
        backbone=toy_backbone.name,
        input_size=toy_backbone.input_size,
        mean=toy_backbone.mean,
        std=toy_backbone.std,
        crop_scale=0.7,
        crop_offset_y=0.09,
        temperature=1.0,
        threshold=0.5,
        training_data="none: recipe test",
        metrics={},
        weights_file="toy-model.pt",
        sha256="0" * 64,
    )
    card_path = save_checkpoint(toy_backbone.build(False), card, tmp_path / "weights")

    # the command line: `dfd scan` with the toy model's card
    out = tmp_path / "scan.json"
    assert (
        main(
            [
                "scan",
                str(examples),
                "--model",
                "toy-model",
                "--weights-dir",
                str(card_path.parent),
                "--json",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert "model toy-model" in capsys.readouterr().out
    records = {Path(r["path"]).name: r for r in json.loads(out.read_text())}
    scored = {name for name, r in records.items() if r["status"] == "scored"}
    assert {"astronaut.jpg", "two_faces.png", "astronaut_clip.mp4"} <= scored
    assert records["coffee_no_face.jpg"]["status"] == "no_face"
    for name in scored:
        assert records[name]["model"] == "toy-model" and 0.0 <= records[name]["score"] <= 1.0

    # the library: the same scores, and Grad-CAM on the layer the backbone names
    scanner = Scanner("toy-model", weights_dir=card_path.parent)
    try:
        r = scanner.scan_file(examples / "astronaut.jpg")
        assert r.score == pytest.approx(records["astronaut.jpg"]["score"], abs=1e-6)
        overlay = scanner.explain(r.most_suspicious_face).overlay
        assert overlay.shape == (64, 64, 3) and overlay.dtype == np.uint8
    finally:
        scanner.close()


def test_a_backbone_without_offline_weights_trains_from_random_weights(toy_backbone, tmp_path):
    from dfd_lib.training.config import TrainConfig
    from dfd_lib.training.train import resolve_backbone

    cfg, bb = resolve_backbone(TrainConfig(data=str(tmp_path), out=str(tmp_path / "run"), backbone="toy_cnn"))
    assert bb is toy_backbone and cfg.pretrained is False


# -- "Add a forensic analysis": one module defining an Analysis subclass ------------------------------------------

TOY_MODULE = textwrap.dedent('''
    """Recipe test: mean brightness, flagged when the picture is dark."""
    from dfd_lib.forensics.base import Analysis, ForensicResult


    class BrightnessAnalysis(Analysis):
        name = "toy_brightness"
        description = "mean brightness of the picture (recipe test)"
        applies_to = frozenset({"image"})
        order = 45  # between ELA (40) and noise (50)

        def analyse(self, evidence):
            pixels, downscaled = evidence.analysis_pixels()
            mean = float(pixels.mean())
            return ForensicResult(self.name, "ok", f"mean brightness {mean:.1f} of 255; says nothing about edits",
                                  metrics={"mean": mean}, flags=["dark"] if mean < 64 else [],
                                  analysed_size=(pixels.shape[1], pixels.shape[0]), downscaled=downscaled)
''')


@pytest.fixture
def toy_analysis_module(tmp_path):
    """``TOY_MODULE`` as if saved as dfd_lib/forensics/toy_brightness.py (the package path is extended for it)."""
    import dfd_lib.forensics as package

    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "toy_brightness.py").write_text(TOY_MODULE)
    package.__path__.append(str(folder))
    try:
        yield f"{package.__name__}.toy_brightness"
    finally:
        package.__path__.remove(str(folder))
        sys.modules.pop(f"{package.__name__}.toy_brightness", None)


def test_a_new_analysis_module_is_registered_in_report_order(toy_analysis_module):
    from dfd_lib.forensics import default_registry

    names = [a.name for a in default_registry()]
    assert names == ["metadata", "c2pa", "jpeg", "ela", "toy_brightness", "noise", "spectrum", "video_meta"]


def test_a_registered_toy_analysis_becomes_a_finding_of_case_triage(toy_analysis_module, tmp_path):
    import importlib

    from dfd_lib.case import open_case
    from dfd_lib.forensics import ANALYSES

    toy = importlib.import_module(toy_analysis_module).BrightnessAnalysis()
    ANALYSES.register(toy)
    try:
        evidence = tmp_path / "ev"
        make_images(evidence, 3)
        with open_case("recipe", cases_dir=tmp_path / "cases", examiner="Insp. Rao") as case:
            case.triage([evidence], scanner=FakeScanner())
            found = case.findings(kind="forensic:toy_brightness")
            assert len(found) == 3 and set(found.status) == {"ok"}
            items = {r["item_id"]: r for r in case.items().to_dict("records")}
            for f in found.to_dict("records"):
                with Image.open(case.evidence_path(f["item_id"])) as im:
                    pixels = np.asarray(im.convert("RGB"))
                assert f["params"]["metrics"]["mean"] == pytest.approx(pixels.mean())
                assert f["message"].startswith("mean brightness") and items[f["item_id"]]["status"] == "scored"
            assert case.verify().ok
    finally:
        ANALYSES.unregister("toy_brightness")
    assert "toy_brightness" not in ANALYSES
