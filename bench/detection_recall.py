"""What the faster face detection changes: faces found by facenet-pytorch's own MTCNN but not by ours, and the reverse.

Both run with the scan's settings (minimum face 40 px, detection probability >= 0.90, pictures
larger than 1600 px on their longer side downscaled for detection). "Ours" is
``dfd_lib.faces.FaceDetector`` without its bordered retry (the retry only adds faces), so the
comparison is the cascade alone. A face counts as found by both when the boxes overlap with
IoU >= 0.5. Inputs: the bundled sample evidence, the scan bench's photos and crops, and, where
``../shared/data`` exists, a sample of every shared set's pictures (research data, read in place).

Run: .venv/bin/python bench/detection_recall.py [--per-source 300]
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_media import make_crops, make_images

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def iou(a, b) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def shared_samples(per_source: int) -> dict[str, list[Path]]:
    out = {}
    rng = random.Random(0)
    for folder in sorted(SHARED.glob("*")) if SHARED.is_dir() else []:
        labels = folder / "labels.csv"
        if not labels.is_file():
            continue
        with open(labels, newline="") as fh:
            rows = [r["path"] for r in csv.DictReader(fh)]
        rng.shuffle(rows)
        out[folder.name] = [folder / r for r in rows[:per_source]]
    return out


def facenet_boxes(mtcnn, image: np.ndarray, det) -> list:
    """facenet-pytorch's MTCNN.detect with the same downscaling and thresholds as the scan."""
    h, w = image.shape[:2]
    factor = min(1.0, det.max_side / max(h, w))
    small = det._resize(image, factor)
    mtcnn.min_face_size = max(12, int(round(det.min_face_size * factor)))
    if min(small.shape[:2]) < mtcnn.min_face_size:
        return []
    boxes, probs = mtcnn.detect(small)
    if boxes is None:
        return []
    out = []
    for b, p in zip(boxes, probs):
        b = [float(v) / factor for v in b]
        if float(p) >= det.prob_threshold and max(b[2] - b[0], b[3] - b[1]) >= det.min_face_size:
            out.append(b)
    return out


def main() -> None:
    from facenet_pytorch import MTCNN

    from dfd_lib.faces import FaceDetector
    from dfd_lib.media import load_image

    ap = argparse.ArgumentParser()
    ap.add_argument("--per-source", type=int, default=300)
    a = ap.parse_args()
    det = FaceDetector(pad_retry=0.0)
    mtcnn = MTCNN(keep_all=True, post_process=False)
    with tempfile.TemporaryDirectory() as d:
        sets = {
            "sample evidence": sorted(p for p in (ROOT / "examples" / "evidence").glob("*") if p.is_file()),
            "bench photos and crops": make_images(Path(d), 24) + make_crops(Path(d), 8),
        }
        sets.update(shared_samples(a.per_source))
        print("| pictures | files | faces (facenet) | faces (ours) | lost | new | seconds facenet | seconds ours |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        totals = np.zeros(6)
        for name, paths in sets.items():
            n_files = n_ref = n_ours = lost = new = 0
            t_ref = t_ours = 0.0
            for p in paths:
                try:
                    image = load_image(p)
                except Exception:  # noqa: BLE001 - not a picture (a video or a problem file): not this bench's subject
                    continue
                n_files += 1
                t0 = time.perf_counter()
                ref = facenet_boxes(mtcnn, image, det)
                t_ref += time.perf_counter() - t0
                t0 = time.perf_counter()
                ours = [f.box for f in det.detect(image)]
                t_ours += time.perf_counter() - t0
                n_ref, n_ours = n_ref + len(ref), n_ours + len(ours)
                lost += sum(1 for r in ref if not any(iou(r, o) >= 0.5 for o in ours))
                new += sum(1 for o in ours if not any(iou(r, o) >= 0.5 for r in ref))
            totals += (n_files, n_ref, n_ours, lost, new, 0)
            print(f"| {name} | {n_files} | {n_ref} | {n_ours} | {lost} | {new} | {t_ref:.1f} | {t_ours:.1f} |")
        print(
            f"| all | {int(totals[0])} | {int(totals[1])} | {int(totals[2])} | {int(totals[3])} | {int(totals[4])} | | |"
        )


if __name__ == "__main__":
    main()
