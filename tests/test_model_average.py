"""Weight averaging (`dfd models --average`): the mean of verified models, refused where it would be meaningless, and
never usable as calibrated before `dfd train --epochs 0` has calibrated it."""

import json
import shutil

import pytest
import torch

from dfd_lib.cli import main
from dfd_lib.errors import ModelCardError, ModelCardMismatch
from dfd_lib.models import ModelCard, load_model
from dfd_lib.models.average import average_models, parse_share
from tests.test_training_multi import sources  # noqa: F401 - the shared module-scoped fixture


@pytest.fixture()
def two_models(tiny_weights, tmp_path):
    """The tiny test model and a copy whose trainable weights are moved a little (a 'fine-tuned' twin)."""
    from dfd_lib.models import save_checkpoint

    a = tiny_weights / "tiny-test-model.json"
    module = load_model(str(a), runtime="torch").module
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in module.parameters():
            t.add_(0.02 * torch.randn(t.shape, generator=gen))
    card = ModelCard.read(a)
    b_dir = tmp_path / "twin"
    b = save_checkpoint(module, card, b_dir)
    return a, b


def _state(card_path):
    card = ModelCard.read(card_path)
    return torch.load(card_path.parent / card.weights_file, map_location="cpu", weights_only=True)


def test_average_is_the_share_weighted_mean_and_names_every_input(two_models, tmp_path, capsys):
    a, b = two_models
    out = tmp_path / "soup"
    assert main(["models", "--average", f"{a}=3", f"{b}=1", "--out", str(out), "--name", "soup"]) == 0
    assert "not calibrated" in capsys.readouterr().out
    sa, sb, soup = _state(a), _state(b), _state(out / "soup.json")
    assert soup.keys() == sa.keys()
    for k, v in soup.items():
        if v.is_floating_point():
            assert torch.allclose(v, 0.75 * sa[k] + 0.25 * sb[k], atol=1e-6), k
        else:
            assert torch.equal(v, sa[k]), k
    card = ModelCard.read(out / "soup.json")
    record = card.training["weight_average"]
    assert [r["sha256"] for r in record] == [ModelCard.read(a).sha256, ModelCard.read(b).sha256]
    assert [r["share"] for r in record] == [0.75, 0.25]
    # Not calibrated: no metrics, no side models, never the default, and its card says so to every reader.
    assert card.metrics == {} and not card.onnx and not card.novelty and not card.default
    assert "Not calibrated" in card.limits[0]
    # It loads like any model (its weights are verified against its own card), but nothing scores with it.
    assert load_model(str(out / "soup.json"), runtime="torch").card.sha256 == card.sha256
    from dfd_lib.scan import Scanner

    with pytest.raises(ModelCardError, match="has not been calibrated"):
        Scanner(str(out / "soup.json"))
    assert main(["scan", str(a.parent), "--model", str(out / "soup.json"), "--quiet"]) != 0
    assert "has not been calibrated" in capsys.readouterr().err


def test_average_refuses_other_architectures_tampered_weights_and_bad_shares(two_models, tmp_path):
    a, b = two_models
    other = tmp_path / "other"
    shutil.copytree(b.parent, other)
    card = json.loads((other / b.name).read_text())
    card["input_size"] = 224
    (other / b.name).write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match="input_size 224 differs"):
        average_models([(a, 1.0), (other / b.name, 1.0)], tmp_path / "x")
    pt = b.parent / ModelCard.read(b).weights_file
    data = bytearray(pt.read_bytes())
    data[-10] ^= 0xFF
    pt.write_bytes(bytes(data))
    with pytest.raises(ModelCardMismatch):
        average_models([(a, 1.0), (b, 1.0)], tmp_path / "y")
    with pytest.raises(ModelCardError, match="at least two"):
        average_models([(a, 1.0)], tmp_path / "z")
    for text, message in (("m.json=x", "must be a number"), ("m.json=0", "must be a positive, finite number")):
        with pytest.raises(ModelCardError, match=message):
            parse_share(text)
    assert parse_share("dir/m.json") == ("dir/m.json", 1.0)
    assert not any((tmp_path / d).exists() for d in ("x", "y", "z"))


def test_an_average_is_calibrated_by_epochs_zero_and_its_card_names_the_inputs(
    two_models,
    sources,  # noqa: F811
    tmp_path,
):
    a, b = two_models
    soup = average_models([(a, 1.0), (b, 1.0)], tmp_path / "soup", "soup")
    final = tmp_path / "final"
    args = ["train", str(sources / "spec.yaml"), "--out", str(final), "--name", "final", "--epochs", "0"]
    args += ["--init-from", str(soup), "--landmarks", str(tmp_path / "lm"), "--input-size", "160", "--workers", "0"]
    args += ["--monitor-size", "12", "--device", "cpu", "--batch-size", "8"]
    assert main(args) == 0
    card = ModelCard.read(final / "final.json")
    assert card.metrics["validation_by_source"] and card.novelty and card.onnx
    assert not any("Not calibrated" in line for line in card.limits)
    inputs = card.training["init"]["training"]["weight_average"]
    assert [r["sha256"] for r in inputs] == [ModelCard.read(a).sha256, ModelCard.read(b).sha256]
    assert torch.equal(_state(final / "final.json")["classifier.weight"], _state(soup)["classifier.weight"])
    from dfd_lib.scan import Scanner

    Scanner(str(final / "final.json")).close()  # calibrated: it scores
