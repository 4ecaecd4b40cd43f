"""Opt-in early stop of a video scan: it stops only when no remaining frame can change a "fake" verdict."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from dfd_lib.detector import fake_is_settled, file_verdict
from dfd_lib.media import MediaLimits, iter_video_frames, planned_video_samples, video_info


def _face(p: float, outside: bool = False):
    return SimpleNamespace(p_fake=p, outside=("unlike training",) if outside else ())


def test_fake_is_settled_only_when_zeros_in_every_remaining_frame_keep_it_fake():
    faces = [_face(0.95)]
    scores = [0.95] * 8
    # 8 frames at 0.95 and 4 more at 0: the top quartile (3 frames) is still 0.95.
    assert fake_is_settled(scores, 4, faces, 0.9)
    # 40 more at 0: the top quartile (12 frames) holds 4 zeros: (8 x 0.95) / 12 = 0.63 < 0.9.
    assert not fake_is_settled(scores, 40, faces, 0.9)
    # The bound is exact: the worst completion decides, and the verdict of that completion is fake.
    worst = scores + [0.0] * 4
    assert file_verdict(faces, float(np.mean(sorted(worst)[-3:])), 0.9)[0] == "fake"


def test_a_fake_decided_only_by_faces_outside_experience_is_never_settled():
    assert not fake_is_settled([0.99] * 16, 0, [_face(0.99, outside=True)], 0.9)
    assert fake_is_settled([0.99] * 16, 0, [_face(0.99, outside=True), _face(0.95)], 0.9)


def test_a_real_verdict_or_no_face_is_never_settled():
    assert not fake_is_settled([0.2] * 16, 0, [_face(0.2)], 0.9)
    assert not fake_is_settled([None] * 16, 0, [], 0.9)
    with pytest.raises(ValueError):
        fake_is_settled([0.99], -1, [_face(0.99)], 0.9)


def test_planned_samples_from_the_container_facts_never_above_the_limit():
    lim = MediaLimits(max_video_frames=120)
    assert planned_video_samples({"duration_s": 10.0, "fps": 30.0}, 1.0, None, lim) == 12
    assert planned_video_samples({"duration_s": 600.0, "fps": 30.0}, 1.0, None, lim) == 120
    assert planned_video_samples({"duration_s": None, "fps": 30.0}, 1.0, None, lim) == 120
    assert planned_video_samples({"frames": 100, "fps": 25.0}, None, 5, lim) == 21
    assert planned_video_samples({"duration_s": 4.0, "fps": 25.0}, None, 5, lim) == 22
    assert planned_video_samples({}, None, 5, lim) == 120


def _clip(path, seconds: int = 40, rate: int = 5):
    """A 320x240 MPEG-4 clip: the astronaut's face drifting slowly over grey."""
    import av
    from skimage import data

    face = np.asarray(Image.fromarray(data.astronaut()[:260, 100:360]).resize((150, 150)))
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=rate)
        s.width, s.height, s.pix_fmt, s.bit_rate = 320, 240, "yuv420p", 2_000_000
        for i in range(seconds * rate):
            img = np.full((240, 320, 3), 100, np.uint8)
            x = 40 + (i % 40)
            img[45:195, x : x + 150] = face
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return _clip(tmp_path_factory.mktemp("early") / "drift.mp4")


@pytest.mark.parametrize("fps,every", [(1.0, None), (2.5, None), (None, 3)])
def test_planned_samples_bound_the_frames_actually_sampled(clip, fps, every):
    got = sum(1 for _ in iter_video_frames(clip, fps, every))
    planned = planned_video_samples(video_info(clip), fps, every)
    assert got <= planned <= got + 2


def _scanner(scanner, threshold: float, early_stop: bool):
    from dfd_lib.scan import Scanner

    model = replace(scanner.model, card=replace(scanner.model.card, threshold=threshold))
    return Scanner(model, fps=1.0, early_stop=early_stop)


@pytest.fixture(scope="module")
def full(scanner, clip):
    """The whole clip scanned without early stop; every face is at or above a threshold of 0."""
    return _scanner(scanner, 0.0, False).scan_file(clip)


def test_early_stop_ends_a_settled_fake_and_keeps_the_frames_seen(scanner, clip, full):
    early = _scanner(scanner, 0.0, True).scan_file(clip)
    assert full.status == early.status == "scored" and full.verdict == early.verdict == "fake"
    assert len(full.frames) == 40 and len(early.frames) == 16, (len(full.frames), len(early.frames))
    assert "stopped early" in early.message and "stopped early" not in full.message
    assert "26 remaining" in early.message, early.message
    assert [f.score for f in early.frames] == pytest.approx([f.score for f in full.frames[:16]], abs=1e-6)
    assert early.sha256 == full.sha256


def test_early_stop_never_cuts_a_scan_whose_verdict_could_change(scanner, clip, full):
    """Nothing reaches a threshold above 1: the verdict is real and the whole video is sampled."""
    early = _scanner(scanner, 1.01, True).scan_file(clip)
    assert early.verdict == "real"
    assert len(early.frames) == len(full.frames) == 40
    assert early.score == pytest.approx(full.score, abs=1e-6)
    assert "stopped early" not in early.message


def test_early_stop_bounds_by_the_frame_limit_when_the_container_facts_cannot_be_read(scanner, clip, full, monkeypatch):
    """A container whose duration cannot be read is still scanned; the bound falls back to the frame limit."""
    import dfd_lib.scan as scan_module
    from dfd_lib.errors import UnreadableMedia

    def unreadable(path):
        raise UnreadableMedia("no container facts")

    threshold = min(f.score for f in full.frames)  # every frame at or above it: the verdict is fake
    assert len(_scanner(scanner, threshold, True).scan_file(clip).frames) == 16  # with the declared duration
    monkeypatch.setattr(scan_module, "video_info", unreadable)
    early = _scanner(scanner, threshold, True).scan_file(clip)
    assert early.status == "scored" and early.verdict == "fake"
    # Bound by the 120-frame limit instead: after 16 frames the top quarter (30) of 16 scores and 104 zeros is
    # below the threshold, so the scan goes on; after 32 the top 30 are all real scores, and it stops there.
    assert len(early.frames) == 32 and "88 remaining of at most 120" in early.message, early.message


def test_early_stop_is_recorded_with_the_scan_settings():
    from dfd_lib.scan import ScanSettings

    assert ScanSettings().to_dict()["video_early_stop"] is False
    assert ScanSettings(early_stop=True).to_dict()["video_early_stop"] is True
