"""Post-hoc calibration: temperature scaling on held-out logits and the decision threshold rule."""
from __future__ import annotations

import numpy as np

from .metrics import equal_error_rate

__all__ = ["sigmoid", "fit_temperature", "choose_threshold", "THRESHOLD_RULE"]

THRESHOLD_RULE = "equal-error-rate point of the calibrated scores on the calibration half of the validation groups"


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature T > 0 minimising the binary NLL of sigmoid(logit / T)."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)

    def nll(log_t: float) -> float:
        q = np.clip(sigmoid(z / np.exp(log_t)), 1e-7, 1 - 1e-7)
        return float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def choose_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The decision threshold: the equal-error point of calibrated scores (see THRESHOLD_RULE)."""
    return equal_error_rate(y, p)[1]
