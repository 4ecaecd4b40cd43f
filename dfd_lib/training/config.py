"""The one home of training settings and their defaults: :class:`TrainConfig` (``dfd train`` reads them here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from ..errors import TrainingConfigError
from ..models.card import CARD_NAME, CROP_SCALES, MIN_INPUT_SIZE
from ..models.tta import TTA_MODES, TtaMode

__all__ = ["TrainMode", "TRAIN_MODES", "TrainConfig"]

TrainMode = Literal["mixed", "sbi_only", "fakes_only"]  # what the fake half of an epoch is made of (epoch_samples)
TRAIN_MODES: tuple[TrainMode, ...] = get_args(TrainMode)


@dataclass
class TrainConfig:
    """Everything one training run needs; checked on construction (TrainingConfigError names the setting)."""

    data: str  # a folder with real/ and fake/ (or labels.csv), or a multi-source data spec (.yaml)
    out: str  # run folder: checkpoints, card, validation lists
    labels: str | None = None
    name: str = "dfd-model"
    backbone: str = "efficientnet_lite0"
    input_size: int = 160
    epochs: int = 6  # 0 with init_from: no training, only calibration and the card on this data
    samples_per_epoch: int = 16000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    monitor_size: int = 1500  # validation images scored after each epoch (all at the end)
    seed: int = 0  # sampling, augmentation and initialisation
    split_seed: int | None = None  # train/validation split; defaults to seed (keep it fixed when fine-tuning)
    mode: TrainMode = "mixed"
    sbi_share: float = 0.5  # mixed mode: share of the fake half made of self-blended pseudo-fakes
    # share of those pseudo-fakes blended in one region of the face (mouth, eyes or lower face) instead of all of it
    sbi_local_share: float = 0.0
    landmarks_csv: str | None = None
    workers: int = 1
    device: str = "auto"  # auto (GPU when present), cpu, cuda or cuda:N
    pretrained: bool = True
    init_from: str | None = None  # a model card (.json): start from its verified weights (fine-tuning)
    half: bool = False  # store weights as float16
    crop_scale: float = 0.70  # inference framing, see the model card
    crop_offset_y: float = 0.09
    crop_inside: bool = False  # pipeline framing: keep the face window inside the picture (no black margin)
    # share of training crops framed inside the picture, the rest padded black (None: all as crop_inside says);
    # between 0 and 1 neither framing can become evidence; validation, calibration and the scanner follow crop_inside
    inside_share: float | None = None
    h264: bool = True  # the H.264 degradation (PyAV); off: JPEG in its place, for a machine without PyAV
    tta: TtaMode = "hflip"  # test-time augmentation for validation, calibration and (via the card) scanning
    # framings scored per face and averaged (crop scales; empty: crop_scale alone), in validation, calibration and
    # (via the card) scanning; training crops are jittered around crop_scale whatever this says
    view_scales: tuple[float, ...] = ()
    # a model card (multi-source specs only) whose view-averaged logit is a second, soft target of every training
    # image that is not a pseudo-fake (see training.distill), with this weight against the label
    teacher: str | None = None
    teacher_weight: float = 0.5
    training_data: str = ""
    data_terms: str = ""
    limits: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        problems = []
        for name in ("input_size", "samples_per_epoch", "batch_size", "monitor_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.epochs < 0 or (self.epochs == 0 and not self.init_from):
            problems.append(
                f"epochs must be at least 1 (0 only with init_from: calibrate a trained model), not {self.epochs}"
            )
        if self.workers < 0:
            problems.append(f"workers must be 0 or more, not {self.workers}")
        if not self.lr > 0:
            problems.append(f"lr must be positive, not {self.lr}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must not be negative, not {self.weight_decay}")
        if not 0.0 < self.val_fraction < 1.0:
            problems.append(f"val_fraction must lie strictly between 0 and 1, not {self.val_fraction}")
        if not 0.0 <= self.sbi_share <= 1.0:
            problems.append(f"sbi_share must lie in [0, 1], not {self.sbi_share}")
        if self.mode not in TRAIN_MODES:
            problems.append(f"mode {self.mode!r} is not one of {', '.join(TRAIN_MODES)}")
        if self.tta not in TTA_MODES:
            problems.append(f"tta {self.tta!r} is not one of {', '.join(TTA_MODES)}")
        if not 0.0 <= self.sbi_local_share <= 1.0:
            problems.append(f"sbi_local_share must lie in [0, 1], not {self.sbi_local_share}")
        if self.inside_share is not None and not 0.0 <= self.inside_share <= 1.0:
            problems.append(f"inside_share must lie in [0, 1], not {self.inside_share}")
        if not CROP_SCALES[0] <= self.crop_scale <= CROP_SCALES[1]:  # what a model card accepts: refused up front
            problems.append(
                f"crop_scale must lie between {CROP_SCALES[0]} and {CROP_SCALES[1]:g}, not {self.crop_scale}"
            )
        if self.input_size < MIN_INPUT_SIZE:
            problems.append(f"input_size must be at least {MIN_INPUT_SIZE}, not {self.input_size}")
        if not CARD_NAME.fullmatch(self.name):  # the card would refuse it after training
            problems.append(
                f"name {self.name!r} must be 1-64 letters, digits, '.', '_', '+' or '-', starting with a letter or digit"
            )
        self.view_scales = tuple(float(v) for v in self.view_scales)
        if any(not 0.3 <= v <= 4.0 for v in self.view_scales) or len(set(self.view_scales)) != len(self.view_scales):
            problems.append(f"view_scales {list(self.view_scales)} must be different crop scales between 0.3 and 4")
        if not 0.0 < self.teacher_weight <= 1.0:
            problems.append(f"teacher_weight must lie in (0, 1], not {self.teacher_weight}")
        if self.teacher and not str(self.data).endswith((".yaml", ".yml")):
            problems.append("teacher needs a multi-source data spec (.yaml)")
        if self.device != "auto" and self.device != "cpu" and not self.device.startswith("cuda"):
            problems.append(f"device {self.device!r} is not auto, cpu, cuda or cuda:N")
        if problems:
            raise TrainingConfigError("training settings: " + "; ".join(problems))
