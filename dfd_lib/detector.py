"""Face crops -> calibrated P(fake), and the aggregation of face scores into file and video scores.

Calibration: P(fake) = sigmoid(logit / T + b) with the temperature T and bias b fitted on
held-out data and recorded in the model card; the verdict compares P(fake) with the card's threshold.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .errors import ModelCardError, ModelError
from .models.checkpoint import LoadedModel
from .models.tta import forward_logits
from .results import Verdict

__all__ = [
    "Detector",
    "aggregate_video",
    "VIDEO_AGGREGATE",
    "VIDEO_MIN_TOP",
    "IMAGE_AGGREGATE",
    "verdict",
    "file_verdict",
    "fake_is_settled",
    "OUTSIDE_REASON",
    "NEAR_LOGIT",
    "near_band",
]

IMAGE_AGGREGATE = "max over faces: the most suspicious face decides the file"
# The video aggregate averages at least this many of the highest frames: one frame never decides a clip. On 120
# real and 119 fake proxy clips of 4 sampled frames (bench/video_fpr.py, 2026-12-06), the highest frame alone
# called 6 real clips fake, the mean of the 2 highest 4 and of the 3 highest 3; fakes caught 65, 59 and 57; AUC
# real against fake 0.818, 0.823, 0.828. Two, not three: a short clip manipulated in half of its sampled frames
# (the demo clip) must still reach its manipulated frames' score. From 8 frames on the top quartile holds 2 frames
# and nothing changes.
VIDEO_MIN_TOP = 2
VIDEO_AGGREGATE = (
    "mean of the top quartile of per-frame scores (at least the 2 highest frames: one frame never decides a clip), "
    "each frame scored by its most suspicious face; frames without a face are left out"
)


def aggregate_video(frame_scores: Sequence[float | None]) -> float | None:
    """Mean of the top quartile of the frames that have a face, and of at least the ``VIDEO_MIN_TOP`` highest
    (all frames when there are fewer); None when no frame has one.

    A swap often covers only part of a video, so a plain mean dilutes it; the single maximum
    is at the mercy of one frame whose face box or compression happened to push its score up,
    which in a short clip of a few sampled frames is what the top quartile would be.
    """
    s = sorted((float(v) for v in frame_scores if v is not None), reverse=True)
    if not s:
        return None
    k = max(min(VIDEO_MIN_TOP, len(s)), math.ceil(len(s) / 4))
    return float(np.mean(s[:k]))


def verdict(score: float, threshold: float) -> Verdict:
    return "fake" if score >= threshold else "real"


OUTSIDE_REASON = (
    "unlike the faces the model was validated on (novelty {novelty:.1f} > {limit:.1f}: another kind of "
    "camera, rendering, compression or not a natural face)"
)


# A score this close to the threshold is not stable: moving the face box by a pixel or two (two face-detection
# versions on the same 90 real faces, as stills and as 1080p clips) changed scores by 0.04 on average, up to 0.24
# (mostly scores of 0.2-0.6, where 0.04 is about 0.17 on the logit scale). The band is measured on the logit scale,
# so that it means the same at any threshold: 0.5 either side is 0.83-0.93 around a threshold of 0.88, 0.90-0.96
# around 0.94, 0.38-0.62 around 0.5.
NEAR_LOGIT = 0.5
NEAR_REASON = (
    "score within the band {lo:.3f}-{hi:.3f} around the threshold {threshold:.3f} (0.5 either side on the logit "
    "scale): a change of the face's framing too small to see moved scores by a third of that on average in our "
    "measurements, so this verdict could go either way"
)


def near_band(threshold: float, near: float = NEAR_LOGIT) -> tuple[float, float]:
    """The scores within ``near`` of ``threshold`` on the logit scale, as (low, high)."""
    t = min(max(float(threshold), 1e-9), 1 - 1e-9)
    z = math.log(t / (1 - t))
    return 1 / (1 + math.exp(-(z - near))), 1 / (1 + math.exp(-(z + near)))


def file_verdict(faces, score: float, threshold: float, near: float = NEAR_LOGIT) -> tuple[Verdict, tuple[str, ...]]:
    """(verdict, caveats) for a scored file from its score and its faces.

    The score decides between "fake" and "real" as before, unless the faces that decide are
    outside the model's experience: a "fake" whose faces at or above the threshold are all
    outside it, or a "real" most of whose faces are outside it, becomes "inconclusive" (the
    score is still shown, but is not evidence either way). A "fake" or "real" whose score is
    within ``near`` of the threshold on the logit scale says so in a caveat (the verdict stands).
    """
    base = verdict(score, threshold)
    lo, hi = near_band(threshold, near)
    close = (NEAR_REASON.format(lo=lo, hi=hi, threshold=threshold),) if lo < score < hi else ()
    outside = [f for f in faces if f.outside]
    if not outside:
        return base, close
    reasons = "; ".join(sorted({r for f in outside for r in f.outside}))
    note = f"{len(outside)} of {len(faces)} face(s) outside the model's experience"
    deciding = [f for f in faces if f.p_fake >= threshold] if base == "fake" else list(faces)
    if (base == "fake" and all(f.outside for f in deciding)) or (base == "real" and len(outside) * 2 > len(faces)):
        return "inconclusive", (f"{note}: {reasons}",)
    return base, (note, *close)


def fake_is_settled(frame_scores: Sequence[float | None], remaining: int, faces, threshold: float) -> bool:
    """True when a video's verdict is "fake" whatever its ``remaining`` sampled frames hold.

    The worst case for "fake" is every remaining frame showing a face that scores 0: each one
    enlarges the top quartile with the lowest value there is (a frame without a face leaves the
    aggregate as it is). If the aggregate still reaches the threshold then, and a face at or above
    it is inside the model's experience (so the verdict cannot turn "inconclusive"), no remaining
    frame can change the verdict. A "real" verdict is never settled early: one more frame could
    raise the aggregate or bring faces outside the model's experience.
    """
    if remaining < 0:
        raise ValueError("remaining must be >= 0")
    worst = aggregate_video([*frame_scores, *([0.0] * remaining)])
    if worst is None or worst < threshold:
        return False
    return any(f.p_fake >= threshold and not f.outside for f in faces)


class Detector:
    """Scores face crops (RGB uint8, any size: resized to the card's input size) in batches."""

    def __init__(self, model: LoadedModel, device: str = "cpu", batch_size: int = 32) -> None:
        self.model = model
        self.card = model.card
        self.device = device
        self.batch_size = batch_size

    def to_batch(self, crops: Sequence[np.ndarray]):
        import torch

        from .preprocess import resize_square, to_tensor

        size = self.card.input_size
        return torch.stack([to_tensor(resize_square(c, size), self.card.mean, self.card.std) for c in crops])

    def views(self, crops: Sequence[np.ndarray], views: Sequence[Sequence[np.ndarray]] | None) -> list[np.ndarray]:
        """The single crops to score for ``crops`` (face crops at the card's framing), the card's views of each face
        in turn: ``views`` (per face, the picture cut at each of the card's ``views`` scales) where given, else
        each crop framed again about its centre (:func:`~dfd_lib.faces.zoom_views`: black where a view is wider)."""
        k = len(self.card.views)
        if views is not None:
            if len(views) != len(crops) or any(len(v) != k for v in views):
                raise ValueError(f"expected {k} view(s) for each of {len(crops)} face(s)")
            return [v for vs in views for v in vs]
        if self.card.zoom_factors == (1.0,):
            return list(crops)
        from .faces import zoom_views

        return [v for c in crops for v in zoom_views(c, self.card.input_size, self.card.zoom_factors)]

    def _forward(
        self, crops: Sequence[np.ndarray], features: bool, views: Sequence[Sequence[np.ndarray]] | None = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(raw logits (N,), pooled features (N, D) or None, the novelty statistics' block statistics (N, S) or
        None), with the card's test-time augmentation, each averaged over the face's views (see :meth:`views`).

        ONNX Runtime computes them where the model has an ONNX export (same numbers, faster);
        PyTorch otherwise.
        """
        k = len(self.card.views)
        z, f, st = self._forward_single(self.views(crops, views), features)
        if k == 1:
            return z, f, st

        def mean(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a.reshape(len(crops), k, *a.shape[1:]).mean(1)

        zm = mean(z)
        assert zm is not None
        return zm, mean(f), mean(st)

    def _forward_single(
        self, crops: Sequence[np.ndarray], features: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """:meth:`_forward` for single crops: no view averaging."""
        import torch

        from .models.tta import forward_heads

        onnx, tta = self.model.onnx, self.card.tta
        blocks = self.model.novelty.blocks if features and self.model.novelty is not None else ()
        zs: list[np.ndarray] = []
        feats: list[np.ndarray] = []
        stats: list[np.ndarray] = []
        with torch.inference_mode():
            for s in range(0, len(crops), self.batch_size):
                x = self.to_batch(crops[s : s + self.batch_size])
                st = None
                if onnx is not None:
                    z, f, st = onnx.run_tta(x.numpy(), tta)
                elif features:
                    zt, ft, stt = forward_heads(self.model.module, self._device_batch(x), tta, blocks)
                    z, f = zt.cpu().numpy(), ft.cpu().numpy()
                    st = None if stt is None else stt.cpu().numpy()
                else:
                    z, f = forward_logits(self.model.module, self._device_batch(x), tta).cpu().numpy(), None
                zs.append(np.asarray(z, dtype=np.float64))
                if f is not None:
                    feats.append(f)
                if st is not None:
                    stats.append(st)
        if blocks and len(stats) != len(feats):
            raise ModelCardError(f"model {self.card.name}: no block statistics came back for its novelty statistics")
        return (
            np.concatenate(zs),
            np.concatenate(feats) if features else None,
            np.concatenate(stats) if blocks else None,
        )

    def _device_batch(self, x):
        import torch

        x = x.to(self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.device == "cpu" else x

    def logits(self, crops: Sequence[np.ndarray], views: Sequence[Sequence[np.ndarray]] | None = None) -> np.ndarray:
        """Raw logits, computed with the card's test-time augmentation and views (as its calibration was)."""
        if len(crops) == 0:
            return np.zeros(0, dtype=np.float64)
        return self._forward(crops, False, views)[0]

    def assess(
        self, crops: Sequence[np.ndarray], views: Sequence[Sequence[np.ndarray]] | None = None
    ) -> tuple[np.ndarray, np.ndarray | None, list | None]:
        """(calibrated P(fake), novelty or None, [(kind, probability)] or None) per crop, from one forward pass.

        ``views``: per face, the card's views cut from the picture (see :meth:`views`). Novelty and kind need the
        model's side files (see the card); without them they are None.
        """
        nov, kind = self.model.novelty, self.model.kind_head
        if nov is None and kind is None:
            return self.predict(crops, views), None, None
        if len(crops) == 0:
            return np.zeros(0), None if nov is None else np.zeros(0), None if kind is None else []
        z, feats, stats = self._forward(crops, True, views)
        assert feats is not None  # asked for with features=True
        p = self.calibrate(z)
        novelty = None
        if nov is not None:
            read = stats if nov.blocks else feats
            assert read is not None  # _forward raises when the block statistics do not come back
            novelty = nov.score(read)
        return p, novelty, None if kind is None else kind.name(feats)

    def outside_reasons(self, novelty: float | None) -> tuple[str, ...]:
        nov = self.model.novelty
        if nov is None or novelty is None or novelty <= nov.threshold:
            return ()
        return (OUTSIDE_REASON.format(novelty=novelty, limit=nov.threshold),)

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """P(fake) from raw logits; a non-finite logit (broken weights or input) raises ModelError, never a score."""
        z = np.asarray(logits, dtype=np.float64)
        if not np.isfinite(z).all():
            raise ModelError(
                f"model {self.card.name} gave {int((~np.isfinite(z)).sum())} non-finite score(s) (NaN or infinity): "
                "its weights or its input are broken; no score is reported"
            )
        z = np.clip(z / self.card.temperature + self.card.logit_bias, -60, 60)
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, crops: Sequence[np.ndarray], views: Sequence[Sequence[np.ndarray]] | None = None) -> np.ndarray:
        """Calibrated P(fake) per crop."""
        return self.calibrate(self.logits(crops, views))
