"""MTCNN's three-stage cascade (facenet-pytorch's networks and weights) run on uint8 images with OpenCV resampling.

facenet-pytorch's ``detect_face`` converts the whole picture to a float tensor and builds every
level of the scale pyramid, and every candidate's 24 and 48 px input, with ``torch``'s area
interpolation: each pyramid level re-reads the full-resolution picture, and each candidate is
one small interpolation call. On this project's scan bench that resampling was 38% of face
detection time. Here the same cascade (same networks, thresholds, scale factor, boxes, NMS and
box regression) takes its pyramid levels and candidate
inputs from ``cv2.resize`` with ``INTER_AREA`` on the uint8 picture. The resampling differs only
in rounding, so boxes and probabilities differ slightly from facenet-pytorch's; ``bench/
detection_recall.py`` measures what that changes on real pictures.

The networks come from ``mtcnn_nets`` and the box arithmetic and non-maximum suppression are
written here, to the same floating-point operations as facenet-pytorch's helpers and
torchvision's ``batched_nms`` (tested against both), so that a scan never imports either.

Three further savings, each measured on the scan bench's photos (one thread): large windows and
the first pyramid level are resampled from a half-size copy of the picture (2 x 2 pixel means,
made once) instead of the full picture: ``INTER_AREA`` reads every source pixel, so a 1600 x 1200
picture's first level took 7.6 ms and a 200 px candidate 120 us; from the copy 3.2 ms and about
a quarter. R-net runs on 64 candidates per pass, and P-net on large levels in horizontal strips,
because their activations then stay in the CPU's cache (the strips overlap so that every output
is computed from exactly the same input pixels as on the whole level).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["detect_cascade", "prepare_networks"]

_NORM_SHIFT, _NORM_SCALE = 127.5, 0.0078125
# Candidates per forward pass. R-net's activations for 64 candidates (28 x 22 x 22 floats each) stay in the CPU's
# cache; at 128-512 per pass they do not, and each candidate costs about twice as much (52 against 100 us, one
# thread, measured 2026-12-05). O-net's cost per candidate is the same at 8-64.
_BATCH = 64


# P-net on levels larger than this many pixels runs in strips of _STRIP rows (the first level of a large picture,
# 480 x 360: 100 ns per pixel whole, 72 in strips of 48-180 rows; smaller levels cost 72-78 ns per pixel whole).
_STRIP_ABOVE, _STRIP = 120_000, 128
# Windows at least this many times the network's input side are cut from the half-size copy.
_HALF_FROM = 4
# Greedy NMS on at most this many boxes computes every pair's overlap at once (4 MB of floats at most).
_NMS_MATRIX = 1024


class _Picture:
    """An RGB uint8 picture and, made on first use, its half-size copy (the mean of each 2 x 2 block)."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.full = pixels
        self._half: np.ndarray | None = None

    @property
    def half(self) -> np.ndarray:
        if self._half is None:
            import cv2

            h, w = self.full.shape[:2]
            even = self.full[: h // 2 * 2, : w // 2 * 2]  # exactly half: OpenCV's fast 2 x 2 block mean
            self._half = cv2.resize(even, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        return self._half

    def resized(self, size: tuple[int, int]) -> np.ndarray:
        """The picture at ``size`` (w, h) by area resampling, from the half-size copy where ``size`` is at most
        half the picture's."""
        import cv2

        h, w = self.full.shape[:2]
        small = 2 * size[0] <= w and 2 * size[1] <= h and min(h, w) >= 2
        return cv2.resize(self.half if small else self.full, size, interpolation=cv2.INTER_AREA)

    def window(self, y0: int, y1: int, x0: int, x1: int, size: int) -> np.ndarray:
        """Rows y0:y1 and columns x0:x1 resized to size x size (area resampling); windows of at least
        ``_HALF_FROM`` x ``size`` on their shorter side are cut from the half-size copy."""
        import cv2

        if min(y1 - y0, x1 - x0) >= _HALF_FROM * size:
            src = self.half[y0 // 2 : (y1 + 1) // 2, x0 // 2 : (x1 + 1) // 2]
        else:
            src = self.full[y0:y1, x0:x1]
        return cv2.resize(src, (size, size), interpolation=cv2.INTER_AREA)


def _max_pool_2x2(x):
    """``max_pool2d(x, 2, 2, ceil_mode=True)`` for a channels-last tensor, from strided slices: the same values,
    8x faster than PyTorch's CPU kernel on P-net's first level (0.12 against 1.0 ms for 10 x 126 x 478)."""
    import torch
    import torch.nn.functional as F

    nh = x.permute(0, 2, 3, 1)  # N x H x W x C, contiguous for a channels-last tensor
    h, w = nh.shape[1], nh.shape[2]
    if h % 2 or w % 2:  # ceil mode: the last row / column is a window of its own
        nh = F.pad(nh, (0, 0, 0, w % 2, 0, h % 2), value=float("-inf"))
    rows = torch.maximum(nh[:, 0::2], nh[:, 1::2])
    return torch.maximum(rows[:, :, 0::2], rows[:, :, 1::2]).permute(0, 3, 1, 2)


def prepare_networks(pnet, rnet, onet) -> None:
    """Ready facenet-pytorch's MTCNN networks for the CPU in place: channels-last memory (10% faster, same
    outputs) and P-net's 2 x 2 pooling from strided slices (the same values; 14% of P-net's time)."""
    import torch

    class _Pool2x2(torch.nn.Module):
        def forward(self, x):
            return _max_pool_2x2(x)

    for net in (pnet, rnet, onet):
        net.to(memory_format=torch.channels_last)
    pool = getattr(pnet, "pool1", None)
    if isinstance(pool, torch.nn.MaxPool2d) and (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode) in (
        ((2, 2), (2, 2), 0, True),
        (2, 2, 0, True),
    ):
        pnet.pool1 = _Pool2x2()


def _pnet(net, level: np.ndarray):
    """P-net on one pyramid level (N x H x W x 3 uint8); large levels in strips of ``_STRIP`` rows.

    A strip starting at an even row whose height is even has no partial pooling window, and P-net
    (3 x 3 convolution, 2 x 2 pooling, two 3 x 3 convolutions) turns its L rows into L / 2 - 5
    output rows: strips ``_STRIP - 10`` rows apart give every output row once, from the same pixels
    as the whole level. The last strip reaches the bottom edge as the whole level does.
    """
    import torch

    n, h, w = level.shape[:3]
    if h * w <= _STRIP_ABOVE or h <= _STRIP:
        return _forward(net, level)
    outs, r0 = [], 0
    while True:
        last = r0 + _STRIP >= h
        outs.append(_forward(net, level[:, r0 : h if last else r0 + _STRIP]))
        if last:
            break
        r0 += _STRIP - 10
    return tuple(torch.cat(v, dim=2) for v in zip(*outs))


def _forward(net, batch: np.ndarray):
    """The network on N x H x W x 3 uint8 (normalised as MTCNN expects, on the network's device); outputs on the CPU."""
    import torch

    device = next(net.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device).permute(0, 3, 1, 2).float()
    return tuple(o.cpu() for o in net((x - _NORM_SHIFT) * _NORM_SCALE))


def _run(net, inputs: np.ndarray):
    import torch

    outs = [_forward(net, inputs[i : i + _BATCH]) for i in range(0, len(inputs), _BATCH)]
    return tuple(torch.cat(v, dim=0) for v in zip(*outs))


def _proposals(reg, probs, scale: float, threshold: float):
    """P-net's cells at or above ``threshold`` as boxes in the picture: N x 9 (x1, y1, x2, y2, probability, four
    offsets) and each box's picture index. A cell at (x, y) of the output map covers the 12 px window at (2x, 2y)
    of the level, 1-based as in the original MTCNN."""
    import torch

    mask = probs >= threshold
    cells = mask.nonzero()  # picture, row, column
    xy = cells[:, 1:].to(reg.dtype).flip(1)
    first = ((2 * xy + 1) / scale).floor()
    last = ((2 * xy + 12) / scale).floor()
    offsets = reg.permute(0, 2, 3, 1)[mask]
    return torch.cat([first, last, probs[mask].unsqueeze(1), offsets], dim=1), cells[:, 0]


def _regress(boxes, offsets):
    """Boxes moved by the network's offsets (fractions of the box's 1-based width and height); a new tensor."""
    import torch

    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, :4] = torch.stack(
        [
            boxes[:, 0] + offsets[:, 0] * w,
            boxes[:, 1] + offsets[:, 1] * h,
            boxes[:, 2] + offsets[:, 2] * w,
            boxes[:, 3] + offsets[:, 3] * h,
        ]
    ).permute(1, 0)
    return out


def _square(boxes):
    """Each box made square around its centre, side = its larger side; a new tensor."""
    import torch

    out = boxes.clone()
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2:4] = out[:, :2] + side.repeat(2, 1).permute(1, 0)
    return out


def _clip(boxes, w: int, h: int):
    """Integer rows y..ey and columns x..ex (1-based, inclusive) of each box inside a w x h picture."""
    b = boxes.trunc().int().cpu().numpy()
    x, y, ex, ey = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    x[x < 1] = 1
    y[y < 1] = 1
    ex[ex > w] = w
    ey[ey > h] = h
    return y, ey, x, ex


def _greedy_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy NMS, by decreasing score (ties in index order): a box is dropped when its IoU with
    a kept box exceeds ``threshold``. float32 throughout, each IoU by the same operations as torchvision's CPU
    kernel. Up to ``_NMS_MATRIX`` boxes every pair's IoU is computed at once (a P-net level has 40 on average
    on the bench photos: 8x faster than one box at a time)."""
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    zero = np.float32(0)
    keep = []
    with np.errstate(invalid="ignore", divide="ignore"):  # two empty boxes: 0 / 0 is kept, as torchvision does
        if len(order) <= _NMS_MATRIX:
            x1, y1, x2, y2, areas = x1[order], y1[order], x2[order], y2[order], areas[order]
            w = np.maximum(zero, np.minimum(x2[:, None], x2[None, :]) - np.maximum(x1[:, None], x1[None, :]))
            h = np.maximum(zero, np.minimum(y2[:, None], y2[None, :]) - np.maximum(y1[:, None], y1[None, :]))
            inter = w * h
            drops = inter / (areas[:, None] + areas[None, :] - inter) > threshold
            dropped = np.zeros(len(order), dtype=bool)
            for k in range(len(order)):
                if not dropped[k]:
                    keep.append(order[k])
                    dropped |= drops[k]
            return np.asarray(keep, dtype=np.int64)
        while order.size:
            i, rest = order[0], order[1:]
            keep.append(i)
            w = np.maximum(zero, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
            h = np.maximum(zero, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
            inter = w * h
            order = rest[~(inter / (areas[i] + areas[rest] - inter) > threshold)]
    return np.asarray(keep, dtype=np.int64)


def _nms(boxes, scores, picture, threshold: float):
    """NMS within each picture (``picture``: each box's picture index), as torchvision's ``batched_nms`` on the
    CPU: the boxes of different pictures shifted apart, or one picture at a time above 1,000 boxes. Kept indices
    by decreasing score, a long tensor."""
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.long)
    if boxes.numel() <= 4000:
        if not bool(picture.any()):  # one picture: its shift is 0, the boxes unchanged
            return torch.from_numpy(_greedy_nms(boxes.numpy(), scores.numpy(), threshold))
        shifted = boxes + (picture.to(boxes) * (boxes.max() + torch.tensor(1).to(boxes)))[:, None]
        return torch.from_numpy(_greedy_nms(shifted.numpy(), scores.numpy(), threshold))
    b, s, p = boxes.numpy(), scores.numpy(), picture.numpy()
    kept = np.zeros(len(s), dtype=bool)
    for k in np.unique(p):
        sel = np.flatnonzero(p == k)
        kept[sel[_greedy_nms(b[sel], s[sel], threshold)]] = True
    keep = torch.from_numpy(np.flatnonzero(kept))
    return keep[scores[keep].sort(descending=True)[1]]


def _nms_min(boxes, scores, picture, threshold: float):
    """O-net's final NMS within each picture: a box is dropped when the overlap over the smaller box's area
    (1-based pixel areas) exceeds ``threshold``, as the original MTCNN does it."""
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.long)
    b = (boxes + (picture.to(boxes) * (boxes.max() + 1))[:, None]).numpy()
    s = scores.numpy()
    x1, y1, x2, y2 = b[:, 0].copy(), b[:, 1].copy(), b[:, 2].copy(), b[:, 3].copy()
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s)  # ascending; the best is taken from the end
    keep = []
    while order.size:
        i, rest = order[-1], order[:-1]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        order = rest[(w * h) / np.minimum(area[i], area[rest]) <= threshold]
    return torch.as_tensor(np.asarray(keep, dtype=np.int64))


def _candidate_inputs(pictures: Sequence[_Picture], boxes, image_inds, size: int) -> np.ndarray:
    """Each box's window of its picture (1-based, clipped as facenet-pytorch's ``pad``), resized to size x size."""
    h, w = pictures[0].full.shape[:2]
    y, ey, x, ex = _clip(boxes, w, h)
    inds = image_inds.cpu().numpy()
    out = np.empty((len(y), size, size, 3), dtype=np.uint8)
    for k in range(len(y)):
        if ey[k] <= y[k] - 1 or ex[k] <= x[k] - 1:  # facenet-pytorch skips such boxes; they cannot pass a stage
            out[k] = 0
            continue
        out[k] = pictures[inds[k]].window(y[k] - 1, ey[k], x[k] - 1, ex[k], size)
    return out


def detect_cascade(
    images: Sequence[np.ndarray],
    min_size: float,
    pnet,
    rnet,
    onet,
    thresholds: Sequence[float] = (0.6, 0.7, 0.7),
    factor: float = 0.709,
):
    """Faces in equal-shape RGB uint8 pictures: per picture (boxes N x 4, probabilities N, landmarks N x 5 x 2).

    ``min_size`` is the smallest face side searched for, in the pictures' pixels. An empty
    result is three empty arrays.
    """
    import cv2
    import torch

    images = [np.asarray(im, dtype=np.uint8) for im in images]
    h, w = images[0].shape[:2]
    m = 12.0 / min_size
    scales, scale, minl = [], m, min(h, w) * m
    while minl >= 12:  # as facenet-pytorch builds it, to the same floating-point values
        scales.append(scale)
        scale, minl = scale * factor, minl * factor

    pictures = [_Picture(im) for im in images]
    with torch.inference_mode():
        # Stage 1: the proposal network over the pyramid, NMS per level and picture.
        found, found_inds = [], []
        level = np.zeros((0, 0, 0, 3), dtype=np.uint8)  # N x H x W x 3
        for k, scale in enumerate(scales):
            size = (int(w * scale + 1), int(h * scale + 1))
            # The first level from the picture, each smaller one from the one before (a fraction of the work).
            if k == 0:
                level = np.stack([pic.resized(size) for pic in pictures])
            else:
                level = np.stack([cv2.resize(level[i], size, interpolation=cv2.INTER_AREA) for i in range(len(level))])
            reg, probs = _pnet(pnet, level)
            boxes_s, inds_s = _proposals(reg, probs[:, 1], scale, thresholds[0])
            pick = _nms(boxes_s[:, :4], boxes_s[:, 4], inds_s, 0.5)
            found.append(boxes_s[pick])
            found_inds.append(inds_s[pick])
        boxes = torch.cat(found) if found else torch.zeros(0, 9)
        image_inds = torch.cat(found_inds) if found_inds else torch.zeros(0, dtype=torch.long)
        pick = _nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes, image_inds = boxes[pick], image_inds[pick]
        regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        boxes = torch.stack(
            [
                boxes[:, 0] + boxes[:, 5] * regw,
                boxes[:, 1] + boxes[:, 6] * regh,
                boxes[:, 2] + boxes[:, 7] * regw,
                boxes[:, 3] + boxes[:, 8] * regh,
                boxes[:, 4],
            ]
        ).permute(1, 0)
        boxes = _square(boxes)

        # Stage 2: the refinement network on 24 px candidates.
        if len(boxes) > 0:
            reg, probs = _run(rnet, _candidate_inputs(pictures, boxes, image_inds, 24))
            score = probs[:, 1]
            ipass = score > thresholds[1]
            boxes = torch.cat((boxes[ipass, :4], score[ipass].unsqueeze(1)), dim=1)
            image_inds, mv = image_inds[ipass], reg[ipass]
            pick = _nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
            boxes, image_inds, mv = boxes[pick], image_inds[pick], mv[pick]
            boxes = _square(_regress(boxes, mv))

        # Stage 3: the output network on 48 px candidates: final boxes and five landmarks.
        points = torch.zeros(0, 5, 2)
        if len(boxes) > 0:
            reg, pts, probs = _run(onet, _candidate_inputs(pictures, boxes, image_inds, 48))
            score = probs[:, 1]
            ipass = score > thresholds[2]
            pts = pts[ipass]
            boxes = torch.cat((boxes[ipass, :4], score[ipass].unsqueeze(1)), dim=1)
            image_inds, mv = image_inds[ipass], reg[ipass]
            w_i = (boxes[:, 2] - boxes[:, 0] + 1).unsqueeze(1)
            h_i = (boxes[:, 3] - boxes[:, 1] + 1).unsqueeze(1)
            px = w_i * pts[:, :5] + boxes[:, 0:1] - 1
            py = h_i * pts[:, 5:10] + boxes[:, 1:2] - 1
            points = torch.stack((px, py), dim=2)
            boxes = _regress(boxes, mv)
            pick = _nms_min(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
            boxes, image_inds, points = boxes[pick], image_inds[pick], points[pick]

    boxes_np, points_np, inds_np = boxes.numpy(), points.numpy(), image_inds.numpy()
    out = []
    for i in range(len(images)):
        sel = inds_np == i
        out.append(
            (
                boxes_np[sel, :4].astype(np.float32),
                boxes_np[sel, 4].astype(np.float32),
                points_np[sel].astype(np.float32),
            )
        )
    return out
