"""Fit the heads that read a trained model's features, and record them in its card.

* "Outside the model's experience" statistics (:mod:`dfd_lib.models.novelty`). Reference faces: a
  per-source sample of the spec's training rows, framed as the scanner frames them (no
  augmentation). Threshold: the 99th percentile of the calibration rows of every source. The
  held-out rows' flag rate per source is written to the card, so the rate at which familiar media
  is called "outside" is stated, not assumed.
* The kind-of-manipulation head (:mod:`dfd_lib.models.kind`), fitted on the reference sample's
  fakes with the kinds the spec gives; its per-kind accuracy on held-out fakes goes into the card.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..media import sha256_file
from ..models.card import ModelCard
from ..models.novelty import NOVELTY_RULE, fit_novelty
from ..progress import Progress, ensure_progress
from .spec import DataSpec

__all__ = ["features_for_rows", "attach_novelty"]


def features_for_rows(
    spec: DataSpec,
    rows: pd.DataFrame,
    landmarks: dict,
    loaded,
    progress: Progress | None = None,
    label: str = "features",
) -> np.ndarray:
    """Pooled classifier features of ``rows`` (framed per source as the scanner frames faces)."""
    import torch

    from ..models.tta import forward_logits_features
    from .multi import crop_loader

    c = loaded.card
    loader = crop_loader(spec, rows, c, landmarks)
    prog = ensure_progress(progress)
    prog.start(len(loader.dataset), label)
    out = []
    with torch.inference_mode():
        for x, _ in loader:
            _, f = forward_logits_features(loaded.module, x.contiguous(memory_format=torch.channels_last), c.tta)
            out.append(f.numpy())
            prog.advance(len(x))
    prog.close()
    return np.concatenate(out)


def attach_novelty(
    card_path: str | Path,
    spec: DataSpec,
    table: pd.DataFrame,
    landmarks: dict,
    n_reference: int = 4000,
    k: int = 32,
    percentile: float = 99.0,
    seed: int = 0,
    progress: Progress | None = None,
) -> ModelCard:
    """Fit novelty statistics for the model at ``card_path``, save them beside it and rewrite its card."""
    from ..models.checkpoint import load_model
    from ..models.novelty import NoveltyModel

    card_path = Path(card_path)
    loaded = load_model(str(card_path))
    train = table[table["role"] == "train"]
    per = max(1, n_reference // max(1, train["source"].nunique()))
    ref = pd.concat(
        [d.sample(n=min(len(d), per), random_state=seed) for _, d in train.groupby("source")], ignore_index=True
    )
    cal = table[table["role"] == "calib"].reset_index(drop=True)
    val = table[table["role"] == "val"].reset_index(drop=True)
    f_ref = features_for_rows(spec, ref, landmarks, loaded, progress, "novelty: reference faces")
    f_cal = features_for_rows(spec, cal, landmarks, loaded, progress, "novelty: calibration faces")
    f_val = features_for_rows(spec, val, landmarks, loaded, progress, "novelty: held-out faces")
    model: NoveltyModel = fit_novelty(f_ref, f_cal, k=k, percentile=percentile)
    out = card_path.parent / f"{loaded.card.name}.novelty.npz"
    model.save(out)
    s_val = model.score(f_val)
    rates = {
        src: float((s_val[(val["source"] == src).to_numpy()] > model.threshold).mean())
        for src in sorted(val["source"].unique())
    }
    novelty = {
        "file": out.name,
        "sha256": sha256_file(out),
        "threshold": model.threshold,
        "k": int(len(model.variances)),
        "percentile": percentile,
        "n_reference": int(len(ref)),
        "rule": NOVELTY_RULE.format(pct=f"{percentile:g}"),
        "flagged_share_validation_by_source": rates,
    }
    kind_head = _fit_kinds(loaded.card.name, card_path.parent, ref, f_ref, val, f_val)
    card = replace(loaded.card, novelty=novelty, kind_head=kind_head)
    card.write(card_path)
    return card


def _fit_kinds(
    name: str, folder: Path, ref: pd.DataFrame, f_ref: np.ndarray, val: pd.DataFrame, f_val: np.ndarray
) -> dict:
    """Fit and save the kind head on the reference fakes; measure it on the held-out fakes."""
    from ..models.kind import KIND_WORDS, UNCLEAR, fit_kind_head

    fakes = (ref["label"] == 1).to_numpy()
    if "kind" not in ref or len(set(ref.loc[fakes, "kind"])) < 2:
        return {}
    head = fit_kind_head(f_ref[fakes], ref.loc[fakes, "kind"].tolist())
    out = folder / f"{name}.kind.npz"
    head.save(out)
    vf = (val["label"] == 1).to_numpy()
    named = head.name(f_val[vf])
    truth = val.loc[vf, "kind"].tolist()
    per = {}
    for k in head.classes:
        idx = [i for i, t in enumerate(truth) if t == k]
        if idx:
            per[k] = {
                "n": len(idx),
                "named_right": sum(named[i][0] == k for i in idx) / len(idx),
                "unclear": sum(named[i][0] == UNCLEAR for i in idx) / len(idx),
            }
    return {
        "file": out.name,
        "sha256": sha256_file(out),
        "classes": list(head.classes),
        "min_confidence": head.min_confidence,
        "words": {k: KIND_WORDS.get(k, k) for k in head.classes},
        "rule": "multinomial logistic regression on the standardised pooled features of the reference sample's fakes "
        "(kinds from the data spec); a kind is named only when its probability reaches min_confidence",
        "validation_held_out_fakes": per,
    }
