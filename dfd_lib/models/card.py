"""Model cards: the JSON file that travels with every checkpoint and says what it is.

A card records the backbone, input framing and normalisation, calibration (temperature and
decision threshold), the training data and its terms, validation metrics, known limits and
the SHA-256 of the weights file. A checkpoint without a valid card is never loaded.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelCardError
from ..fileio import atomic_write
from .tta import TtaMode

__all__ = ["ModelCard", "REQUIRED_FIELDS", "MIN_INPUT_SIZE", "CROP_SCALES", "CARD_NAME"]

REQUIRED_FIELDS = (
    "name",
    "backbone",
    "input_size",
    "mean",
    "std",
    "crop_scale",
    "temperature",
    "threshold",
    "training_data",
    "metrics",
    "weights_file",
    "sha256",
)


# a card name is shown in reports and the dashboard and keys findings: plain text, no markup, no path
CARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
MIN_INPUT_SIZE = 32  # the smallest classifier input a card may name (training refuses less up front)
CROP_SCALES = (0.3, 4.0)  # the crop scales a card may name, face box sides


@dataclass(frozen=True)
class ModelCard:
    name: str
    backbone: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_scale: float  # face crop side = crop_scale x the larger side of the MTCNN box
    temperature: float  # calibrated P(fake) = sigmoid(logit / temperature + logit_bias)
    threshold: float  # decision threshold on calibrated P(fake)
    training_data: str
    metrics: dict[str, Any]
    weights_file: str
    sha256: str
    crop_offset_y: float = 0.0  # crop centre shift, in box heights (positive = down)
    crop_inside: bool = False  # the crop window is kept inside the picture (no black margin at its edges)
    tta: TtaMode = "none"  # test-time augmentation the logits (and so the calibration) are computed with
    # framings scored per face, logits averaged: crop sides as multiples of the MTCNN box's larger side, each
    # cut as crop_scale is (empty: crop_scale alone). Calibration, novelty and kind head are fitted on the average.
    view_scales: tuple[float, ...] = ()
    logit_bias: float = 0.0  # calibrated P(fake) = sigmoid(logit / temperature + logit_bias)
    calibration_rule: str = ""
    threshold_rule: str = ""
    data_terms: str = ""
    split: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    limits: list[str] = field(default_factory=list)
    novelty: dict[str, Any] = field(
        default_factory=dict
    )  # "outside the model's experience" statistics: file, sha256, threshold, rule
    kind_head: dict[str, Any] = field(
        default_factory=dict
    )  # kind-of-manipulation head: file, sha256, classes, accuracy
    onnx: dict[str, Any] = field(default_factory=dict)  # the same classifier exported to ONNX: file, sha256, check
    default: bool = False
    description: str = ""
    created: str = ""
    format_version: int = 1

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "card") -> "ModelCard":
        if not isinstance(data, dict):
            raise ModelCardError(f"{source}: a model card must be a JSON object")
        missing = [f for f in REQUIRED_FIELDS if f not in data or data[f] in (None, "")]
        if missing:
            raise ModelCardError(f"{source}: model card lacks required field(s): {', '.join(missing)}")
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in data.items() if k in known}
        try:
            kwargs["mean"] = tuple(float(x) for x in data["mean"])
            kwargs["std"] = tuple(float(x) for x in data["std"])
            kwargs["input_size"] = int(data["input_size"])
            kwargs["view_scales"] = tuple(float(x) for x in (data.get("view_scales") or ()))
            for k in ("crop_scale", "temperature", "threshold", "crop_offset_y", "logit_bias"):
                if k in kwargs:
                    kwargs[k] = float(kwargs[k])
        except (TypeError, ValueError) as exc:
            raise ModelCardError(f"{source}: malformed numeric field: {exc}") from exc
        card = cls(**kwargs)
        card.validate(source)
        return card

    def validate(self, source: str = "card") -> None:
        problems = []
        if not isinstance(self.name, str) or not CARD_NAME.fullmatch(self.name):
            problems.append(
                f"name {str(self.name)[:80]!r} must be 1-64 letters, digits, '.', '_', '+' or '-', starting with a "
                "letter or digit (it names the model in findings, reports and the dashboard)"
            )
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            problems.append("mean/std must be three numbers, std > 0")
        if not (0.0 < self.threshold < 1.0):
            problems.append(f"threshold {self.threshold} is not in (0, 1)")
        if self.temperature <= 0:
            problems.append(f"temperature {self.temperature} must be > 0")
        if self.input_size < MIN_INPUT_SIZE:
            problems.append(f"input_size {self.input_size} is too small (at least {MIN_INPUT_SIZE})")
        if not (CROP_SCALES[0] <= self.crop_scale <= CROP_SCALES[1]):
            problems.append(f"crop_scale {self.crop_scale} must be between {CROP_SCALES[0]} and {CROP_SCALES[1]:g}")
        if len(self.view_scales) > 9 or len(set(self.view_scales)) != len(self.view_scales):
            problems.append("view_scales must be at most 9 different crop scales")
        if any(not (0.3 <= v <= 4.0) for v in self.view_scales):
            problems.append(f"view_scales {list(self.view_scales)} must each be between 0.3 and 4")
        from .tta import TTA_MODES

        if self.tta not in TTA_MODES:
            problems.append(f"tta {self.tta!r} is not one of {', '.join(TTA_MODES)}")
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            problems.append("sha256 must be 64 lower-case hex digits")
        if Path(self.weights_file).name != self.weights_file:
            problems.append("weights_file must be a bare file name beside the card")
        for label, side in (("novelty", self.novelty), ("kind_head", self.kind_head), ("onnx", self.onnx)):
            if side:
                nf, nh = str(side.get("file", "")), str(side.get("sha256", ""))
                if not nf or Path(nf).name != nf:
                    problems.append(f"{label}.file must be a bare file name beside the card")
                if len(nh) != 64 or any(c not in "0123456789abcdef" for c in nh):
                    problems.append(f"{label}.sha256 must be 64 lower-case hex digits")
        if problems:
            raise ModelCardError(f"{source}: invalid model card: " + "; ".join(problems))

    @property
    def views(self) -> tuple[float, ...]:
        """The crop scales each face is scored at (its logits averaged): ``view_scales``, else ``crop_scale``."""
        return self.view_scales or (self.crop_scale,)

    @property
    def zoom_factors(self) -> tuple[float, ...]:
        """The views as multiples of ``crop_scale``: how a crop already framed at ``crop_scale`` is framed again."""
        return tuple(v / self.crop_scale for v in self.views)

    @classmethod
    def read(cls, path: str | Path) -> "ModelCard":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelCardError(f"model card {path} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelCardError(f"model card {path} is not readable JSON: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        d["view_scales"] = list(self.view_scales)
        return d

    def write(self, path: str | Path) -> None:
        atomic_write(path, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")

    def summary(self) -> str:
        val = self.metrics.get("validation", {}) if isinstance(self.metrics, dict) else {}
        parts = [f"{self.name} ({self.backbone}, {self.input_size}px)"]
        if "auc" in val:
            parts.append(f"val AUC {val['auc']:.3f}")
        if "ece" in val:
            parts.append(f"ECE {val['ece']:.3f}")
        parts.append(f"threshold {self.threshold:.3f}")
        if self.tta != "none":
            parts.append(f"test-time {self.tta}")
        if len(self.view_scales) > 1:
            parts.append(f"{len(self.view_scales)} framings averaged")
        return ", ".join(parts)
