"""Per-source and per-method metric tables for multi-source validation sets.

One table answers "how does the model do on each kind of media it was validated on": per
source (its reals against its fakes), and per manipulation method (that method's fakes against
the reals of the same source, or against every real when the source has none, as for fully
synthetic faces). Every row has AUC, AP, ECE (with the ECE that sampling noise alone gives on
that many rows) and the TPR and FPR at the card's threshold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fileio import json_ready
from .metrics import summarize

__all__ = ["breakdown", "format_table", "ECE_NOISE_NOTE"]

ECE_NOISE_NOTE = (
    "ECE95: the ECE a perfectly calibrated model exceeds only 5% of the time on the same rows (labels drawn "
    "from the scores); an ECE below it is within sampling noise"
)

_COLS = ("n_real", "n_fake", "auc", "ap", "ece", "ece_noise_p95", "tpr", "fpr")


def breakdown(df: pd.DataFrame, scores: np.ndarray, threshold: float) -> dict:
    """``df`` has ``source``, ``method`` and ``label`` (1 = fake) rows aligned with ``scores``.

    Returns ``{"by_source": {source: metrics}, "by_method": {"source/method": metrics},
    "overall": metrics}``, metrics as :func:`summarize` gives them (NaN as None).
    """
    df = df.reset_index(drop=True)
    p = np.asarray(scores, dtype=float)
    y = df["label"].to_numpy().astype(int)
    out: dict = {"overall": json_ready(summarize(y, p, threshold)), "by_source": {}, "by_method": {}}
    all_reals = y == 0
    for src in sorted(df["source"].unique()):
        m = (df["source"] == src).to_numpy()
        out["by_source"][src] = json_ready(summarize(y[m], p[m], threshold))
        reals = m & all_reals
        for meth in sorted(df.loc[m & (y == 1), "method"].unique()):
            fm = m & (y == 1) & (df["method"] == meth).to_numpy()
            base = reals if reals.any() else all_reals
            sel = fm | base
            key = f"{src}/{meth}" if reals.any() else f"{src}/{meth} vs all reals"
            out["by_method"][key] = json_ready(summarize(y[sel], p[sel], threshold))
    return out


def format_table(table: dict) -> str:
    """A fixed-width text table of a :func:`breakdown` result."""
    head = (
        f"{'':46s} {'reals':>6s} {'fakes':>6s} {'AUC':>6s} {'AP':>6s} {'ECE':>6s} {'ECE95':>6s} {'TPR':>6s} {'FPR':>6s}"
    )
    lines = [head]

    def row(name: str, m: dict) -> str:
        def f(k):
            v = m.get(k)
            return f"{v:6.3f}" if isinstance(v, float) else (f"{v:6d}" if isinstance(v, int) else f"{'-':>6s}")

        return f"{name[:46]:46s} " + " ".join(f(k) for k in _COLS)

    lines.append(row("all", table["overall"]))
    lines += [row(f"source {k}", v) for k, v in table["by_source"].items()]
    lines += [row(f"  {k}", v) for k, v in table["by_method"].items()]
    lines.append(ECE_NOISE_NOTE)
    return "\n".join(lines)
