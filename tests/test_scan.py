"""The scan pipeline on the bundled sample evidence: every file gets its state, scores are real."""

import numpy as np
import pytest

from dfd_lib.detector import aggregate_video
from dfd_lib.results import STATUSES

EXPECTED = {
    "astronaut.jpg": "scored",
    "astronaut_blended_face.jpg": "scored",
    "astronaut_exif_rotated.jpg": "scored",
    "two_faces.png": "scored",
    "astronaut_clip.mp4": "scored",
    "coffee_no_face.jpg": "no_face",
    "problem_files/truncated.jpg": "unreadable",
    "problem_files/empty.jpg": "unreadable",
    "problem_files/notes.jpg": "unsupported",
    "problem_files/huge_20000x20000.png": "too_large",
}


@pytest.fixture(scope="module")
def results(scanner, examples):
    return {r.path.split("evidence/", 1)[1]: r for r in scanner.scan([examples])}


def test_every_file_has_its_state_and_message(results):
    assert {k: r.status for k, r in results.items() if k in EXPECTED} == EXPECTED
    for r in results.values():
        assert r.status in STATUSES and r.message
        assert r.model_name == "tiny-test-model" and len(r.model_sha256) == 64


def test_failures_never_carry_a_score(results):
    for r in results.values():
        if r.status != "scored":
            assert r.score is None and r.verdict is None and not r.faces


def test_messages_say_what_went_wrong(results):
    assert "0 bytes" in results["problem_files/empty.jpg"].message
    assert "truncated" in results["problem_files/truncated.jpg"].message
    assert "text" in results["problem_files/notes.jpg"].message and ".jpg" in results["problem_files/notes.jpg"].message
    assert "20000x20000" in results["problem_files/huge_20000x20000.png"].message
    assert "no face" in results["coffee_no_face.jpg"].message


def test_hashes_recorded_even_for_bad_files(results, examples):
    import hashlib

    for name in ("problem_files/truncated.jpg", "problem_files/notes.jpg", "astronaut.jpg"):
        assert results[name].sha256 == hashlib.sha256((examples / name).read_bytes()).hexdigest()


def test_image_faces_boxes_landmarks_scores(results):
    r = results["astronaut.jpg"]
    assert len(r.faces) == 1
    f = r.faces[0]
    x1, y1, x2, y2 = f.box
    assert 150 < (x1 + x2) / 2 < 260 and 60 < (y1 + y2) / 2 < 180  # the face in the 512x512 portrait
    assert len(f.landmarks) == 5 and f.det_prob > 0.9
    assert 0.0 < f.p_fake < 1.0 and f.crop.shape == (160, 160, 3)
    assert r.score == f.p_fake and r.verdict in ("fake", "real")
    assert len(results["two_faces.png"].faces) == 2
    assert results["two_faces.png"].score == max(f.p_fake for f in results["two_faces.png"].faces)


def test_exif_rotated_photo_is_scored_upright(results):
    a = results["astronaut.jpg"].faces[0]
    b = results["astronaut_exif_rotated.jpg"].faces[0]
    assert abs(a.box[0] - b.box[0]) < 15 and abs(a.box[1] - b.box[1]) < 15


def test_video_scored_per_frame_and_aggregated(results):
    r = results["astronaut_clip.mp4"]
    assert r.media_type == "video" and [f.index for f in r.frames] == [0, 10, 20, 30]
    assert all(f.score is not None and f.n_faces == 1 for f in r.frames)
    assert r.score == pytest.approx(aggregate_video([f.score for f in r.frames]))
    assert "top quartile" in r.aggregate


def test_aggregate_video_rule():
    assert aggregate_video([None, None]) is None
    assert aggregate_video([0.95, None]) == pytest.approx(0.95)  # one frame with a face: that frame
    # One high frame among 4 does not decide a short clip: the 2 highest are averaged ...
    assert aggregate_video([0.1, 0.2, 0.9, None, 0.3]) == pytest.approx((0.9 + 0.3) / 2)
    # ... and a short clip manipulated in half of its frames scores as those frames do.
    assert aggregate_video([0.1, 0.95, 0.95, 0.1]) == pytest.approx(0.95)
    # A long clip whose manipulated stretch is a quarter of its frames is still decided by that stretch.
    assert aggregate_video([0.1] * 30 + [0.95] * 10) == pytest.approx(0.95)


def test_scan_continues_after_missing_and_hostile_paths(scanner, examples, tmp_path):
    missing = tmp_path / ".." / "nope" / "missing.jpg"
    out = list(scanner.scan([missing, examples / "astronaut.jpg"]))
    assert [r.status for r in out] == ["unreadable", "scored"]
    assert "does not exist" in out[0].message


def test_scores_repeatable(scanner, examples):
    a = scanner.scan_file(examples / "astronaut.jpg").score
    b = scanner.scan_file(examples / "astronaut.jpg").score
    assert a == pytest.approx(b, abs=1e-6)


def test_gradcam_on_demand(scanner, results):
    face = results["astronaut.jpg"].faces[0]
    e = scanner.explain(face)
    assert e.heatmap.shape == face.crop.shape[:2] and e.overlay.shape == face.crop.shape
    assert 0.0 <= e.heatmap.min() and e.heatmap.max() <= 1.0 and e.heatmap.max() > 0
    assert e.p_fake == pytest.approx(face.p_fake, abs=1e-4)
    assert not np.array_equal(e.overlay, face.crop)


def test_to_dict_is_json_ready(results):
    import json

    d = json.loads(json.dumps(results["astronaut_clip.mp4"].to_dict()))
    assert {
        "path",
        "sha256",
        "type",
        "status",
        "message",
        "faces",
        "score",
        "verdict",
        "model",
        "model_sha256",
        "frames",
    } <= set(d)
    assert set(d["faces"][0]) >= {"box", "landmarks", "det_prob", "p_fake"}


def test_gradcam_graph_cut_gives_the_full_backward_heatmap(scanner, results):
    """The explainer starts the backward pass at the target layer; the heatmap must equal plain Grad-CAM's."""
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from dfd_lib.detector import Detector
    from dfd_lib.explain import Explainer

    from dfd_lib.models import BACKBONES

    crop = results["astronaut.jpg"].faces[0].crop
    layer = BACKBONES.get(scanner.model.card.backbone).cam_layer(scanner.model.module)
    hooks = len(layer._forward_hooks)
    with Explainer(scanner.model) as ex:
        cut = ex.explain(crop).heatmap
    assert len(layer._forward_hooks) == hooks  # the explainer's hooks are gone once it is closed
    x = Detector(scanner.model).to_batch([crop])
    with torch.enable_grad():
        cam = GradCAM(model=scanner.model.module, target_layers=[layer])
        try:
            full = cam(input_tensor=x, targets=[ClassifierOutputTarget(0)])[0]
        finally:
            cam.activations_and_grads.release()
    import cv2

    full = cv2.resize(np.nan_to_num(full.astype(np.float32)), (crop.shape[1], crop.shape[0]))
    assert full.max() > 0
    np.testing.assert_allclose(cut, full, atol=1e-5)


def test_warm_up_leaves_results_unchanged(scanner, examples):
    before = scanner.scan_file(examples / "astronaut.jpg")
    scanner.warm_up()
    after = scanner.scan_file(examples / "astronaut.jpg")
    assert after.status == "scored" and after.score == pytest.approx(before.score, abs=1e-6)


def _astronaut_video(path, examples, n, rotation=None, faststart=False):
    """``n`` frames at 10 fps of the astronaut photo, stored turned a quarter counter-clockwise when ``rotation``
    is given (as phones store portrait video)."""
    import av
    from PIL import Image

    rgb = np.asarray(Image.open(examples / "astronaut.jpg").convert("RGB").resize((192, 192)))
    rng = np.random.default_rng(1)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream("libx264", rate=10)
        first = np.rot90(rgb, 1) if rotation is not None else rgb
        s.height, s.width = first.shape[:2]
        s.pix_fmt, s.options = "yuv420p", {"preset": "ultrafast"}
        if rotation is not None:
            s.set_display_rotation(rotation)
        for _ in range(n):
            noisy = np.clip(first.astype(int) + rng.integers(-20, 20, first.shape), 0, 255).astype(np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(noisy), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def test_portrait_video_is_scanned_upright_and_a_cut_one_says_so(scanner, examples, tmp_path):
    turned = _astronaut_video(tmp_path / "turned.mp4", examples, 20, rotation=-90)
    whole = _astronaut_video(tmp_path / "whole.mp4", examples, 100, faststart=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    r_turned, r_whole, r_cut = scanner.scan([turned, whole, cut])
    assert r_turned.status == "scored" and len(r_turned.faces) == 2  # upright: the face is found in both frames
    assert not any("not analysed" in c for c in r_whole.caveats)
    assert r_cut.status == "scored" and 1 <= len(r_cut.frames) < 10
    assert any("the 10.0 s the container declares" in c for c in r_cut.caveats) and "not analysed" in r_cut.message
