"""`dfd eval`: measure a model on a labelled folder (crops or full pipeline)."""

from __future__ import annotations

import math

from typing import Any

from ..errors import DataError
from ..progress import TqdmProgress
from .common import add_command, add_model_options, default_of, print_table, write_csv, write_json


def register(sub) -> None:
    from ..training.evaluate import evaluate

    p = add_command(sub, "eval", run, "evaluate a model on a labelled folder")
    p.add_argument("dir", metavar="DIR", help="a labelled folder, or a data spec (.yaml)")
    p.add_argument("--crops", action="store_true", help="images are face crops: no face search")
    p.add_argument("--labels", metavar="CSV", help="path,label[,group] rows relative to DIR; only these files count")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the metrics as JSON")
    p.add_argument("--plots", metavar="DIR", help="write ROC, histogram and reliability PNGs")
    p.add_argument("--scores", metavar="CSV", help="write per-file scores")
    p.add_argument(
        "--self-blend",
        action="store_true",
        help="generalization check (with --crops): score the listed real crops against self-blended "
        "pseudo-fakes made from them; listed fakes are ignored",
    )
    p.add_argument(
        "--landmarks",
        metavar="PATH",
        help="landmark cache (computed if missing): a CSV for --self-blend, a folder for a data spec",
    )
    p.add_argument(
        "--data-root",
        metavar="DIR",
        help="with a data spec: the folder holding its data sets (default: as the spec says)",
    )
    p.add_argument(
        "--seed", type=int, default=default_of(evaluate, "seed"), help="seed of the pseudo-fakes (--self-blend)"
    )
    p.add_argument("--quiet", action="store_true")
    add_model_options(p)


def _shared_options(args) -> dict[str, Any]:
    """The keywords a folder and a data spec are evaluated with alike."""
    return dict(
        crops=args.crops,
        model=args.model,
        weights_dir=args.weights_dir,
        progress=TqdmProgress(disable=args.quiet, unit="file"),
    )


def run(args) -> int:
    """DIR holds real/ and fake/ (or --labels lists path,label relative to DIR). With --crops each image is already one
    face crop; without it the full scan pipeline runs and videos are scored at video level. DIR may also be a
    multi-source data spec (.yaml): --labels is then a file list with a source column (as shipped beside the
    weights; default: the spec's held-out rows) and a per-source, per-method table is printed.
    """
    if args.dir.endswith((".yaml", ".yml")):
        return _run_spec(args)
    from ..training.evaluate import evaluate

    r = evaluate(
        args.dir,
        args.labels,
        **_shared_options(args),
        self_blend=args.self_blend,
        landmarks_csv=args.landmarks,
        seed=args.seed,
    )
    m = r.metrics
    if not m.get("n"):
        raise DataError("no file was scored: nothing to evaluate (see the failures above, or the labels given)")
    rows = [
        (k, (f"{m[k]:.4f}" if math.isfinite(m[k]) else "-") if isinstance(m[k], float) else m[k])
        for k in (
            "model",
            "mode",
            "n",
            "n_real",
            "n_fake",
            "n_no_face",
            "n_failed",
            "auc",
            "ap",
            "eer",
            "threshold",
            "accuracy",
            "tpr",
            "fpr",
            "ece",
            "ece_noise_p95",
        )
        if k in m
    ]
    if "n_no_landmarks" in m:
        rows.insert(6, ("n_no_landmarks", m["n_no_landmarks"]))
    print_table(["metric", "value"], rows)
    if not (m.get("n_real") and m.get("n_fake")):
        print(
            f"note: ranking and error rates between the classes (AUC, AP, EER) need real and fake files; here "
            f"{m.get('n_real', 0)} real and {m.get('n_fake', 0)} fake were scored, so they are shown as '-' (null in "
            "the JSON)"
        )
    return _outputs(args, r, r.json_record())


def _run_spec(args) -> int:
    from ..errors import TrainingConfigError
    from ..training.breakdown import format_table
    from ..training.evaluate_spec import evaluate_spec

    if args.self_blend:
        raise TrainingConfigError("--self-blend takes a folder of crops, not a data spec")
    r = evaluate_spec(
        args.dir, args.labels, **_shared_options(args), landmarks_dir=args.landmarks, data_root=args.data_root
    )
    m = r.metrics
    print(
        f"model {m['model']}, {m['mode']}, threshold {m['threshold']:.4f}; {m['n']} scored, "
        f"{m['n_no_face']} without a face, {m['n_failed']} failed"
    )
    print(format_table({"overall": m, "by_source": m["by_source"], "by_method": m["by_method"]}))
    extra = [
        (k, v)
        for k in ("outside_share", "inconclusive_share")
        for v in [{s: d.get(k) for s, d in m["by_source"].items() if d.get(k) is not None}]
        if v
    ]
    for k, v in extra:
        print(f"{k.replace('_', ' ')}: " + ", ".join(f"{s} {x:.3f}" for s, x in v.items()))
    return _outputs(args, r, m)


def _outputs(args, r, record: dict) -> int:
    """Problems (first 20), then the JSON record, per-file scores and plots the options ask for."""
    for path, status, msg in r.problems[:20]:
        print(f"  {status}: {path}: {msg}")
    if len(r.problems) > 20:
        print(f"  ... and {len(r.problems) - 20} more")
    if args.json_out:
        write_json(args.json_out, record)
    if args.scores:
        write_csv(args.scores, ["path", "label", "score"], zip(r.paths, r.labels.tolist(), r.scores.tolist()))
    if args.plots:
        from ..training.plots import write_eval_plots

        for p in write_eval_plots(r.labels, r.scores, r.metrics["threshold"], args.plots, title=r.metrics["model"]):
            print(f"wrote {p}")
    return 0
