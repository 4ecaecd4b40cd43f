"""False "fake" verdicts on real faces through the video path, beside the same faces scanned as stills.

No real high-resolution video is available here, so this is a proxy: each real face of the shipped
validation list (never used in training or calibration) becomes a 1080p 30 fps H.264 clip of a few
seconds in which the face crop, enlarged to an interview-like size, drifts and zooms slowly over a
still scene with sensor-like noise. The clip then goes through ``Scanner.scan_file`` (frame sampling,
face tracking, per-frame scores, the video aggregate, the verdict rule) and the crop itself through
the photo path. The difference between the two false-positive rates is what the video path adds on
real faces: codec, resampling, tracking crops and the aggregate over frames.

With ``--fakes N`` as many held-out fakes per source become clips as well, and a second table compares
ways of turning per-frame scores into the video's score (the shipped top-quartile mean, the mean, the
median, ...): false positives on the real clips and fakes caught at the card's threshold, and AUC, all from
the frame scores of the same scans. ``--from-json`` recomputes both tables from a saved run.

Needs ../shared/data (research data, read in place; clips are written to a temporary folder and removed).
Run: .venv/bin/python bench/video_fpr.py [--per-source 40] [--fakes 0] [--seconds 4] [--face 400] [--fps 1]
     [--json OUT | --from-json IN]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench_media import _scene

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FOLDERS = {
    "dfdc": "dfdc-faces-224",
    "ffpp": "ffpp-faces-224",
    "rff": "rff-photoshop-320",
    "synthetic": "synthetic-faces-320",
}


def validation_faces(val_list: Path, per_source: int, label: str = "real", seed: int = 0) -> dict[str, list[Path]]:
    """Up to ``per_source`` held-out faces of ``label`` per source, a seeded random choice."""
    by_source: dict[str, list[Path]] = {}
    with open(val_list, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] == label and row["source"] in FOLDERS:
                by_source.setdefault(row["source"], []).append(SHARED / FOLDERS[row["source"]] / row["path"])
    rng = random.Random(seed)
    out = {}
    for source, paths in sorted(by_source.items()):
        paths = sorted(paths)
        rng.shuffle(paths)
        out[source] = paths[:per_source]
    return out


def make_clip(face: Path, out: Path, seconds: float, face_side: int, seed: int) -> None:
    """A 1920x1080 30 fps H.264 clip (CRF 23, a key frame every 2 s) of ``face`` drifting and zooming over a scene."""
    import av

    rng = np.random.default_rng(seed)
    w, h, fps = 1920, 1080, 30
    scene = np.asarray(_scene(w, h)).astype(np.int16)
    crop = Image.open(face).convert("RGB")
    n = int(seconds * fps)
    noise = [rng.normal(0, 2.0, scene.shape).astype(np.int16) for _ in range(4)]  # sensor noise, cycled
    x0, y0 = int(rng.integers(200, w - face_side - 200)), int(rng.integers(80, h - face_side - 80))
    dx, dy = rng.uniform(-40, 40), rng.uniform(-20, 20)
    zoom = rng.uniform(-0.04, 0.04)
    with av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "veryfast"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.gop_size = 2 * fps
        for i in range(n):
            u = i / max(1, n - 1)
            side = int(round(face_side * (1 + zoom * u)))
            x, y = int(round(x0 + dx * u)), int(round(y0 + dy * u))
            frame = scene.copy()
            frame[y : y + side, x : x + side] = np.asarray(crop.resize((side, side), Image.BICUBIC))
            frame += noise[i % len(noise)]
            img = np.clip(frame, 0, 255).astype(np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def _aggregates():
    """Ways of turning a clip's per-frame scores into one score; the first is the shipped rule."""
    from dfd_lib.detector import aggregate_video

    return {
        "top-quartile mean (shipped)": aggregate_video,
        "max": max,
        "top-half mean": lambda s: float(np.mean(sorted(s, reverse=True)[: max(1, (len(s) + 1) // 2)])),
        "mean": lambda s: float(np.mean(s)),
        "median": lambda s: float(np.median(s)),
    }


def scan_clips(scanner, faces: dict[str, list[Path]], label: str, a, d: str) -> list[dict]:
    """Each face scanned as a still and as a clip made from it; one row per face."""
    rows = []
    for source, paths in faces.items():
        for k, face in enumerate(paths):
            clip = Path(d) / f"{source}_{label}_{k}.mp4"
            make_clip(face, clip, a.seconds, a.face, seed=k)
            still, video = scanner.scan_file(face), scanner.scan_file(clip)
            clip.unlink()
            rows.append(
                {
                    "source": source,
                    "label": label,
                    "face": str(face.relative_to(SHARED)),
                    "still_status": still.status,
                    "still_verdict": still.verdict,
                    "still_score": still.score,
                    "video_status": video.status,
                    "video_verdict": video.verdict,
                    "video_score": video.score,
                    "frame_scores": [f.score for f in video.frames if f.score is not None],
                }
            )
    return rows


def print_verdicts(rows: list[dict], label: str, thr: float) -> None:
    """The verdict table of one label's clips, per source."""
    word = "false positives" if label == "real" else "fakes caught"
    print(f"\n{label} faces ({word}: verdict fake)\n")
    print(
        f"| {label} faces | clips | still: fake | video: fake | video: inconclusive | video: no face | "
        "median score still / video | frames at or above the threshold |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for source in sorted({x["source"] for x in rows if x["label"] == label}):
        r = [x for x in rows if x["source"] == source and x["label"] == label]
        both = [x for x in r if x["still_score"] is not None and x["video_score"] is not None]
        frames = [s for x in r for s in x["frame_scores"]]

        def share(key: str, value: str, rr=r) -> str:
            hit = sum(1 for x in rr if x[key] == value)
            return f"{hit}/{len(rr)} ({100 * hit / max(1, len(rr)):.1f}%)"

        med = (
            f"{np.median([x['still_score'] for x in both]):.3f} / {np.median([x['video_score'] for x in both]):.3f}"
            if both
            else "-"
        )
        over = f"{100 * np.mean([s >= thr for s in frames]):.1f}%" if frames else "-"
        no_face = sum(1 for x in r if x["video_status"] == "no_face")
        print(
            f"| {source} | {len(r)} | {share('still_verdict', 'fake')} | {share('video_verdict', 'fake')} | "
            f"{share('video_verdict', 'inconclusive')} | {no_face} | {med} | {over} |"
        )


def print_aggregates(rows: list[dict], thr: float) -> None:
    """Per rule: false positives on real clips and fakes caught per source at ``thr``, and the AUC of real
    against fake clips pooled over the sources that have both (clips with at least one scored frame)."""
    from dfd_lib.training.metrics import roc_auc

    scored = [x for x in rows if x["frame_scores"]]
    sources = sorted({x["source"] for x in scored})
    head = [
        f"{s} {'FP' if lab == 'real' else 'caught'}"
        for s in sources
        for lab in ("real", "fake")
        if any(x["source"] == s and x["label"] == lab for x in scored)
    ]
    print(f"\nvideo score rules at the threshold {thr:.3f} (clips with a scored frame)\n")
    print("| rule | " + " | ".join(head) + " | AUC real vs fake clips |")
    print("| --- |" + " ---: |" * (len(head) + 1))
    for name, rule in _aggregates().items():
        cells = []
        for s in sources:
            for lab in ("real", "fake"):
                r = [x for x in scored if x["source"] == s and x["label"] == lab]
                if r:
                    hit = sum(1 for x in r if rule(x["frame_scores"]) >= thr)
                    cells.append(f"{hit}/{len(r)}")
        y = np.array([x["label"] == "fake" for x in scored], dtype=int)
        p = np.array([rule(x["frame_scores"]) for x in scored])
        auc = f"{roc_auc(y, p):.3f}" if 0 < y.sum() < len(y) else "-"
        print(f"| {name} | " + " | ".join(cells) + f" | {auc} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-source", type=int, default=40, help="real faces per source")
    ap.add_argument("--fakes", type=int, default=0, help="fake faces per source (0: reals only)")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--face", type=int, default=400, help="side of the face crop in the 1080p frame, pixels")
    ap.add_argument("--fps", type=float, default=1.0, help="frames sampled per second of video")
    ap.add_argument("--model", default=None, help="model card name (default: the shipped default)")
    ap.add_argument("--json", type=Path, default=None, help="also write per-clip rows here")
    ap.add_argument("--from-json", type=Path, default=None, help="print the tables of a saved run; scan nothing")
    a = ap.parse_args()
    from dfd_lib.models.checkpoint import find_verified_card

    if a.from_json:
        rows = json.loads(a.from_json.read_text())
        thr = find_verified_card(a.model)[1].threshold
    else:
        if not SHARED.is_dir():
            raise SystemExit(f"{SHARED} is absent: nothing to measure")
        from dfd_lib.scan import Scanner

        scanner = Scanner(a.model, fps=a.fps)
        card = scanner.model.card
        thr = card.threshold
        val_list = ROOT / "weights" / f"{card.name}.val_files.csv"
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            rows = scan_clips(scanner, validation_faces(val_list, a.per_source, "real"), "real", a, d)
            if a.fakes:
                rows += scan_clips(scanner, validation_faces(val_list, a.fakes, "fake"), "fake", a, d)
        print(
            f"{card.name}, threshold {thr:.3f}; {a.seconds:g} s 1080p clips at {a.fps:g} frame/s, "
            f"face {a.face} px; {time.perf_counter() - t0:.0f} s"
        )
        if a.json:
            a.json.write_text(json.dumps(rows, indent=1))
    for label in ("real", "fake"):
        if any(x["label"] == label for x in rows):
            print_verdicts(rows, label, thr)
    if any(x["label"] == "fake" for x in rows):
        print_aggregates(rows, thr)


if __name__ == "__main__":
    main()
