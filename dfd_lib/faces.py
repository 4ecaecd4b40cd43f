"""Face extraction with MTCNN (facenet-pytorch's bundled weights, hash-checked): detect, then crop.

Two public steps, so a caller can show boxes before cropping:

* :meth:`FaceDetector.detect_batch` finds every face above a probability threshold, with its
  box and five landmarks (eyes, nose, mouth corners), batching images of equal size. A picture
  in which no face is found is tried once more with a plain border added around it: MTCNN
  misses faces that touch the picture's edge, as in tight profile pictures and screenshots.
* :func:`crop_face` cuts a square crop around a box, framed by the model card's ``crop_scale``
  (crop side = scale x the box's larger side) so inference sees faces framed as in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .mtcnn_cascade import detect_cascade, prepare_networks
from .mtcnn_nets import load_mtcnn_networks
from .preprocess import resize_square

__all__ = ["FaceBox", "FaceDetector", "square_box", "cut_window", "crop_face", "scale_face"]


@dataclass(frozen=True)
class FaceBox:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    prob: float  # MTCNN detection probability
    landmarks: tuple[tuple[float, float], ...]  # left eye, right eye, nose, mouth left, mouth right
    padded: bool = False  # found only on the bordered retry (the face touches the picture's edge)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict:
        return {
            "box": [round(v, 1) for v in self.box],
            "det_prob": round(self.prob, 4),
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "padded": self.padded,
        }


class FaceDetector:
    """MTCNN face detection returning every face at or above ``prob_threshold``.

    ``min_face_size`` is in original-image pixels. Images larger than ``max_side`` on their
    longer side are downscaled for detection only; boxes are mapped back to full resolution.
    Pictures more elongated than 16:9 (panoramas, long scrolling screenshots) are shrunk less: to
    the pixel count a 16:9 picture of that longer side has, so their faces keep the size they would
    have in an ordinary picture instead of falling below what MTCNN can find (see ``detection_scale``).
    ``pad_retry`` (a share of the longer side) is the border added for the second try on
    pictures with no face found; 0 turns the retry off.
    """

    def __init__(
        self,
        min_face_size: int = 40,
        prob_threshold: float = 0.90,
        max_side: int = 1600,
        device: str = "cpu",
        pad_retry: float = 0.25,
    ) -> None:
        self.min_face_size = int(min_face_size)
        self.prob_threshold = float(prob_threshold)
        self.max_side = int(max_side)
        self.pad_retry = float(pad_retry)
        self._nets = load_mtcnn_networks(device)
        if device == "cpu":
            prepare_networks(*self._nets)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        """Detect faces in RGB uint8 images; images of the same shape run as one batch.

        Images with no face are tried again with a border (see ``pad_retry``); faces found so
        have ``padded=True`` and boxes in the original image's coordinates.
        """
        results = self._detect(images)
        missing = [i for i, r in enumerate(results) if not r]
        if self.pad_retry > 0 and missing:
            for i, faces in zip(missing, self._detect_bordered([images[i] for i in missing])):
                results[i] = faces
        return results

    def detect_region(self, image: np.ndarray, window: tuple[int, int, int, int], min_face: float) -> list[FaceBox]:
        """Faces of at least ``min_face`` px inside ``window`` (x1, y1, x2, y2, clipped to the picture), in the
        picture's coordinates. Searching a small window for a face of known size is a fraction of a full search."""
        h, w = image.shape[:2]
        x1, y1, x2, y2 = max(0, int(window[0])), max(0, int(window[1])), min(w, int(window[2])), min(h, int(window[3]))
        if x2 - x1 < 12 or y2 - y1 < 12:
            return []
        part = np.ascontiguousarray(image[y1:y2, x1:x2])
        faces = self._detect([part], min_face=max(float(self.min_face_size), float(min_face)))[0]
        return [_shift(f, x1, y1) for f in faces]

    def detection_scale(self, h: int, w: int) -> float:
        """The factor a picture of ``h`` x ``w`` is shrunk by for the face search.

        ``max_side`` over the longer side, as long as the picture is no more elongated than 16:9; beyond that,
        the factor that gives it the pixel count of a 16:9 picture whose longer side is ``max_side`` (at most
        1.44 MP for 1600): a 20,000 x 200 panorama is searched at 0.6 instead of 0.08, where its 170 px face
        would have become 14 px and been lost. Never above 1."""
        by_side = self.max_side / max(h, w, 1)
        by_area = math.sqrt(self.max_side * self.max_side * 9 / 16 / max(h * w, 1))
        return min(1.0, max(by_side, by_area))

    def _detect_bordered(self, images: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        """The retry: shrink to ``max_side`` first (a border around a full-size 100 MP picture would
        double its memory), add the border, detect, and map the boxes back to the original picture."""
        import cv2

        prepared, params = [], []
        for img in images:
            f = self.detection_scale(*img.shape[:2])
            small = self._resize(img, f)
            # a quarter of the longer side, that side taken at most 16:9 of the shorter (a face filling a strip is
            # as high as the strip: a border the strip's length would multiply its pixels for nothing)
            side = min(max(small.shape[:2]), 16 / 9 * min(small.shape[:2]))
            pad = max(8, int(round(self.pad_retry * side)))
            prepared.append(cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127)))
            params.append((f, pad))
        return [
            [_map_back(face, pad, f) for face in faces]
            for (f, pad), faces in zip(params, self._detect(prepared, scale=[f for f, _ in params]))
        ]

    def _detect(
        self, images: Sequence[np.ndarray], scale: Sequence[float] | None = None, min_face: float | None = None
    ) -> list[list[FaceBox]]:
        """MTCNN on each image (downscaled to ``max_side``); ``scale[i]``: image i is already that
        fraction of the original, so the minimum face size shrinks with it; ``min_face``: the smallest
        face searched for, in original pixels (default ``min_face_size``). Images smaller than the
        minimum face are answered with no face (MTCNN itself fails on them)."""
        smallest = float(self.min_face_size if min_face is None else min_face)
        results: list[list[FaceBox] | None] = [None] * len(images)
        groups: dict[tuple, list[int]] = {}
        for i, img in enumerate(images):
            groups.setdefault((tuple(img.shape), 1.0 if scale is None else scale[i]), []).append(i)
        for (shape, pre), idxs in groups.items():
            h, w = shape[:2]
            factor = self.detection_scale(h, w)
            min_face = max(12, int(round(smallest * pre * factor)))
            if min(h, w) * factor < min_face:
                continue
            batch = [self._resize(images[i], factor) for i in idxs]
            found = detect_cascade(batch, min_face, *self._nets)
            for i, (boxes, probs, points) in zip(idxs, found):
                results[i] = self._faces(boxes, probs, points, factor, smallest * pre)
        return [r if r is not None else [] for r in results]

    @staticmethod
    def _resize(img: np.ndarray, factor: float) -> np.ndarray:
        if factor >= 1.0:
            return img
        import cv2

        h, w = img.shape[:2]
        return cv2.resize(img, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)

    def _faces(self, boxes, probs, points, factor: float, min_face: float) -> list[FaceBox]:
        faces = []
        for b, p, pts in zip(boxes, probs, points):
            if float(p) < self.prob_threshold:
                continue
            b = [float(v) / factor for v in b]
            if max(b[2] - b[0], b[3] - b[1]) < min_face:
                continue
            lm = tuple((float(x) / factor, float(y) / factor) for x, y in pts)
            faces.append(FaceBox(box=(b[0], b[1], b[2], b[3]), prob=float(p), landmarks=lm))
        faces.sort(key=lambda f: -f.width * f.height)
        return faces


def _shift(face: FaceBox, dx: float, dy: float) -> FaceBox:
    """A face found in a window of a picture, in the picture's coordinates."""
    x1, y1, x2, y2 = face.box
    lm = tuple((x + dx, y + dy) for x, y in face.landmarks)
    return FaceBox(box=(x1 + dx, y1 + dy, x2 + dx, y2 + dy), prob=face.prob, landmarks=lm, padded=face.padded)


def scale_face(face: FaceBox, factor: float) -> FaceBox:
    """A face found on a picture decoded at 1/``factor`` of its size, in the full picture's coordinates."""
    if factor == 1.0:
        return face
    x1, y1, x2, y2 = (v * factor for v in face.box)
    lm = tuple((x * factor, y * factor) for x, y in face.landmarks)
    return FaceBox(box=(x1, y1, x2, y2), prob=face.prob, landmarks=lm, padded=face.padded)


def _map_back(face: FaceBox, pad: int, scale: float) -> FaceBox:
    """A face found on the bordered, scaled copy, in the original picture's coordinates."""
    x1, y1, x2, y2 = ((v - pad) / scale for v in face.box)
    lm = tuple(((x - pad) / scale, (y - pad) / scale) for x, y in face.landmarks)
    return FaceBox(box=(x1, y1, x2, y2), prob=face.prob, landmarks=lm, padded=True)


def square_box(
    face: FaceBox, scale: float, offset_y: float = 0.0, within: tuple[int, int] | None = None
) -> tuple[int, int, int, int]:
    """The square crop window around a face: side = scale x the box's larger side.

    ``within`` (height, width of the picture): the window is kept inside the picture, moved in from an edge it
    would cross and, where its side exceeds the picture's shorter side, shrunk to that side, so that the crop
    holds no pixel from outside the picture (a black margin is a trace of where a picture was cut, not of the
    face; a face in a video frame has picture around it)."""
    x1, y1, x2, y2 = face.box
    side = max(x2 - x1, y2 - y1) * scale
    cx = (x1 + x2) / 2.0
    cy = (y1 + y2) / 2.0 + offset_y * (y2 - y1)
    n = max(1, int(round(side)))
    if within is not None:
        h, w = within
        n = max(1, min(n, h, w))
        side = float(n)
    x0 = int(round(cx - side / 2.0))
    y0 = int(round(cy - side / 2.0))
    if within is not None:
        x0 = min(max(x0, 0), w - n)
        y0 = min(max(y0, 0), h - n)
    return (x0, y0, x0 + n, y0 + n)


def cut_window(image: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """The square ``window`` (x1, y1, x2, y2) of ``image`` at full resolution; parts outside the image are black."""
    x1, y1, x2, y2 = window
    h, w = image.shape[:2]
    side = x2 - x1
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    sx1, sy1, sx2, sy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if sx2 > sx1 and sy2 > sy1:
        canvas[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return canvas


def crop_face(
    image: np.ndarray, face: FaceBox, size: int, scale: float, offset_y: float = 0.0, inside: bool = False
) -> np.ndarray:
    """Square RGB crop of ``size`` x ``size``; parts outside the image are black, or with ``inside`` the window
    is kept inside the image (see :func:`square_box`)."""
    canvas = cut_window(image, square_box(face, scale, offset_y, image.shape[:2] if inside else None))
    return resize_square(canvas, size)


def crop_views(
    image: np.ndarray, face: FaceBox, size: int, scales: Sequence[float], offset_y: float = 0.0, inside: bool = False
) -> list[np.ndarray]:
    """The face cut at each crop scale of ``scales`` (as :func:`crop_face` cuts it), ``size`` px each."""
    return [crop_face(image, face, size, s, offset_y, inside) for s in scales]


def zoom_window(crop: np.ndarray, factor: float) -> np.ndarray:
    """The square window of ``factor`` x a face crop's side around its centre, at full resolution (black where it
    runs past the crop): the framing at ``factor`` x the crop's scale, for a crop whose picture is not at hand."""
    h, w = crop.shape[:2]
    side = max(h, w) * factor
    n = max(1, int(round(side)))
    x0, y0 = int(round(w / 2.0 - side / 2.0)), int(round(h / 2.0 - side / 2.0))
    return cut_window(crop, (x0, y0, x0 + n, y0 + n))


def zoom_views(crop: np.ndarray, size: int, factors: Sequence[float]) -> list[np.ndarray]:
    """A face crop framed again at each of ``factors`` x its scale (see :func:`zoom_window`), ``size`` px each."""
    return [resize_square(zoom_window(crop, f), size) for f in factors]
