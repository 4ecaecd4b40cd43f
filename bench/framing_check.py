"""Does the scan pipeline frame faces the way the model was trained? Measure it.

On the model's held-out validation crops, score each face three ways:
  a) the crop as given (how training saw it, and what `dfd eval --crops` does);
  b) re-cropped by the scan pipeline: MTCNN on the crop, then `crop_face` with the card's crop_scale/offset;
  c) re-cropped with a generous margin (crop_scale 1.3, the usual facenet-style habit).
Prints ROC AUC and the mean |score difference| to (a) on the files where MTCNN finds a face.

Run: .venv/bin/python bench/framing_check.py DATA_DIR --labels weights/<model>_val_files.csv [--model NAME] [--n 1000]
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    from dfd_lib.faces import FaceDetector, crop_face, square_box
    from dfd_lib.media import load_image
    from dfd_lib.scan import Scanner
    from dfd_lib.training.data import load_labels
    from dfd_lib.training.metrics import roc_auc

    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--labels", required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=1000)
    a = ap.parse_args()
    df = load_labels(a.data, a.labels)
    df = df.sample(n=min(a.n, len(df)), random_state=0)
    sc = Scanner(a.model)
    card = sc.model.card
    det = FaceDetector(min_face_size=20, prob_threshold=0.9)
    imgs, ys = [], []
    for rel, y in zip(df.path, df.label):
        imgs.append(load_image(f"{a.data}/{rel}"))
        ys.append(int(y))
    faces = det.detect_batch(imgs)
    keep = [i for i, f in enumerate(faces) if f]
    y = np.array([ys[i] for i in keep])
    size = card.input_size
    variants = {
        "a) crop as given": [imgs[i] for i in keep],
        f"b) pipeline framing (scale {card.crop_scale}, offset {card.crop_offset_y})": [
            crop_face(imgs[i], faces[i][0], size, card.crop_scale, card.crop_offset_y) for i in keep
        ],
        "c) generous margin (scale 1.3)": [crop_face(imgs[i], faces[i][0], size, 1.3, 0.0) for i in keep],
    }

    # Where the pipeline's window runs past the 224 px crop it is padded with black, which a real photo
    # (with context around the face) never needs; report the files whose window fits on their own.
    def fits(i: int) -> bool:
        x1, y1, x2, y2 = square_box(faces[i][0], card.crop_scale, card.crop_offset_y)
        h, w = imgs[i].shape[:2]
        return x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h

    inside = np.array([fits(i) for i in keep])
    print(
        f"model {card.name}; {len(keep)} of {len(imgs)} crops with an MTCNN face; "
        f"{int(inside.sum())} where the pipeline window fits inside the crop (no padding)"
    )
    base = None
    for name, crops in variants.items():
        p = sc.detector.predict(crops)
        base = p if base is None else base
        print(
            f"{name:55s} AUC all {roc_auc(y, p):.4f} | no-padding subset {roc_auc(y[inside], p[inside]):.4f}"
            f" | mean |p - p_a| {np.abs(p - base).mean():.4f}"
        )


if __name__ == "__main__":
    main()
