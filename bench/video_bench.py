"""Video scan speed: seconds of 1080p 30 fps video scanned per wall second, at 1 and 4 sampled frames per second.

The clip is made on the fly (bench_media.make_video: H.264, a key frame every 2 s, one face
moving). The scanner (shipped default model) is loaded once before timing; its load time is
printed separately. For comparison the same scan runs with a full face search on every sampled
frame (``track_full_every=1``, as before face tracking), in the same run.

``--early-stop-seconds S`` adds the opt-in early stop (``dfd scan --early-stop``): a clip of S
seconds made the same way but showing the sample evidence's manipulated face
(examples/evidence/astronaut_blended_face.jpg, which the shipped model calls fake) is scanned at
1 frame/s with and without it, in the same run.

Run: .venv/bin/python bench/video_bench.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_media import make_video

ROOT = Path(__file__).resolve().parents[1]
MANIPULATED_FACE = ROOT / "examples" / "evidence" / "astronaut_blended_face.jpg"


def measure(seconds: float = 20.0, rates: tuple[float, ...] = (1.0, 4.0), log=print) -> dict:
    from dfd_lib.scan import Scanner

    out: dict = {"clip_seconds": seconds}
    with tempfile.TemporaryDirectory() as d:
        clip = make_video(Path(d) / "clip_1080p30.mp4", seconds=seconds)
        t0 = time.perf_counter()
        first = Scanner()
        out["scanner_load_s"] = time.perf_counter() - t0
        first.scan_file(clip)  # warm-up
        for fps in rates:
            for every, key in ((4, "tracked"), (1, "full_search")):
                s = Scanner(first.model, fps=fps, track_full_every=every)
                t0 = time.perf_counter()
                r = s.scan_file(clip)
                wall = time.perf_counter() - t0
                out[f"{key}_{fps:g}fps_video_s_per_s"] = seconds / wall
                log(
                    f"{fps:g} frame/s, {key.replace('_', ' ')}: {wall:.2f} s for {seconds:g} s of video = "
                    f"{seconds / wall:.1f}x real time ({r.status}, {len(r.faces)} faces, score {r.score:.3f})"
                )
    return out


def measure_early_stop(seconds: float = 60.0, log=print) -> dict:
    """Wall time of a 1 frame/s scan of a manipulated-face clip with and without early stop, same run."""
    from PIL import Image

    from dfd_lib.scan import Scanner

    out: dict = {"early_stop_clip_seconds": seconds}
    with tempfile.TemporaryDirectory() as d:
        clip = make_video(Path(d) / "fake_1080p30.mp4", seconds=seconds, face_image=Image.open(MANIPULATED_FACE))
        first = Scanner(fps=1.0)
        first.scan_file(clip)  # warm-up
        for early in (False, True):
            s = Scanner(first.model, fps=1.0, early_stop=early)
            t0 = time.perf_counter()
            r = s.scan_file(clip)
            wall = time.perf_counter() - t0
            key = "early_stop" if early else "no_early_stop"
            out[f"{key}_video_s_per_s"] = seconds / wall
            out[f"{key}_frames"] = len(r.frames)
            log(
                f"early stop {'on ' if early else 'off'}: {wall:.2f} s for {seconds:g} s = {seconds / wall:.1f}x real "
                f"time, {len(r.frames)} frames sampled, verdict {r.verdict}, score {r.score:.3f}"
            )
    out["early_stop_speedup"] = out["early_stop_video_s_per_s"] / out["no_early_stop_video_s_per_s"]
    log(f"early stop: {out['early_stop_speedup']:.2f}x the scan without it")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--early-stop-seconds", type=float, default=0.0, help="also measure early stop on a fake clip")
    a = ap.parse_args()
    m = measure(a.seconds)
    print(f"scanner load (classifier, side files, MTCNN): {m['scanner_load_s']:.2f} s")
    if a.early_stop_seconds:
        measure_early_stop(a.early_stop_seconds)


if __name__ == "__main__":
    main()
