"""Evaluation figures: ROC curve, per-class score histograms, reliability diagram (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

__all__ = ["write_eval_plots"]


def write_eval_plots(
    y: np.ndarray, p: np.ndarray, threshold: float, out_dir: str | Path, title: str = ""
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)

    fig, ax = plt.subplots(figsize=(5, 5))
    if len(set(y.tolist())) == 2:
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, lw=2, label="ROC")
        pred = p >= threshold
        ax.scatter(
            [pred[y == 0].mean()], [pred[y == 1].mean()], color="red", zorder=3, label=f"threshold {threshold:.3f}"
        )
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set(
        xlabel="false positive rate (real called fake)",
        ylabel="true positive rate (fake caught)",
        title=f"ROC {title}".strip(),
    )
    ax.legend(loc="lower right")
    written.append(_save(fig, out / "roc.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = cast("Sequence[float]", np.linspace(0, 1, 26))  # matplotlib's stub omits arrays, which hist accepts
    ax.hist(p[y == 0], bins=bins, alpha=0.6, label=f"real (n={int((y == 0).sum())})", color="tab:green")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, label=f"fake (n={int((y == 1).sum())})", color="tab:red")
    ax.axvline(threshold, color="k", ls="--", label="threshold")
    ax.set(xlabel="calibrated P(fake)", ylabel="files", title=f"Score distribution {title}".strip())
    ax.legend()
    written.append(_save(fig, out / "score_histogram.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    edges = np.linspace(0, 1, 11)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, 9)
    conf = [p[idx == b].mean() if (idx == b).any() else np.nan for b in range(10)]
    acc = [y[idx == b].mean() if (idx == b).any() else np.nan for b in range(10)]
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.plot(conf, acc, "o-", label="observed")
    ax.set(
        xlabel="mean predicted P(fake)",
        ylabel="fraction actually fake",
        title=f"Reliability {title}".strip(),
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    written.append(_save(fig, out / "reliability.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
