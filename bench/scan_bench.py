"""Scan throughput: this pipeline against a baseline written like the original single-image app.

Baseline (the original design): for each image, one at a time: facenet-pytorch MTCNN with its
defaults (largest face only), InceptionResnetV1 on the 160 px crop, and Grad-CAM for every image.
Ours: `Scanner.scan` over the same files (all faces, batched, inference_mode, Grad-CAM only on
request), with the shipped default model; then the same with Grad-CAM on every face.

Prints images/s for each and the ratios, measured in the same run on the same images.
Run: .venv/bin/python bench/scan_bench.py [--n 24] [--repeat 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench_media import make_crops, make_images


def baseline(paths: list[Path]) -> float:
    import torch
    from facenet_pytorch import MTCNN, InceptionResnetV1
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    t0 = time.perf_counter()
    mtcnn = MTCNN(image_size=160, margin=0, select_largest=False, post_process=True)
    model = InceptionResnetV1(classify=True, num_classes=1, pretrained=None).eval()
    cam = GradCAM(model=model, target_layers=[model.block8])
    for p in paths:
        img = Image.open(p).convert("RGB")
        face = mtcnn(img)
        if face is None:
            continue
        x = face.unsqueeze(0)
        with torch.no_grad():
            torch.sigmoid(model(x))
        cam(input_tensor=x, targets=[ClassifierOutputTarget(0)])
    cam.activations_and_grads.release()
    return time.perf_counter() - t0


def ours(paths: list[Path], gradcam: bool, model: str | None = None) -> tuple[float, int]:
    """Seconds for a whole scan of ``paths`` (model loading included) and the faces found; ``model``: the default
    model, a model's name or card, or a weights folder (its default model)."""
    from dfd_lib.scan import Scanner

    t0 = time.perf_counter()
    s = Scanner(weights_dir=model) if model and Path(model).is_dir() else Scanner(model)
    n_faces = 0
    for r in s.scan(paths):
        n_faces += len(r.faces)
        if gradcam:
            for f in r.faces:
                s.explain(f)
    s.close()
    return time.perf_counter() - t0, n_faces


def measure(n_photos: int = 24, n_crops: int = 8, repeat: int = 2, log=print, other: str | None = None) -> dict:
    """Images per second of the baseline and of ours (without and with Grad-CAM), best of ``repeat`` runs; with
    ``other`` (a model's name or card, or a weights folder: its default model) also ours with that model, in the
    same runs."""
    with tempfile.TemporaryDirectory() as d:
        paths = make_images(Path(d), n_photos) + make_crops(Path(d), n_crops)
        ours(paths[:2], False)  # warm-up: imports, first-call allocations
        n = len(paths)
        rows = []
        for rep in range(repeat):
            tb = baseline(paths)
            to, nf = ours(paths, False)
            tg, _ = ours(paths, True)
            tx = ours(paths, False, other)[0] if other else float("nan")
            rows.append((tb, to, tg, tx))
            log(
                f"run {rep + 1}: baseline {n / tb:.2f} img/s | ours {n / to:.2f} img/s ({nf} faces) | ours+Grad-CAM {n / tg:.2f} img/s"
                + (f" | {other} {n / tx:.2f} img/s" if other else "")
            )
    tb, to, tg, tx = (min(c) for c in zip(*rows))
    extra = {"other_img_s": n / tx, "ratio_other": tb / tx} if other else {}
    return extra | {
        "images": n,
        "baseline_img_s": n / tb,
        "ours_img_s": n / to,
        "ours_gradcam_img_s": n / tg,
        "ratio": tb / to,
        "ratio_gradcam": tb / tg,
    }


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=24, help="photos (640x480 to 1600x1200, one face each)")
    ap.add_argument("--crops", type=int, default=8, help="tight face crops (160-400 px, as profile pictures come)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--other", help="also time this model: a name (dfd-lite0-multi-fast), a card, or a weights folder's default"
    )
    a = ap.parse_args()
    m = measure(a.n, a.crops, a.repeat, other=a.other)
    n = m["images"]
    print(
        f"\n{n} images ({a.n} photos, {a.crops} face crops), {torch.get_num_threads()} threads, best of {a.repeat} (model loading included in every figure)"
    )
    print(f"baseline (MTCNN -> InceptionResnetV1 -> Grad-CAM, one image at a time): {m['baseline_img_s']:6.2f} img/s")
    print(
        f"ours (default model, Grad-CAM on request):                          {m['ours_img_s']:6.2f} img/s   ratio {m['ratio']:.2f}x"
    )
    print(
        f"ours with Grad-CAM on every face:                                   {m['ours_gradcam_img_s']:6.2f} img/s   ratio {m['ratio_gradcam']:.2f}x"
    )
    if a.other:
        print(f"ours with {a.other}: {m['other_img_s']:6.2f} img/s   ratio {m['ratio_other']:.2f}x")


if __name__ == "__main__":
    main()
