"""Which kind of manipulation a suspicious face most resembles: a small head on the classifier's features.

The detector answers "manipulated or not"; this head, a multinomial logistic regression fitted on
the pooled features of the training sources' fakes, answers "if so, most like which kind":
``swap`` (another identity blended in: face-swap videos, hand-made composites), ``reenactment``
(the same person, expression or mouth driven by someone else) or ``synthetic`` (a face made
entirely by a generator). It is only asked about faces at or above the threshold, and it names a
kind only when its probability reaches ``min_confidence``; otherwise the kind is "unclear". Its
per-kind accuracy on held-out fakes is in the model card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .sidecar import load_npz, save_npz

__all__ = ["KindHead", "fit_kind_head", "KIND_WORDS", "UNCLEAR"]

KIND_WORDS = {
    "swap": "face swap or composite (another identity blended in)",
    "reenactment": "reenactment (expression or mouth driven by another person)",
    "synthetic": "fully synthetic face (generated, no real person)",
}
UNCLEAR = "unclear"


@dataclass(frozen=True)
class KindHead:
    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (n_classes, D)
    intercept: np.ndarray  # (n_classes,)
    min_confidence: float = 0.6

    def proba(self, features: np.ndarray) -> np.ndarray:
        z = ((np.asarray(features, dtype=np.float64) - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def name(self, features: np.ndarray) -> list[tuple[str, float]]:
        """(kind or "unclear", its probability) per feature row."""
        p = self.proba(features)
        best = p.argmax(1)
        return [
            (self.classes[b] if p[i, b] >= self.min_confidence else UNCLEAR, float(p[i, b])) for i, b in enumerate(best)
        ]

    def save(self, path: str | Path) -> None:
        save_npz(
            path,
            classes=np.array(self.classes),
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float64),
            min_confidence=np.float64(self.min_confidence),
        )

    @classmethod
    def load(cls, path: str | Path, sha256: str) -> "KindHead":
        z = load_npz(path, sha256, "kind head")
        return cls(
            tuple(str(c) for c in z["classes"]),
            z["mean"].astype(np.float64),
            z["scale"].astype(np.float64),
            z["coef"].astype(np.float64),
            z["intercept"],
            float(z["min_confidence"]),
        )


def fit_kind_head(features: np.ndarray, kinds: list[str], min_confidence: float = 0.6, c: float = 0.1) -> KindHead:
    """Multinomial logistic regression on standardised features (L2, strength ``1 / c``), classes balanced."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(features, dtype=np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    lr = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    lr.fit((x - mean) / scale, np.asarray(kinds))
    coef, intercept = lr.coef_, lr.intercept_
    if len(lr.classes_) == 2:  # sklearn keeps one row for two classes
        coef, intercept = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return KindHead(tuple(str(k) for k in lr.classes_), mean, scale, coef, intercept, min_confidence)
