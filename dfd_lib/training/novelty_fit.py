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

import os

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..media import sha256_file
from ..models.card import ModelCard
from ..models.novelty import NOVELTY_RULE, fit_novelty
from ..progress import Progress, ensure_progress
from .spec import DataSpec

__all__ = ["features_for_rows", "attach_novelty", "refit_novelty", "move_to_views", "NOVELTY_BLOCKS"]


# The novelty statistics read block 3's channel statistics (see dfd_lib.models.novelty for the measurement),
# summarised by 64 principal directions.
NOVELTY_BLOCKS: tuple[int, ...] = (3,)
NOVELTY_K = 64


def features_for_rows(
    spec: DataSpec,
    rows: pd.DataFrame,
    landmarks: dict,
    loaded,
    progress: Progress | None = None,
    label: str = "features",
    blocks: tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray | None]:
    """(pooled classifier features, statistics of ``blocks``' outputs or None) of ``rows``, framed per source as
    the scanner frames faces."""
    import torch

    from ..models.tta import channels_last, forward_heads
    from .multi import crop_loader

    c = loaded.card
    loader = crop_loader(spec, rows, c, landmarks)
    prog = ensure_progress(progress)
    prog.start(len(loader.dataset), label)
    out, stats = [], []
    with torch.inference_mode():
        for x, _ in loader:
            _, f, st = forward_heads(loaded.module, channels_last(x), c.tta, blocks)
            out.append(f.numpy())
            if st is not None:
                stats.append(st.numpy())
            prog.advance(len(x))
    prog.close()
    return np.concatenate(out), (np.concatenate(stats) if blocks else None)


def _blocks_for(module, blocks: tuple[int, ...]) -> tuple[int, ...]:
    """``blocks`` where the backbone has them, else () (the pooled features)."""
    from ..models.novelty import feature_blocks

    try:
        feature_blocks(module, blocks)
    except (ValueError, IndexError):
        return ()
    return blocks


def attach_novelty(
    card_path: str | Path,
    spec: DataSpec,
    table: pd.DataFrame,
    landmarks: dict,
    n_reference: int = 4000,
    k: int = NOVELTY_K,
    percentile: float = 99.0,
    seed: int = 0,
    progress: Progress | None = None,
    blocks: tuple[int, ...] = NOVELTY_BLOCKS,
    kinds: bool = True,
) -> ModelCard:
    """Fit novelty statistics (and with ``kinds`` the kind head) for the model at ``card_path``, save them beside
    it and rewrite its card.

    ``table``: rows with a ``role`` of train (a per-source sample of them is the reference), calib
    (the threshold, every source weighted equally) and val (the flag rate per source, for the card).
    """
    from ..models.checkpoint import load_model
    from ..models.novelty import NoveltyModel, features_words

    card_path = Path(card_path)
    loaded = load_model(str(card_path), runtime="torch")
    blocks = _blocks_for(loaded.module, tuple(blocks))
    train = table[table["role"] == "train"]
    per = max(1, n_reference // max(1, train["source"].nunique()))
    ref = pd.concat(
        [d.sample(n=min(len(d), per), random_state=seed) for _, d in train.groupby("source")], ignore_index=True
    )
    cal = table[table["role"] == "calib"].reset_index(drop=True)
    val = table[table["role"] == "val"].reset_index(drop=True)
    f_ref, s_ref = features_for_rows(spec, ref, landmarks, loaded, progress, "novelty: reference faces", blocks)
    f_cal, s_cal = features_for_rows(spec, cal, landmarks, loaded, progress, "novelty: calibration faces", blocks)
    f_val, s_val = features_for_rows(spec, val, landmarks, loaded, progress, "novelty: held-out faces", blocks)
    x_ref, x_cal, x_val = f_ref, f_cal, f_val
    if blocks:
        assert s_ref is not None and s_cal is not None and s_val is not None  # asked for with blocks
        x_ref, x_cal, x_val = s_ref, s_cal, s_val
    model: NoveltyModel = fit_novelty(
        x_ref,
        x_cal,
        k=k,
        percentile=percentile,
        groups=cal["source"].to_numpy(),
        standardise=bool(blocks),
        blocks=blocks,
    )
    out = card_path.parent / f"{loaded.card.name}.novelty.npz"
    model.save(out)
    scores = model.score(x_val)
    rates = {
        src: float((scores[(val["source"] == src).to_numpy()] > model.threshold).mean())
        for src in sorted(val["source"].unique())
    }
    novelty = {
        "file": out.name,
        "sha256": sha256_file(out),
        "threshold": model.threshold,
        "k": int(len(model.variances)),
        "percentile": percentile,
        "n_reference": int(len(ref)),
        "blocks": list(blocks),
        "features": features_words(blocks),
        "rule": NOVELTY_RULE.format(pct=f"{percentile:g}", features=features_words(blocks)),
        "flagged_share_validation_by_source": rates,
    }
    kind_head = (
        _fit_kinds(loaded.card.name, card_path.parent, ref, f_ref, val, f_val) if kinds else loaded.card.kind_head
    )
    card = replace(loaded.card, novelty=novelty, kind_head=kind_head)
    card.write(card_path)
    return card


def refit_novelty(
    card_path: str | Path,
    spec: DataSpec,
    cache_dir: str | Path,
    progress: Progress | None = None,
    blocks: tuple[int, ...] = NOVELTY_BLOCKS,
    k: int = NOVELTY_K,
    kinds: bool = False,
) -> ModelCard:
    """Fit the novelty statistics of a trained model again (its kind head is kept, or with ``kinds`` fitted again),
    from its card's calibration and held-out lists and a sample of the spec's training rows (face boxes found or
    read from ``cache_dir``); its ONNX export, if it has one, is made again so that it gives what the statistics
    read."""
    from ..models.card import ModelCard as Card
    from .multi import listed_rows as card_lists
    from .multi import prepare_sources
    from .spec import load_spec

    card_path = Path(card_path)
    card = Card.read(card_path)
    listed_rows, boxes = card_lists(spec, card_path, card.name, cache_dir, progress)
    listed = set(zip(listed_rows["source"], listed_rows["path"]))
    full = load_spec(spec)
    train = full[
        (full["role"] == "train") & ~pd.Series(list(zip(full["source"], full["path"])), index=full.index).isin(listed)
    ]
    per = max(1, 4000 // max(1, train["source"].nunique()))
    train = pd.concat([d.sample(n=min(len(d), 2 * per), random_state=0) for _, d in train.groupby("source")])
    train = train.assign(role="train")
    usable, landmarks, _ = prepare_sources(spec, cache_dir, rows=train, progress=progress)
    # The lists record the box each of their crops was cut from: the same framing as the card's figures.
    landmarks |= boxes
    rows = pd.concat([usable, listed_rows], ignore_index=True)
    attach_novelty(card_path, spec, rows, landmarks, progress=progress, blocks=blocks, k=k, kinds=kinds)
    if card.onnx:
        from ..models.onnx_runtime import attach_onnx

        attach_onnx(card_path)
    return Card.read(card_path)


def move_to_views(
    card_path: str | Path, spec: DataSpec, scales, cache_dir: str | Path, progress: Progress | None = None
) -> ModelCard:
    """Move a trained model's card to new views (``view_scales``): calibration and threshold, novelty statistics and
    kind head are all fitted again on the averaged scores (weights unchanged).

    The work is done on a copy of the model's files; the originals are replaced only once everything is fitted (the
    card last), so a failure leaves the card as it was, never new views with an old calibration."""
    import shutil
    import tempfile

    from ..models.card import ModelCard as Card
    from .multi import recalibrate

    card_path = Path(card_path)
    card = Card.read(card_path)
    new = replace(card, view_scales=tuple(float(v) for v in scales))
    new.validate(str(card_path))
    with tempfile.TemporaryDirectory(dir=card_path.parent) as tmp:
        work = Path(tmp)
        for f in card_path.parent.glob(f"{card.name}.*"):
            if f.is_file():
                shutil.copy2(f, work / f.name)
        new.write(work / card_path.name)
        recalibrate(work / card_path.name, spec, cache_dir, progress)
        done = refit_novelty(work / card_path.name, spec, cache_dir, progress, kinds=True)
        for f in sorted(work.iterdir(), key=lambda f: f.name == card_path.name):  # the card last
            if f.name == card_path.name or f.suffix in (".npz", ".onnx"):
                os.replace(f, card_path.parent / f.name)
    return done


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
