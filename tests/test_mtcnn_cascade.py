"""The face detector's speed-ups compute what MTCNN's networks compute (see dfd_lib/mtcnn_cascade.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def nets():
    from facenet_pytorch import MTCNN

    m = MTCNN(keep_all=True)
    return m.pnet, m.rnet, m.onet


@pytest.mark.parametrize("shape", [(1, 10, 8, 8), (2, 10, 9, 8), (1, 10, 8, 13), (1, 16, 27, 31), (3, 4, 1, 1)])
def test_slice_pooling_equals_pytorch_ceil_mode_pooling(shape):
    import torch
    import torch.nn.functional as F

    from dfd_lib.mtcnn_cascade import _max_pool_2x2

    x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
    assert torch.equal(_max_pool_2x2(x), F.max_pool2d(x, 2, 2, ceil_mode=True))


@pytest.mark.parametrize("h", [129, 130, 200, 257, 361])
def test_pnet_in_strips_equals_pnet_on_the_whole_level(nets, h, monkeypatch):
    """Every output row of P-net comes from exactly the pixels it comes from on the whole level: strips with
    even starts, even heights and a 10-row overlap, the last one to the bottom edge (odd heights included)."""
    import copy

    import torch

    import dfd_lib.mtcnn_cascade as mc

    pnet = copy.deepcopy(nets[0])
    reference = copy.deepcopy(pnet)  # facenet-pytorch's module untouched
    mc.prepare_networks(pnet, copy.deepcopy(nets[1]), copy.deepcopy(nets[2]))
    assert not isinstance(pnet.pool1, torch.nn.MaxPool2d)  # the slice pooling is in use
    level = np.random.default_rng(h).integers(0, 256, size=(2, h, 150, 3), dtype=np.uint8)
    monkeypatch.setattr(mc, "_STRIP_ABOVE", 1000)
    stripped = mc._pnet(pnet, level)
    with torch.inference_mode():
        x = (torch.from_numpy(level).permute(0, 3, 1, 2).float() - 127.5) * 0.0078125
        whole = reference(x)
    for a, b in zip(stripped, whole):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) < 1e-5


def test_windows_from_the_half_size_copy_match_the_full_picture():
    """A large window resampled from the 2 x 2-mean copy is the window of the full picture placed to within one
    full-size pixel (an odd corner falls between two of the copy's pixels): closer to it than the same window
    moved by two pixels."""
    import cv2
    from skimage import data

    from dfd_lib.mtcnn_cascade import _HALF_FROM, _Picture

    pic = _Picture(np.ascontiguousarray(data.astronaut()))

    def direct(y0, y1, x0, x1, size):
        return cv2.resize(pic.full[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA).astype(int)

    for y0, y1, x0, x1, size in ((20, 220, 150, 350, 24), (31, 140, 181, 290, 24), (1, 511, 1, 511, 48)):
        assert min(y1 - y0, x1 - x0) >= _HALF_FROM * size  # cut from the copy
        ref = direct(y0, y1, x0, x1, size)
        moved = np.abs(direct(y0 + 2, y1 + 2, x0 + 2, x1 + 2, size) - ref).mean()
        assert np.abs(pic.window(y0, y1, x0, x1, size).astype(int) - ref).mean() < moved


def test_detector_finds_the_sample_faces_where_facenet_pytorch_does(examples):
    """The cascade with every speed-up against facenet-pytorch's own detect on the sample evidence's pictures."""
    from facenet_pytorch import MTCNN
    from PIL import Image

    from dfd_lib.faces import FaceDetector

    det = FaceDetector(pad_retry=0)
    ref = MTCNN(keep_all=True, min_face_size=det.min_face_size)
    pictures = [
        p
        for p in sorted(examples.rglob("*"))
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and "problem_files" not in p.parts
    ]
    assert pictures
    for p in pictures:
        img = np.asarray(Image.open(p).convert("RGB"))
        boxes, probs = ref.detect(img)
        theirs = [b for b, pr in zip([] if boxes is None else boxes, [] if probs is None else probs) if pr >= 0.9]
        ours = [f.box for f in det.detect(img)]
        assert len(ours) == len(theirs), p.name
        for b in theirs:
            best = max(_iou(b, o) for o in ours)
            assert best > 0.8, (p.name, best)


def _iou(a, b) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
