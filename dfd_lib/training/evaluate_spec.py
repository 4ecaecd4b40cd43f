"""Evaluate a model on a multi-source data spec: one table per source and per manipulation method.

``evaluate_spec(spec, labels)`` scores the rows of a file list (``source,path,label,...``, as
shipped beside the weights) resolved against the spec's roots. With ``crops=True`` each image
is framed as its source says (``as_given`` crops resized; ``pipeline`` sources cut from their
MTCNN box with the card's framing), which reproduces the card's numbers. With ``crops=False``
every image goes through the full scan pipeline (face search, padded retry, framing, verdict):
what an investigator gets. Both report per source the share of faces outside the model's
experience and, in pipeline mode, the files without a face and the inconclusive verdicts.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..progress import Progress, ensure_progress
from .breakdown import breakdown
from .evaluate import EvalResult, scored_metrics
from .spec import load_spec, read_spec, table_from_lists

__all__ = ["evaluate_spec"]


def _rows(spec, labels_csv, role: str) -> pd.DataFrame:
    if labels_csv:
        return table_from_lists(spec, labels_csv).reset_index(drop=True)
    t = load_spec(spec)
    return t[t["role"] == role].reset_index(drop=True)


def evaluate_spec(
    spec_path: str | os.PathLike,
    labels_csv: str | os.PathLike | None = None,
    crops: bool = False,
    model: str | None = None,
    weights_dir: str | os.PathLike | None = None,
    landmarks_dir: str | os.PathLike | None = None,
    role: str = "val",
    data_root: str | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    from ..scan import Scanner

    spec = read_spec(Path(spec_path), data_root)
    rows = _rows(spec, labels_csv, role)
    scanner = Scanner(model, weights_dir=weights_dir)
    card = scanner.model.card
    problems: list[tuple[str, str, str]] = []
    if crops:
        scores, novelty, rows = _score_crops(spec, rows, scanner, landmarks_dir, problems, progress)
        nov_model = scanner.model.novelty  # never None when novelty scores came back
        outside = None if novelty is None or nov_model is None else novelty > nov_model.threshold
        verdicts = None
    else:
        scores, outside, verdicts, rows = _score_pipeline(rows, scanner, problems, progress)
    y = rows["label"].to_numpy().astype(int)
    table = breakdown(rows, scores, card.threshold)
    for src, d in table["by_source"].items():
        sel = (rows["source"] == src).to_numpy()
        d["n_problems"] = sum(1 for p in problems if p[0].startswith(f"{src}/"))
        if outside is not None:
            d["outside_share"] = float(outside[sel].mean()) if sel.any() else None
        if verdicts is not None:
            d["inconclusive_share"] = float((verdicts[sel] == "inconclusive").mean()) if sel.any() else None
    n_no_face = sum(1 for p in problems if p[1] == "no_face")
    m = scored_metrics(y, scores, card, problems, n_no_face, "crops" if crops else "pipeline")
    m.update(by_source=table["by_source"], by_method=table["by_method"], spec=Path(spec_path).name)
    if outside is not None:
        m["outside_share"] = float(outside.mean()) if len(outside) else None
    paths = [f"{s}/{p}" for s, p in zip(rows["source"], rows["path"])]
    return EvalResult(metrics=m, labels=y, scores=np.asarray(scores, dtype=float), paths=paths, problems=problems)


def _score_crops(spec, rows, scanner, landmarks_dir, problems, progress):
    import torch

    from ..models.tta import channels_last, forward_heads
    from .multi import crop_loader, prepare_sources

    from .multi import BOX_COLUMNS, listed_boxes

    if set(BOX_COLUMNS) <= set(rows.columns) and rows[BOX_COLUMNS].notna().all(axis=1).any():
        # The list records the box each crop was cut from at training time: use it (exact reproduction).
        ok, landmarks = listed_boxes(spec, rows)
        usable = rows[ok].reset_index(drop=True)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            usable, landmarks, _ = prepare_sources(
                spec, landmarks_dir or tmp, rows=rows.assign(role="val"), progress=progress
            )
    lost = set(zip(rows["source"], rows["path"])) - set(zip(usable["source"], usable["path"]))
    problems += [(f"{s}/{p}", "no_face", "MTCNN found no face to frame the crop") for s, p in sorted(lost)]
    c = scanner.model.card
    loader = crop_loader(spec, usable, c, landmarks)
    prog = ensure_progress(progress)
    prog.start(len(loader.dataset), "scoring crops")
    zs, nov = [], []
    model = scanner.model
    blocks = model.novelty.blocks if model.novelty is not None else ()
    with torch.inference_mode():
        for x, _ in loader:
            z, f, st = forward_heads(model.module, channels_last(x), c.tta, blocks)
            zs.append(z.numpy())
            if model.novelty is not None:
                nov.append(model.novelty.score((st if blocks else f).numpy()))
            prog.advance(len(x))
    prog.close()
    scores = scanner.detector.calibrate(np.concatenate(zs)) if zs else np.zeros(0)
    novelty = np.concatenate(nov) if nov else None
    return scores, novelty, usable.reset_index(drop=True)


def _score_pipeline(rows, scanner, problems, progress):
    prog = ensure_progress(progress)
    prog.start(len(rows), "scanning")
    keep, scores, outside, verdicts = [], [], [], []
    for i, (src, rel, path) in enumerate(zip(rows["source"], rows["path"], rows["abs_path"])):
        r = scanner.scan_file(path)
        if r.status == "scored":
            keep.append(i)
            scores.append(float(r.score))
            worst = r.most_suspicious_face
            outside.append(bool(worst is not None and worst.outside))
            verdicts.append(r.verdict)
        else:
            problems.append((f"{src}/{rel}", r.status, r.message))
        prog.advance(1)
    prog.close()
    return (
        np.array(scores, dtype=float),
        np.array(outside, dtype=bool),
        np.array(verdicts, dtype=object),
        rows.iloc[keep].reset_index(drop=True),
    )
