"""Evaluate a model on a labelled folder: face crops directly, or the full scan pipeline.

With ``crops=True`` each image is one face crop, framed as in training: it is resized to the
model's input size and scored (no face search). Otherwise every file goes through the scan
pipeline (faces found by MTCNN, videos aggregated at video level); files with no face are
counted in ``n_no_face`` and left out of the metrics, and unreadable files in ``n_failed``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MediaError
from ..progress import Progress, ensure_progress
from .data import load_labels
from .metrics import summarize

__all__ = ["EvalResult", "evaluate", "JSON_KEYS"]

JSON_KEYS = ("n", "n_real", "n_fake", "n_no_face", "auc", "ap", "eer", "accuracy", "threshold", "ece", "model")


@dataclass(frozen=True)
class EvalResult:
    metrics: dict  # summarize() output plus n_no_face, n_failed, model
    labels: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    paths: list[str] = field(repr=False)
    problems: list[tuple[str, str, str]] = field(repr=False, default_factory=list)  # (path, status, message)

    def json_record(self) -> dict:
        return {k: self.metrics[k] for k in JSON_KEYS}


def evaluate(
    root: str | os.PathLike,
    labels_csv: str | os.PathLike | None = None,
    crops: bool = False,
    model: str | None = None,
    weights_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    batch_size: int = 64,
) -> EvalResult:
    from ..scan import Scanner

    df = load_labels(root, labels_csv)
    scanner = Scanner(model, weights_dir=weights_dir)
    card = scanner.model.card
    prog = ensure_progress(progress)
    prog.start(len(df), "evaluating")
    ys, ps, paths, problems, n_no_face = [], [], [], [], 0
    root = Path(root)
    if crops:
        from ..media import load_image

        batch: list[tuple[str, int, np.ndarray]] = []

        def flush():
            if batch:
                scores = scanner.detector.predict([b[2] for b in batch])
                for (p, y, _), s in zip(batch, scores):
                    paths.append(p), ys.append(y), ps.append(float(s))
                prog.advance(len(batch))
                batch.clear()

        for rel, y in zip(df["path"], df["label"]):
            try:
                batch.append((rel, int(y), load_image(root / rel)))
            except (MediaError, OSError) as exc:
                problems.append((rel, getattr(exc, "status", "unreadable"), str(exc)))
                prog.advance(1)
            if len(batch) >= batch_size:
                flush()
        flush()
    else:
        for rel, y in zip(df["path"], df["label"]):
            r = scanner.scan_file(root / rel)
            if r.status == "scored":
                paths.append(rel), ys.append(int(y)), ps.append(float(r.score))
            elif r.status == "no_face":
                n_no_face += 1
                problems.append((rel, r.status, r.message))
            else:
                problems.append((rel, r.status, r.message))
            prog.advance(1)
    prog.close()
    y_arr, p_arr = np.array(ys, dtype=int), np.array(ps, dtype=float)
    m = summarize(y_arr, p_arr, card.threshold)
    m.update(n_no_face=n_no_face, n_failed=len(problems) - n_no_face, model=card.name, model_sha256=card.sha256,
             mode="crops" if crops else "pipeline")
    return EvalResult(metrics=m, labels=y_arr, scores=p_arr, paths=paths, problems=problems)
