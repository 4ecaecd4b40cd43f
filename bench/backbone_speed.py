"""Classifier speed per registered backbone, measured in one run on the same batches.

Prints face crops per second (inference, batch 32, 160 px, CPU threads as configured) for every backbone
in the registry, and each one's ratio to inception_resnet_v1 (the original design's classifier).
Run: .venv/bin/python bench/backbone_speed.py [--batches 8]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    import torch

    from dfd_lib.models import BACKBONES

    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()
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
