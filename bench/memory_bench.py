"""Peak memory of a scan against the memory setting (``ScanSettings.memory_mb``, ``--memory-mb``), on large inputs.

For each setting, a fresh process builds the scanner (shipped default model), warms it up with Grad-CAM, then
scans: a 100 MP JPEG and a 64 MP PNG (a face in a smooth scene), a 4K H.264 clip (3 s, 2 frames/s sampled),
and Grad-CAM on every face found. Prints each file's status and message and the process's peak RSS (from
``os.wait4``, Linux) beside the setting; "none" is the same scan with no memory bound, in the same run. Then the
same files through ``dfd triage`` (a case, intake copies, forensic analyses, Grad-CAM of each item) per setting.
No timed or memory assertions: this prints figures.

Run: .venv/bin/python bench/memory_bench.py [--settings 1536,2048,3072,none] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys
from dfd_lib.scan import Scanner
setting = None if sys.argv[1] == "none" else int(sys.argv[1])
scanner = Scanner(memory_mb=setting)
scanner.warm_up(explain=True)
out = {"plan": scanner.memory.to_dict(), "files": []}
for path in sys.argv[2:]:
    r = scanner.scan_file(path)
    for f in r.faces:
        scanner.explain(f)
    out["files"].append({"name": path.rsplit("/", 1)[-1], "status": r.status, "message": r.message,
                         "size": [r.width, r.height], "score": r.score})
print("RESULT " + json.dumps(out))
"""


def make_inputs(d: Path) -> list[Path]:
    import numpy as np
    from PIL import Image
    from skimage import data

    astro = Image.fromarray(data.astronaut())
    out = []
    for side, name in ((10_000, "photo_100mp.jpg"), (8_000, "photo_64mp.png")):
        ramp = np.linspace(40, 220, side, dtype=np.float32)
        img = np.empty((side, side, 3), np.uint8)
        img[..., 0] = ramp[:, None].astype(np.uint8)
        img[..., 1] = ramp[None, :].astype(np.uint8)
        img[..., 2] = 128
        pic = Image.fromarray(img)
        del img
        pic.paste(astro.resize((side // 4, side // 4)), (side // 3, side // 3))
        path = d / name
        pic.save(path, **({"quality": 90} if name.endswith(".jpg") else {"compress_level": 1}))
        del pic
        out.append(path)
    import av

    clip = d / "clip_4k.mp4"
    face = np.asarray(astro.resize((700, 700)))
    with av.open(str(clip), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 3840, 2160, "yuv420p"
        s.options = {"crf": "28", "preset": "ultrafast", "g": "60"}
        for i in range(90):
            frame = np.full((2160, 3840, 3), 100, np.uint8)
            x = 600 + 20 * i
            frame[700:1400, x : x + 700] = face
            for pkt in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    out.append(clip)
    return out


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def triage_peak(setting: str, files: list[Path], cases: Path) -> tuple[int, float]:
    """(exit status, peak RSS in MiB) of ``dfd triage`` of ``files`` into a new case with the memory setting."""
    memory = "0" if setting == "none" else setting
    case = f"memory-bench-{setting}"
    cmd = [sys.executable, "-m", "dfd_lib", "triage", *map(str, files), "--case", case, "--cases-dir", str(cases)]
    proc = subprocess.Popen(
        [*cmd, "--examiner", "bench", "--memory-mb", memory, "--quiet"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024


def run_child(setting: str, files: list[Path]) -> tuple[dict, float]:
    """(the child's result, its peak RSS in MiB)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, setting, *map(str, files)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"error": stderr.strip()[-800:]}, usage.ru_maxrss / 1024
    return json.loads(line[len("RESULT ") :]), usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default="1536,2048,3072,none", help="memory_mb values, 'none' for no bound")
    ap.add_argument("--keep", default=None, metavar="DIR", help="generate the inputs here and keep them")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dfd-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    files = make_inputs(work)
    print(f"inputs ({time.perf_counter() - t0:.0f} s to make): " + ", ".join(p.name for p in files))
    rows = []
    for setting in args.settings.split(","):
        t0 = time.perf_counter()
        res, peak = run_child(setting.strip(), files)
        wall = time.perf_counter() - t0
        print(f"\nmemory_mb={setting}: peak RSS {peak:.0f} MiB, {wall:.0f} s")
        if "error" in res:
            print(f"  refused or failed: {res['error']}")
            rows.append((setting, peak, "-"))
            continue
        plan = res["plan"]
        bound = "no bound" if plan["decode_pixels"] is None else f"{plan['decode_pixels'] / 1e6:.0f} MP"
        print(
            f"  plan: pictures decoded at full size up to {bound}, ahead of their turn up to "
            f"{plan['read_ahead_pixels'] / 1e6:.0f} MP"
        )
        for f in res["files"]:
            score = "" if f["score"] is None else f", score {f['score']:.3f}"
            print(f"  {f['name']}: {f['status']}{score}: {f['message'][:150]}")
        ratio = "-" if setting == "none" else f"{peak / float(setting):.2f}"
        rows.append((setting, peak, ratio))
    print("\n| memory_mb | peak RSS (MiB) | peak / setting |\n| --- | ---: | ---: |")
    for setting, peak, ratio in rows:
        print(f"| {setting} | {peak:.0f} | {ratio} |")
    print("\n`dfd triage` of the same files (case, forensic analyses, Grad-CAM):")
    print("| memory_mb | peak RSS (MiB) | peak / setting | exit status |\n| --- | ---: | ---: | ---: |")
    for setting in args.settings.split(","):
        code, peak = triage_peak(setting.strip(), files, work / "cases")
        ratio = "-" if setting == "none" else f"{peak / float(setting):.2f}"
        print(f"| {setting} | {peak:.0f} | {ratio} | {code} |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
