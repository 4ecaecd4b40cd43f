"""Where a scan's time goes: wall seconds per stage on the scan bench's photos and on a 1080p clip.

Each stage is timed by wrapping the library function that does it (model loading, hashing, type
sniffing, image decoding, video decoding, face detection, cropping, classifier input preparation,
classifier, Grad-CAM), so the table adds up to the scan's wall time apart from "other". With
``--pyinstrument DIR`` a call-tree profile of each part is written there as well.

Run: .venv/bin/python bench/profile_scan.py [--photos 24] [--crops 8] [--seconds 20] [--fps 1]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_media import make_crops, make_images, make_video


class StageTimer:
    """Wall time per stage, from wrappers put around library functions for the duration of a run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._patches: list[tuple[object, str, object]] = []
        self._depth = 0

    def wrap(self, owner, attr: str, stage: str, generator: bool = False) -> None:
        original = getattr(owner, attr)
        timer = self

        if generator:

            @functools.wraps(original)
            def wrapped(*a, **k):
                it = original(*a, **k)
                while True:
                    t0 = time.perf_counter()
                    try:
                        item = next(it)
                    except StopIteration:
                        timer.seconds[stage] += time.perf_counter() - t0
                        return
                    timer.seconds[stage] += time.perf_counter() - t0
                    yield item
        else:

            @functools.wraps(original)
            def wrapped(*a, **k):
                t0 = time.perf_counter()
                try:
                    return original(*a, **k)
                finally:
                    timer.seconds[stage] += time.perf_counter() - t0

        setattr(owner, attr, wrapped)
        self._patches.append((owner, attr, original))

    def restore(self) -> None:
        for owner, attr, original in reversed(self._patches):
            setattr(owner, attr, original)
        self._patches.clear()


def instrument() -> StageTimer:
    import dfd_lib.scan as scan
    from dfd_lib.detector import Detector
    from dfd_lib.explain import Explainer
    from dfd_lib.faces import FaceDetector

    t = StageTimer()
    t.wrap(scan, "load_model", "model load (classifier)")
    t.wrap(scan, "FaceDetector", "model load (MTCNN)")
    t.wrap(scan, "file_hashes", "hashing (SHA-256)")
    t.wrap(scan, "sniff", "type sniffing")
    t.wrap(scan, "decode_image", "image decode")
    t.wrap(scan, "iter_video_frames", "video decode", generator=True)
    t.wrap(FaceDetector, "detect_batch", "face detection (MTCNN)")
    t.wrap(scan, "crop_face", "crop + resize")
    t.wrap(Detector, "to_batch", "classifier input prep")
    t.wrap(Detector, "assess", "classifier (incl. input prep)")
    t.wrap(Explainer, "explain", "Grad-CAM")
    return t


def run(paths, gradcam: bool, fps: float) -> tuple[float, dict[str, float], int]:
    from dfd_lib.scan import Scanner

    t = instrument()
    t0 = time.perf_counter()
    try:
        s = Scanner(fps=fps)
        n_faces = 0
        for r in s.scan(paths):
            n_faces += len(r.faces)
            if gradcam:
                for f in r.faces:
                    s.explain(f)
        s.close()
    finally:
        t.restore()
    return time.perf_counter() - t0, dict(t.seconds), n_faces


def table(title: str, total: float, stages: dict[str, float]) -> str:
    stages = dict(stages)
    prep = stages.get("classifier input prep", 0.0)
    if "classifier (incl. input prep)" in stages:
        stages["classifier (forward passes)"] = stages.pop("classifier (incl. input prep)") - prep
    accounted = sum(stages.values())
    lines = [f"\n{title}: {total:.2f} s wall", "| stage | seconds | share |", "| --- | ---: | ---: |"]
    for name, sec in sorted(stages.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {sec:.2f} | {100 * sec / total:.0f}% |")
    lines.append(
        f"| other (scan loop, results, Python) | {total - accounted:.2f} | {100 * (total - accounted) / total:.0f}% |"
    )
    return "\n".join(lines)


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--crops", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--fps", type=float, default=1.0, help="video frames sampled per second")
    ap.add_argument("--pyinstrument", metavar="DIR", help="also write pyinstrument call trees (HTML) here")
    a = ap.parse_args()
    prof_dir = Path(a.pyinstrument) if a.pyinstrument else None
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        photos = make_images(d, a.photos) + make_crops(d, a.crops)
        clip = make_video(d / "clip_1080p30.mp4", seconds=a.seconds)
        run(photos[:2], False, a.fps)  # warm-up: imports, first-call allocations
        print(f"torch threads: {torch.get_num_threads()}")
        for title, paths, gradcam in (
            (f"{len(photos)} photos and crops", photos, False),
            (f"{len(photos)} photos and crops, Grad-CAM on every face", photos, True),
            (f"1080p 30 fps clip of {a.seconds:.0f} s at {a.fps:g} frame/s", [clip], False),
        ):
            ctx = contextlib.nullcontext()
            if prof_dir is not None:
                from pyinstrument import Profiler

                ctx = Profiler()
            with ctx:
                total, stages, n_faces = run(paths, gradcam, a.fps)
            print(table(f"{title} ({n_faces} faces)", total, stages))
            if prof_dir is not None:
                prof_dir.mkdir(parents=True, exist_ok=True)
                out = prof_dir / (
                    "".join(ch if ch.isalnum() else "_" for ch in title.split(",")[0])
                    + ("_gradcam" if gradcam else "")
                    + ".html"
                )
                out.write_text(ctx.output_html())
                print(f"call tree: {out}")


if __name__ == "__main__":
    main()
