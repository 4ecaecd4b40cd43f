"""`dfd scan`: score every face in files and folders, without a case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..progress import TqdmProgress
from .common import (
    add_command,
    add_model_options,
    add_sampling_options,
    fmt_score,
    print_table,
    scan_settings_from_args,
    shown,
    write_csv,
    write_json,
)

CSV_HEADERS = [
    "path",
    "sha256",
    "type",
    "status",
    "message",
    "n_faces",
    "score",
    "verdict",
    "threshold",
    "model",
    "model_sha256",
    "faces_json",
    "frames_json",
]


def register(sub) -> None:
    p = add_command(sub, "scan", run, "score faces in images and videos (no case)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (searched recursively)")
    p.add_argument(
        "--json",
        dest="json_out",
        metavar="OUT",
        help="write one JSON record per file (UTF-8; bytes of a file name that are not UTF-8 are written as \\xNN)",
    )
    p.add_argument(
        "--csv", dest="csv_out", metavar="OUT", help="write one CSV row per file (UTF-8, names as in --json)"
    )
    p.add_argument("--gradcam", metavar="DIR", help="write Grad-CAM overlays of scored faces into DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_model_options(p)
    add_sampling_options(p)


def scanner_from_args(args):
    from ..scan import Scanner

    return Scanner(args.model, weights_dir=args.weights_dir, **scan_settings_from_args(args))


def run(args) -> int:
    """Find faces in evidence files and give a calibrated P(fake) per face, file and video."""
    from ..media import sha256_file
    from PIL import Image

    scanner = scanner_from_args(args)
    results: list[dict[str, Any]] = []
    gradcam_dir = Path(args.gradcam) if args.gradcam else None
    for r in scanner.scan(args.paths, progress=TqdmProgress(disable=args.quiet)):
        rec = r.to_dict()
        if gradcam_dir and r.status == "scored":
            rec["gradcam"] = _write_gradcams(scanner, r, gradcam_dir, len(results), Image, sha256_file)
        results.append(rec)
    scanner.close()
    card = scanner.model.card
    print(f"model {card.name} (sha256 {card.sha256[:12]}...), threshold {card.threshold:.3f}")
    order = sorted(results, key=lambda d: (d["score"] is None, -(d["score"] or 0)))
    print_table(
        ["score", "verdict", "status", "faces", "type", "file", "message"],
        [
            (
                fmt_score(d["score"]),
                d["verdict"] or "-",
                d["status"],
                len(d["faces"]),
                d["type"],
                d["path"],
                d["message"],
            )
            for d in order
        ],
    )
    counts: dict[str, int] = {}
    for d in results:
        counts[d["status"]] = counts.get(d["status"], 0) + 1
    print("files: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if args.json_out:
        write_json(args.json_out, results)
    if args.csv_out:
        write_csv(
            args.csv_out,
            CSV_HEADERS,
            (
                [
                    d["path"],
                    d["sha256"],
                    d["type"],
                    d["status"],
                    d["message"],
                    len(d["faces"]),
                    d["score"],
                    d["verdict"],
                    d["threshold"],
                    d["model"],
                    d["model_sha256"],
                    json.dumps(d["faces"]),
                    json.dumps(d["frames"]),
                ]
                for d in results
            ),
        )
    return 0


def _write_gradcams(scanner, r, out_dir: Path, n: int, Image, sha256_file) -> list[dict]:
    """Overlays for every face of an image, or the faces of a video's most suspicious frame."""
    faces = list(r.faces)
    if r.media_type == "video":
        top = r.most_suspicious_face
        faces = [f for f in faces if f.frame_index == top.frame_index]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for f in faces:
        e = scanner.explain(f)
        frame = "" if f.frame_index is None else f"_frame{f.frame_index}"
        name = f"{n:04d}_{Path(r.path).stem[:40]}{frame}_face{f.face_index}_gradcam.png"
        path = out_dir / name
        Image.fromarray(e.overlay).save(path)
        written.append(
            {
                "face_index": f.face_index,
                "frame_index": f.frame_index,
                "file": shown(str(path)),
                "sha256": sha256_file(path),
            }
        )
    return written
