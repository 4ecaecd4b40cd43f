"""Weight averaging ("model soup"): one network whose weights are the weighted mean of several verified models.

Fine-tuning runs that start from the same weights stay in one basin of the loss, so the mean of their weights is a
working network of its own, which on held-out data often ranks better than any of them (Wortsman et al., "Model
soups", ICML 2022). Unlike an ensemble it costs one forward pass: the scan is as fast as with any one of them.
Averaging networks trained from different starts gives garbage; the caller is responsible for a common start, and
the result must be measured like any new model.

The averaged model is **not calibrated**: its card carries the first input's calibration only so that it loads, no
metrics, no side models (ONNX export, "outside the model's experience" statistics, kind head), and is never the
default. ``dfd train SPEC --init-from CARD --epochs 0`` calibrates it, fits its side models and measures it; the
card it writes names every input (name, SHA-256, share, its own training) through ``training.init``.
"""

from __future__ import annotations

import math

import os
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from ..errors import ModelCardError
from .card import ModelCard
from .checkpoint import find_verified_card, read_verified_state, save_state

__all__ = ["average_models", "parse_share", "require_calibrated"]

# Fields that must agree for two models' weights to mean the same thing (input framing may differ: the
# calibration run decides how the average is framed).
_MUST_MATCH = ("backbone", "input_size", "mean", "std")


def require_calibrated(card: ModelCard) -> None:
    """Refuse to score with a weight average that ``dfd train --epochs 0`` has not calibrated yet (ModelCardError):
    its probabilities and threshold would be another model's."""
    if card.training.get("weight_average") and not card.metrics:
        raise ModelCardError(
            f"model {card.name} is a weight average that has not been calibrated: its probabilities and threshold "
            "would be another model's. Calibrate and measure it first: dfd train SPEC --init-from CARD --epochs 0"
        )


def parse_share(text: str) -> tuple[str, float]:
    """``CARD`` or ``CARD=SHARE`` (a positive number; shares are normalised to sum to 1)."""
    card, sep, share = text.rpartition("=")
    if not sep:
        return text, 1.0
    try:
        value = float(share)
    except ValueError:
        raise ModelCardError(f"{text!r}: the share after '=' must be a number") from None
    if not (math.isfinite(value) and value > 0):
        raise ModelCardError(f"{text!r}: the share must be a positive, finite number")
    return card, value


def average_models(
    inputs: Sequence[tuple[str | os.PathLike, float]], out_dir: str | os.PathLike, name: str | None = None
) -> Path:
    """Write ``<name>.pt`` and ``<name>.json`` in ``out_dir``: the share-weighted mean of the inputs' weights.

    ``inputs``: (card path or model name, share) pairs, at least two; each model's weights are checked against
    its card's SHA-256 and read with ``weights_only=True``. Floating-point tensors are averaged in float64 and
    stored as float32; integer tensors (batch-norm counters) are taken from the first input.
    Raises ModelCardError when the models do not share backbone, input size and normalisation, or their tensors
    differ in name or shape. Returns the new card's path.
    """
    import torch

    if len(inputs) < 2:
        raise ModelCardError("averaging needs at least two models")
    total = float(sum(share for _, share in inputs))
    if not all(share > 0 for _, share in inputs):
        raise ModelCardError("every model's share must be positive")
    cards: list[ModelCard] = []
    mean: dict[str, torch.Tensor] = {}
    record: list[dict[str, Any]] = []
    for ref, share in inputs:
        card_path, card, weights = find_verified_card(str(ref))
        state = read_verified_state(card, weights)
        if cards:
            first = cards[0]
            for f in _MUST_MATCH:
                if getattr(card, f) != getattr(first, f):
                    raise ModelCardError(
                        f"{card_path}: {f} {getattr(card, f)!r} differs from {first.name}'s {getattr(first, f)!r}; "
                        "only models of the same architecture and input can be averaged"
                    )
            if set(state) != set(mean):
                diff = sorted(set(state) ^ set(mean))[:3]
                raise ModelCardError(f"{card_path}: its tensors differ from the first model's (e.g. {diff})")
        w = share / total
        for k, v in state.items():
            if k in mean and tuple(mean[k].shape) != tuple(v.shape):
                raise ModelCardError(f"{card_path}: tensor {k} has shape {tuple(v.shape)}, not {tuple(mean[k].shape)}")
            if not v.is_floating_point():
                mean.setdefault(k, v.clone())
            elif k in mean:
                mean[k] += v.double() * w
            else:
                mean[k] = v.double() * w
        cards.append(card)
        record.append(
            {"name": card.name, "card": str(card_path), "sha256": card.sha256, "share": w, "training": card.training}
        )

    first = cards[0]
    card = replace(
        first,
        name=name or first.name,
        metrics={},
        training={"weight_average": record},
        limits=[
            "Not calibrated: a weight average of "
            + ", ".join(f"{r['name']} ({r['sha256'][:12]}, share {r['share']:.3f})" for r in record)
            + ". Its probabilities and threshold are the first model's; run dfd train SPEC --init-from "
            "THIS_CARD --epochs 0 to calibrate and measure it before any use."
        ],
        novelty={},
        kind_head={},
        onnx={},
        default=False,
        description=f"weight average of {len(record)} models (not calibrated)",
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return save_state({k: (v.float() if v.is_floating_point() else v) for k, v in mean.items()}, card, out_dir)
