"""`dfd train`: train, calibrate and write a model with its card."""

from __future__ import annotations

from ..progress import TqdmProgress
from .common import add_command, default_of


def register(sub) -> None:
    from ..training.config import TRAIN_MODES, TrainConfig

    def d(name: str):
        return default_of(TrainConfig, name)

    p = add_command(sub, "train", run, "train a detector (resumable)")
    p.add_argument("data", metavar="DATA", help="a data folder, or a data spec (.yaml)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, card, validation lists)")
    p.add_argument("--labels", metavar="CSV", default=d("labels"))
    p.add_argument("--name", default=d("name"))
    p.add_argument("--backbone", default=d("backbone"))
    p.add_argument(
        "--mode",
        choices=TRAIN_MODES,
        default=d("mode"),
        help="mixed: real fakes + self-blended pseudo-fakes; sbi_only: pseudo-fakes only; fakes_only: no pseudo-fakes",
    )
    p.add_argument(
        "--sbi-share",
        type=float,
        default=d("sbi_share"),
        help="mixed mode: share of the fake half made of pseudo-fakes (0.5: a quarter of all samples each)",
    )
    p.add_argument(
        "--sbi-local-share",
        type=float,
        default=d("sbi_local_share"),
        help="share of pseudo-fakes blended in one face region (mouth, eyes or lower face) instead of the whole face",
    )
    p.add_argument("--input-size", type=int, default=d("input_size"))
    p.add_argument("--epochs", type=int, default=d("epochs"), help="default %(default)s")
    p.add_argument("--samples-per-epoch", type=int, default=d("samples_per_epoch"))
    p.add_argument("--batch-size", type=int, default=d("batch_size"))
    p.add_argument("--lr", type=float, default=d("lr"))
    p.add_argument("--val-fraction", type=float, default=d("val_fraction"))
    p.add_argument("--seed", type=int, default=d("seed"))
    p.add_argument("--workers", type=int, default=d("workers"))
    p.add_argument("--device", default=d("device"), help="auto (GPU when present), cpu or cuda")
    p.add_argument("--no-pretrained", action="store_true", help="start from random weights")
    p.add_argument("--half", action="store_true", help="store weights as float16")
    p.add_argument(
        "--no-h264",
        action="store_true",
        help="degrade with JPEG where the recipe uses H.264 (a training machine without PyAV); the card records it",
    )
    p.add_argument(
        "--init-from",
        metavar="CARD",
        default=d("init_from"),
        help="start from this model card's (hash-verified) weights",
    )
    p.add_argument(
        "--landmarks",
        metavar="PATH",
        default=d("landmarks_csv"),
        help="landmark cache, computed if missing: a CSV for a folder, a folder of per-source CSVs for a spec",
    )
    p.add_argument(
        "--crop-scale", type=float, default=d("crop_scale"), help="scanner framing: crop side / MTCNN box side"
    )
    p.add_argument(
        "--view-scales",
        type=float,
        nargs="+",
        default=d("view_scales"),
        metavar="S",
        help="score each face at these crop scales and average the logits (validation, calibration and, through "
        "the card, every scan); training crops are jittered around --crop-scale whatever this says",
    )
    p.add_argument(
        "--teacher",
        metavar="CARD",
        default=d("teacher"),
        help="distil from this model (a card or a name): its logit averaged over its framings is a soft target of "
        "every training image that is not a pseudo-fake, so that one framing learns to answer as all of them do",
    )
    p.add_argument(
        "--teacher-weight",
        type=float,
        default=d("teacher_weight"),
        metavar="W",
        help="weight of the teacher's soft target against the label (default %(default)s)",
    )
    p.add_argument(
        "--crop-inside",
        action="store_true",
        help="keep each face window inside its picture (moved in from the edge, shrunk if larger than the picture) "
        "instead of filling what lies outside with black; the card records it and the scanner frames faces so",
    )
    p.add_argument(
        "--inside-share",
        type=float,
        default=d("inside_share"),
        metavar="P",
        help="share of training crops framed inside the picture, the rest padded black, so that neither framing "
        "is evidence (default: all as --crop-inside says); validation, calibration and the scanner follow --crop-inside",
    )
    p.add_argument("--weight-decay", type=float, default=d("weight_decay"))
    p.add_argument("--monitor-size", type=int, default=d("monitor_size"))
    p.add_argument("--training-data", default=d("training_data"), help="description of the data for the model card")


def run(args) -> int:
    """DATA holds real/ and fake/ (or labels.csv / --labels with path,label[,group]), split by group; or DATA is a
    multi-source data spec (.yaml: sources, framing, validation split, sampling weights; see
    weights/dfd-lite0-multi.spec.yaml), calibrated across sources with a per-source table in the card. Writes
    weights, model card and validation file lists into --out; rerun the same command to resume.
    """
    from ..training.train import TrainConfig, train

    cfg = TrainConfig(
        data=args.data,
        out=args.out,
        labels=args.labels,
        name=args.name,
        backbone=args.backbone,
        mode=args.mode,
        sbi_share=args.sbi_share,
        sbi_local_share=args.sbi_local_share,
        input_size=args.input_size,
        epochs=args.epochs,
        samples_per_epoch=args.samples_per_epoch,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        crop_scale=args.crop_scale,
        crop_inside=args.crop_inside,
        view_scales=tuple(args.view_scales),
        teacher=args.teacher,
        teacher_weight=args.teacher_weight,
        inside_share=args.inside_share,
        val_fraction=args.val_fraction,
        seed=args.seed,
        workers=args.workers,
        device=args.device,
        pretrained=not args.no_pretrained,
        half=args.half,
        h264=not args.no_h264,
        landmarks_csv=args.landmarks,
        init_from=args.init_from,
        monitor_size=args.monitor_size,
        training_data=args.training_data,
    )
    card = train(cfg, progress=TqdmProgress(unit="batch"))
    print(f"model card: {card}")
    return 0
