"""``dfd forensics FILE...``: classic forensics and provenance checks with a table, JSON and PNG maps."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import DfdError
from ..fileio import atomic_write
from .common import add_command, shown, terminal_safe

__all__ = ["register", "run"]

_SUMMARY_WIDTH = 100


def register(sub) -> None:
    from ..forensics import DEFAULT_MAX_PIXELS, analysis_names

    p = add_command(sub, "forensics", run, "ELA, noise, spectrum, JPEG structure, metadata, C2PA and video-tag checks")
    p.add_argument("files", nargs="+", metavar="FILE", help="evidence files or folders (searched recursively)")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write one JSON record per file to OUT")
    p.add_argument("--maps", metavar="DIR", help="write visual maps as PNG files into DIR (SHA-256 listed in the JSON)")
    p.add_argument(
        "--only",
        metavar="NAME,...",
        help=f"comma-separated analyses to run (default: all of {', '.join(analysis_names())})",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"downscale larger images to N pixels for ELA and noise (default {DEFAULT_MAX_PIXELS:,}); "
        "0 analyses at full resolution",
    )
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def _first_sentence(text: str) -> str:
    head = text.split(". ", 1)[0].rstrip(".") + "."
    return head if len(head) <= _SUMMARY_WIDTH else head[: _SUMMARY_WIDTH - 3] + "..."


def _frames(results: list[dict]) -> str:
    """What the table's file line says of a picture of several frames or pages, e.g. ", 3 frames: frame index 0
    analysed" (see forensics.base.with_frame_note); "" for any other file."""
    said = [r["metrics"] for r in results if "frame_count" in r["metrics"]]
    if not said:
        return ""
    unit = said[0]["frame_unit"]
    read = next((m["frame_index"] for m in said if m["frame_index"] is not None), None)
    return f", {said[0]['frame_count']} {unit}s" + ("" if read is None else f": {unit} index {read} analysed")


def _print_table(record: dict, out) -> None:
    sha = (record["sha256"] or "")[:12] or "unreadable"
    what = f"{record['mime'] or 'unknown type'}{_frames(record['results'])}"
    print(f"\n{terminal_safe(record['path'])}  (sha256 {sha}, {what})", file=out)
    width = max([len(",".join(r["flags"])) for r in record["results"]] + [5]) + 2
    print(f"  {'analysis':<11}{'status':<15}{'flags':<{width}}summary", file=out)
    for r in record["results"]:
        flags = ",".join(r["flags"]) or "-"
        print(f"  {r['analysis']:<11}{r['status']:<15}{flags:<{width}}{_first_sentence(r['summary'])}", file=out)


def _write_map(image, maps_dir: Path, stem: str, analysis: str) -> dict:
    from PIL import Image

    from ..media import sha256_file

    maps_dir.mkdir(parents=True, exist_ok=True)
    target = maps_dir / f"{stem}.{analysis}.png"
    Image.fromarray(image).save(target, format="PNG", compress_level=3)
    return {
        "path": shown(str(target)),
        "sha256": sha256_file(target),
        "width": image.shape[1],
        "height": image.shape[0],
    }


def _analyse_file(path: Path, names, max_pixels, maps_dir: Path | None) -> dict:
    from ..forensics import ForensicResult, analysis_names, run_all
    from ..media import SniffKind, sha256_file, sniff

    if path.exists() and not path.is_file():  # never open a pipe or device (it may block forever)
        msg = "not a regular file (a folder that cannot be read, a device, a pipe or a socket)"
        results = [ForensicResult.error(n, msg, error_type="unreadable") for n in (names or analysis_names())]
        return {
            "path": shown(str(path)),
            "sha256": None,
            "size": None,
            "kind": None,
            "mime": None,
            "results": [r.to_dict() for r in results],
        }
    sha: str | None
    kind: SniffKind | None
    mime: str | None
    size: int | None
    try:
        sha = sha256_file(path)
        kind, mime, _ = sniff(path)
        size = path.stat().st_size
    except OSError:
        sha = kind = mime = size = None
    results = run_all(path, names=names, max_pixels=max_pixels or None)
    records = []
    for r in results:
        d = r.to_dict()
        if maps_dir is not None and r.map_image is not None:
            stem = f"{path.stem}.{sha[:12]}" if sha else path.stem
            d["map"] = _write_map(r.map_image, maps_dir, stem, r.analysis)
        records.append(d)
    return {"path": shown(str(path)), "sha256": sha, "size": size, "kind": kind, "mime": mime, "results": records}


def _write_json(target: Path, payload: dict) -> None:
    atomic_write(target, json.dumps(payload, indent=2, ensure_ascii=False))


def run(args: argparse.Namespace) -> int:
    """Run classic image forensics and provenance analyses on evidence files. Results are leads for an examiner, not
    verdicts; each summary states what the analysis cannot show.
    """
    from .. import __version__
    from ..forensics import analysis_names, get_analysis
    from ..media import iter_evidence_files
    from ..progress import TqdmProgress

    names = None
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        for n in names:
            get_analysis(n)  # RegistryError (a DfdError) names the known analyses
    if args.max_pixels is not None and args.max_pixels < 0:
        raise DfdError("--max-pixels must be 0 (no bound) or a positive number of pixels")
    files = list(iter_evidence_files(args.files))
    if not files:
        raise DfdError("no files to analyse in the given paths")
    maps_dir = Path(args.maps) if args.maps else None

    progress = TqdmProgress(disable=args.no_progress or len(files) < 2)
    progress.start(len(files), desc="forensics")
    records = []
    try:
        for path in files:
            records.append(_analyse_file(path, names, args.max_pixels, maps_dir))
            _print_table(records[-1], sys.stdout)
            progress.advance(1, file=terminal_safe(path.name))
    finally:
        progress.close()
    if args.json_out:
        _write_json(
            Path(args.json_out),
            {
                "dfd_version": __version__,
                "command": "forensics",
                "analyses": names or analysis_names(),
                "max_pixels": args.max_pixels or None,
                "files": records,
            },
        )
        print(f"\nwrote {args.json_out}", file=sys.stdout)
    return 0
