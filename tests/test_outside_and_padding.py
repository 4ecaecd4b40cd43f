"""Verdicts that say "inconclusive" outside the model's experience, novelty scores, and faces that fill the picture."""

import numpy as np
import pytest

from dfd_lib.detector import file_verdict
from dfd_lib.results import FaceResult, FileResult


def _face(p, outside=False):
    return FaceResult(0, None, None, (0, 0, 10, 10), (), 0.99, p, outside=("unlike the faces",) if outside else ())


@pytest.mark.parametrize(
    "faces, score, want",
    [
        ([_face(0.9)], 0.9, "fake"),
        ([_face(0.1)], 0.1, "real"),
        ([_face(0.9, True)], 0.9, "inconclusive"),  # a confident "fake" from a face the model does not know
        ([_face(0.1, True)], 0.1, "inconclusive"),
        ([_face(0.9, True), _face(0.8)], 0.9, "fake"),  # a familiar face above the threshold decides
        ([_face(0.9, True), _face(0.2)], 0.9, "inconclusive"),
        ([_face(0.2, True), _face(0.1), _face(0.1)], 0.2, "real"),  # one unfamiliar face of three, all low
    ],
)
def test_file_verdict(faces, score, want):
    v, caveats = file_verdict(faces, score, 0.5)
    assert v == want
    assert any("outside the model's experience" in c for c in caveats) == any(f.outside for f in faces)
    if v == "inconclusive":
        assert "outside the model's experience" in caveats[0] and "unlike the faces" in caveats[0]


@pytest.mark.parametrize(
    "threshold, score, near",
    [
        (0.5, 0.40, True),
        (0.5, 0.60, True),
        (0.5, 0.35, False),
        (0.5, 0.65, False),
        (0.5, 0.9, False),
        # The band is on the logit scale: narrower in probability near the top, where scores crowd together.
        (0.938, 0.91, True),
        (0.938, 0.955, True),
        (0.938, 0.89, False),
        (0.938, 0.985, False),
    ],
)
def test_a_verdict_near_the_threshold_says_it_could_go_either_way(threshold, score, near):
    v, caveats = file_verdict([_face(score)], score, threshold)
    assert v == ("fake" if score >= threshold else "real")  # the verdict itself stands
    assert any("could go either way" in c for c in caveats) == near
    # Beside the outside-experience note, not instead of it.
    v2, caveats2 = file_verdict([_face(score, True), _face(score), _face(score)], score, threshold)
    assert any("outside the model's experience" in c for c in caveats2)
    assert any("could go either way" in c for c in caveats2) == near


def test_file_result_refuses_an_unknown_verdict_and_reports_caveats():
    with pytest.raises(ValueError, match="verdict"):
        FileResult("x.jpg", "scored", "", score=0.7, verdict="maybe")
    r = FileResult("x.jpg", "scored", "", score=0.7, verdict="inconclusive", caveats=("1 of 1 face(s) outside",))
    d = r.to_dict()
    assert d["verdict"] == "inconclusive" and d["caveats"] == ["1 of 1 face(s) outside"]


def test_novelty_is_low_for_the_reference_and_high_for_something_else():
    from dfd_lib.models.novelty import fit_novelty

    rng = np.random.default_rng(0)
    basis = rng.normal(size=(8, 64))
    ref = rng.normal(size=(2000, 8)) @ basis + 0.05 * rng.normal(size=(2000, 64))
    cal = rng.normal(size=(500, 8)) @ basis + 0.05 * rng.normal(size=(500, 64))
    m = fit_novelty(ref, cal, k=8, percentile=99)
    assert (m.score(cal) > m.threshold).mean() == pytest.approx(0.01, abs=0.006)
    other = rng.normal(size=(200, 64)) * 3  # off the reference subspace
    assert (m.score(other) > m.threshold).mean() > 0.95


def test_saved_novelty_statistics_load_only_with_their_hash(tmp_path):
    from dfd_lib.errors import ModelCardMismatch
    from dfd_lib.media import sha256_file
    from dfd_lib.models.novelty import NoveltyModel, fit_novelty

    rng = np.random.default_rng(1)
    m = fit_novelty(rng.normal(size=(100, 16)), rng.normal(size=(50, 16)), k=4)
    path = tmp_path / "n.npz"
    m.save(path)
    again = NoveltyModel.load(path, sha256_file(path))
    x = rng.normal(size=(5, 16))
    assert np.allclose(again.score(x), m.score(x), rtol=1e-5)
    with pytest.raises(ModelCardMismatch):
        NoveltyModel.load(path, "0" * 64)


def test_novelty_threshold_weights_every_source_equally():
    """A large familiar source must not set the threshold alone: each source's own faces are flagged near the
    percentile's rate, the small source too."""
    from dfd_lib.models.novelty import fit_novelty, weighted_percentile

    rng = np.random.default_rng(2)
    big = rng.normal(size=(3000, 12))
    small = rng.normal(size=(300, 12)) * 1.6  # a familiar but more varied source
    ref = np.concatenate([big[:1500], small[:150]])
    cal = np.concatenate([big[1500:], small[150:]])
    groups = np.array(["big"] * 1500 + ["small"] * 150)
    plain = fit_novelty(ref, cal, k=12, percentile=99)
    fair = fit_novelty(ref, cal, k=12, percentile=99, groups=groups)
    assert (plain.score(small[150:]) > plain.threshold).mean() > 0.05  # the big source set it
    assert fair.threshold > plain.threshold
    for part in (big[1500:], small[150:]):
        assert (fair.score(part) > fair.threshold).mean() < 0.03
    assert weighted_percentile(np.arange(100.0), 50) == pytest.approx(49.5)
    # Two groups of equal weight, 90 zeros and 10 ones: each holds half of the weight.
    values, groups2 = np.r_[np.zeros(90), np.ones(10)], np.array([0] * 90 + [1] * 10)
    assert weighted_percentile(values, 40, groups2) == 0.0 and weighted_percentile(values, 60, groups2) == 1.0
    assert weighted_percentile(values, 60) == 0.0


def test_block_statistics_novelty_round_trips_and_old_files_read_the_pooled_features(tmp_path):
    from dfd_lib.media import sha256_file
    from dfd_lib.models.novelty import NoveltyModel, fit_novelty
    from dfd_lib.models.sidecar import save_npz

    rng = np.random.default_rng(3)
    scales = np.r_[np.full(8, 100.0), np.full(8, 0.01)]  # dimensions on unrelated scales
    m = fit_novelty(
        rng.normal(size=(400, 16)) * scales, rng.normal(size=(100, 16)) * scales, k=8, standardise=True, blocks=(3,)
    )
    path = tmp_path / "n.npz"
    m.save(path)
    again = NoveltyModel.load(path, sha256_file(path))
    assert again.blocks == (3,) and again.scale is not None
    x = rng.normal(size=(5, 16)) * scales
    assert np.allclose(again.score(x), m.score(x))
    # Standardised, a shift of the small-scale dimensions is seen as clearly as one of the large ones.
    odd = rng.normal(size=(50, 16)) * scales
    odd[:, 8:] += 0.1
    assert (m.score(odd) > m.threshold).mean() > 0.9
    # A file written before block statistics existed has neither key: it reads the pooled features, unscaled.
    old = tmp_path / "old.npz"
    save_npz(
        old,
        mean=m.mean,
        components=m.components,
        variances=m.variances,
        residual_mean=np.float64(1.0),
        threshold=np.float64(3.0),
    )
    legacy = NoveltyModel.load(old, sha256_file(old))
    assert legacy.blocks == () and legacy.scale is None


@pytest.fixture(scope="module")
def astronaut_face():
    from skimage import data

    from dfd_lib.faces import FaceDetector

    img = data.astronaut()
    return img, FaceDetector().detect(img)[0]


def test_a_face_filling_the_picture_is_found_on_the_padded_retry(astronaut_face):
    """Profile pictures cropped tight to the face: MTCNN misses faces touching the border; the retry finds them."""
    import cv2

    from dfd_lib.faces import FaceDetector

    img, face = astronaut_face
    x1, y1, x2, y2 = face.box
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, 0.55 * max(x2 - x1, y2 - y1)
    tight = img[int(cy - side / 2) : int(cy + side / 2), int(cx - side / 2) : int(cx + side / 2)]
    tight = cv2.resize(tight, (256, 256))
    assert FaceDetector(pad_retry=0).detect(tight) == []
    found = FaceDetector().detect(tight)
    assert len(found) == 1 and found[0].padded
    bx1, by1, bx2, by2 = found[0].box
    # The box is in the picture's own coordinates: centred on it and larger than it (the face overflows).
    assert abs((bx1 + bx2) / 2 - 128) < 40 and abs((by1 + by2) / 2 - 128) < 50 and bx2 - bx1 > 256
    # A face found at once is not marked.
    assert not FaceDetector().detect(img)[0].padded


@pytest.mark.parametrize("h, w", [(200, 20000), (12000, 1080)])
def test_a_face_in_a_panorama_or_long_screenshot_is_found(astronaut_face, h, w):
    """Very elongated pictures (panoramas, long scrolling screenshots) were shrunk by their longer side until a
    170 px face was 14 px and lost; they are searched at the pixel count of an ordinary picture."""
    import cv2

    from dfd_lib.faces import FaceDetector

    img, face = astronaut_face
    x1, y1, x2, y2 = (int(v) for v in face.box)
    m = (x2 - x1) // 2
    head = cv2.resize(img[y1 - m : y2 + m, x1 - m : x2 + m], (170, 170))  # the face about 85 px in a 170 px cut
    strip = np.full((h, w, 3), 200, np.uint8)
    top, left = (h - 170) // 2, w * 3 // 4 - 85
    strip[top : top + 170, left : left + 170] = head
    det = FaceDetector()
    [found] = det.detect(strip)
    bx1, by1, bx2, by2 = found.box
    assert left < (bx1 + bx2) / 2 < left + 170 and top < (by1 + by2) / 2 < top + 170
    assert det.detection_scale(h, w) > 0.3 > det.max_side / max(h, w)
    # pictures no more elongated than 16:9 keep the scale they always had
    assert det.detection_scale(2160, 3840) == det.max_side / 3840 and det.detection_scale(3000, 4000) == 0.4


def test_kind_head_names_a_kind_only_when_confident(tmp_path):
    from dfd_lib.errors import ModelCardMismatch
    from dfd_lib.media import sha256_file
    from dfd_lib.models.kind import UNCLEAR, KindHead, fit_kind_head

    rng = np.random.default_rng(0)
    centres = {
        "swap": rng.normal(size=32) * 3,
        "reenactment": rng.normal(size=32) * 3,
        "synthetic": rng.normal(size=32) * 3,
    }
    x = np.vstack([c + rng.normal(size=(100, 32)) for c in centres.values()])
    kinds = [k for k in centres for _ in range(100)]
    head = fit_kind_head(x, kinds)
    named = head.name(np.vstack([c + rng.normal(size=(20, 32)) for c in centres.values()]))
    assert [n for n, _ in named] == [k for k in centres for _ in range(20)]
    # Half-way between two kinds: the head will not name one.
    mid = (centres["swap"] + centres["synthetic"]) / 2
    assert head.name(mid[None])[0][0] == UNCLEAR
    path = tmp_path / "k.npz"
    head.save(path)
    again = KindHead.load(path, sha256_file(path))
    assert again.classes == head.classes and np.allclose(again.proba(x[:5]), head.proba(x[:5]), atol=1e-5)
    with pytest.raises(ModelCardMismatch):
        KindHead.load(path, "f" * 64)


def test_a_window_kept_inside_the_picture_has_no_black_margin():
    """With ``crop_inside`` a face at the picture's edge is framed from picture pixels only: the window moves in
    from the edge (and shrinks to the picture's shorter side), where the default fills the outside with black."""
    from dfd_lib.faces import FaceBox, crop_face, square_box
    from dfd_lib.training.dataset import frame_box

    rng = np.random.default_rng(0)
    picture = rng.integers(60, 200, size=(224, 224, 3), dtype=np.uint8)
    edge = FaceBox((-26.0, -29.0, 199.0, 280.0), 0.99, ())  # larger than the picture, past its top-left
    black = crop_face(picture, edge, 64, 0.7, 0.09)
    inside = crop_face(picture, edge, 64, 0.7, 0.09, inside=True)
    assert (black.sum(axis=2) == 0).mean() > 0.05
    assert (inside.sum(axis=2) == 0).mean() == 0
    x1, y1, x2, y2 = square_box(edge, 0.7, 0.09, within=(224, 224))
    assert 0 <= x1 and 0 <= y1 and x2 <= 224 and y2 <= 224 and x2 - x1 == y2 - y1 == 216
    huge = FaceBox((-85.0, -33.0, 188.0, 337.0), 0.99, ())
    assert square_box(huge, 0.7, 0.09, within=(224, 300)) == (0, 0, 224, 224)
    # a face well inside the picture is framed the same either way
    middle = FaceBox((80.0, 70.0, 150.0, 150.0), 0.99, ())
    assert square_box(middle, 0.7, 0.09, within=(224, 224)) == square_box(middle, 0.7, 0.09)
    # training cuts its windows by the same rule
    assert np.array_equal(frame_box(picture, edge.box, 0.7, 0.09, inside=True), picture[8:224, 0:216])


def test_training_can_mix_both_framings_so_that_neither_is_evidence(tmp_path):
    """``inside_share`` between 0 and 1 frames some training crops inside the picture and pads the rest black, drawn
    per sample; 0 and 1 give one framing only, and a share outside [0, 1] is refused before training starts."""
    from dfd_lib.errors import TrainingConfigError
    from dfd_lib.training.config import TrainConfig
    from dfd_lib.training.dataset import CropDataset

    samples = []

    def inside_draws(share):
        ds = CropDataset(tmp_path, samples, 64, (0.5,) * 3, (0.5,) * 3, True, inside_share=share)
        return [ds._inside(np.random.default_rng(i)) for i in range(40)]

    assert not any(inside_draws(0.0)) and all(inside_draws(1.0))
    assert 8 <= sum(inside_draws(0.5)) <= 32
    # the default follows crop_inside, and a recipe with one framing draws no extra random number
    assert CropDataset(tmp_path, samples, 64, (0.5,) * 3, (0.5,) * 3, True, crop_inside=True).inside_share == 1.0
    r = np.random.default_rng(3)
    CropDataset(tmp_path, samples, 64, (0.5,) * 3, (0.5,) * 3, True)._inside(r)
    assert r.random() == np.random.default_rng(3).random()
    with pytest.raises(TrainingConfigError, match="inside_share"):
        TrainConfig(data=str(tmp_path), out=str(tmp_path), inside_share=1.5)


def test_a_card_that_frames_inside_the_picture_makes_the_scanner_do_so(tmp_path):
    """The framing is the card's: the scanner's crops follow ``crop_inside`` as the model was trained."""
    from dataclasses import replace

    from dfd_lib.faces import FaceBox
    from dfd_lib.models import find_card
    from dfd_lib.models.card import ModelCard

    _, card = find_card(None)
    assert card.crop_inside is False  # the shipped default was trained with black margins
    inside = replace(card, crop_inside=True)
    path = tmp_path / "c.json"
    inside.write(path)
    assert ModelCard.read(path).crop_inside is True

    from dfd_lib.scan import Scanner

    s = Scanner()
    picture = np.full((224, 224, 3), 128, dtype=np.uint8)
    edge = FaceBox((-26.0, -29.0, 199.0, 280.0), 0.99, ())
    try:
        assert (s._crops(picture, [edge])[0].sum(axis=2) == 0).any()
        s.model = replace(s.model, card=inside)
        assert not (s._crops(picture, [edge])[0].sum(axis=2) == 0).any()
    finally:
        s.close()
