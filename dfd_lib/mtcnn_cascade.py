"""MTCNN's three-stage cascade (facenet-pytorch's networks and weights) run on uint8 images with OpenCV resampling.

facenet-pytorch's ``detect_face`` converts the whole picture to a float tensor and builds every
level of the scale pyramid, and every candidate's 24 and 48 px input, with ``torch``'s area
interpolation: each pyramid level re-reads the full-resolution picture, and each candidate is
one small interpolation call. On this project's scan bench that resampling was 38% of face
detection time. Here the same cascade (same networks, thresholds, scale factor, boxes, NMS and
box regression, from facenet-pytorch's own helpers) takes its pyramid levels and candidate
inputs from ``cv2.resize`` with ``INTER_AREA`` on the uint8 picture. The resampling differs only
in rounding, so boxes and probabilities differ slightly from facenet-pytorch's; ``bench/
detection_recall.py`` measures what that changes on real pictures.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["detect_cascade"]

_NORM_SHIFT, _NORM_SCALE = 127.5, 0.0078125
_BATCH = 512


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


def _candidate_inputs(images: Sequence[np.ndarray], boxes, image_inds, size: int) -> np.ndarray:
    """Each box's window of its picture (1-based, clipped as facenet-pytorch's ``pad``), resized to size x size."""
    import cv2
    from facenet_pytorch.models.utils.detect_face import pad

    h, w = images[0].shape[:2]
    y, ey, x, ex = pad(boxes, w, h)
    inds = image_inds.cpu().numpy()
    out = np.empty((len(y), size, size, 3), dtype=np.uint8)
    for k in range(len(y)):
        window = images[inds[k]][y[k] - 1 : ey[k], x[k] - 1 : ex[k]]
        if window.size == 0:  # facenet-pytorch skips such boxes; they cannot pass a stage
            out[k] = 0
            continue
        out[k] = cv2.resize(window, (size, size), interpolation=cv2.INTER_AREA)
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
    from facenet_pytorch.models.utils.detect_face import (
        batched_nms,
        batched_nms_numpy,
        bbreg,
        generateBoundingBox,
        rerec,
    )

    images = [np.asarray(im, dtype=np.uint8) for im in images]
    h, w = images[0].shape[:2]
    m = 12.0 / min_size
    scales, scale, minl = [], m, min(h, w) * m
    while minl >= 12:  # as facenet-pytorch builds it, to the same floating-point values
        scales.append(scale)
        scale, minl = scale * factor, minl * factor

    with torch.inference_mode():
        # Stage 1: the proposal network over the pyramid, NMS per level and picture.
        found, found_inds = [], []
        top = images
        for k, scale in enumerate(scales):
            size = (int(w * scale + 1), int(h * scale + 1))
            # The first level from the full picture, the smaller ones from the first (a fraction of the work).
            level = np.stack([cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in top])
            if k == 0:
                top = list(level)
            reg, probs = _forward(pnet, level)
            boxes_s, inds_s = generateBoundingBox(reg, probs[:, 1], scale, thresholds[0])
            pick = batched_nms(boxes_s[:, :4], boxes_s[:, 4], inds_s, 0.5)
            found.append(boxes_s[pick])
            found_inds.append(inds_s[pick])
        boxes = torch.cat(found) if found else torch.zeros(0, 9)
        image_inds = torch.cat(found_inds) if found_inds else torch.zeros(0, dtype=torch.long)
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
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
        boxes = rerec(boxes)

        # Stage 2: the refinement network on 24 px candidates.
        if len(boxes) > 0:
            reg, probs = _run(rnet, _candidate_inputs(images, boxes, image_inds, 24))
            score = probs[:, 1]
            ipass = score > thresholds[1]
            boxes = torch.cat((boxes[ipass, :4], score[ipass].unsqueeze(1)), dim=1)
            image_inds, mv = image_inds[ipass], reg[ipass]
            pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
            boxes, image_inds, mv = boxes[pick], image_inds[pick], mv[pick]
            boxes = rerec(bbreg(boxes, mv))

        # Stage 3: the output network on 48 px candidates: final boxes and five landmarks.
        points = torch.zeros(0, 5, 2)
        if len(boxes) > 0:
            reg, pts, probs = _run(onet, _candidate_inputs(images, boxes, image_inds, 48))
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
            boxes = bbreg(boxes, mv)
            pick = batched_nms_numpy(boxes[:, :4], boxes[:, 4], image_inds, 0.7, "Min")
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
