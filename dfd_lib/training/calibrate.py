"""Post-hoc calibration: temperature scaling on held-out logits and the decision threshold rule."""

from __future__ import annotations

import numpy as np

from ..errors import DataError, ModelError
from .metrics import equal_error_rate

__all__ = [
    "sigmoid",
    "fit_temperature",
    "fit_platt",
    "fit_platt_sources",
    "SOURCE_WEIGHT_POWERS",
    "apply_calibration",
    "choose_threshold",
    "choose_threshold_multi",
    "source_weights",
    "require_both_classes",
    "check_fitted",
    "CALIBRATION_USE",
    "VALIDATION_USE",
    "THRESHOLD_RULE",
    "CALIBRATION_RULE",
    "MULTI_CALIBRATION_RULE",
    "MULTI_THRESHOLD_RULE",
]

THRESHOLD_RULE = "equal-error-rate point of the calibrated scores on the calibration half of the validation groups"


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


CALIBRATION_USE = "a temperature and threshold cannot be fitted without both classes"
VALIDATION_USE = "the card's AUC, EER and error rates would be undefined (NaN) without both classes"


def require_both_classes(y: np.ndarray, part: str, use: str, remedy: str = "", sources=None) -> None:
    """DataError unless the labels ``y`` (1 = fake) hold real and fake faces. ``part`` names the set ("the
    calibration set"), ``use`` what a set of one class breaks, ``remedy`` what to change; with ``sources`` (one name
    per row) the counts of each source are given too."""
    y = np.asarray(y).astype(int)
    n_real, n_fake = int((y == 0).sum()), int((y == 1).sum())
    if n_real and n_fake:
        return
    if not n_real and not n_fake:
        what = f"{part} is empty"
    else:
        per = ""
        if sources is not None and len(set(np.asarray(sources).tolist())) > 1:
            src = np.asarray(sources)
            per = "; " + ", ".join(
                f"{s}: {int(((src == s) & (y == 0)).sum())} real, {int(((src == s) & (y == 1)).sum())} fake"
                for s in sorted(set(src.tolist()))
            )
        what = (
            f"{part} has no fake faces ({n_real} real{per})"
            if n_real
            else f"{part} has no real faces ({n_fake} fake{per})"
        )
    raise DataError(f"{what}: {use}" + (f"; {remedy}" if remedy else ""))


def check_fitted(temperature: float, bias: float, threshold: float, metrics: dict) -> None:
    """DataError unless the calibration and the card's headline metrics (``validation`` and ``calibration``) are
    finite numbers: a card must never carry a NaN threshold, temperature or metric."""
    bad = [
        k
        for k, v in (("temperature", temperature), ("logit_bias", bias), ("threshold", threshold))
        if not np.isfinite(v)
    ]
    for part in ("validation", "calibration"):
        bad += [
            f"{part} {k}"
            for k in ("auc", "ap", "eer", "ece", "accuracy", "tpr", "fpr")
            if not np.isfinite(metrics.get(part, {}).get(k, np.nan))
        ]
    if bad:
        raise DataError(
            f"the calibration could not be fitted or measured ({', '.join(bad)} NaN or infinite): no model card is written"
        )


def _weights(y: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def _finite(logits: np.ndarray) -> np.ndarray:
    """The logits as float64; ModelError if any is NaN or infinite (a broken model must not be calibrated)."""
    z = np.asarray(logits, dtype=np.float64)
    if not np.isfinite(z).all():
        raise ModelError(
            f"{int((~np.isfinite(z)).sum())} of {z.size} calibration logits are NaN or infinite: the model's weights "
            "are broken (or training diverged); nothing is calibrated"
        )
    return z


def fit_temperature(logits: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Temperature T > 0 minimising the (optionally weighted) binary NLL of sigmoid(logit / T)."""
    from scipy.optimize import minimize_scalar

    z = _finite(logits)
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

    z = _finite(logits)
    y = np.asarray(y, dtype=np.float64)
    w = _weights(y, weights)

    def nll(params: np.ndarray) -> float:
        q = np.clip(apply_calibration(z, np.exp(params[0]), params[1]), 1e-7, 1 - 1e-7)
        return float(-(w * (y * np.log(q) + (1 - y) * np.log(1 - q))).sum())

    x0 = np.array([np.log(fit_temperature(z, y, weights)), 0.0])
    res = minimize(nll, x0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    t = float(np.exp(np.clip(res.x[0], np.log(0.05), np.log(20.0))))
    return t, float(res.x[1])


SOURCE_WEIGHT_POWERS = (0.0, 0.25, 0.5, 0.75, 1.0)


def fit_platt_sources(
    logits: np.ndarray, y: np.ndarray, sources: np.ndarray, powers: tuple[float, ...] = SOURCE_WEIGHT_POWERS
) -> tuple[float, float, dict]:
    """(temperature, bias, fit) of the Platt fit of ``MULTI_CALIBRATION_RULE``; ``fit`` records the power kept and,
    for every power tried, its temperature, bias and each source's ECE / ECE95 on these rows.

    Weighting every source alike lets a few hundred rows of one source pull the fit as hard as thousands of
    another (and a source of fakes only drags every score up); weighting every row alike lets the largest source
    decide alone. Neither is right in general, so the choice is measured: the fit whose worst-calibrated source
    is closest to its own sampling noise. Only sources with both labels are judged (all of them if none has):
    for a source of fakes only, "calibrated" would just mean "scored 1".
    """
    from .metrics import ece_sampling_noise, expected_calibration_error

    z = _finite(logits)
    y = np.asarray(y)
    sources = np.asarray(sources)
    names, counts = np.unique(sources, return_counts=True)
    n_of = dict(zip(names.tolist(), counts.astype(np.float64).tolist()))
    n = np.array([n_of[s] for s in sources.tolist()])
    judged = [s for s in names.tolist() if len(set(y[sources == s].tolist())) == 2] or names.tolist()
    tried: dict[str, dict] = {}
    best: tuple[float, float, float, float] | None = None  # (worst ratio, power, temperature, bias)
    for power in powers:
        t, b = fit_platt(z, y, n ** (-float(power)))
        p = apply_calibration(z, t, b)
        ratios = {}
        for s in names.tolist():
            m = sources == s
            noise = ece_sampling_noise(p[m])
            ratios[s] = float(expected_calibration_error(y[m], p[m]) / max(noise, 1e-6))
        worst = max(ratios[s] for s in judged)
        tried[f"{power:g}"] = {"temperature": t, "bias": b, "ece_over_ece95": ratios, "worst": worst}
        if best is None or worst < best[0] - 1e-9:
            best = (worst, float(power), t, b)
    assert best is not None
    return best[2], best[3], {"source_weight_power": best[1], "judged_sources": judged, "tried": tried}


def choose_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The decision threshold: the equal-error point of calibrated scores (see THRESHOLD_RULE)."""
    return equal_error_rate(y, p)[1]


MULTI_CALIBRATION_RULE = (
    "P(fake) = sigmoid(logit / temperature + logit_bias), both fitted by minimising the log-loss on the "
    "calibration halves of every source's validation part (Platt scaling), each row weighted by its source's row "
    "count to the power -p: p = 0 weights every row alike, p = 1 every source alike. Of p in 0, 0.25, 0.5, 0.75 "
    "and 1 the fit kept is the one whose worst source is best calibrated on those rows: the smallest largest "
    "ratio of a source's ECE to its ECE95 (the ECE a perfectly calibrated model exceeds 5% of the time there), "
    "over the sources with both real and fake faces (a source of fakes only has no frequency to match)."
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
