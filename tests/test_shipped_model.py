"""The shipped default model: valid card, hash-verified load, and its card's numbers reproduced."""

import json
from pathlib import Path

import pytest

from dfd_lib.models import find_card, load_model

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
SHARED_DATA = ROOT.parent / "shared" / "data" / "dfdc-faces-224"


def _default():
    path, card = find_card(None, WEIGHTS)
    assert path.parent.resolve() == WEIGHTS.resolve(), "the default model must ship in weights/"
    return path, card


def test_default_model_ships_with_a_complete_card():
    path, card = _default()
    assert card.default
    for key in ("auc", "ece", "eer", "accuracy"):
        assert key in card.metrics["validation"]
    assert card.training_data and card.data_terms and card.limits and card.threshold_rule
    assert (WEIGHTS / card.split["validation_files"]).is_file()
    assert (WEIGHTS / card.weights_file).stat().st_size < 50 * 1024 * 1024
    assert "README.md" in {p.name for p in WEIGHTS.iterdir()}


_SOURCE_NAMES = {
    "DFDC": "dfdc",
    "FaceForensics++": "ffpp",
    "FF++": "ffpp",
    "portrait stills": "rff",
    "portrait composites": "rff",
    "GAN faces": "synthetic",
}


def _quoted(sentence: str) -> dict[str, float]:
    """Source -> number for each "<source name> 0.123" in a sentence of the card's limits."""
    import re

    names = "|".join(re.escape(n) for n in sorted(_SOURCE_NAMES, key=len, reverse=True))
    return {_SOURCE_NAMES[n]: float(v) for n, v in re.findall(rf"({names}) (\d\.\d+)", sentence)}


def test_card_limits_quote_the_cards_current_numbers():
    """The limits are printed in every report: after a recalibration they must not quote an old threshold or ECE."""
    import re

    for path in sorted(WEIGHTS.glob("*.json")):
        card = json.loads(path.read_text())
        if "limits" not in card:
            continue
        for limit in card["limits"]:
            for quoted in re.findall(r"[Tt]hreshold \((\d\.\d+)\)", limit):
                assert float(quoted) == pytest.approx(card["threshold"], abs=5e-4), (path.name, limit)
            by_source = card["metrics"].get("validation_by_source", {})
            for metric, marker in (("ece", "held-out ECE"), ("auc", "Held-out ROC AUC per source")):
                if marker in limit:
                    quoted = _quoted(limit.split(marker, 1)[1].split(";")[0].split("(")[0])
                    assert quoted, (path.name, limit)
                    for source, value in quoted.items():
                        assert value == pytest.approx(by_source[source][metric], abs=5e-4), (path.name, source, metric)


def test_default_model_loads_with_hash_check():
    m = load_model(None, WEIGHTS)
    assert m.card.default and not m.module.training


def test_validation_list_is_group_disjoint_from_calibration_list():
    import pandas as pd

    _, card = _default()
    val = pd.read_csv(WEIGHTS / card.split["validation_files"])
    cal = pd.read_csv(WEIGHTS / card.split["calibration_files"])
    assert len(val) == card.split["n_validation"] and len(cal) == card.split["n_calibration"]
    assert not set(val.group) & set(cal.group)


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data/dfdc-faces-224 is not present")
def test_dfd_eval_reproduces_the_starting_models_card(tmp_path):
    """dfd-lite0-sbi, the DFDC-only starting point of the default model's recipe, still reproduces its card."""
    from dfd_lib.cli import main

    _, card = find_card("dfd-lite0-sbi", WEIGHTS)
    out = tmp_path / "eval.json"
    rc = main(
        [
            "eval",
            str(SHARED_DATA),
            "--crops",
            "--labels",
            str(WEIGHTS / card.split["validation_files"]),
            "--weights-dir",
            str(WEIGHTS),
            "--model",
            "dfd-lite0-sbi",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    got = json.loads(out.read_text())
    want = card.metrics["validation"]
    assert got["n"] == want["n"] and got["n_fake"] == want["n_fake"]
    for k in ("auc", "ap", "eer", "accuracy", "ece"):
        assert got[k] == pytest.approx(want[k], abs=0.005), k


SPEC = WEIGHTS / "dfd-lite0-multi.spec.yaml"
SHARED_ALL = [
    ROOT.parent / "shared" / "data" / n
    for n in ("dfdc-faces-224", "ffpp-faces-224", "rff-photoshop-320", "synthetic-faces-320")
]


def test_default_model_states_per_source_numbers_and_its_outside_experience_rule():
    path, card = _default()
    m = card.metrics
    assert {"dfdc", "ffpp", "rff", "synthetic"} <= set(m["validation_by_source"])
    for src in ("dfdc", "ffpp", "rff"):
        row = m["validation_by_source"][src]
        assert row["n_real"] >= 90 and row["auc"] is not None and row["fpr"] is not None
    # False positives on real faces of every source, scanned through the whole pipeline from the original images.
    pipe = m["pipeline_validation"]["by_source"]
    for src in ("dfdc", "ffpp", "rff"):
        assert pipe[src]["n_real"] >= 90 and 0.0 <= pipe[src]["fpr"] <= 0.10, src
    assert card.novelty and (WEIGHTS / card.novelty["file"]).is_file()
    assert card.split["spec"] == SPEC.name and SPEC.is_file()
    # The recipe's starting point ships too, so `dfd train` on the spec reproduces it from a fresh clone.
    init = card.training.get("init_from")
    assert init is None or (ROOT / init).is_file() or (WEIGHTS / Path(init).name).is_file()


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.skipif(not all(p.is_dir() for p in SHARED_ALL), reason="../shared/data sets are not present")
def test_dfd_eval_reproduces_the_cards_per_source_table(tmp_path):
    from dfd_lib.cli import main

    _, card = _default()
    out = tmp_path / "eval.json"
    rc = main(
        [
            "eval",
            str(SPEC),
            "--crops",
            "--labels",
            str(WEIGHTS / card.split["validation_files"]),
            "--weights-dir",
            str(WEIGHTS),
            "--json",
            str(out),
            "--quiet",
            "--landmarks",
            str(tmp_path / "lm"),
        ]
    )
    assert rc == 0
    got = json.loads(out.read_text())
    for src, want in card.metrics["validation_by_source"].items():
        for k in ("auc", "ece", "ece_noise_p95", "tpr", "fpr"):
            if want[k] is not None:
                assert got["by_source"][src][k] == pytest.approx(want[k], abs=0.005), (src, k)
    for key, want in card.metrics["validation_by_method"].items():
        assert got["by_method"][key]["auc"] == pytest.approx(want["auc"], abs=0.005), key


def test_outside_experience_reads_the_same_block_statistics_on_onnx_runtime_and_pytorch():
    """The shipped novelty statistics read block 3's channel statistics; the ONNX graph the scan runs gives them,
    and a face's novelty and score are the same through either runtime."""
    import numpy as np
    from skimage import data

    from dfd_lib.detector import Detector
    from dfd_lib.faces import FaceDetector, crop_face

    _, card = _default()
    assert card.novelty["blocks"] == [3] and card.onnx["block_stats_of"] == [3]
    img = data.astronaut()
    face = FaceDetector().detect(img)[0]
    crop = crop_face(img, face, card.input_size, card.crop_scale, card.crop_offset_y)
    got = {}
    for runtime in ("onnx", "torch"):
        m = load_model(None, WEIGHTS, runtime=runtime)
        p, nov, _ = Detector(m).assess([crop, np.ascontiguousarray(crop[:, ::-1])])
        got[runtime] = (p, nov)
    assert np.allclose(got["onnx"][0], got["torch"][0], atol=1e-4)
    assert np.allclose(got["onnx"][1], got["torch"][1], rtol=1e-3)
    # The unaltered astronaut photo is familiar to the model: not flagged.
    assert got["onnx"][1][0] < card.novelty["threshold"]


def test_a_card_whose_onnx_export_lacks_the_novelty_blocks_is_refused(tmp_path):
    import shutil

    from dfd_lib.errors import ModelCardError

    path, card = _default()
    for f in WEIGHTS.glob(f"{card.name}.*"):
        shutil.copy(f, tmp_path / f.name)
    raw = json.loads((tmp_path / path.name).read_text())
    raw["onnx"]["block_stats_of"] = []
    (tmp_path / path.name).write_text(json.dumps(raw))
    with pytest.raises(ModelCardError, match="export it again"):
        load_model(card.name, tmp_path, runtime="onnx")
    assert load_model(card.name, tmp_path, runtime="torch").novelty is not None  # PyTorch computes them itself


def test_fast_card_scores_the_default_weights_at_the_centre_framing_alone(examples):
    """dfd-lite0-multi-fast is the default's network (the same hash-checked .pt and .onnx) scored at one framing,
    with its own calibration: its raw logit for a face is the default's logit for the centre one of its five views,
    and on the sample evidence it keeps the unaltered photo and the manipulated one on their sides of the threshold."""
    import numpy as np
    from PIL import Image

    from dfd_lib.detector import Detector
    from dfd_lib.scan import Scanner

    default, fast = load_model(None, WEIGHTS), load_model("dfd-lite0-multi-fast", WEIGHTS)
    assert default.card.default and not fast.card.default
    assert fast.card.weights_file == default.card.weights_file and fast.card.sha256 == default.card.sha256
    assert fast.card.onnx["sha256"] == default.card.onnx["sha256"]
    assert fast.card.views == (fast.card.crop_scale,) and len(default.card.views) == 5
    scanner = Scanner(fast)
    views = default.card.views
    for name, verdict in (("astronaut.jpg", "real"), ("astronaut_blended_face.jpg", "fake")):
        r = scanner.scan_file(examples / name)
        assert r.status == "scored" and r.verdict == verdict and r.model_name == "dfd-lite0-multi-fast"
        image = np.asarray(Image.open(examples / name).convert("RGB"))
        faces = scanner.faces.detect(image)
        cut = Scanner(default)._views(image, faces)
        assert cut is not None
        z_views, _, _ = Detector(default)._forward_single(cut[0], False)
        z_fast = Detector(fast).logits([cut[0][views.index(fast.card.crop_scale)]])
        assert float(z_fast[0]) == pytest.approx(float(z_views[views.index(fast.card.crop_scale)]), abs=1e-5)
        assert r.faces[0].p_fake == pytest.approx(float(Detector(fast).calibrate(z_fast)[0]), abs=1e-6)
    scanner.close()
