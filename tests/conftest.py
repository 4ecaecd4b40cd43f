"""Shared fixtures: a small real checkpoint built on the fly, and the bundled sample evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "evidence"
SHARED_DATA = ROOT.parent / "shared" / "data" / "dfdc-faces-224"


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights folder with one valid EfficientNet-Lite0 checkpoint and card (ImageNet body, random head).

    It is not a trained detector; it exercises exactly the code paths the shipped model uses.
    """
    import torch

    from dfd_lib.models import BACKBONES, ModelCard, save_checkpoint

    torch.manual_seed(0)
    module = BACKBONES.get("efficientnet_lite0").build(True)
    torch.nn.init.normal_(module.classifier.weight, std=0.05)
    out = tmp_path_factory.mktemp("weights")
    card = ModelCard(
        name="tiny-test-model",
        backbone="efficientnet_lite0",
        input_size=160,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        crop_scale=0.7,
        crop_offset_y=0.09,
        temperature=1.0,
        threshold=0.5,
        training_data="none: test fixture",
        metrics={},
        weights_file="tiny-test-model.pt",
        sha256="0" * 64,
        default=True,
    )
    save_checkpoint(module, card, out)
    return out


@pytest.fixture(scope="session")
def tiny_variant(tiny_weights, tmp_path_factory):
    """``make(**fields)``: a copy of the tiny test model's folder whose card has ``fields`` changed."""
    import json
    import shutil

    def make(**fields) -> Path:
        out = tmp_path_factory.mktemp("tiny_variant")
        for f in tiny_weights.iterdir():
            shutil.copy(f, out / f.name)
        card = out / "tiny-test-model.json"
        card.write_text(json.dumps(json.loads(card.read_text()) | fields))
        return out

    return make


@pytest.fixture(scope="session")
def scanner(tiny_weights):
    from dfd_lib.scan import Scanner

    s = Scanner(None, weights_dir=tiny_weights)
    yield s
    s.close()


@pytest.fixture(scope="session")
def examples() -> Path:
    assert EXAMPLES.is_dir(), "examples/evidence is part of the repository"
    return EXAMPLES
