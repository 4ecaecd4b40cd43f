"""Evaluation metrics for a binary fake detector: one formula each, used everywhere."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "roc_auc",
    "average_precision",
    "equal_error_rate",
    "expected_calibration_error",
    "ece_sampling_noise",
    "metrics_at",
    "summarize",
]


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(set(np.asarray(y).tolist())) == 2 else float("nan")


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p)) if len(set(np.asarray(y).tolist())) == 2 else float("nan")


def equal_error_rate(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(EER, threshold) at the point where false-positive and false-negative rates meet."""
    from sklearn.metrics import roc_curve

    y = np.asarray(y)
    if len(set(y.tolist())) < 2:
        return float("nan"), 0.5
    fpr, tpr, thr = roc_curve(y, p)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    eer = float((fpr[i] + fnr[i]) / 2)
    t = float(np.clip(thr[i], 1e-6, 1 - 1e-6))
    return eer, t


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width bins over P(fake): sum_b (n_b / n) |mean(y_b) - mean(p_b)|."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return float("nan")
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


def ece_sampling_noise(p: np.ndarray, bins: int = 15, draws: int = 200, seed: int = 0) -> float:
    """The ECE a perfectly calibrated model exceeds only 5% of the time on these scores.

    Labels are drawn ``draws`` times as Bernoulli(p), so the scores are exactly right by construction,
    and the 95th percentile of their ECE is returned. A measured ECE below it is within sampling
    noise: on a few hundred rows even perfect calibration shows an ECE of several hundredths.
    """
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return float("nan")
    idx = np.clip(np.digitize(p, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    p_sum = np.bincount(idx, weights=p, minlength=bins)
    rng = np.random.default_rng(seed)
    eces = np.empty(draws)
    for k in range(draws):
        y_sum = np.bincount(idx, weights=(rng.random(len(p)) < p).astype(float), minlength=bins)
        eces[k] = np.abs(y_sum - p_sum).sum() / len(p)  # sum_b (n_b/n) |mean y_b - mean p_b|
    return float(np.percentile(eces, 95))


def metrics_at(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    pos, neg = y == 1, y == 0
    return {
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "tpr": float(pred[pos].mean()) if pos.any() else float("nan"),
        "fpr": float(pred[neg].mean()) if neg.any() else float("nan"),
    }


def summarize(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """All headline numbers for labels ``y`` (1 = fake) and calibrated scores ``p``."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    eer, _ = equal_error_rate(y, p)
    out = {
        "n": int(len(y)),
        "n_real": int((y == 0).sum()),
        "n_fake": int((y == 1).sum()),
        "auc": roc_auc(y, p),
        "ap": average_precision(y, p),
        "eer": eer,
        "threshold": float(threshold),
        "ece": expected_calibration_error(y, p),
        "ece_noise_p95": ece_sampling_noise(p),
    }
    out.update(metrics_at(y, p, threshold))
    return out
