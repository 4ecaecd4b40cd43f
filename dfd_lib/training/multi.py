"""Training on a multi-source data spec: every source in one run, calibrated across sources.

``train_spec(cfg)`` is what ``dfd train SPEC.yaml`` runs. Per source it finds MTCNN boxes and
landmarks once (cached), draws each epoch's class-balanced mix by the spec's weights (reals
from every real source, pseudo-fakes self-blended from each of them, real fakes of every
kind), fits calibration on the pooled calibration halves with each source weighted equally,
sets the threshold so that no source's calibration reals exceed the spec's false-positive rate,
and records per-source and per-method metrics of the held-out halves in the card.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from ..models.card import ModelCard
from ..models.checkpoint import save_checkpoint
from ..progress import Progress, ensure_progress
from .breakdown import breakdown
from ..errors import DataError
from .calibrate import (
    CALIBRATION_USE,
    MULTI_CALIBRATION_RULE,
    MULTI_THRESHOLD_RULE,
    VALIDATION_USE,
    apply_calibration,
    check_fitted,
    choose_threshold_multi,
    fit_platt_sources,
    require_both_classes,
    sigmoid,
)
from .data import Sample, check_files
from .dataset import CropDataset, epoch_samples_multi
from .metrics import summarize
from .spec import DataSpec, check_roots, check_training_mix, load_spec, read_spec

__all__ = [
    "train_spec",
    "prepare_sources",
    "spec_samples",
    "spec_crops",
    "score_table",
    "listed_rows",
    "recalibrate",
    "LIST_COLUMNS",
]

log = logging.getLogger(__name__)

LIST_COLUMNS = ["source", "path", "label", "method", "group"]
BOX_COLUMNS = ["x1", "y1", "x2", "y2"]  # the MTCNN box a pipeline-framed row was cropped from (empty: as given)


def list_frame(rows: pd.DataFrame, landmarks: dict) -> pd.DataFrame:
    """A shippable file list: source, path, label, method, group and the face box each crop was cut from,
    so ``dfd eval --crops`` frames exactly the same crops on any machine."""
    out = rows.assign(label=rows["label"].map({0: "real", 1: "fake"}))[LIST_COLUMNS].copy()
    boxes = [landmarks[p][0] if p in landmarks else [None] * 4 for p in rows["abs_path"]]
    for i, col in enumerate(BOX_COLUMNS):
        out[col] = [None if (v := b[i]) is None else round(float(v), 2) for b in boxes]
    return out


def listed_boxes(spec: DataSpec, rows: pd.DataFrame) -> tuple[pd.Series, dict]:
    """(which rows can be framed as a shipped list records them, landmarks by absolute path): a row of a
    ``pipeline`` source with the box its crop was cut from at training time, or a row of a source used as given.
    Rows of a ``pipeline`` source without a box need ``prepare_sources`` to find their face."""
    framed = rows["source"].isin({s.name for s in spec.sources if s.framing == "pipeline"})
    if not set(BOX_COLUMNS) <= set(rows.columns):
        return ~framed, {}
    has_box = rows[BOX_COLUMNS].notna().all(axis=1)
    boxes = rows.loc[has_box, BOX_COLUMNS].astype(float).to_numpy()
    landmarks = {p: (np.array(b, dtype=np.float32), None) for p, b in zip(rows.loc[has_box, "abs_path"], boxes)}
    return has_box | ~framed, landmarks


def listed_rows(
    spec: DataSpec, card_path: str | Path, name: str, cache_dir: str | Path, progress: Progress | None = None
) -> tuple[pd.DataFrame, dict]:
    """A model's calibration and held-out rows as its shipped lists give them (``role`` "calib" / "val") and the
    landmarks that frame them: the boxes the lists record, or, for a ``pipeline`` row without one, the face found
    (cached in ``cache_dir``; a row without a face is left out)."""
    from .spec import table_from_lists

    folder = Path(card_path).parent
    rows = pd.concat(
        [
            table_from_lists(spec, folder / f"{name}.calib_files.csv").assign(role="calib"),
            table_from_lists(spec, folder / f"{name}.val_files.csv").assign(role="val"),
        ],
        ignore_index=True,
    )
    ok, landmarks = listed_boxes(spec, rows)
    if not ok.all():
        more, found, _ = prepare_sources(spec, cache_dir, rows=rows[~ok], progress=progress)
        landmarks |= found
        rows = pd.concat([rows[ok], more], ignore_index=True)
    return rows, landmarks


def prepare_sources(
    spec: DataSpec, cache_dir: str | Path, rows: pd.DataFrame | None = None, progress: Progress | None = None
) -> tuple[pd.DataFrame, dict, dict]:
    """(rows usable, landmarks by absolute path, {source: rows dropped for want of a face}).

    Landmarks are computed (and cached per source folder in ``cache_dir``) for every image of a
    ``pipeline``-framed source, which cannot be cropped without its box, and for the training
    reals of sources that give pseudo-fakes.
    """
    from .landmarks import compute_landmarks, read_landmarks

    table = load_spec(spec) if rows is None else rows
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    landmarks: dict = {}
    dropped: dict = {}
    keep = np.ones(len(table), dtype=bool)
    for src in spec.sources:
        m = (table["source"] == src.name).to_numpy()
        if src.framing == "pipeline":
            need = table.loc[m, "path"].tolist()
        else:
            role = table["role"] if "role" in table else pd.Series("val", index=table.index)
            need = table.loc[
                m & (table["label"] == 0).to_numpy() & (role == "train").to_numpy() & src.sbi, "path"
            ].tolist()
        if not need:
            continue
        csv = cache / f"landmarks-{src.root.name}.csv"
        compute_landmarks(src.root, need, csv, progress=progress)
        found = read_landmarks(csv)
        for rel in need:
            if found.get(rel) is not None:
                landmarks[str(src.root / rel)] = found[rel]
        if src.framing == "pipeline":
            lost = m & ~table["abs_path"].isin(landmarks).to_numpy()
            dropped[src.name] = int(lost.sum())
            keep &= ~lost
    return table[keep].reset_index(drop=True), landmarks, dropped


def spec_samples(spec: DataSpec, rows: pd.DataFrame) -> list[Sample]:
    framing = {s.name: s.framing for s in spec.sources}
    return [
        Sample(p, int(y), "fake" if y else "real", framing[s])
        for p, y, s in zip(rows["abs_path"], rows["label"], rows["source"])
    ]


def spec_crops(
    spec: DataSpec,
    rows: pd.DataFrame,
    landmarks: dict,
    size: int,
    mean,
    std,
    crop_scale: float,
    crop_offset_y: float,
    crop_inside: bool = False,
    view_scales: tuple[float, ...] = (),
) -> CropDataset:
    """``rows``' face crops for scoring (no augmentation), in row order, each source framed as the spec says (with
    ``view_scales``: each item the face framed at each of those scales)."""
    return CropDataset(
        "/",
        spec_samples(spec, rows),
        size,
        mean,
        std,
        train=False,
        landmarks=landmarks,
        crop_scale=crop_scale,
        crop_offset_y=crop_offset_y,
        crop_inside=crop_inside,
        view_scales=view_scales,
    )


def crop_loader(spec: DataSpec, rows: pd.DataFrame, card, landmarks: dict, batch_size: int = 64):
    """A loader of ``rows``' face crops framed as ``card`` says (no augmentation), in row order, for scoring."""
    import torch

    ds = spec_crops(
        spec,
        rows,
        landmarks,
        card.input_size,
        card.mean,
        card.std,
        card.crop_scale,
        card.crop_offset_y,
        card.crop_inside,
        card.view_scales,
    )
    return torch.utils.data.DataLoader(
        cast("torch.utils.data.Dataset", ds),  # map-style by duck typing; the stub wants the base class
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
    )


def score_table(
    spec: DataSpec,
    rows: pd.DataFrame,
    landmarks: dict,
    model,
    size: int,
    mean,
    std,
    crop_scale: float,
    crop_offset_y: float,
    device,
    tta: str,
    progress: Progress | None = None,
    label: str = "scoring",
    crop_inside: bool = False,
    view_scales: tuple[float, ...] = (),
) -> np.ndarray:
    """Logits for ``rows`` as crops, each source framed as its spec says (the scanner's framing)."""
    from .train import predict_logits

    ds = spec_crops(spec, rows, landmarks, size, mean, std, crop_scale, crop_offset_y, crop_inside, view_scales)
    prog = ensure_progress(progress)
    prog.start(len(ds), label)
    z = predict_logits(model, ds, 64, device, progress=prog, tta=tta)
    prog.close()
    return z


def _pools(spec: DataSpec, train_rows: pd.DataFrame, landmarks: dict) -> dict:
    pools = {}
    for src in spec.sources:
        r = train_rows[train_rows["source"] == src.name]
        reals = r.loc[r["label"] == 0, "abs_path"].tolist()
        pools[src.name] = {
            "reals": reals,
            "fakes": r.loc[r["label"] == 1, "abs_path"].tolist(),
            "sbi": [p for p in reals if p in landmarks] if src.sbi else [],
            "framing": src.framing,
            "real_weight": src.real_weight,
            "fake_weight": src.fake_weight,
        }
        log.info(
            "source %s: %d reals, %d fakes, %d pseudo-fake sources",
            src.name,
            len(reals),
            len(pools[src.name]["fakes"]),
            len(pools[src.name]["sbi"]),
        )
    return pools


SPLIT_REMEDY = (
    "each source's validation part is halved into calibration and held-out rows, so together they need real and "
    "fake faces in both halves: more groups, a larger group_fraction, or a split column that marks both"
)


def check_held_out(table: pd.DataFrame, note: str = "") -> None:
    """DataError unless the pooled calibration rows and the pooled held-out rows each hold real and fake faces (a
    source may hold one class, as a source of synthetic fakes does): a temperature and threshold fitted on one class,
    or metrics measured on one, would be meaningless or NaN."""
    for role, part, use in (
        ("calib", "the calibration set", CALIBRATION_USE),
        ("val", "the held-out validation set", VALIDATION_USE),
    ):
        rows = table[table["role"] == role]
        require_both_classes(
            rows["label"], part, use, f"{note}; {SPLIT_REMEDY}" if note else SPLIT_REMEDY, rows["source"]
        )


def check_training_rows(spec: DataSpec, train_rows: pd.DataFrame, landmarks: dict | None = None, note: str = ""):
    """DataError unless every part of a batch can be drawn from the training rows as the spec weights them: reals
    from a source with a real_weight, real fakes from one with a fake_weight (unless ``sbi_share`` is 1), pseudo-fakes
    from the reals of a source with ``sbi`` (with ``landmarks``: reals whose face was found). A part with nothing to
    draw from is left out, so the epochs would come out short and one-sided, or without a single batch."""
    note = f" ({note})" if note else ""
    has = {
        s.name: {
            "reals": train_rows.loc[(train_rows["source"] == s.name) & (train_rows["label"] == 0), "abs_path"].tolist(),
            "fakes": bool(((train_rows["source"] == s.name) & (train_rows["label"] == 1)).any()),
        }
        for s in spec.sources
    }
    reals = [s.name for s in spec.sources if s.real_weight > 0]
    if not any(has[n]["reals"] for n in reals):
        raise DataError(
            f"no training reals: the source(s) with a real_weight > 0 ({', '.join(reals)}) have no real faces in "
            f"their training part{note}, and half of every batch is real faces; nothing is trained"
        )
    fakes = [s.name for s in spec.sources if s.fake_weight > 0]
    if spec.sbi_share < 1 and not any(has[n]["fakes"] for n in fakes):
        raise DataError(
            f"no training fakes: the source(s) with a fake_weight > 0 ({', '.join(fakes) or 'none'}) have no fake "
            f"faces in their training part{note}, and sbi_share {spec.sbi_share:g} leaves {1 - spec.sbi_share:.0%} of "
            "each batch's fake half to them; nothing is trained (sbi_share: 1 trains on pseudo-fakes alone)"
        )
    makers = [s.name for s in spec.sources if s.sbi and s.real_weight > 0]
    found = [n for n in makers if any(landmarks is None or p in landmarks for p in has[n]["reals"])]
    if spec.sbi_share > 0 and not found:
        why = (
            "no face was found in any of their training reals (MTCNN)" if landmarks is not None else "no training reals"
        )
        raise DataError(
            f"no pseudo-fakes can be made: of the sources that make them ({', '.join(makers)}), {why}{note}, and "
            f"sbi_share {spec.sbi_share:g} asks for them; nothing is trained (sbi_share: 0 trains without them)"
        )


def train_spec(cfg, progress: Progress | None = None) -> Path:
    """Train on every source of the spec ``cfg.data``; returns the card's path.

    Everything that would make the run train nothing, or end in a card fitted or measured on one class, is refused
    before training starts: the spec's values, its folders and files, the training mix, and the classes of the
    calibration and held-out sets."""
    import torch

    from .train import _device, build_model, epoch_crops, fit, resolve_backbone

    spec = read_spec(cfg.data)
    check_roots(spec)
    if cfg.epochs > 0:
        check_training_mix(spec)
    table = load_spec(spec)
    for src in spec.sources:
        check_files(src.root, table.loc[table["source"] == src.name, "path"])
    if cfg.epochs > 0:
        check_training_rows(spec, table[table["role"] == "train"])
    check_held_out(table)
    device = _device(cfg.device)
    cfg, bb = resolve_backbone(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    table, landmarks, dropped = prepare_sources(spec, cfg.landmarks_csv or out / "landmarks", table, progress)
    lost = sum(dropped.values())
    note = f"{lost} picture(s) of pipeline-framed sources had no face and were left out" if lost else ""
    if cfg.epochs > 0:
        check_training_rows(spec, table[table["role"] == "train"], landmarks, note)
    check_held_out(table, note)
    for role, name in (("calib", "calib_files"), ("val", "val_files")):
        list_frame(table[table["role"] == role], landmarks).to_csv(out / f"{cfg.name}.{name}.csv", index=False)
    pools = _pools(spec, table[table["role"] == "train"], landmarks)
    model = build_model(cfg, bb, device)
    held = table[table["role"] != "train"]
    per = max(50, cfg.monitor_size // len(spec.sources))
    mon = pd.concat(
        [d.sample(n=min(len(d), per), random_state=0) for _, d in held.groupby("source")], ignore_index=True
    )
    mon_ds = spec_crops(
        spec,
        mon,
        landmarks,
        cfg.input_size,
        bb.mean,
        bb.std,
        cfg.crop_scale,
        cfg.crop_offset_y,
        cfg.crop_inside,
        cfg.view_scales,
    )

    targets = None
    if cfg.teacher:
        from ..models.checkpoint import load_model
        from .distill import teacher_targets

        teacher = load_model(cfg.teacher)
        train_rows = table[table["role"] == "train"]
        targets = teacher_targets(spec, train_rows, landmarks, teacher, out / "teacher_logits.npz", progress)

    def epoch_dataset(epoch: int, n: int) -> CropDataset:
        rng = np.random.default_rng([cfg.seed, epoch])
        samples = epoch_samples_multi(pools, n, spec.sbi_share, rng)
        return epoch_crops(cfg, bb, "/", samples, landmarks, epoch, targets)

    history = fit(cfg, model, epoch_dataset, mon_ds, mon["label"].to_numpy(), device, progress)
    return _finish(cfg, spec, model, bb, table, landmarks, dropped, history, device, progress)


def calibrate_sources(z_cal, cal: pd.DataFrame, z_val, val: pd.DataFrame, max_fpr: float):
    """(temperature, bias, threshold, metrics) fitted on the calibration rows, measured on the held-out rows."""
    y_cal, y_val = cal["label"].to_numpy(), val["label"].to_numpy()
    s_cal = cal["source"].to_numpy()
    require_both_classes(y_cal, "the calibration set", CALIBRATION_USE, sources=s_cal)
    require_both_classes(y_val, "the held-out validation set", VALIDATION_USE, sources=val["source"].to_numpy())
    temperature, bias, fit = fit_platt_sources(z_cal, y_cal, s_cal)
    p_cal = apply_calibration(z_cal, temperature, bias)
    threshold = choose_threshold_multi(y_cal, p_cal, s_cal, max_fpr)
    p_val = apply_calibration(z_val, temperature, bias)
    table = breakdown(val, p_val, threshold)
    metrics = {
        "validation": summarize(y_val, p_val, threshold),
        "validation_uncalibrated": summarize(y_val, sigmoid(z_val), 0.5),
        "calibration": summarize(y_cal, p_cal, threshold),
        "validation_by_source": table["by_source"],
        "validation_by_method": table["by_method"],
        "calibration_by_source": breakdown(cal, p_cal, threshold)["by_source"],
        "calibration_fit": fit,
    }
    check_fitted(temperature, bias, threshold, metrics)
    return temperature, bias, threshold, metrics


def _threshold_rule(spec: DataSpec) -> str:
    """The card's threshold rule, with the spec's max_fpr written in."""
    return MULTI_THRESHOLD_RULE.replace("max_fpr", f"max_fpr ({spec.max_fpr:g})")


def recalibrate(
    card_path: str | Path, spec: DataSpec, cache_dir: str | Path, progress: Progress | None = None
) -> ModelCard:
    """Fit a trained model's calibration and threshold again by today's rules on its card's own lists.

    Its weights, novelty statistics and kind head are kept. The metrics the calibration sets (every
    ``validation*`` and ``calibration*`` entry) are measured again; figures measured through the whole scan
    pipeline at the old threshold are removed, to be measured again with ``dfd eval``. The previous
    temperature, bias and threshold are recorded under ``metrics.calibration_fit.previous``.
    """
    from dataclasses import replace

    from ..models.checkpoint import load_model

    card_path = Path(card_path)
    card = ModelCard.read(card_path)
    loaded = load_model(card.name, weights_dir=card_path.parent, runtime="torch")
    rows, landmarks = listed_rows(spec, card_path, card.name, cache_dir, progress)
    cal = rows[rows["role"] == "calib"].reset_index(drop=True)
    val = rows[rows["role"] == "val"].reset_index(drop=True)
    args = (
        landmarks,
        loaded.module,
        card.input_size,
        card.mean,
        card.std,
        card.crop_scale,
        card.crop_offset_y,
        "cpu",
        card.tta,
        progress,
    )
    framing = card.crop_inside, card.view_scales
    z_cal = score_table(spec, cal, *args, "scoring calibration rows", *framing)
    z_val = score_table(spec, val, *args, "scoring held-out rows", *framing)
    temperature, bias, threshold, metrics = calibrate_sources(z_cal, cal, z_val, val, spec.max_fpr)
    metrics["calibration_fit"]["previous"] = {
        "temperature": card.temperature,
        "logit_bias": card.logit_bias,
        "threshold": card.threshold,
        "calibration_rule": card.calibration_rule,
    }
    kept = {k: v for k, v in card.metrics.items() if k != "pipeline_validation"}
    new = replace(
        card,
        temperature=temperature,
        logit_bias=bias,
        threshold=threshold,
        calibration_rule=MULTI_CALIBRATION_RULE,
        threshold_rule=_threshold_rule(spec),
        metrics=kept | metrics,
    )
    new.write(card_path)
    return new


def _finish(cfg, spec: DataSpec, model, bb, table, landmarks, dropped, history, device, progress) -> Path:
    cal, val = (
        table[table["role"] == "calib"].reset_index(drop=True),
        table[table["role"] == "val"].reset_index(drop=True),
    )
    args = (
        landmarks,
        model,
        cfg.input_size,
        bb.mean,
        bb.std,
        cfg.crop_scale,
        cfg.crop_offset_y,
        device,
        cfg.tta,
        progress,
    )
    framing = cfg.crop_inside, cfg.view_scales
    z_cal = score_table(spec, cal, *args, "scoring calibration rows", *framing)
    z_val = score_table(spec, val, *args, "scoring held-out rows", *framing)
    np.savez(Path(cfg.out) / "val_logits.npz", calib=z_cal, val=z_val)
    temperature, bias, threshold, metrics = calibrate_sources(z_cal, cal, z_val, val, spec.max_fpr)
    metrics["no_face_dropped"] = dropped
    sources_txt = "; ".join(
        f"{s.name}: {s.description or s.root.name} ({int(((table.source == s.name) & (table.role == 'train')).sum())} training images)"
        for s in spec.sources
    )
    from .train import card_basics, lineage

    card = ModelCard(
        **card_basics(cfg, bb),
        temperature=temperature,
        logit_bias=bias,
        calibration_rule=MULTI_CALIBRATION_RULE,
        threshold=threshold,
        threshold_rule=_threshold_rule(spec),
        training_data=cfg.training_data or sources_txt,
        data_terms=cfg.data_terms or " ".join(s.terms for s in spec.sources if s.terms),
        split={
            "rule": "per source as the spec says (its own train/test split, or by group hash); each source's validation "
            f"part halved by group (seed {spec.calibration_split_seed}) into calibration and held-out rows",
            "spec": spec.path.name,
            "sources": {
                s.name: {"root": s.root.name, "framing": s.framing, "validation": s.validation} for s in spec.sources
            },
            "calibration_files": f"{cfg.name}.calib_files.csv",
            "validation_files": f"{cfg.name}.val_files.csv",
            "n_calibration": int(len(cal)),
            "n_validation": int(len(val)),
        },
        training={k: v for k, v in asdict(cfg).items() if k not in ("limits", "data_terms", "training_data")}
        | {"spec": spec.raw, "history": history}
        | lineage(cfg),
        metrics=metrics,
        limits=list(cfg.limits),
        weights_file=f"{cfg.name}.pt",
        sha256="0" * 64,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    (Path(cfg.out) / "spec_used.json").write_text(json.dumps(spec.raw, indent=2))
    import torch

    model = model.to("cpu").to(memory_format=torch.contiguous_format)
    card_path = save_checkpoint(model, card, cfg.out, half=cfg.half)
    from .novelty_fit import attach_novelty

    attach_novelty(card_path, spec, table, landmarks, seed=cfg.seed, progress=progress)
    try:
        from ..models.onnx_runtime import attach_onnx

        attach_onnx(card_path)  # the scan's fast path; its scores are checked against PyTorch's on export
    except ImportError as exc:
        log.warning("no ONNX export (%s): scans of this model run on PyTorch", exc)
    return card_path
