"""A tiny labelled face-crop set built from the public-domain astronaut portrait.

For tests and the train-and-evaluate notebook: real crops are jittered copies of the face,
fakes are self-blended versions of them; each real and its fake share a group.
It shows that the recipe runs end to end; it says nothing about real-world accuracy.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

__all__ = ["make_demo_set"]


def make_demo_set(root: str | Path, n_groups: int = 16, size: int = 140, seed: int = 0) -> Path:
    from PIL import Image
    from skimage import data

    from ..faces import FaceDetector
    from .sbi import self_blend

    root = Path(root)
    (root / "real").mkdir(parents=True, exist_ok=True)
    (root / "fake").mkdir(parents=True, exist_ok=True)
    astro = data.astronaut()
    face = FaceDetector().detect(astro)[0]
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        dx, dy = rng.integers(-12, 12, size=2)
        x0, y0 = int(face.box[0]) + int(dx) - 10, int(face.box[1]) + int(dy) - 10
        crop = astro[y0 : y0 + size, x0 : x0 + size]
        crop = np.clip(crop.astype(float) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
        fake, _ = self_blend(crop, np.array(face.landmarks) - [x0, y0], rng)
        Image.fromarray(crop).save(root / "real" / f"r{g}.jpg", quality=90)
        Image.fromarray(fake).save(root / "fake" / f"f{g}.jpg", quality=90)
        rows += [(f"real/r{g}.jpg", "real", f"g{g}"), (f"fake/f{g}.jpg", "fake", f"g{g}")]
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "group"])
        w.writerows(rows)
    return root
