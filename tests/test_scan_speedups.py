"""The scan's fast paths give what the plain paths give: ONNX Runtime scores, face tracking in video, reading ahead."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfd_lib.errors import ModelCardError, ModelCardMismatch


@contextlib.contextmanager
def _scoring_threads():
    """The names of the threads that call the classifier (``Detector.assess``) while the block runs."""
    from dfd_lib.detector import Detector

    names: list[str] = []
    real_assess = Detector.assess

    def spy(self, crops, views=None):
        names.append(threading.current_thread().name)
        return real_assess(self, crops, views)

    Detector.assess = spy  # type: ignore[method-assign]
    try:
        yield names
    finally:
        Detector.assess = real_assess  # type: ignore[method-assign]


def _crops(examples: Path, card) -> list[np.ndarray]:
    from dfd_lib.faces import FaceDetector, crop_face

    det, crops = FaceDetector(), []
    for name in ("astronaut.jpg", "astronaut_blended_face.jpg", "two_faces.png"):
        im = np.asarray(Image.open(examples / name).convert("RGB"))
        crops += [crop_face(im, f, card.input_size, card.crop_scale, card.crop_offset_y) for f in det.detect(im)]
    return crops


@pytest.fixture(scope="module")
def onnx_weights(tiny_weights, tmp_path_factory):
    """A copy of the tiny test model with an ONNX export named in its card."""
    import shutil

    from dfd_lib.models.onnx_runtime import attach_onnx

    out = tmp_path_factory.mktemp("onnx_weights")
    for f in tiny_weights.iterdir():
        shutil.copy(f, out / f.name)
    attach_onnx(out / "tiny-test-model.json")
    return out


def test_onnx_scores_equal_pytorch_scores(onnx_weights, examples):
    from dfd_lib.detector import Detector
    from dfd_lib.models.checkpoint import load_model

    fast = load_model(None, onnx_weights, runtime="auto")
    plain = load_model(None, onnx_weights, runtime="torch")
    assert fast.onnx is not None and plain.onnx is None
    crops = _crops(examples, plain.card)
    assert len(crops) == 4
    p_fast, p_plain = Detector(fast).predict(crops), Detector(plain).predict(crops)
    assert np.abs(p_fast - p_plain).max() <= 1e-3
    assert not np.allclose(p_plain, p_plain[0])  # the check compares real, differing scores


def test_onnx_model_builds_its_pytorch_module_only_for_grad_cam(onnx_weights, examples):
    """Scoring through the ONNX export never builds the PyTorch module; Grad-CAM builds it once, from the verified weights."""
    import torch

    from dfd_lib.detector import Detector
    from dfd_lib.models.checkpoint import load_model

    fast, plain = load_model(None, onnx_weights), load_model(None, onnx_weights, runtime="torch")
    assert fast._built == [] and plain._built != []
    Detector(fast).assess(_crops(examples, fast.card))
    assert fast._built == []
    module = fast.module
    assert fast.module is module
    x = torch.randn(2, 3, fast.card.input_size, fast.card.input_size)
    with torch.inference_mode():
        assert torch.allclose(module(x), plain.module(x))


def test_weights_that_do_not_fit_the_backbone_are_refused(onnx_weights, tmp_path):
    """A state dict of the wrong shape under a matching hash (a card edited to name it) fails with a clear error:
    at load without an ONNX export, at first use of the module with one."""
    import shutil

    import torch

    from dfd_lib.media import sha256_file
    from dfd_lib.models.card import ModelCard
    from dfd_lib.models.checkpoint import load_model

    for f in onnx_weights.iterdir():
        shutil.copy(f, tmp_path / f.name)
    pt = tmp_path / "tiny-test-model.pt"
    state = torch.load(pt, weights_only=True)
    state.popitem()
    torch.save(state, pt)
    card_path = tmp_path / "tiny-test-model.json"
    from dataclasses import replace

    replace(ModelCard.read(card_path), sha256=sha256_file(pt)).write(card_path)
    with pytest.raises(ModelCardError, match="do not fit"):
        load_model(None, tmp_path, runtime="torch")
    fast = load_model(None, tmp_path)
    with pytest.raises(ModelCardError, match="do not fit"):
        fast.module


def test_weights_changed_after_load_are_refused_when_the_module_is_built(onnx_weights, tmp_path):
    """With an ONNX export the weights file is read only when Grad-CAM first needs the module: it is hashed
    again then, in the same bytes it is loaded from, so a file swapped after load is never used."""
    import shutil

    import torch

    from dfd_lib.models.checkpoint import load_model

    for f in onnx_weights.iterdir():
        shutil.copy(f, tmp_path / f.name)
    fast = load_model(None, tmp_path)
    pt = tmp_path / "tiny-test-model.pt"
    state = torch.load(pt, weights_only=True)
    torch.save({k: v + 1 if v.is_floating_point() else v for k, v in state.items()}, pt)
    with pytest.raises(ModelCardMismatch, match="SHA-256"):
        fast.module
    assert fast._built == []


def test_tampered_onnx_file_is_refused(onnx_weights, tmp_path):
    import shutil

    from dfd_lib.models.checkpoint import load_model

    for f in onnx_weights.iterdir():
        shutil.copy(f, tmp_path / f.name)
    onnx = tmp_path / "tiny-test-model.onnx"
    data = bytearray(onnx.read_bytes())
    data[-100] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(ModelCardMismatch, match="SHA-256"):
        load_model(None, tmp_path)
    assert load_model(None, tmp_path, runtime="torch").onnx is None  # PyTorch alone still loads


def test_onnx_file_that_runtime_cannot_load_is_an_error_at_every_call(tmp_path):
    """The session is built in the background; a file with the right hash that ONNX Runtime cannot read
    is a clear ModelCardError on every call, never a score."""
    import hashlib

    from dfd_lib.models.onnx_runtime import OnnxClassifier

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an ONNX graph" * 10)
    clf = OnnxClassifier(bad, hashlib.sha256(bad.read_bytes()).hexdigest())
    for _ in range(2):
        with pytest.raises(ModelCardError, match="ONNX Runtime could not load the classifier broken.onnx"):
            clf.run(np.zeros((1, 3, 160, 160), np.float32))


def test_onnx_runtime_demanded_without_export_is_an_error(tiny_weights):
    from dfd_lib.models.checkpoint import load_model

    with pytest.raises(ModelCardError, match="no ONNX export"):
        load_model(None, tiny_weights, runtime="onnx")


def test_shipped_model_runs_on_onnx_with_pytorch_scores(examples):
    from dfd_lib.detector import Detector
    from dfd_lib.models.checkpoint import load_model

    fast, plain = load_model(runtime="auto"), load_model(runtime="torch")
    assert fast.onnx is not None, "the shipped card names its ONNX export"
    crops = _crops(examples, plain.card)
    pf, nf, kf = Detector(fast).assess(crops)
    pp, np_, kp = Detector(plain).assess(crops)
    assert np.abs(pf - pp).max() <= 1e-3
    assert np.abs(nf - np_).max() <= 1e-2
    assert [k for k, _ in kf] == [k for k, _ in kp]


def test_tracking_finds_the_faces_a_full_search_finds(scanner, tmp_path):
    """A moving face, a second face appearing midway: tracked scan and full search agree frame by frame."""
    import av
    from skimage import data

    astro = np.asarray(Image.fromarray(data.astronaut()).resize((200, 200)))
    clip = tmp_path / "moving.mp4"
    with av.open(str(clip), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt, s.bit_rate = 640, 360, "yuv420p", 8_000_000
        for i in range(80):
            img = np.full((360, 640, 3), 90, np.uint8)
            x = 20 + 3 * i
            img[40:240, x : x + 200] = astro
            if i >= 45:  # a second person enters the picture
                img[150:350, 420:620] = astro
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    from dfd_lib.scan import Scanner

    counts = {}
    for every in (1, 4):
        sc = Scanner(scanner.model, fps=2.0, track_full_every=every)
        r = sc.scan_file(clip)
        assert r.status == "scored", r.message
        counts[every] = [f.n_faces for f in r.frames]
    full, tracked = counts[1], counts[4]
    assert full[0] == 1 and full[-1] == 2, counts  # the clip is what it should be
    assert all(t >= min(f, 1) for t, f in zip(tracked, full)), counts  # a face being followed is never lost
    enters, found = full.index(2), tracked.index(2)
    assert enters <= found <= enters + 3, counts  # a new face: found at the latest at the next full search
    assert tracked[found:] == full[found:], counts


def test_tracker_searches_in_full_when_a_face_is_lost():
    from dfd_lib.face_tracking import FaceTracker
    from dfd_lib.faces import FaceBox

    class Scripted:
        """A face detector whose windows find nothing: every frame must fall back to a full search."""

        min_face_size = 40

        def __init__(self):
            self.full = 0

        def detect(self, image):
            self.full += 1
            return [FaceBox((10, 10, 90, 90), 0.99, ((30, 40),) * 5)]

        def detect_region(self, image, window, min_face):
            return []

    det = Scripted()
    tracker = FaceTracker(det, full_every=4)
    frame = np.zeros((200, 200, 3), np.uint8)
    for _ in range(6):
        assert len(tracker.detect(frame)) == 1
    assert det.full == 6


def test_prefetched_keeps_order_reraises_and_closes_the_source():
    from dfd_lib.prefetch import prefetched

    closed = threading.Event()

    def source():
        try:
            yield from range(5)
            raise ValueError("damaged tail")
        finally:
            closed.set()

    seen = []
    with pytest.raises(ValueError, match="damaged tail"):
        for v in prefetched(source(), depth=2):
            seen.append(v)
    assert seen == [0, 1, 2, 3, 4]
    assert closed.wait(2)

    closed.clear()
    gen = prefetched(source(), depth=1)
    assert next(gen) == 0
    gen.close()  # the caller stops early: the source is closed, no thread is left waiting
    assert closed.wait(2)


def _clip(path, codec: str, gop: int, options: dict | None = None, n: int = 200):
    """A 320x240 clip at 25 fps (frames without times are counted at 25 fps) whose frames all differ (a noise band widening over a changing grey)."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=25, options=options or {})
        s.width, s.height, s.pix_fmt, s.bit_rate = 320, 240, "yuv420p", 2_000_000
        s.codec_context.gop_size = gop
        for i in range(n):
            img = np.full((240, 320, 3), i % 256, np.uint8)
            img[:, : 10 + i] = rng.integers(0, 255, (240, min(320, 10 + i), 3), dtype=np.uint8)[:, : 10 + i]
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def _decode_all_and_sample(clip, fps: float):
    from dfd_lib.media import open_video

    expected, nxt = [], 0.0
    with open_video(clip) as c:
        for i, fr in enumerate(c.decode(c.streams.video[0])):
            t = float(fr.time) if fr.time is not None else i / 25
            if t + 1e-6 >= nxt:
                expected.append((i, round(t, 6), fr.to_ndarray(format="rgb24")))
                nxt = (int(t * fps + 1e-6) + 1) / fps
    return expected


@pytest.mark.parametrize(
    "codec, gop, options",
    [
        ("mpeg4", 12, None),  # key frames every half second, no B-frames
        ("libx264", 24, {"bf": "3"}),  # B-frames, some of them referenced (pyramid), reordered output
        ("libx264", 20, {"x264-params": "open-gop=1:bframes=3:keyint=20:min-keyint=20:scenecut=0"}),  # open groups
        ("libx265", 24, {"x265-params": "keyint=24:open-gop=1:bframes=4:log-level=none"}),  # HEVC, open groups
        ("libx264.h264", 24, {"bf": "3"}),  # a raw H.264 stream: packets carry no times
    ],
)
def test_sampling_per_second_yields_the_frames_full_decoding_yields(tmp_path, monkeypatch, codec, gop, options):
    """Decoding only what the sampled frames need gives exactly the frames (pixels, indices, times) of decoding all,
    with B-frames, open groups of pictures, and when a group is too large to hold (decoded as it comes)."""
    from dfd_lib import frame_sampling
    from dfd_lib.media import iter_video_frames

    codec, _, ext = codec.partition(".")
    clip = _clip(tmp_path / f"{codec}.{ext or 'mkv'}", codec, gop, options)
    for fps in (0.4, 1.0, 3.0, 10.0):  # 10: most frames (at most 120 are yielded)
        expected = _decode_all_and_sample(clip, fps)
        got = [(f.index, round(f.time_s, 6), f.image) for f in iter_video_frames(clip, fps=fps)]
        assert [(i, t) for i, t, _ in got] == [(i, t) for i, t, _ in expected], fps
        assert all(np.array_equal(a[2], b[2]) for a, b in zip(got, expected)), fps
    monkeypatch.setattr(frame_sampling, "GOP_BUFFER_BYTES", 20_000)
    expected = _decode_all_and_sample(clip, 1.0)
    got = [(f.index, round(f.time_s, 6), f.image) for f in iter_video_frames(clip, fps=1.0)]
    assert [(i, t) for i, t, _ in got] == [(i, t) for i, t, _ in expected]
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(got, expected))


def test_sampling_per_second_decodes_only_what_the_samples_need(tmp_path, monkeypatch):
    """At 1 frame/s on a clip with a key frame every 2 s, each group is decoded only up to its second sampled frame
    (about 26 of its 50 frames), B-frames no frame refers to are skipped, and no group is decoded twice: decoding
    every frame would be 200 frames, and seeking after the second key frame (the sampling before this) 128."""
    import av

    from dfd_lib.media import iter_video_frames

    clip = _clip(tmp_path / "h264.mp4", "libx264", 50, {"bf": "3"})
    decoded = []
    real_decode = av.video.stream.VideoStream.decode

    class Counting:
        def __init__(self, stream):
            self._s = stream

        def __getattr__(self, name):
            return getattr(self._s, name)

        def decode(self, packet=None):
            frames = real_decode(self._s, packet)
            decoded.extend(frames)
            return frames

    from dfd_lib import frame_sampling

    real_init = frame_sampling._PerSecond.__init__

    def init(self, stream, fps, rate):
        real_init(self, stream, fps, rate)
        self.stream = Counting(stream)

    monkeypatch.setattr(frame_sampling._PerSecond, "__init__", init)
    frames = list(iter_video_frames(clip, fps=1.0))
    assert [f.index for f in frames] == [0, 25, 50, 75, 100, 125, 150, 175]
    assert 8 <= len(decoded) <= 110, len(decoded)


def test_look_ahead_scores_pictures_in_its_threads_with_scan_file_results(onnx_weights, examples, tmp_path):
    """``scan`` scores read-ahead pictures in its background threads and gives, file by file and in order,
    what ``scan_file`` gives one file at a time: pictures, a picture without a face, a video, broken and
    missing files."""
    import shutil

    from dfd_lib.scan import Scanner

    files = sorted(p for p in examples.iterdir() if p.is_file())
    (tmp_path / "broken.jpg").write_bytes((examples / "astronaut.jpg").read_bytes()[:300])
    noface = tmp_path / "grey.png"
    Image.new("RGB", (300, 200), (128, 128, 128)).save(noface)
    shutil.copy(files[0], tmp_path / "copy_of_first")
    files += [tmp_path / "broken.jpg", noface, tmp_path / "missing.jpg", tmp_path / "copy_of_first"]

    scanner = Scanner(None, weights_dir=onnx_weights)
    with _scoring_threads() as scoring_threads:
        ahead = list(scanner.scan(files))
    one_by_one = [scanner.scan_file(f) for f in files]

    def fields(r):  # PyTorch on one thread per look-ahead worker rounds differently in the last float digits
        faces = [([round(v, 2) for v in f.box], round(f.p_fake, 5)) for f in r.faces]
        return (r.path, r.status, r.message, None if r.score is None else round(r.score, 5), faces, len(r.frames))

    assert [fields(r) for r in ahead] == [fields(r) for r in one_by_one]
    statuses = {r.status for r in ahead}
    assert {"scored", "no_face", "unreadable"} <= statuses, statuses
    assert any(name.startswith("dfd-read") for name in scoring_threads), scoring_threads


def test_look_ahead_leaves_pytorch_scoring_to_the_callers_thread(tiny_weights, examples):
    """Without ONNX Runtime the classifier is the PyTorch module Grad-CAM hooks in the caller's thread:
    the background threads only read and search."""
    from dfd_lib.scan import Scanner

    scanner = Scanner(None, weights_dir=tiny_weights)
    assert scanner.model.onnx is None
    with _scoring_threads() as scoring_threads:
        results = list(scanner.scan(sorted(p for p in examples.iterdir() if p.suffix in (".jpg", ".png"))))
    assert sum(r.status == "scored" for r in results) >= 3
    assert scoring_threads and set(scoring_threads) == {threading.main_thread().name}, scoring_threads


def test_a_process_that_exits_right_after_loading_the_model_exits_cleanly():
    """ONNX Runtime builds its session in a background thread; a command that loads the model and ends at once
    (an error message, an empty folder) must exit with its own status, not be aborted inside ONNX Runtime."""
    import subprocess
    import sys

    code = "from dfd_lib.models.checkpoint import load_model\nfor _ in range(3):\n    load_model()\n"
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-500:]


def test_sampled_frames_of_a_variable_frame_rate_video_carry_their_frame_numbers(tmp_path):
    """Phone and screen recordings have variable frame rates: a sampled frame's index is its number in the video
    (what decoding every frame counts, and what the dashboard decodes to show it), not time x a guessed rate."""
    from fractions import Fraction

    import av

    from dfd_lib.media import iter_video_frames

    rng = np.random.default_rng(3)
    gaps = rng.choice([20, 33, 50, 120, 250], size=60)  # milliseconds between frames
    clip = tmp_path / "vfr.mkv"
    with av.open(str(clip), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        for pts in np.concatenate([[0], np.cumsum(gaps)[:-1]]):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = int(pts), Fraction(1, 1000)
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    every = {round(f.time_s, 3): f.index for f in iter_video_frames(clip, fps=None, every=1)}
    sampled = list(iter_video_frames(clip, fps=1.0))
    assert len(sampled) >= 5
    assert [f.index for f in sampled] == [every[round(f.time_s, 3)] for f in sampled]
