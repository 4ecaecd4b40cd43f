"""ONNX Runtime (what the scanner uses) against OpenVINO for the shipped classifier, measured in one run.

OpenVINO is not a dependency: install it beside the project to run this (``pip install openvino``); without it the
script says so and exits. It prints, for the default model's ONNX export:
1. milliseconds per face crop at batches of 1, 10 (one face at five framings with mirror images) and 32, with 1 and
   2 threads, and the largest difference of any output between the two runtimes;
2. seconds to import each runtime and build its session (a fresh ``dfd scan`` pays both);
3. the whole photo scan of ``scan_bench.py`` (model loading included) with each runtime behind the scanner's
   classifier, alternating runs, images per second.

Run: .venv/bin/python bench/runtime_compare.py [--repeat 4] [--model dfd-lite0-multi-fast]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_media import make_crops, make_images
from scan_bench import ours

_IMPORT_AND_BUILD = """
import sys, time
t0 = time.perf_counter()
import {module}
t1 = time.perf_counter()
{build}
print(t1 - t0, time.perf_counter() - t1)
"""
_BUILDS = {
    "onnxruntime": "onnxruntime.InferenceSession({path!r}, providers=['CPUExecutionProvider'])",
    "openvino": "c = openvino.Core(); c.compile_model(c.read_model({path!r}), 'CPU', {{'INFERENCE_NUM_THREADS': 1}})",
}


class OpenVinoSession:
    """An OpenVINO compiled model answering ``run(None, {"image": x})`` as an ONNX Runtime session does."""

    def __init__(self, data: bytes, threads: int) -> None:
        import openvino

        core = openvino.Core()
        with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
            f.write(data)
            f.flush()
            model = core.read_model(f.name)
        self.compiled = core.compile_model(
            model,
            "CPU",
            {
                "INFERENCE_NUM_THREADS": max(1, threads),
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_PRECISION_HINT": "f32",
            },
        )
        import threading

        self._local = threading.local()  # one infer request per thread (the scanner scores in two)

    def run(self, _names, feed: dict) -> list[np.ndarray]:
        req = getattr(self._local, "req", None)
        if req is None:
            req = self._local.req = self.compiled.create_infer_request()
        out = req.infer({0: feed["image"]})
        return [out[o] for o in self.compiled.outputs]


def _median_seconds(fn, x, n: int = 30) -> float:
    fn(x), fn(x)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def per_crop(onnx_path: Path) -> None:
    from dfd_lib.models.onnx_runtime import _session

    data = onnx_path.read_bytes()
    rng = np.random.default_rng(0)
    print("| threads | batch | ONNX Runtime ms/crop | OpenVINO ms/crop | ratio | largest output difference |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for threads in (1, 2):
        ort, ov = _session(data, threads), OpenVinoSession(data, threads)
        for batch in (1, 10, 32):
            x = rng.standard_normal((batch, 3, 160, 160), dtype=np.float32)
            a, b = ort.run(None, {"image": x}), ov.run(None, {"image": x})
            diff = max(float(np.abs(p - q).max()) for p, q in zip(a, b))
            to = _median_seconds(lambda v: ort.run(None, {"image": v}), x)
            tv = _median_seconds(lambda v: ov.run(None, {"image": v}), x)
            print(
                f"| {threads} | {batch} | {1000 * to / batch:.2f} | {1000 * tv / batch:.2f} | {to / tv:.2f} | {diff:.1e} |"
            )


def start_up(onnx_path: Path) -> None:
    for module, build in _BUILDS.items():
        code = _IMPORT_AND_BUILD.format(module=module, build=build.format(path=str(onnx_path)))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        print(f"{module}: import {float(out[-2]):.3f} s, session {float(out[-1]):.3f} s (fresh process)")


def whole_scan(model: str | None, repeat: int) -> None:
    import dfd_lib.models.onnx_runtime as onnx_runtime

    ort_session = onnx_runtime._session
    runtimes = {
        "ONNX Runtime": ort_session,
        "OpenVINO": lambda data, threads=None: OpenVinoSession(data, int(threads or 1)),
    }
    rates: dict[str, list[float]] = {k: [] for k in runtimes}
    try:
        with tempfile.TemporaryDirectory() as d:
            paths = make_images(Path(d), 24) + make_crops(Path(d), 8)
            ours(paths[:2], False, model)  # warm-up
            for _ in range(repeat):
                for name, build in runtimes.items():
                    onnx_runtime._session = build
                    rates[name].append(len(paths) / ours(paths, False, model)[0])
    finally:
        onnx_runtime._session = ort_session
    for name, r in rates.items():
        print(f"{name}: {' '.join(f'{v:.1f}' for v in r)} images/s, median {np.median(r):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=4, help="whole-scan runs per runtime (alternating)")
    ap.add_argument("--model", default=None, help="model for the whole scan (default: the shipped default)")
    a = ap.parse_args()
    try:
        import openvino  # noqa: F401
    except ImportError:
        print("OpenVINO is not installed (pip install openvino); nothing to compare")
        return
    from dfd_lib.models.checkpoint import find_verified_card

    card_path, card, _ = find_verified_card(a.model)
    onnx_path = card_path.parent / card.onnx["file"]
    print(f"classifier {onnx_path.name} ({card.name})\n")
    per_crop(onnx_path)
    print()
    start_up(onnx_path)
    print()
    whole_scan(a.model, a.repeat)


if __name__ == "__main__":
    main()
