"""Several framings of each face ("views", the card's ``view_scales``): every path that scores a face for a card with
views must average the same single-view logits, or the card's calibration, threshold and figures do not apply."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from dfd_lib.errors import ModelCardError

SCALES = (0.62, 0.70, 0.78)


@pytest.fixture(scope="module")
def view_weights(tiny_variant):
    """A copy of the tiny test model whose card scores each face at three crop scales."""
    return tiny_variant(view_scales=list(SCALES))


def _picture(examples):
    """The astronaut photo from the sample evidence, with its face found as the scanner finds it."""
    from PIL import Image

    from dfd_lib.faces import FaceDetector

    im = np.asarray(Image.open(examples / "astronaut.jpg").convert("RGB"))
    faces = FaceDetector().detect(im)
    assert len(faces) == 1
    return im, faces


def test_card_keeps_its_views_and_refuses_bad_ones(view_weights, tmp_path):
    from dfd_lib.models.card import ModelCard

    card = ModelCard.read(view_weights / "tiny-test-model.json")
    assert card.view_scales == SCALES and card.views == SCALES
    assert card.zoom_factors == pytest.approx((0.62 / 0.7, 1.0, 0.78 / 0.7))
    assert "3 framings averaged" in card.summary()
    assert replace(card, view_scales=()).views == (card.crop_scale,)
    data = json.loads((view_weights / "tiny-test-model.json").read_text())
    for bad in ([0.7, 0.7], [0.1, 0.7], [0.5 + 0.05 * i for i in range(10)]):
        with pytest.raises(ModelCardError, match="view_scales"):
            ModelCard.from_dict(data | {"view_scales": bad})


def test_zoom_window_reframes_a_crop_about_its_centre():
    from dfd_lib.faces import zoom_window

    crop = np.arange(100 * 100 * 3, dtype=np.uint8).reshape(100, 100, 3)
    assert np.array_equal(zoom_window(crop, 1.0), crop)
    inner = zoom_window(crop, 0.5)
    assert inner.shape == (50, 50, 3) and np.array_equal(inner, crop[25:75, 25:75])
    wider = zoom_window(crop, 1.2)
    assert wider.shape == (120, 120, 3)
    assert np.array_equal(wider[10:110, 10:110], crop) and not wider[:10].any() and not wider[:, 110:].any()


def test_scan_scores_the_mean_logit_of_the_face_cut_at_each_scale(view_weights, tiny_weights, examples):
    """The scanner cuts each view from the picture (context, not black, around a wider view) and averages."""
    from dfd_lib.detector import Detector
    from dfd_lib.faces import crop_face
    from dfd_lib.models.checkpoint import load_model
    from dfd_lib.scan import Scanner

    im, faces = _picture(examples)
    single = Detector(load_model(None, tiny_weights))
    c = single.card
    per_view = [single.logits([crop_face(im, faces[0], c.input_size, s, c.crop_offset_y)])[0] for s in SCALES]
    assert np.ptp(per_view) > 1e-3  # the views are different inputs to the network
    want = float(single.calibrate(np.array([np.mean(per_view)]))[0])
    r = Scanner(None, weights_dir=view_weights).scan_file(examples / "astronaut.jpg")
    assert r.status == "scored" and r.faces[0].p_fake == pytest.approx(want, abs=1e-5)
    alone = Scanner(None, weights_dir=tiny_weights).scan_file(examples / "astronaut.jpg").faces[0].p_fake
    assert alone == pytest.approx(float(single.calibrate(np.array([per_view[1]]))[0]), abs=1e-5)
    assert alone != pytest.approx(r.faces[0].p_fake, abs=1e-4)


def test_detector_frames_a_bare_crop_again_and_checks_the_views_it_is_given(view_weights):
    """Without the picture (a crop as given), each view is the crop zoomed about its centre; views handed in
    must be the card's number per face."""
    from dfd_lib.detector import Detector
    from dfd_lib.faces import zoom_views
    from dfd_lib.models.checkpoint import load_model

    m = load_model(None, view_weights)
    det = Detector(m)
    plain = Detector(replace(m, card=replace(m.card, view_scales=())))
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 255, (160, 160, 3), dtype=np.uint8) for _ in range(2)]
    views = [zoom_views(c, 160, m.card.zoom_factors) for c in crops]
    want = [plain.logits(v).mean() for v in views]
    np.testing.assert_allclose(det.logits(crops), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(det.logits(crops, views), want, rtol=1e-5, atol=1e-5)
    p, novelty, kinds = det.assess(crops, views)
    np.testing.assert_allclose(p, det.calibrate(np.array(want)), atol=1e-6)
    with pytest.raises(ValueError, match="3 view"):
        det.logits(crops, [v[:2] for v in views])


def test_scoring_crops_of_a_data_spec_averages_the_same_views(view_weights, examples):
    """Calibration and ``dfd eval --crops`` score lists through the crop dataset: a face cut from its box at each
    scale (pipeline framing) or zoomed about the centre (crops as given), averaged by the same forward pass."""
    import torch

    from dfd_lib.detector import Detector
    from dfd_lib.models.checkpoint import load_model
    from dfd_lib.models.tta import channels_last, forward_logits
    from dfd_lib.training.data import Sample
    from dfd_lib.training.dataset import CropDataset

    m = load_model(None, view_weights, runtime="torch")
    im, faces = _picture(examples)
    path = str(examples / "astronaut.jpg")
    samples = [Sample(path, 0, "real", "pipeline"), Sample(path, 0, "real", "as_given")]
    ds = CropDataset(
        "/",
        samples,
        160,
        m.card.mean,
        m.card.std,
        train=False,
        landmarks={path: (faces[0].box, ())},
        crop_offset_y=m.card.crop_offset_y,
        view_scales=SCALES,
    )
    x = torch.stack([ds[0][0], ds[1][0]])
    assert x.shape == (2, len(SCALES), 3, 160, 160)
    with torch.inference_mode():
        z = forward_logits(m.module, channels_last(x), "none").numpy()
    det = Detector(m)
    assert z[0] == pytest.approx(float(det.logits(*_cut(im, faces, m.card))[0]), abs=1e-4)
    assert z[1] == pytest.approx(float(det.logits([im])[0]), abs=1e-4)  # the picture itself as a crop, zoomed


def _cut(im, faces, card):
    from dfd_lib.faces import crop_face, crop_views

    crop = crop_face(im, faces[0], card.input_size, card.crop_scale, card.crop_offset_y)
    return [crop], [crop_views(im, faces[0], card.input_size, card.views, card.crop_offset_y)]


def test_video_frames_are_scored_on_the_same_views(view_weights, tiny_weights, examples):
    """Video faces are batched across frames: each face must get its own views' average, not a neighbour's."""
    from dfd_lib.scan import Scanner

    with_views = Scanner(None, weights_dir=view_weights).scan_file(examples / "astronaut_clip.mp4")
    alone = Scanner(None, weights_dir=tiny_weights).scan_file(examples / "astronaut_clip.mp4")
    assert with_views.status == alone.status == "scored"
    a = {(f.frame_index, f.face_index): f.p_fake for f in with_views.faces}
    b = {(f.frame_index, f.face_index): f.p_fake for f in alone.faces}
    assert a.keys() == b.keys() and len(a) >= 2
    assert any(abs(a[k] - b[k]) > 1e-4 for k in a)


def test_views_are_set_only_with_a_recalibration(view_weights, capsys):
    """New views without new calibration would give scores the card's threshold was not chosen for."""
    from dfd_lib.cli import main

    card = str(view_weights / "tiny-test-model.json")
    for argv in (["models", "--view-scales", "0.7"], ["models", "--refit-novelty", card, "--view-scales", "0.7"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "--view-scales goes with --recalibrate" in err and "Traceback" not in err
    assert json.loads((view_weights / "tiny-test-model.json").read_text())["view_scales"] == list(SCALES)
