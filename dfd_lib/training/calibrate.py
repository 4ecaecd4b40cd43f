"""Post-hoc calibration: temperature scaling on held-out logits and the decision threshold rule."""
from __future__ import annotations

import numpy as np

from .metrics import equal_error_rate

__all__ = ["sigmoid", "fit_temperature", "fit_platt", "apply_calibration", "choose_threshold", "THRESHOLD_RULE", "CALIBRATION_RULE"]

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


CALIBRATION_RULE = (
    "P(fake) = sigmoid(logit / temperature + logit_bias), both fitted by minimising the log-loss on the "
    "calibration half of the validation groups (temperature scaling with a bias term, i.e. Platt scaling). "
    "The bias corrects the shift between the training mix (half of the fakes self-blended) and real data."
)


def apply_calibration(logits: np.ndarray, temperature: float, bias: float = 0.0) -> np.ndarray:
    return sigmoid(np.asarray(logits, dtype=np.float64) / temperature + bias)


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(temperature > 0, bias) minimising the binary NLL of sigmoid(logit / T + bias)."""
    from scipy.optimize import minimize

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)

    def nll(params: np.ndarray) -> float:
        q = np.clip(apply_calibration(z, np.exp(params[0]), params[1]), 1e-7, 1 - 1e-7)
        return float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).mean())

    x0 = np.array([np.log(fit_temperature(z, y)), 0.0])
    res = minimize(nll, x0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    t = float(np.clip(np.exp(res.x[0]), 0.05, 20.0))
    return t, float(res.x[1])


def choose_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The decision threshold: the equal-error point of calibrated scores (see THRESHOLD_RULE)."""
    return equal_error_rate(y, p)[1]
