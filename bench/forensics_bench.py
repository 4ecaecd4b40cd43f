"""Time every forensic analysis on a synthetic 12-megapixel JPEG photo.

    OMP_NUM_THREADS=1 .venv/bin/python bench/forensics_bench.py [--repeat 3]

The photo is skimage's astronaut enlarged to 4000x3000 with mild Gaussian noise and camera-like
EXIF, saved at JPEG quality 92. Each configuration runs ``--repeat`` times, interleaved; the median
is shown.
Configurations, all measured in this same run on this machine:

* default   - ``run_all`` with the library's pixel bound (DEFAULT_MAX_PIXELS)
* 4mp       - pixel bound of 4 megapixels (ELA and noise on a downscaled copy)
* unbounded - no pixel bound at all (the baseline: everything at full resolution)

"decode" is the one shared decode of the pixels (done once per file by ``run_all``); it is listed
separately so that it is not charged to whichever analysis happens to run first.
Numbers only; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dfd_lib.forensics import DEFAULT_MAX_PIXELS, analysis_names, get_analysis
from dfd_lib.forensics.base import Evidence

TARGET_S = 2.0


def make_photo(path: Path) -> None:
    from skimage import data

    rng = np.random.default_rng(0)
    big = cv2.resize(data.astronaut(), (4000, 3000), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    big += rng.normal(0, 3, big.shape).astype(np.float32)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "BenchCam", "BenchCam X1", "BenchCam firmware 1.0"
    exif[0x0132] = "2024:05:01 12:00:00"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:00:00"
    Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(path, quality=92, exif=exif)


def time_once(path: Path, max_pixels: int | None) -> dict[str, float]:
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    evidence = Evidence(path, max_pixels=max_pixels)
    evidence.analysis_pixels()  # the shared decode (and downscale, when bounded)
    times["decode"] = time.perf_counter() - t0
    for name in analysis_names():
        t = time.perf_counter()
        result = get_analysis(name).run_on(evidence)
        times[name] = time.perf_counter() - t
        if result.status == "error":
            print(f"  warning: {name} failed: {result.summary}", file=sys.stderr)
    times["total"] = time.perf_counter() - t0
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    configs = {"default": DEFAULT_MAX_PIXELS, "4mp": 4_000_000, "unbounded": None}
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo_12mp.jpg"
        make_photo(photo)
        print(
            f"photo: 4000x3000 JPEG q92, {photo.stat().st_size / 1e6:.1f} MB; "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; repeat={args.repeat}"
        )
        time_once(photo, DEFAULT_MAX_PIXELS)  # warm-up: imports, c2pa library load
        runs: dict[str, list[dict[str, float]]] = {label: [] for label in configs}
        for _ in range(args.repeat):  # interleaved, so background load affects every configuration alike
            for label, bound in configs.items():
                runs[label].append(time_once(photo, bound))
        medians = {label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()}

    rows = ["decode", *analysis_names(), "total"]
    header = f"{'analysis':<12}" + "".join(f"{label + ' s':>14}" for label in configs)
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row:<12}" + "".join(f"{medians[label][row]:>14.3f}" for label in configs))
    base = medians["unbounded"]["total"]
    print()
    for label, bound in configs.items():
        total = medians[label]["total"]
        verdict = "within" if total <= TARGET_S else "OVER"
        bound_txt = "no bound" if bound is None else f"{bound / 1e6:g} MP bound"
        print(
            f"{label:<10} ({bound_txt}): {total:.3f} s, {verdict} the {TARGET_S:.0f} s target; "
            f"{total / base:.2f}x the unbounded baseline"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
