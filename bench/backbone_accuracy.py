"""The accuracy half of the backbone table: held-out per-source figures of candidates trained on the same data spec
with the same schedule, of every two-model ensemble, and paired-bootstrap intervals of their AUC differences.

Each RUN is a `dfd train SPEC --out RUN ...` folder (its val_logits.npz, calibration and held-out lists). An ensemble
averages two candidates' raw logits (mirror-averaged as scanned) and is calibrated again on the pooled calibration
rows with the spec's rule (`dfd_lib.training.multi.calibrate_sources`), as a shipped model would be. The commands
that made the 2026-12-05 runs are in weights/README.md ("Backbone and input size").

Run: .venv/bin/python bench/backbone_accuracy.py RUN [RUN ...] [--max-fpr 0.07] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_lib.training.metrics import roc_auc
from dfd_lib.training.multi import calibrate_sources


def load_run(folder: Path) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, pd.DataFrame]:
    """(calibration logits, calibration rows, held-out logits, held-out rows) of one training run."""
    z = np.load(folder / "val_logits.npz")
    rows = []
    for role in ("calib_files", "val_files"):
        (listing,) = folder.glob(f"*.{role}.csv")
        df = pd.read_csv(listing)
        df["label"] = (df["label"] == "fake").astype(int)
        rows.append(df)
    return z["calib"], rows[0], z["val"], rows[1]


def table_row(name: str, m: dict) -> str:
    s, meth = m["validation_by_source"], m["validation_by_method"]
    ff = min(meth[k]["auc"] for k in meth if k.startswith("ffpp/"))
    gan = min(meth[k]["auc"] for k in meth if k.startswith("synthetic/"))
    fpr = " / ".join(f"{s[k]['fpr']:.3f}" for k in ("dfdc", "ffpp", "rff"))
    ece = max(s[k]["ece"] for k in s)
    return (
        f"| {name} | {s['dfdc']['auc']:.3f} | {s['ffpp']['auc']:.3f} | {ff:.3f} | {s['rff']['auc']:.3f} | {gan:.3f} | "
        f"{m['validation']['auc']:.3f} | {fpr} | {ece:.3f} | {m['threshold']:.3f} |"
    )


def bootstrap_difference(y, base, other, rng, draws: int = 1000) -> tuple[float, float, float]:
    """AUC(other) - AUC(base) on the same rows, and its 95% interval (rows resampled within each class)."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    d = []
    for _ in range(draws):
        k = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        d.append(roc_auc(y[k], other[k]) - roc_auc(y[k], base[k]))
    return roc_auc(y, other) - roc_auc(y, base), float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path, help="dfd train run folders; the first is the baseline")
    ap.add_argument("--max-fpr", type=float, default=0.07, help="the spec's max_fpr (threshold rule)")
    ap.add_argument("--json", type=Path, help="write every candidate's and ensemble's metrics")
    a = ap.parse_args()
    runs = {p.name: load_run(p) for p in a.runs}
    names = list(runs)
    logits = {n: (r[0], r[2]) for n, r in runs.items()}
    for x, y in combinations(names, 2):
        if runs[x][1]["path"].tolist() != runs[y][1]["path"].tolist() or not runs[x][3].equals(runs[y][3]):
            raise SystemExit(f"{x} and {y} were not measured on the same rows")
        logits[f"{x} + {y}"] = ((runs[x][0] + runs[y][0]) / 2, (runs[x][2] + runs[y][2]) / 2)
    _, cal, _, val = runs[names[0]]
    print(
        "| candidate | DFDC | FF++ | FF++ worst method | stills | GAN vs all reals (worst) | all | "
        "FPR DFDC / FF++ / stills | worst ECE | threshold |"
    )
    print("| --- " * 10 + "|")
    out = {}
    for n, (zc, zv) in logits.items():
        _, _, threshold, m = calibrate_sources(zc, cal, zv, val, a.max_fpr)
        m["threshold"] = threshold
        out[n] = m
        print(table_row(n, m))
    rng = np.random.default_rng(0)
    groups = {
        "DFDC": val["source"] == "dfdc",
        "FF++": val["source"] == "ffpp",
        "stills": val["source"] == "rff",
        "GAN vs all reals": (val["source"] == "synthetic") | (val["label"] == 0),
    }
    y_all, base = val["label"].to_numpy(), logits[names[0]][1]
    print(f"\nheld-out AUC minus {names[0]}'s, paired bootstrap (1,000 draws), 95% interval")
    for n, (_, zv) in list(logits.items())[1:]:
        cells = []
        for g, mask in groups.items():
            m = mask.to_numpy()
            d, lo, hi = bootstrap_difference(y_all[m], base[m], zv[m], rng)
            cells.append(f"{g} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        print(f"{n}: " + "; ".join(cells))
    if a.json:
        a.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
