"""`dfd models`: list installed models with their cards (and cards that are invalid); export one to ONNX."""

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


def run(args) -> int:
    from ..errors import DfdError
    from ..models import ModelCard, list_cards

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
                f"{v['ece']:.3f}" if "ece" in v else "-",
                f"{c.threshold:.3f}",
                c.training_data[:60],
            )
        )
    if not rows:
        print("no model cards found")
        return 1
    print_table(["model", "backbone", "px", "val AUC", "ECE", "threshold", "training data"], rows)
    return 0
