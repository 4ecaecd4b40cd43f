"""One photo, whole process: what an examiner waits for when checking a single file from the command line.

Baseline: a fresh Python process that does what the original app did for one upload (import
facenet-pytorch, build MTCNN and InceptionResnetV1, detect, classify, Grad-CAM; scan_bench's
``baseline`` on one file). Ours: a fresh ``dfd scan PHOTO`` (imports, the shipped model's card
and hash checks, face search, scoring, the printed table). Both include interpreter start-up;
best of ``--repeat`` runs each, alternating, measured in the same run.
Run: .venv/bin/python bench/startup_bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PHOTO = ROOT / "examples" / "evidence" / "astronaut.jpg"


def _wall(args: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    return time.perf_counter() - t0


def measure(repeat: int = 3, photo: Path = PHOTO, log=print) -> dict:
    dfd = Path(sys.executable).parent / "dfd"
    ours_cmd = [str(dfd)] if dfd.is_file() else [sys.executable, "-c", "from dfd_lib.cli import main; main()"]
    ours_cmd += ["scan", str(photo)]
    base_cmd = [
        sys.executable,
        "-c",
        f"import sys; from pathlib import Path; sys.path.insert(0, {str(BENCH)!r}); "
        f"from scan_bench import baseline; baseline([Path({str(photo)!r})])",
    ]
    with tempfile.TemporaryDirectory() as cases:
        env = dict(os.environ, DFD_CASES_DIR=cases)
        base, ours = [], []
        for k in range(repeat):
            base.append(_wall(base_cmd, env))
            ours.append(_wall(ours_cmd, env))
            log(f"run {k + 1}: original app's path {base[-1]:.2f} s | dfd scan {ours[-1]:.2f} s")
    return {"one_photo_baseline_s": min(base), "one_photo_s": min(ours), "one_photo_ratio": min(base) / min(ours)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--photo", type=Path, default=PHOTO)
    a = ap.parse_args()
    m = measure(a.repeat, a.photo)
    print(f"\none photo ({a.photo.name}), whole process, best of {a.repeat}:")
    print(f"original app's path: {m['one_photo_baseline_s']:.2f} s")
    print(f"dfd scan:            {m['one_photo_s']:.2f} s   ratio {m['one_photo_ratio']:.2f}x")


if __name__ == "__main__":
    main()
