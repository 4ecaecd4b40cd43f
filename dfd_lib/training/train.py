"""The training loop: seeded, class-balanced, resumable per epoch, calibrated at the end.

``train(config)`` writes into ``config.out``: ``checkpoint_last.pt`` (resume state),
``history.json``, the final ``<name>.pt`` + ``<name>.json`` model card, and the validation
file lists ``<name>.calib_files.csv`` (temperature and threshold fitted here) and
``<name>.val_files.csv`` (held-out groups the card's metrics are measured on), which ship
beside the weights so anyone can reproduce the card's numbers with ``dfd eval``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import DataError, TrainingConfigError
from ..fileio import atomic_path, atomic_write
from ..models.backbones import BACKBONES
from ..models.card import ModelCard
from ..models.checkpoint import save_checkpoint
from ..models.registry import Backbone
from ..models.tta import TtaMode
from ..progress import Progress, ensure_progress
from .calibrate import (
    CALIBRATION_RULE,
    CALIBRATION_USE,
    THRESHOLD_RULE,
    VALIDATION_USE,
    apply_calibration,
    check_fitted,
    choose_threshold,
    fit_platt,
    require_both_classes,
    sigmoid,
)
from .config import TrainConfig
from .data import Sample, check_files, load_labels, split_by_group
from .dataset import CropDataset, epoch_samples
from .distill import soft_target_loss
from .metrics import roc_auc, summarize

__all__ = ["TrainConfig", "train", "predict_logits", "recalibrate_run"]

log = logging.getLogger(__name__)


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingConfigError(
            f"device {name!r} was asked for, but torch sees no CUDA GPU here; use --device auto or cpu"
        )
    return torch.device(name)


def predict_logits(
    model, dataset, batch_size: int, device, workers: int = 0, progress: Progress | None = None, tta: str = "none"
) -> np.ndarray:
    import torch

    from ..models.tta import channels_last, forward_logits

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    prog = ensure_progress(progress)
    out = []
    model.eval()
    with torch.inference_mode():
        for x, _ in loader:
            x = channels_last(x.to(device))
            out.append(forward_logits(model, x, tta).cpu().numpy())
            prog.advance(len(x))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def _split(cfg: TrainConfig):
    df = load_labels(cfg.data, cfg.labels)
    check_files(cfg.data, df["path"])
    split_seed = cfg.seed if cfg.split_seed is None else cfg.split_seed
    train_df, val_df = split_by_group(df, cfg.val_fraction, split_seed)
    calib_df, report_df = split_by_group(val_df, 0.5, split_seed + 1)
    sizes = f"{len(df)} files in {df['group'].nunique()} group(s), val_fraction {cfg.val_fraction}"
    for part, d in (("training", train_df), ("calibration", calib_df), ("validation", report_df)):
        if d.empty:
            raise DataError(f"the {part} part of {cfg.data} is empty ({sizes}): more files or groups are needed")
    remedy = f"{cfg.data} has {sizes}: more groups of real and of fake faces are needed"
    require_both_classes(calib_df["label"], "the calibration set", CALIBRATION_USE, remedy)
    require_both_classes(report_df["label"], "the held-out validation set", VALIDATION_USE, remedy)
    n_real = int((train_df["label"] == 0).sum())
    if cfg.epochs > 0 and n_real == 0:
        raise DataError(
            f"the training part of {cfg.data} has no real faces ({len(train_df)} fake), and half of every batch is "
            f"real faces: nothing is trained; {remedy}"
        )
    if (
        cfg.epochs > 0
        and n_real == len(train_df)
        and (cfg.mode == "fakes_only" or (cfg.mode == "mixed" and cfg.sbi_share < 1))
    ):
        share = "all" if cfg.mode == "fakes_only" else f"{1 - cfg.sbi_share:.0%}"
        raise DataError(
            f"the training part of {cfg.data} has no fake faces ({n_real} real), and mode {cfg.mode} draws {share} of "
            "each batch's fake half from them: nothing is trained; --mode sbi_only trains on pseudo-fakes alone"
        )
    return train_df, calib_df, report_df


def train(cfg: TrainConfig, progress: Progress | None = None) -> Path:
    """Train, calibrate and write a model card; returns the card's path.

    ``cfg.data`` is a folder (or ``cfg.labels`` a CSV) of one source, or a multi-source data
    spec (``.yaml``): then see :mod:`dfd_lib.training.multi`.
    """
    if str(cfg.data).endswith((".yaml", ".yml")):
        from .multi import train_spec

        return train_spec(cfg, progress)
    import torch

    train_df, calib_df, report_df = _split(cfg)  # bad data is refused before anything is written
    device = _device(cfg.device)
    cfg, bb = resolve_backbone(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    for name, d in ((f"{cfg.name}.calib_files.csv", calib_df), (f"{cfg.name}.val_files.csv", report_df)):
        d.assign(label=d["label"].map({0: "real", 1: "fake"})).to_csv(out / name, index=False)
    reals = train_df.loc[train_df.label == 0, "path"].tolist()
    fakes = train_df.loc[train_df.label == 1, "path"].tolist()
    landmarks = {}
    if cfg.mode != "fakes_only":
        from .landmarks import compute_landmarks, read_landmarks

        lm_csv = Path(cfg.landmarks_csv) if cfg.landmarks_csv else out / "landmarks.csv"
        compute_landmarks(cfg.data, reals, lm_csv, progress=progress)
        landmarks = {k: v for k, v in read_landmarks(lm_csv).items() if v is not None}
    sbi_pool = [p for p in reals if p in landmarks]
    if cfg.mode != "fakes_only" and not sbi_pool:
        raise DataError(
            "no real face with landmarks (MTCNN found no face in any training real): pseudo-fakes "
            "cannot be made; check the data, or use --mode fakes_only"
        )

    model = build_model(cfg, bb, device)
    val_all = pd_concat(calib_df, report_df)
    mon = val_all.sample(n=min(cfg.monitor_size, len(val_all)), random_state=0)
    mon_ds = CropDataset(
        cfg.data,
        _samples(mon),
        cfg.input_size,
        bb.mean,
        bb.std,
        train=False,
        crop_scale=cfg.crop_scale,
        view_scales=cfg.view_scales,
    )

    def epoch_dataset(epoch: int, n: int) -> CropDataset:
        rng = np.random.default_rng([cfg.seed, epoch])
        samples = epoch_samples(reals, fakes, sbi_pool, n, cfg.mode, rng, cfg.sbi_share)
        return epoch_crops(cfg, bb, cfg.data, samples, landmarks, epoch)

    history = fit(cfg, model, epoch_dataset, mon_ds, mon["label"].to_numpy(), device, progress)
    return _finish(cfg, model, bb, calib_df, report_df, history, device, progress)


def resolve_backbone(cfg: TrainConfig):
    """(config, backbone): a backbone without offline pretrained weights starts from random weights
    (and the config, recorded in the card, says so)."""
    bb = BACKBONES.get(cfg.backbone)
    if cfg.pretrained and not bb.has_pretrained:
        log.info("backbone %s has no offline pretrained weights: starting from random weights", bb.name)
        cfg = replace(cfg, pretrained=False)
    return cfg, bb


def epoch_crops(
    cfg: TrainConfig,
    bb: Backbone,
    root,
    samples: list[Sample],
    landmarks: dict,
    epoch: int,
    targets: dict[str, float] | None = None,
) -> CropDataset:
    """One epoch's training crops: augmented with a seed of ``cfg.seed`` and the epoch; samples framed
    ``pipeline`` are cut from their box with ``cfg``'s framing (the scanner's, jittered)."""
    return CropDataset(
        root,
        samples,
        cfg.input_size,
        bb.mean,
        bb.std,
        train=True,
        landmarks=landmarks,
        seed=cfg.seed * 1000 + epoch,
        crop_scale=cfg.crop_scale,
        crop_offset_y=cfg.crop_offset_y,
        h264=cfg.h264,
        crop_inside=cfg.crop_inside,
        inside_share=cfg.inside_share,
        targets=targets,
        sbi_local_share=cfg.sbi_local_share,
    )


def build_model(cfg: TrainConfig, bb, device):
    """The backbone, from ImageNet weights, random, or a verified model card (``init_from``)."""
    model = bb.build(cfg.pretrained and not cfg.init_from)
    if cfg.init_from:
        from ..models.checkpoint import load_model

        start = load_model(cfg.init_from, runtime="torch")  # the PyTorch module is what training needs
        if start.card.backbone != cfg.backbone:
            raise TrainingConfigError(f"--init-from model is a {start.card.backbone}, not a {cfg.backbone}")
        model.load_state_dict(start.module.state_dict())
        log.info("initialised from %s (sha256 %s)", start.card.name, start.card.sha256)
    import torch

    return model.to(device).to(memory_format=torch.channels_last)


def fit(
    cfg: TrainConfig, model, epoch_dataset, mon_ds, y_mon: np.ndarray, device, progress: Progress | None
) -> list[dict]:
    """The epoch loop, resumable from ``checkpoint_last.pt``; ``epoch_dataset(epoch, n)`` gives each epoch's samples.
    With ``cfg.epochs`` 0 nothing is trained (the ``init_from`` model is calibrated as it is)."""
    import torch

    if cfg.epochs == 0:
        return []
    out = Path(cfg.out)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, cfg.samples_per_epoch // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=steps_per_epoch * cfg.epochs, pct_start=0.1
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    history: list[dict] = []
    start_epoch = 0
    ckpt = out / "checkpoint_last.pt"
    settings = _resume_settings(cfg, steps_per_epoch)
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        before = state.get("settings")
        if before is not None and before != settings:
            changed = ", ".join(f"{k} {before.get(k)} -> {v}" for k, v in settings.items() if before.get(k) != v)
            raise TrainingConfigError(
                f"{out} holds a run started with other settings ({changed}): resume it with the same settings, "
                "or give another --out (or --init-from that run's card to go on from its weights)"
            )
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise TrainingConfigError(
                f"{out} holds a run this one cannot resume (another backbone or schedule?): {str(exc)[:200]}; give "
                "another --out"
            ) from exc
        start_epoch = int(state["epoch"])
        history = json.loads((out / "history.json").read_text()) if (out / "history.json").exists() else []
        log.info("resuming %s after epoch %d", out, start_epoch)
    prog = ensure_progress(progress)
    for epoch in range(start_epoch, cfg.epochs):
        ds = epoch_dataset(epoch, steps_per_epoch * cfg.batch_size)
        if len(ds) < cfg.batch_size:  # the loader drops an incomplete last batch: this epoch would train nothing
            raise DataError(
                f"epoch {epoch + 1} has no training batch: {len(ds)} training sample(s) were drawn for batches of "
                f"{cfg.batch_size} (the data gave fewer than the {steps_per_epoch * cfg.batch_size} asked for); "
                "nothing is trained and no model is written"
            )
        loader = torch.utils.data.DataLoader(
            ds,
            batch_size=cfg.batch_size,
            shuffle=False,
            num_workers=cfg.workers,
            drop_last=True,
            persistent_workers=False,
            generator=torch.Generator().manual_seed(cfg.seed + epoch),
            worker_init_fn=_one_thread_worker,
        )
        model.train()
        prog.start(len(loader), f"epoch {epoch + 1}/{cfg.epochs}")
        t0, running = time.time(), None
        for batch in loader:
            x = batch[0].to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = batch[1].to(device)
            z = model(x).reshape(-1)
            if len(batch) > 2:  # a teacher's soft targets (training.distill)
                loss = soft_target_loss(z, y, batch[2].to(device), cfg.teacher_weight)
            else:
                loss = loss_fn(z, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            prog.advance(1, loss=running)
        prog.close()
        if running is not None and not math.isfinite(running):
            raise TrainingConfigError(
                f"training diverged: the loss became {running} in epoch {epoch + 1} (learning rate {cfg.lr:g} too "
                "high?); nothing of this epoch was kept"
            )
        auc = roc_auc(y_mon, predict_logits(model, mon_ds, 64, device, tta=cfg.tta))
        rec = {
            "epoch": epoch + 1,
            "loss": running,
            "val_auc_monitor": auc,
            "seconds": time.time() - t0,
            "images_per_s": len(loader) * cfg.batch_size / (time.time() - t0),
            "data": str(cfg.data),
            "device": str(device),
        }
        history.append(rec)
        log.info("epoch %d: %s", epoch + 1, rec)
        with atomic_path(ckpt) as tmp:  # a run killed while saving resumes from the previous epoch
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "epoch": epoch + 1,
                    "settings": settings,
                },
                tmp,
            )
        atomic_write(out / "history.json", json.dumps(history, indent=2))
    return history


def _resume_settings(cfg, steps_per_epoch: int) -> dict:
    """What a resumed run must share with the run it resumes (the schedule and the network)."""
    return {
        "backbone": str(cfg.backbone),
        "input_size": int(cfg.input_size),
        "epochs": int(cfg.epochs),
        "steps_per_epoch": int(steps_per_epoch),
        "batch_size": int(cfg.batch_size),
        "lr": float(cfg.lr),
    }


def _one_thread_worker(_worker_id: int) -> None:
    """A loader worker runs OpenCV on one thread (torch already does): many workers, one core each."""
    import cv2

    cv2.setNumThreads(1)


def card_basics(cfg: TrainConfig, bb) -> dict:
    """The model card fields that come straight from the training settings and the backbone."""
    return {
        "name": cfg.name,
        "backbone": cfg.backbone,
        "input_size": cfg.input_size,
        "mean": bb.mean,
        "std": bb.std,
        "crop_scale": cfg.crop_scale,
        "crop_offset_y": cfg.crop_offset_y,
        "crop_inside": cfg.crop_inside,
        "tta": cfg.tta,
        "view_scales": list(cfg.view_scales),
    }


def lineage(cfg: TrainConfig) -> dict:
    """The training record of the ``init_from`` model (name, SHA-256, its own training), so a card
    trained in stages, or calibrated here after training elsewhere, names every step before it."""
    out: dict = {}
    if cfg.teacher:
        from ..models.checkpoint import find_verified_card

        _, teacher, _ = find_verified_card(cfg.teacher)
        out["teacher"] = {
            "name": teacher.name,
            "sha256": teacher.sha256,
            "view_scales": list(teacher.views),
            "weight": cfg.teacher_weight,
        }
    if not cfg.init_from:
        return out
    card = ModelCard.read(cfg.init_from)
    return out | {"init": {"name": card.name, "sha256": card.sha256, "training": card.training}}


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


def _samples(df) -> list[Sample]:
    return [Sample(p, int(y), "fake" if y else "real") for p, y in zip(df["path"], df["label"])]


def _calibrate(logits: dict, y_cal: np.ndarray, y_val: np.ndarray):
    """Fit calibration and threshold on the calibration half; measure on the held-out half (each must hold real and
    fake faces)."""
    require_both_classes(y_cal, "the calibration set", CALIBRATION_USE)
    require_both_classes(y_val, "the held-out validation set", VALIDATION_USE)
    temperature, bias = fit_platt(logits["calib"], y_cal)
    threshold = choose_threshold(y_cal, apply_calibration(logits["calib"], temperature, bias))
    metrics = {
        "validation": summarize(y_val, apply_calibration(logits["val"], temperature, bias), threshold),
        "validation_uncalibrated": summarize(y_val, sigmoid(logits["val"]), 0.5),
        "calibration": summarize(y_cal, apply_calibration(logits["calib"], temperature, bias), threshold),
    }
    check_fitted(temperature, bias, threshold, metrics)
    return temperature, bias, threshold, metrics


def recalibrate_run(
    card_path: str | Path, data: str | Path | None = None, tta: TtaMode | None = None, progress: Progress | None = None
) -> ModelCard:
    """Refit a finished run's calibration and rewrite its card.

    With the same test-time augmentation (``tta`` None or the card's), the saved validation
    logits are reused. With another one, the calibration and validation halves under ``data``
    are scored again that way first (the logits must be computed as the scanner will compute
    them). The weights, and so the card's SHA-256, are unchanged; temperature, bias, threshold
    and the metrics derived from them are recomputed with the current rule.
    """
    import pandas as pd

    card_path = Path(card_path)
    card = ModelCard.read(card_path)
    run = card_path.parent
    halves = [pd.read_csv(run / card.split[k]) for k in ("calibration_files", "validation_files")]
    for h in halves:
        h["label"] = h["label"].map({"real": 0, "fake": 1})
    tta = card.tta if tta is None else tta
    if tta != card.tta:
        if data is None:
            raise TrainingConfigError(
                f"changing test-time augmentation ({card.tta} -> {tta}) means scoring again: give data"
            )
        from ..models.checkpoint import load_model

        loaded = load_model(str(card_path))
        logits = _score_halves(
            data,
            loaded.module,
            halves[0],
            halves[1],
            card.input_size,
            card.mean,
            card.std,
            "cpu",
            tta,
            progress,
            views=(card.crop_scale, card.view_scales),
        )
        np.savez(run / "val_logits.npz", calib=logits["calib"], val=logits["val"])
    else:
        logits = dict(np.load(run / "val_logits.npz"))
    temperature, bias, threshold, metrics = _calibrate(
        logits, halves[0]["label"].to_numpy(), halves[1]["label"].to_numpy()
    )
    new = replace(
        card,
        tta=tta,
        temperature=temperature,
        logit_bias=bias,
        threshold=threshold,
        metrics={**card.metrics, **metrics},
        calibration_rule=CALIBRATION_RULE,
        threshold_rule=THRESHOLD_RULE,
    )
    new.write(card_path)
    return new


def _score_halves(
    data, model, calib_df, report_df, input_size, mean, std, device, tta, progress, views=(0.70, ())
) -> dict:
    """Logits of the calibration and held-out halves; ``views`` (crop scale, view scales) as the card's."""
    prog = ensure_progress(progress)
    logits = {}
    for name, d in (("calib", calib_df), ("val", report_df)):
        ds = CropDataset(
            data, _samples(d), input_size, mean, std, train=False, crop_scale=views[0], view_scales=views[1]
        )
        prog.start(len(ds), f"scoring {name}")
        logits[name] = predict_logits(model, ds, 64, device, progress=prog, tta=tta)
        prog.close()
    return logits


def _finish(cfg, model, bb, calib_df, report_df, history, device, progress) -> Path:
    logits = _score_halves(
        cfg.data,
        model,
        calib_df,
        report_df,
        cfg.input_size,
        bb.mean,
        bb.std,
        device,
        cfg.tta,
        progress,
        views=(cfg.crop_scale, cfg.view_scales),
    )
    y_cal, y_val = calib_df["label"].to_numpy(), report_df["label"].to_numpy()
    temperature, bias, threshold, metrics = _calibrate(logits, y_cal, y_val)
    np.savez(Path(cfg.out) / "val_logits.npz", calib=logits["calib"], val=logits["val"])
    card = ModelCard(
        **card_basics(cfg, bb),
        temperature=temperature,
        logit_bias=bias,
        calibration_rule=CALIBRATION_RULE,
        threshold=threshold,
        threshold_rule=THRESHOLD_RULE,
        training_data=cfg.training_data
        or f"{Path(cfg.data).name} ({len(calib_df) + len(report_df)} validation crops held out by group)",
        data_terms=cfg.data_terms,
        split={
            "rule": f"by group (source video), sha256(seed:group) < {cfg.val_fraction} -> validation; validation split again by group into calibration and held-out halves",
            "seed": cfg.seed if cfg.split_seed is None else cfg.split_seed,
            "calibration_files": f"{cfg.name}.calib_files.csv",
            "validation_files": f"{cfg.name}.val_files.csv",
            "n_calibration": int(len(calib_df)),
            "n_validation": int(len(report_df)),
        },
        training={k: v for k, v in asdict(cfg).items() if k not in ("limits", "data_terms", "training_data")}
        | {"history": history}
        | lineage(cfg),
        metrics=metrics,
        limits=list(cfg.limits),
        weights_file=f"{cfg.name}.pt",
        sha256="0" * 64,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    model = model.to("cpu").to(memory_format=__import__("torch").contiguous_format)
    return save_checkpoint(model, card, cfg.out, half=cfg.half)
