"""Following faces across a video's sampled frames: a full search now and then, a search near known faces in between.

A full MTCNN search of a 1080p frame looks for faces of every size from the minimum upwards over
the whole picture. Between two sampled frames a face moves and changes size by a limited amount,
so the tracker searches only a window around each face of the previous frame (``margin`` face
sides on each side) for faces of at least ``shrink`` times its size: a small fraction of the work.

Recall is protected three ways: the first sampled frame and every ``full_every``-th one are
searched in full (a new face is found at the latest there); a frame in which any followed face is
not found again is searched in full at once; and a frame with no followed face is always searched
in full. ``full_every=1`` turns tracking off.
"""

from __future__ import annotations

import numpy as np

from .faces import FaceBox, FaceDetector

__all__ = ["FaceTracker"]


def _iou(a: tuple, b: tuple) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Faces in consecutive sampled frames of one video; make one per video."""

    def __init__(self, detector: FaceDetector, full_every: int = 4, margin: float = 1.0, shrink: float = 0.5) -> None:
        if full_every < 1:
            raise ValueError("full_every must be >= 1")
        self.detector = detector
        self.full_every, self.margin, self.shrink = int(full_every), float(margin), float(shrink)
        self._previous: list[FaceBox] = []
        self._since_full = 0
        self.full_searches = 0
        self.window_searches = 0

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """The faces of the next sampled frame, largest first."""
        if self._previous and self._since_full < self.full_every - 1:
            followed = self._follow(frame)
            if followed is not None:
                self._since_full += 1
                self._previous = followed
                return followed
        faces = self.detector.detect(frame)
        self.full_searches += 1
        self._since_full = 0
        self._previous = faces
        return faces

    def _follow(self, frame: np.ndarray) -> list[FaceBox] | None:
        """Each previous face found again near where it was, or None when any one is lost."""
        found: list[FaceBox] = []
        for face in self._previous:
            side = max(face.width, face.height)
            x1, y1, x2, y2 = face.box
            m = self.margin * side
            window = (int(x1 - m), int(y1 - m), int(x2 + m) + 1, int(y2 + m) + 1)
            self.window_searches += 1
            near = self.detector.detect_region(frame, window, self.shrink * side)
            near = [f for f in near if all(_iou(f.box, g.box) < 0.5 for g in found)]
            if not near:
                return None
            found.append(max(near, key=lambda f: _iou(f.box, face.box) + f.prob))
        found.sort(key=lambda f: -f.width * f.height)
        return found
