"""Self-blended pseudo-fakes: whole-face masks as before, and masks over one region of the face (mouth, eyes, lower
face) that teach a boundary inside the face, as expression reenactment leaves one."""

from __future__ import annotations

import numpy as np
import pytest

from dfd_lib.training.sbi import LOCAL_REGIONS, blend_mask, local_mask, self_blend

# five landmarks of a frontal face in a 200 x 200 crop: eyes, nose, mouth corners
LANDMARKS = np.array([[70.0, 80.0], [130.0, 80.0], [100.0, 110.0], [78.0, 140.0], [122.0, 140.0]])


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask > 0.5)
    return float(xs.mean()), float(ys.mean())


def test_local_masks_are_smaller_than_the_face_on_average():
    face = np.mean([(blend_mask((200, 200), LANDMARKS, np.random.default_rng(s)) > 0.5).sum() for s in range(20)])
    for region in LOCAL_REGIONS:
        area = np.mean(
            [(local_mask((200, 200), LANDMARKS, np.random.default_rng(s), region) > 0.5).sum() for s in range(20)]
        )
        assert area < 0.8 * face, region


@pytest.mark.parametrize("seed", range(5))
def test_local_masks_cover_their_region(seed):
    masks = {r: local_mask((200, 200), LANDMARKS, np.random.default_rng(seed), r) for r in LOCAL_REGIONS}
    for m in masks.values():
        assert m.shape == (200, 200) and m.dtype == np.float32 and 0 <= m.min() and m.max() == pytest.approx(1.0)
    mouth_x, mouth_y = _centroid(masks["mouth"])
    eyes_x, eyes_y = _centroid(masks["eyes"])
    lower_x, lower_y = _centroid(masks["lower_face"])
    assert abs(mouth_y - 140) < 15 and abs(mouth_x - 100) < 15  # about the mouth
    assert abs(eyes_y - 80) < 15 and abs(eyes_x - 100) < 15  # about the eyes
    assert 110 < lower_y < 175 and lower_y > eyes_y + 30  # below the nose
    assert masks["mouth"][80, 70] < 0.05 and masks["eyes"][150, 100] < 0.05  # never the other region


def test_unknown_region_is_refused():
    with pytest.raises(ValueError, match="unknown face region"):
        local_mask((200, 200), LANDMARKS, np.random.default_rng(0), "ears")


def test_local_share_zero_keeps_the_recipes_random_stream():
    img = np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    a, ma = self_blend(img, LANDMARKS, np.random.default_rng(7))
    b, mb = self_blend(img, LANDMARKS, np.random.default_rng(7), local_share=0.0)
    assert np.array_equal(a, b) and np.array_equal(ma, mb)


def test_local_pseudo_fakes_change_one_region_and_leave_the_rest():
    img = np.random.default_rng(2).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    areas = []
    for seed in range(12):
        fake, mask = self_blend(img, LANDMARKS, np.random.default_rng(seed), local_share=1.0)
        changed = np.abs(fake.astype(int) - img.astype(int)).max(axis=2) > 0
        assert changed.any() and not changed[mask == 0].any()  # only where the mask is
        areas.append((mask > 0).mean())
    whole = [(self_blend(img, LANDMARKS, np.random.default_rng(s))[1] > 0).mean() for s in range(12)]
    assert np.mean(areas) < 0.7 * np.mean(whole)


def test_training_refuses_a_local_share_outside_0_1():
    from dfd_lib.errors import TrainingConfigError
    from dfd_lib.training.config import TrainConfig

    with pytest.raises(TrainingConfigError, match="sbi_local_share"):
        TrainConfig(out="o", data="s.yaml", sbi_local_share=1.5)
