"""Does the scanner frame a face in a photo or video frame as the model was trained? Measure it with context.

The model's training and validation crops were framed from MTCNN boxes found on the crops themselves,
where the face fills the picture. Here each held-out face (real and fake, per source) is scanned alone
and pasted unchanged into a 1920x1080 scene (PNG: no resampling, no codec), and the face in the scene
is cropped at several ``crop_scale`` values. Prints per source the ratio of the box found in the scene
to the box found alone, and AUC, reals called fake and fakes caught at the card's threshold per framing.

Needs ../shared/data (research data, read in place).
Run: .venv/bin/python bench/context_framing.py [--per-source 40] [--scales 0.62 0.70 0.76 0.82 0.88] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from bench_media import _scene
from video_fpr import ROOT, SHARED, validation_faces


def main() -> None:
    from dfd_lib.detector import Detector
    from dfd_lib.faces import FaceDetector, crop_face, crop_views
    from dfd_lib.models.checkpoint import load_model
    from dfd_lib.training.metrics import roc_auc

    ap = argparse.ArgumentParser()
    ap.add_argument("--per-source", type=int, default=40)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.62, 0.70, 0.76, 0.82, 0.88])
    ap.add_argument("--model", default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write per-face rows here")
    a = ap.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is absent: nothing to measure")
    lm = load_model(a.model)
    card, det, fd = lm.card, Detector(lm), FaceDetector()
    val = ROOT / "weights" / f"{card.name}.val_files.csv"
    scene = np.asarray(_scene(1920, 1080))
    rows = []
    for label, seed in (("real", 0), ("fake", 1)):
        for source, paths in validation_faces(val, a.per_source, label, seed=seed).items():
            for path in paths:
                im = np.asarray(Image.open(path).convert("RGB"))
                h, w = im.shape[:2]
                frame = scene.copy()
                frame[200 : 200 + h, 700 : 700 + w] = im
                alone, placed = fd.detect(im), fd.detect(frame)
                if not (alone and placed):
                    continue
                # each window with the card's views about it (a card with view_scales scores several framings)
                cuts = [(im, alone[0], card.crop_scale)] + [(frame, placed[0], s) for s in a.scales]
                crops = [crop_face(pic, f, card.input_size, s, card.crop_offset_y) for pic, f, s in cuts]
                views = [
                    crop_views(
                        pic, f, card.input_size, [v * s / card.crop_scale for v in card.views], card.crop_offset_y
                    )
                    for pic, f, s in cuts
                ]
                p = det.predict(crops, views)
                rows.append(
                    {
                        "source": source,
                        "y": int(label == "fake"),
                        "box_ratio": placed[0].width / alone[0].width,
                        "alone": float(p[0]),
                        "scene": [float(v) for v in p[1:]],
                    }
                )
    thr = card.threshold
    print(f"{card.name}, threshold {thr:.3f}, crop_scale {card.crop_scale:g}; faces found both alone and in a scene\n")
    print("| source | faces | box in scene / alone | alone | " + " | ".join(f"scene, {s:g}" for s in a.scales) + " |")
    print("| --- | ---: | ---: |" + " --- |" * (len(a.scales) + 1))
    for source in sorted({r["source"] for r in rows}):
        r = [x for x in rows if x["source"] == source]
        y = np.array([x["y"] for x in r])

        def cell(p: np.ndarray, y=y) -> str:
            parts = []
            if 0 < y.sum() < len(y):
                parts.append(f"AUC {roc_auc(y, p):.3f}")
            if (y == 0).any():
                parts.append(f"FP {int(((p >= thr) & (y == 0)).sum())}/{int((y == 0).sum())}")
            if y.any():
                parts.append(f"caught {int(((p >= thr) & (y == 1)).sum())}/{int(y.sum())}")
            return ", ".join(parts)

        cells = [cell(np.array([x["alone"] for x in r]))]
        cells += [cell(np.array([x["scene"][i] for x in r])) for i in range(len(a.scales))]
        ratio = np.median([x["box_ratio"] for x in r])
        print(f"| {source} | {len(r)} | {ratio:.2f} | " + " | ".join(cells) + " |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
