"""All the scan's performance figures in one run, beside the figures saved for the previous release (``make bench``).

1. Photos: the scan bench (24 photos and 8 face crops) against the original app's path, measured
   in this run: images per second and ratios, without and with Grad-CAM on every face, and with the fast card
   (the default's weights at one framing per face).
2. Video: seconds of a 1080p 30 fps clip scanned per wall second at 1 and 4 frames/s.
3. Model load: the shipped model with ONNX Runtime and with PyTorch alone; one photo through a whole
   fresh ``dfd scan`` process against the original app's path in a fresh process (``startup_bench.py``).
4. Memory: peak RSS of a scan of the hostile corpus (a 100 MP zlib bomb, 100 MP 16-bit and float
   TIFFs, truncated and corrupt media, a deep tree), in a child process; and of a scan of large
   inputs (a 100 MP JPEG, a 64 MP PNG, a 4K clip, Grad-CAM on every face) at the default memory
   setting, scanned and through ``dfd triage`` with forensics (``bench/memory_bench.py``).
5. Accuracy (where ../shared/data exists): ``dfd eval --crops`` on the shipped validation list,
   per-source AUC against the model card.

``--save`` writes this run's figures to bench/figures.json as the new "last" (the old "last"
becomes "previous"). Ratios are measured in the same run; absolute figures depend on the machine.
Run: .venv/bin/python bench/release_bench.py [--quick] [--save]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FIGURES = BENCH / "figures.json"
SPEC = ROOT / "weights" / "dfd-lite0-multi.spec.yaml"
VAL_LIST = ROOT / "weights" / "dfd-lite0-multi.val_files.csv"
FAST = "dfd-lite0-multi-fast"  # the default's weights at one framing: a selectable card for a fast first pass

ROWS = [  # key, label, target (text)
    ("photos_ratio", "photos: throughput / original path", ">= 10x"),
    ("photos_ratio_gradcam", "photos with Grad-CAM on every face / original path", "reported"),
    ("photos_img_s", "photos: images per second (ours)", "reported"),
    ("photos_ratio_fast", f"photos with the fast card ({FAST}, one framing per face) / original path", "reported"),
    ("video_1fps", "1080p30 video at 1 frame/s: x real time", ">= 5x"),
    ("video_4fps", "1080p30 video at 4 frames/s: x real time", "reported"),
    ("load_onnx_s", "model load, ONNX Runtime (s)", "reported"),
    ("load_torch_s", "model load, PyTorch only (s)", "reported"),
    ("one_photo_s", "one photo, a whole fresh `dfd scan` process (s)", "reported"),
    ("one_photo_ratio", "one photo, whole process: original path / ours", "reported"),
    ("peak_rss_mib", "peak RSS on the hostile corpus (MiB)", "<= 2048"),
    ("peak_rss_large_mib", "peak RSS on large inputs at memory_mb=2048 (MiB)", "<= 2048"),
    ("peak_rss_large_triage_mib", "the same through dfd triage with forensics (MiB)", "<= 2048"),
    ("auc_max_abs_diff", "largest per-source AUC difference from the card", "<= 0.002"),
]


def model_load() -> dict:
    from dfd_lib.models.checkpoint import load_model

    out = {}
    for runtime, key in (("auto", "load_onnx_s"), ("torch", "load_torch_s")):
        load_model(runtime=runtime)  # file cache warm
        t0 = time.perf_counter()
        load_model(runtime=runtime)
        out[key] = time.perf_counter() - t0
    return out


def hostile_peak_rss(quick: bool) -> dict:
    args = [sys.executable, str(BENCH / "hostile_bench.py"), "--n-small", "200" if quick else "1000", "--depth", "100"]
    if quick:
        args += ["--bomb-side", "6000", "--big-side", "6000"]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    m = re.search(r"peak RSS of the scanning process: (\d+) MiB", proc.stdout)
    good = re.search(r"files with a status and a message: (\d+)/(\d+)", proc.stdout)
    if m is None:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        return {}
    out = {"peak_rss_mib": float(m.group(1))}
    if good:
        out["hostile_files_with_status"] = f"{good.group(1)}/{good.group(2)}"
    return out


def large_input_peak_rss() -> dict:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "memory_bench.py"), "--settings", "2048"], capture_output=True, text=True, cwd=ROOT
    )
    found = re.findall(r"^\| 2048 \| (\d+) \|", proc.stdout, re.M)  # the scan's table, then dfd triage's
    if len(found) != 2:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        return {}
    return {"peak_rss_large_mib": float(found[0]), "peak_rss_large_triage_mib": float(found[1])}


def accuracy() -> dict:
    if not VAL_LIST.is_file() or not (ROOT.parent / "shared" / "data").is_dir():
        print("accuracy: ../shared/data is absent; skipped")
        return {}
    from dfd_lib.models.checkpoint import find_card
    from dfd_lib.training.evaluate_spec import evaluate_spec

    _, card = find_card()
    r = evaluate_spec(SPEC, VAL_LIST, crops=True)
    diffs = {}
    for src, d in r.metrics["by_source"].items():
        ref = card.metrics.get("validation_by_source", {}).get(src, {}).get("auc")
        if ref is not None and d.get("auc") is not None:
            diffs[src] = abs(d["auc"] - ref)
            print(f"accuracy: {src}: AUC {d['auc']:.4f}, card {ref:.4f}")
    return {"auc_max_abs_diff": max(diffs.values())} if diffs else {}


def main() -> None:
    sys.path.insert(0, str(BENCH))
    import scan_bench
    import startup_bench
    import video_bench

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller inputs, one repeat (a smoke run)")
    ap.add_argument("--save", action="store_true", help="save this run's figures as the last release's")
    a = ap.parse_args()
    now: dict = {}
    p = scan_bench.measure(repeat=1 if a.quick else 2, other=FAST)
    now.update(photos_ratio=p["ratio"], photos_ratio_gradcam=p["ratio_gradcam"], photos_img_s=p["ours_img_s"])
    now.update(photos_ratio_fast=p["ratio_other"])
    v = video_bench.measure(seconds=8.0 if a.quick else 20.0)
    now.update(video_1fps=v["tracked_1fps_video_s_per_s"], video_4fps=v["tracked_4fps_video_s_per_s"])
    now.update(model_load())
    now.update(startup_bench.measure(repeat=1 if a.quick else 3))
    now.update(hostile_peak_rss(a.quick))
    now.update(large_input_peak_rss())
    now.update(accuracy())

    saved = json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}
    last = saved.get("last", {})
    print(f"\n| figure | target | now | last saved ({last.get('_when', 'none')}) |")
    print("| --- | --- | ---: | ---: |")

    def fmt(x) -> str:
        if x is None:
            return "-"
        if isinstance(x, float):
            return f"{x:.3f}" if x < 1 else f"{x:.2f}"
        return str(x)

    for key, label, target in ROWS:
        print(f"| {label} | {target} | {fmt(now.get(key))} | {fmt(last.get(key))} |")
    if a.save:
        import platform

        now["_when"] = time.strftime("%Y-%m-%d")
        now["_machine"] = f"{platform.machine()}, {__import__('os').cpu_count()} CPUs"
        FIGURES.write_text(json.dumps({"last": now, "previous": last}, indent=2) + "\n")
        print(f"saved to {FIGURES}")


if __name__ == "__main__":
    main()
