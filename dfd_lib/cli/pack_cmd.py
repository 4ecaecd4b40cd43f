"""`dfd pack`: a data spec's training rows, made small enough to carry to a GPU machine."""

from __future__ import annotations

from ..errors import DataError
from ..progress import TqdmProgress
from .common import add_command, default_of


def register(sub) -> None:
    from ..training.pack import pack_spec

    def d(name: str):
        return default_of(pack_spec, name)

    p = add_command(sub, "pack", run, "pack a data spec's training rows small (for training on another machine)")
    p.add_argument("spec", metavar="SPEC", help="a multi-source data spec (.yaml)")
    p.add_argument("--out", required=True, help="a new, empty folder for the pack")
    p.add_argument(
        "--landmarks",
        metavar="DIR",
        help="landmark cache of the spec (computed where missing); default: OUT-landmarks beside the pack",
    )
    p.add_argument(
        "--limit",
        metavar="SOURCE=N",
        action="append",
        default=[],
        help="keep about N training rows of SOURCE, drawn by whole groups (repeatable)",
    )
    p.add_argument("--side", type=int, default=d("side"), help="longest side of a packed image (px)")
    p.add_argument("--quality", type=int, default=d("quality"), help="quality of the packed images (JPEG or WebP)")
    p.add_argument("--format", dest="fmt", choices=["jpeg", "webp"], default=d("fmt"), help="image format of the pack")
    p.add_argument(
        "--monitor", type=int, default=d("monitor"), help="validation rows per source for the per-epoch monitor"
    )
    p.add_argument("--seed", type=int, default=d("seed"))


def _limits(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, sep, n = item.partition("=")
        if not sep or not n.strip().isdigit():
            raise DataError(f"--limit {item!r}: write SOURCE=N, for example dfdc=6000")
        out[name.strip()] = int(n)
    return out


def run(args) -> int:
    """Writes OUT/spec.yaml (train on it with `dfd train OUT/spec.yaml`), one folder per source, the landmarks
    in the packed images' coordinates and OUT/pack.json (every packed file's SHA-256 beside its original's)."""
    from ..training.pack import pack_spec
    from ..training.spec import read_spec

    spec = read_spec(args.spec)
    landmarks = args.landmarks or f"{str(args.out).rstrip('/')}-landmarks"
    out = pack_spec(
        spec,
        args.out,
        landmarks,
        limits=_limits(args.limit),
        side=args.side,
        quality=args.quality,
        fmt=args.fmt,
        monitor=args.monitor,
        seed=args.seed,
        progress=TqdmProgress(unit="file"),
    )
    print(f"pack spec: {out}")
    return 0
