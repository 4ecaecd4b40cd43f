"""Classifier speed per registered backbone, measured in one run on the same batches.

Prints face crops per second (inference, batch 32, 160 px, CPU threads as configured) for every backbone
in the registry, and each one's ratio to inception_resnet_v1 (the original design's classifier).

``--candidates``: the speed half of the backbone table the generalization work asks for (EfficientNet-Lite0 at
160 px, as shipped, against Lite0, Lite1 and Lite2 at 224 px, and a two-model ensemble), each built by timm
with untrained weights (speed does not depend on them), run as the scanner runs a model: ONNX Runtime on the
exported graph, and PyTorch channels-last, batch 32, with the configured CPU threads. An ensemble's rate is
that of running both of its models on every crop.
Run: .venv/bin/python bench/backbone_speed.py [--batches 8] [--candidates]
"""

from __future__ import annotations

import argparse
import time


CANDIDATES = [  # (label, timm architecture, input side)
    ("Lite0 at 160 (shipped)", "tf_efficientnet_lite0", 160),
    ("Lite0 at 224", "tf_efficientnet_lite0", 224),
    ("Lite1 at 224", "tf_efficientnet_lite1", 224),
    ("Lite2 at 224", "tf_efficientnet_lite2", 224),
]


def _rate(run, x, batches: int) -> float:
    run(x)  # warm-up
    t0 = time.perf_counter()
    for _ in range(batches):
        run(x)
    return batches * len(x) / (time.perf_counter() - t0)


def candidates(batches: int, batch_size: int) -> None:
    import io

    import numpy as np
    import onnxruntime as ort
    import timm
    import torch

    threads = torch.get_num_threads()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    rates: dict[str, tuple[float, float]] = {}
    print(
        f"{'candidate':24s} {'params':>8s} {'ONNX Runtime':>14s} {'PyTorch CL':>12s}   ({threads} threads, batch {batch_size})"
    )
    for label, arch, side in CANDIDATES:
        m = timm.create_model(arch, pretrained=False, num_classes=1).eval()
        x = torch.randn(batch_size, 3, side, side)
        buf = io.BytesIO()
        with torch.no_grad():
            torch.onnx.export(m, (x[:2],), buf, input_names=["x"], dynamic_axes={"x": {0: "n"}}, dynamo=False)
        sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        xn = np.ascontiguousarray(x.numpy())
        r_onnx = _rate(lambda v: sess.run(None, {"x": v}), xn, batches)
        m = m.to(memory_format=torch.channels_last)
        with torch.inference_mode():
            r_torch = _rate(m, x.contiguous(memory_format=torch.channels_last), batches)
        rates[label] = (r_onnx, r_torch)
        params = sum(p.numel() for p in m.parameters()) / 1e6
        print(f"{label:24s} {params:6.1f} M {r_onnx:10.1f}/s {r_torch:10.1f}/s")
    base = rates[CANDIDATES[0][0]][0]
    for a, b in ((CANDIDATES[0][0], CANDIDATES[2][0]), (CANDIDATES[1][0], CANDIDATES[3][0])):
        both = 1.0 / (1.0 / rates[a][0] + 1.0 / rates[b][0])
        print(f"ensemble {a} + {b}: {both:.1f}/s on ONNX Runtime")
    for label, (r, _) in rates.items():
        print(f"{label:24s} {base / r:5.2f}x the shipped model's time per crop")


def main() -> None:
    import torch

    from dfd_lib.models import BACKBONES

    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--candidates", action="store_true", help="the backbone-table candidates instead")
    a = ap.parse_args()
    if a.candidates:
        candidates(a.batches, a.batch_size)
        return
    rates = {}
    for name in BACKBONES.names():
        bb = BACKBONES.get(name)
        m = bb.build(False).eval()
        x = torch.randn(a.batch_size, 3, bb.input_size, bb.input_size)
        with torch.inference_mode():
            m(x)  # warm-up
            t0 = time.perf_counter()
            for _ in range(a.batches):
                m(x)
            dt = time.perf_counter() - t0
        rates[name] = a.batches * a.batch_size / dt
        params = sum(p.numel() for p in m.parameters()) / 1e6
        print(f"{name:22s} {params:5.1f} M params  {rates[name]:7.1f} crops/s")
    base = rates.get("inception_resnet_v1")
    if base:
        for name, r in rates.items():
            print(f"{name:22s} {r / base:5.2f}x inception_resnet_v1")


if __name__ == "__main__":
    main()
