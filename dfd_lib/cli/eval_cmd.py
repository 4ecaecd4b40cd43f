"""`dfd eval`: measure a model on a labelled folder (crops or full pipeline)."""
from __future__ import annotations

from ..progress import TqdmProgress
from .common import add_model_options, print_table, write_csv, write_json


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model on a labelled folder", description=(
        "DIR holds real/ and fake/ (or --labels lists path,label relative to DIR). With --crops each image is "
        "already one face crop; without it the full scan pipeline runs and videos are scored at video level."))
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--crops", action="store_true", help="images are face crops: no face search")
    p.add_argument("--labels", metavar="CSV", help="path,label[,group] rows relative to DIR; only these files count")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the metrics as JSON")
    p.add_argument("--plots", metavar="DIR", help="write ROC, histogram and reliability PNGs")
    p.add_argument("--scores", metavar="CSV", help="write per-file scores")
    p.add_argument("--self-blend", action="store_true",
                   help="generalization check (with --crops): score the listed real crops against self-blended "
                        "pseudo-fakes made from them; listed fakes are ignored")
    p.add_argument("--landmarks", metavar="CSV", help="landmark cache for --self-blend (computed if missing)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pseudo-fakes (--self-blend)")
    p.add_argument("--quiet", action="store_true")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..training.evaluate import evaluate

    r = evaluate(args.dir, args.labels, crops=args.crops, model=args.model, weights_dir=args.weights_dir,
                 progress=TqdmProgress(disable=args.quiet, unit="file"), self_blend=args.self_blend,
                 landmarks_csv=args.landmarks, seed=args.seed)
    m = r.metrics
    rows = [(k, f"{m[k]:.4f}" if isinstance(m[k], float) else m[k]) for k in
            ("model", "mode", "n", "n_real", "n_fake", "n_no_face", "n_failed", "auc", "ap", "eer", "threshold", "accuracy", "tpr", "fpr", "ece")]
    if "n_no_landmarks" in m:
        rows.insert(6, ("n_no_landmarks", m["n_no_landmarks"]))
    print_table(["metric", "value"], rows)
    for path, status, msg in r.problems[:20]:
        print(f"  {status}: {path}: {msg}")
    if len(r.problems) > 20:
        print(f"  ... and {len(r.problems) - 20} more")
    if args.json_out:
        write_json(args.json_out, r.json_record())
    if args.scores:
        write_csv(args.scores, ["path", "label", "score"], zip(r.paths, r.labels.tolist(), r.scores.tolist()))
    if args.plots:
        from ..training.plots import write_eval_plots

        for p in write_eval_plots(r.labels, r.scores, m["threshold"], args.plots, title=m["model"]):
            print(f"wrote {p}")
    return 0
