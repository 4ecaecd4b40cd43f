"""Post-hoc calibration: temperature scaling on held-out logits and the decision threshold rule."""

from __future__ import annotations

import numpy as np

from .metrics import equal_error_rate

__all__ = [
    "sigmoid",
    "fit_temperature",
    "fit_platt",
    "apply_calibration",
    "choose_threshold",
    "choose_threshold_multi",
    "source_weights",
    "THRESHOLD_RULE",
    "CALIBRATION_RULE",
    "MULTI_CALIBRATION_RULE",
    "MULTI_THRESHOLD_RULE",
]

THRESHOLD_RULE = "equal-error-rate point of the calibrated scores on the calibration half of the validation groups"


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def _weights(y: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def fit_temperature(logits: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Temperature T > 0 minimising the (optionally weighted) binary NLL of sigmoid(logit / T)."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = _weights(y, weights)

    def nll(log_t: float) -> float:
        q = np.clip(sigmoid(z / np.exp(log_t)), 1e-7, 1 - 1e-7)
        return float(-(w * (y * np.log(q) + (1 - y) * np.log(1 - q))).sum())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


CALIBRATION_RULE = (
    "P(fake) = sigmoid(logit / temperature + logit_bias), both fitted by minimising the log-loss on the "
    "calibration half of the validation groups (temperature scaling with a bias term, i.e. Platt scaling). "
    "The bias corrects the shift between the training mix (half of the fakes self-blended) and real data."
)


def apply_calibration(logits: np.ndarray, temperature: float, bias: float = 0.0) -> np.ndarray:
    return sigmoid(np.asarray(logits, dtype=np.float64) / temperature + bias)


def fit_platt(logits: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """(temperature > 0, bias) minimising the (optionally weighted) binary NLL of sigmoid(logit / T + bias)."""
    from scipy.optimize import minimize

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = _weights(y, weights)

    def nll(params: np.ndarray) -> float:
        q = np.clip(apply_calibration(z, np.exp(params[0]), params[1]), 1e-7, 1 - 1e-7)
        return float(-(w * (y * np.log(q) + (1 - y) * np.log(1 - q))).sum())

    x0 = np.array([np.log(fit_temperature(z, y, weights)), 0.0])
    res = minimize(nll, x0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    t = float(np.clip(np.exp(res.x[0]), 0.05, 20.0))
    return t, float(res.x[1])


def choose_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The decision threshold: the equal-error point of calibrated scores (see THRESHOLD_RULE)."""
    return equal_error_rate(y, p)[1]


MULTI_CALIBRATION_RULE = (
    "P(fake) = sigmoid(logit / temperature + logit_bias), both fitted by minimising the log-loss on the "
    "calibration halves of every source's validation part, each source weighted equally (Platt scaling)."
)
MULTI_THRESHOLD_RULE = (
    "the larger of (a) the equal-error point of the calibrated scores on the pooled calibration halves, each "
    "source weighted equally, and (b) the lowest threshold that keeps every source's calibration reals at or "
    "below the spec's max_fpr false-positive rate"
)


def source_weights(sources: np.ndarray) -> np.ndarray:
    """Per-row weights that give every source the same total weight."""
    sources = np.asarray(sources)
    names, counts = np.unique(sources, return_counts=True)
    per = dict(zip(names.tolist(), (1.0 / counts).tolist()))
    return np.array([per[s] for s in sources.tolist()])


def choose_threshold_multi(y: np.ndarray, p: np.ndarray, sources: np.ndarray, max_fpr: float) -> float:
    """See MULTI_THRESHOLD_RULE: the equal-error point, raised until no source's reals exceed ``max_fpr``."""
    from sklearn.metrics import roc_curve

    y, p, sources = np.asarray(y), np.asarray(p, dtype=float), np.asarray(sources)
    w = source_weights(sources)
    fpr, tpr, thr = roc_curve(y, p, sample_weight=w)
    i = int(np.nanargmin(np.abs((1 - tpr) - fpr)))
    t = float(np.clip(thr[i], 1e-6, 1 - 1e-6))
    for s in np.unique(sources):
        reals = np.sort(p[(sources == s) & (y == 0)])
        if len(reals):
            k = int(np.floor(max_fpr * len(reals)))  # at most k reals may reach the threshold
            t = max(t, float(reals[len(reals) - k - 1]) + 1e-6 if k < len(reals) else t)
    return float(np.clip(t, 1e-6, 1 - 1e-6))
