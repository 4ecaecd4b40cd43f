"""Evaluate a model on a labelled folder: face crops directly, or the full scan pipeline.

With ``crops=True`` each image is one face crop, framed as in training: it is resized to the
model's input size and scored (no face search). Otherwise every file goes through the scan
pipeline (faces found by MTCNN, videos aggregated at video level); files with no face are
counted in ``n_no_face`` and left out of the metrics, and unreadable files in ``n_failed``.

``self_blend=True`` (crops only) is a generalization check that needs no fake at all: the listed
real crops are scored against self-blended pseudo-fakes made from those same crops (a blending
boundary and a colour/sharpness mismatch with no particular generator's fingerprint). Both
sides are re-encoded as JPEG quality 90, so compression cannot tell them apart. Listed fakes
are ignored. Reals on which MTCNN finds no landmarks yield no pseudo-fake (``n_no_landmarks``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, MediaError, TrainingConfigError
from ..models.card import ModelCard
from ..progress import Progress, ensure_progress
from .data import load_labels
from .metrics import summarize

__all__ = ["EvalResult", "evaluate", "scored_metrics", "JSON_KEYS"]

JSON_KEYS = (
    "n",
    "n_real",
    "n_fake",
    "n_no_face",
    "auc",
    "ap",
    "eer",
    "accuracy",
    "threshold",
    "ece",
    "ece_noise_p95",
    "model",
)


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
    self_blend: bool = False,
    landmarks_csv: str | os.PathLike | None = None,
    seed: int = 0,
) -> EvalResult:
    from ..scan import Scanner

    if self_blend and not crops:
        raise TrainingConfigError("the self-blend check works on face crops: use it with crops=True (--crops)")
    df = load_labels(Path(root), Path(labels_csv) if labels_csv else None)
    if self_blend:
        return _evaluate_self_blend(
            root, df[df["label"] == 0], model, weights_dir, progress, batch_size, landmarks_csv, seed
        )
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
                    paths.append(p)
                    ys.append(y)
                    ps.append(float(s))
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
                if r.score is None:
                    raise TrainingConfigError(f"{rel}: the scanner reported a score status without a score")
                paths.append(rel)
                ys.append(int(y))
                ps.append(float(r.score))
            elif r.status == "no_face":
                n_no_face += 1
                problems.append((rel, r.status, r.message))
            else:
                problems.append((rel, r.status, r.message))
            prog.advance(1)
    prog.close()
    y_arr, p_arr = np.array(ys, dtype=int), np.array(ps, dtype=float)
    m = scored_metrics(y_arr, p_arr, card, problems, n_no_face, "crops" if crops else "pipeline")
    return EvalResult(metrics=m, labels=y_arr, scores=p_arr, paths=paths, problems=problems)


def scored_metrics(
    labels: np.ndarray, scores: np.ndarray, card: ModelCard, problems: list, n_no_face: int, mode: str
) -> dict:
    """:func:`summarize` of the scores at the card's threshold, plus what every evaluation records:
    files without a face, other failures (the rest of ``problems``), the model and the mode."""
    m = summarize(labels, scores, card.threshold)
    m.update(
        n_no_face=n_no_face,
        n_failed=len(problems) - n_no_face,
        model=card.name,
        model_sha256=card.sha256,
        mode=mode,
    )
    return m


def _evaluate_self_blend(root, reals, model, weights_dir, progress, batch_size, landmarks_csv, seed) -> EvalResult:
    import tempfile

    from ..media import load_image
    from ..scan import Scanner
    from .augment import jpeg_roundtrip
    from .landmarks import compute_landmarks, read_landmarks
    from .sbi import self_blend

    rels = reals["path"].tolist()
    if not rels:
        raise DataError("--self-blend makes pseudo-fakes from real crops, and none are listed (label 0 / real/)")
    scanner = Scanner(model, weights_dir=weights_dir)
    card = scanner.model.card
    with tempfile.TemporaryDirectory() as tmp:
        lm_csv = Path(landmarks_csv) if landmarks_csv else Path(tmp) / "landmarks.csv"
        compute_landmarks(root, rels, lm_csv, progress=progress)
        landmarks = read_landmarks(lm_csv)
    prog = ensure_progress(progress)
    prog.start(len(rels), "scoring reals and their self-blends")
    ys, ps, paths, problems = [], [], [], []
    n_no_lm = 0
    for s in range(0, len(rels), batch_size):
        items: list[tuple[str, int, np.ndarray]] = []
        for i, rel in enumerate(rels[s : s + batch_size], start=s):
            try:
                img = load_image(Path(root) / rel)
            except (MediaError, OSError) as exc:
                problems.append((rel, getattr(exc, "status", "unreadable"), str(exc)))
                continue
            items.append((rel, 0, jpeg_roundtrip(img, 90)))
            lm = landmarks.get(rel)
            if lm is None:
                n_no_lm += 1
                continue
            fake, _ = self_blend(img, lm[1], np.random.default_rng([seed, i]))
            items.append((f"{rel}#self-blend", 1, jpeg_roundtrip(fake, 90)))
        if items:
            for (p, y, _), sc in zip(items, scanner.detector.predict([it[2] for it in items])):
                paths.append(p)
                ys.append(y)
                ps.append(float(sc))
        prog.advance(min(batch_size, len(rels) - s))
    prog.close()
    y_arr, p_arr = np.array(ys, dtype=int), np.array(ps, dtype=float)
    m = summarize(y_arr, p_arr, card.threshold)
    m.update(
        n_no_face=0,
        n_no_landmarks=n_no_lm,
        n_failed=len(problems),
        model=card.name,
        model_sha256=card.sha256,
        mode="crops, self-blended pseudo-fakes",
    )
    return EvalResult(metrics=m, labels=y_arr, scores=p_arr, paths=paths, problems=problems)
