"""`dfd models`: list installed models with their cards (and cards that are invalid); export one to ONNX; fit its
"outside the model's experience" statistics or its calibration again; average the weights of several."""

from __future__ import annotations

import json

from .common import add_command, print_table


def register(sub) -> None:
    p = add_command(sub, "models", run, "list installed models and their model cards")
    p.add_argument("--weights-dir", default=None)
    p.add_argument("--json", action="store_true", help="print the full cards as JSON")
    p.add_argument(
        "--export-onnx",
        metavar="CARD",
        default=None,
        help="export the model of this card (.json) to ONNX beside it, check it reproduces PyTorch's "
        "scores, and name it with its SHA-256 in the card (scans then use ONNX Runtime)",
    )
    p.add_argument(
        "--refit-novelty",
        metavar="CARD",
        default=None,
        help="fit the 'outside the model's experience' statistics of this card's model again (training rows of "
        "--spec, its calibration and held-out lists), record them in the card and export its ONNX file again",
    )
    p.add_argument(
        "--recalibrate",
        metavar="CARD",
        default=None,
        help="fit the calibration (temperature, bias) and threshold of this card's model again by today's rules on "
        "its calibration list, measure its held-out list again and record both in the card (weights unchanged)",
    )
    p.add_argument(
        "--average",
        nargs="+",
        metavar="CARD[=SHARE]",
        default=None,
        help="write the weighted mean of these models' weights (fine-tuned from the same start) to --out, as a "
        "model that is not calibrated yet: calibrate and measure it with dfd train SPEC --init-from OUT/NAME.json "
        "--epochs 0",
    )
    p.add_argument(
        "--view-scales",
        type=float,
        nargs="+",
        metavar="S",
        default=None,
        help="with --recalibrate: score each face at these crop scales, logits averaged, from now on (the card's "
        "views); the calibration, the novelty statistics and the kind head are all fitted again on those scores",
    )
    p.add_argument("--out", default=None, help="folder for the averaged model (with --average)")
    p.add_argument("--name", default=None, help="name of the averaged model (with --average; default: the first's)")
    p.add_argument(
        "--spec", default=None, help="the data spec the model was trained on (with --refit-novelty, --recalibrate)"
    )
    p.add_argument(
        "--landmarks-dir",
        default=None,
        help="where face boxes are cached for rows that need a face search (with --refit-novelty, --recalibrate)",
    )


def run(args) -> int:
    from ..errors import DfdError
    from ..models import ModelCard, list_cards

    if args.view_scales and not args.recalibrate:
        from ..errors import ModelCardError

        raise ModelCardError("--view-scales goes with --recalibrate CARD (new views mean new scores to calibrate)")
    if args.refit_novelty or args.recalibrate:
        return _refit(args)
    if args.average:
        return _average(args)
    if args.export_onnx:
        from ..models.onnx_runtime import attach_onnx

        out = attach_onnx(args.export_onnx)
        print(f"wrote {out}; the card now names it with its SHA-256")
        return 0
    cards = list_cards(args.weights_dir)
    if args.json:
        print(
            json.dumps(
                [c.to_dict() if isinstance(c, ModelCard) else {"card": str(p), "error": str(c)} for p, c in cards],
                indent=2,
            )
        )
        return 0
    rows: list[tuple[str | int, ...]] = []
    for path, c in cards:
        if isinstance(c, DfdError):
            rows.append(("INVALID", "", "", "", "", "", str(c)))
            continue
        v = c.metrics.get("validation", {})
        rows.append(
            (
                c.name + (" (default)" if c.default else ""),
                c.backbone,
                c.input_size,
                f"{v['auc']:.3f}" if "auc" in v else "-",
                _weakest_source(c.metrics),
                f"{v['ece']:.3f}" if "ece" in v else "-",
                f"{c.threshold:.3f}",
                c.training_data[:60],
            )
        )
    if not rows:
        print("no model cards found")
        return 1
    headers = ["model", "backbone", "px", "pooled AUC", "weakest source", "ECE", "threshold", "training data"]
    print_table(headers, rows)
    print(
        "pooled AUC and ECE: the card's held-out face crops of all its sources together; weakest source: the lowest "
        "held-out AUC of one source ('-': the card measured one source only). Per-source and whole-pipeline "
        "figures: dfd models --json, weights/README.md."
    )
    return 0


def _weakest_source(metrics: dict) -> str:
    """'rff 0.740': the held-out source the card ranks worst, or '-' where it records no per-source table."""
    by_source = metrics.get("validation_by_source") or {}
    aucs = {k: v["auc"] for k, v in by_source.items() if isinstance(v, dict) and isinstance(v.get("auc"), float)}
    if len(aucs) < 2:
        return "-"
    name = min(aucs, key=lambda k: aucs[k])
    return f"{name} {aucs[name]:.3f}"


def _average(args) -> int:
    from ..errors import ModelCardError
    from ..models import ModelCard
    from ..models.average import average_models, parse_share

    if not args.out:
        raise ModelCardError("--average needs --out (a folder for the averaged model)")
    card_path = average_models([parse_share(a) for a in args.average], args.out, args.name)
    card = ModelCard.read(card_path)
    shares = ", ".join(f"{r['name']} {r['sha256'][:12]} x {r['share']:.3f}" for r in card.training["weight_average"])
    print(f"wrote {card_path} ({shares}); not calibrated: run dfd train SPEC --init-from {card_path} --epochs 0")
    return 0


def _refit(args) -> int:
    import tempfile

    from ..errors import DataSpecError
    from ..progress import TqdmProgress
    from ..training.spec import read_spec

    flag = "--refit-novelty" if args.refit_novelty else "--recalibrate"
    if not args.spec:
        raise DataSpecError(f"{flag} needs --spec (the data spec the model was trained on)")
    spec = read_spec(args.spec)
    with tempfile.TemporaryDirectory() as tmp:
        if args.recalibrate:
            from ..training.multi import recalibrate

            if args.view_scales:
                from ..training.novelty_fit import move_to_views

                card = move_to_views(
                    args.recalibrate, spec, args.view_scales, args.landmarks_dir or tmp, TqdmProgress()
                )
            else:
                card = recalibrate(args.recalibrate, spec, args.landmarks_dir or tmp, TqdmProgress())
            fit = card.metrics["calibration_fit"]
            before = fit["previous"]
            ece = ", ".join(f"{s} {v['ece']:.3f}" for s, v in card.metrics["validation_by_source"].items())
            print(
                f"{card.name}: temperature {before['temperature']:.3f} -> {card.temperature:.3f}, bias "
                f"{before['logit_bias']:+.3f} -> {card.logit_bias:+.3f}, threshold {before['threshold']:.3f} -> "
                f"{card.threshold:.3f} (source weight power {fit['source_weight_power']:g}); held-out ECE: {ece}. "
                f"Figures through the whole pipeline were removed from the card: measure them again with dfd eval"
            )
            if not args.view_scales:
                return 0
        else:
            from ..training.novelty_fit import refit_novelty

            card = refit_novelty(args.refit_novelty, spec, args.landmarks_dir or tmp, TqdmProgress())
    nov = card.novelty
    rates = ", ".join(f"{s} {v:.1%}" for s, v in nov["flagged_share_validation_by_source"].items())
    print(
        f"{card.name}: novelty threshold {nov['threshold']:.2f} on {nov['features']}; held-out faces flagged: {rates}"
    )
    if card.kind_head.get("validation_held_out_fakes"):
        named = ", ".join(f"{k} {v['named_right']:.0%}" for k, v in card.kind_head["validation_held_out_fakes"].items())
        print(f"{card.name}: kind head refitted; held-out fakes named right: {named}")
    return 0
