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


def _random_boxes(rng, n: int, pictures: int):
    import torch

    xy = rng.uniform(0, 400, size=(n, 2))
    wh = rng.uniform(0, 80, size=(n, 2)) * (rng.random((n, 1)) > 0.02)  # a few empty boxes
    boxes = torch.from_numpy(np.hstack([xy, xy + wh]).astype(np.float32))
    scores = torch.from_numpy(rng.choice(np.linspace(0.5, 1.0, 40), n).astype(np.float32))  # with ties
    return boxes, scores, torch.from_numpy(rng.integers(0, pictures, n))


@pytest.mark.parametrize("n,pictures", [(0, 1), (1, 1), (300, 1), (900, 3), (1001, 2), (2500, 4)])
def test_nms_keeps_what_torchvision_and_facenet_pytorch_keep(n, pictures):
    """The scan's own NMS (no torchvision import) against torchvision's batched_nms (both of its CPU paths: below
    and above 1,000 boxes) and facenet-pytorch's 'Min' NMS: the same boxes, in the same order."""
    import torch
    from facenet_pytorch.models.utils.detect_face import batched_nms_numpy
    from torchvision.ops import batched_nms

    from dfd_lib.mtcnn_cascade import _nms, _nms_min

    rng = np.random.default_rng(n)
    boxes, scores, pictures_ = _random_boxes(rng, n, pictures)
    for threshold in (0.5, 0.7):
        assert torch.equal(_nms(boxes, scores, pictures_, threshold), batched_nms(boxes, scores, pictures_, threshold))
    if n:
        theirs = batched_nms_numpy(boxes, scores, pictures_, 0.7, "Min")
        assert torch.equal(_nms_min(boxes, scores, pictures_, 0.7), theirs)


def test_box_arithmetic_matches_facenet_pytorch():
    import torch
    from facenet_pytorch.models.utils.detect_face import bbreg, generateBoundingBox, pad, rerec

    from dfd_lib.mtcnn_cascade import _clip, _proposals, _regress, _square

    rng = np.random.default_rng(0)
    probs = torch.from_numpy(rng.random((2, 37, 51)).astype(np.float32))
    reg = torch.from_numpy(rng.normal(0, 0.1, (2, 4, 37, 51)).astype(np.float32))
    for scale in (0.6, 0.3 * 0.709**3):
        ours, ours_inds = _proposals(reg, probs, scale, 0.6)
        theirs, their_inds = generateBoundingBox(reg, probs, scale, 0.6)
        assert torch.equal(ours, theirs) and torch.equal(ours_inds, their_inds)
    boxes = torch.from_numpy(
        np.hstack([rng.uniform(-20, 300, (50, 2)), rng.uniform(300, 700, (50, 2))]).astype(np.float32)
    )
    boxes = torch.cat([boxes, torch.rand(50, 1)], dim=1)
    offsets = torch.from_numpy(rng.normal(0, 0.1, (50, 4)).astype(np.float32))
    assert torch.equal(_regress(boxes, offsets), bbreg(boxes.clone(), offsets))
    assert torch.equal(_square(boxes), rerec(boxes.clone()))
    for a, b in zip(_clip(boxes, 640, 480), pad(boxes.clone(), 640, 480)):
        assert np.array_equal(a, b)


def test_detector_networks_are_facenet_pytorchs_and_load_without_torchvision(nets, tmp_path):
    """Loading the detector imports neither facenet-pytorch nor torchvision (1.4 s of every start-up); its networks
    give facenet-pytorch's outputs; a weight file with another hash is refused."""
    import shutil
    import subprocess
    import sys

    import torch

    from dfd_lib.errors import ModelCardError
    from dfd_lib.mtcnn_nets import load_mtcnn_networks, mtcnn_weights_dir

    code = (
        "import sys, numpy as np; from dfd_lib.faces import FaceDetector; "
        "FaceDetector().detect(np.zeros((200, 200, 3), np.uint8)); "
        "print(sorted(m for m in ('torchvision', 'facenet_pytorch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

    ours = load_mtcnn_networks()
    rng = np.random.default_rng(1)
    with torch.inference_mode():
        for net, ref, size in zip(ours, nets, (31, 24, 48)):
            x = torch.from_numpy(rng.uniform(-1, 1, (3, 3, size, size)).astype(np.float32))
            for a, b in zip(net(x), ref(x)):
                assert torch.equal(a, b)

    for name in ("pnet", "rnet", "onet"):
        shutil.copy(mtcnn_weights_dir() / f"{name}.pt", tmp_path / f"{name}.pt")
    with open(tmp_path / "rnet.pt", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelCardError, match="rnet weights .* refused"):
        load_mtcnn_networks(weights_dir=tmp_path)
