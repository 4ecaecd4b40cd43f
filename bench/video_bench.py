"""Video scan speed: seconds of 1080p 30 fps video scanned per wall second, at 1 and 4 sampled frames per second.

The clip is made on the fly (bench_media.make_video: H.264, a key frame every 2 s, one face
moving). The scanner (shipped default model) is loaded once before timing; its load time is
printed separately. For comparison the same scan runs with a full face search on every sampled
frame (``track_full_every=1``, as before face tracking), in the same run.

Run: .venv/bin/python bench/video_bench.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_media import make_video


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    m = measure(a.seconds)
    print(f"scanner load (classifier, side files, MTCNN): {m['scanner_load_s']:.2f} s")


if __name__ == "__main__":
    main()
