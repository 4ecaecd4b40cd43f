"""Does averaging a face's logits over several framings rank faces better? (needs ../shared; see weights/README.md)

Every file of a shipped list goes through the scanner's own face search; each face found is cut at every framing of
``--scales`` (and, at the card's crop scale, every offset of ``--offsets``) and scored with the card's mirror
averaging, one framing at a time. A file's score is its highest face's (as the scanner's). Printed per candidate set
of framings: file-level ROC AUC per source (GAN faces against all reals), and with ``--bootstrap`` the paired
bootstrap interval of each source's AUC difference from the card's framing alone. The model must score single
framings (a card without ``view_scales``); ``--model`` names it.

    python bench/framing_views.py --labels weights/dfd-lite0-multi.calib_files.csv --save calib.npz
    python bench/framing_views.py --load calib.npz           # the table again, without scanning
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("dfdc", "ffpp", "rff")  # the sources with real and fake rows; "synthetic" is fake only


def per_face_logits(spec_path: Path, labels: Path, model: str | None, framings: list[tuple[float, float]]) -> dict:
    """Per face found: its file's row and its logit at each framing; per row: label and source."""
    from dfd_lib.faces import crop_face
    from dfd_lib.scan import Scanner
    from dfd_lib.training.spec import read_spec, table_from_lists

    rows = table_from_lists(read_spec(spec_path), labels).reset_index(drop=True)
    sc = Scanner(model)
    c = sc.model.card
    if c.view_scales:
        raise SystemExit(f"{c.name} already averages framings (view_scales {list(c.view_scales)}): give a card without")
    rows_of, logits, t0 = [], [], time.perf_counter()
    for i, p in enumerate(rows["abs_path"]):
        r = sc._read(p)  # the scanner's own checks and decoding
        if not hasattr(r, "image") or r.image is None:
            continue
        faces = sc.faces.detect(r.image.pixels)
        crops = [crop_face(r.image.pixels, f, c.input_size, s, o, c.crop_inside) for s, o in framings for f in faces]
        if not crops:
            continue
        z = sc.detector.logits(crops).reshape(len(framings), len(faces)).T
        rows_of += [i] * len(faces)
        logits += list(z)
        if i % 500 == 0:
            print(f"{i} of {len(rows)} files, {time.perf_counter() - t0:.0f} s", flush=True)
    return {
        "row": np.array(rows_of),
        "logits": np.array(logits),
        "framings": np.array(framings),
        "label": rows["label"].to_numpy().astype(int),
        "source": rows["source"].to_numpy().astype(str),
    }


def file_scores(d: dict, chosen: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(score per row: the highest face's mean logit over ``chosen`` framings, rows with a face)."""
    known = [tuple(np.round(f, 3)) for f in d["framings"]]
    z = d["logits"][:, [known.index(tuple(np.round(f, 3))) for f in chosen]].mean(1)
    s = np.full(len(d["label"]), -np.inf)
    np.maximum.at(s, d["row"], z)
    return s, np.isfinite(s)


def aucs(d: dict, s: np.ndarray, ok: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    y, src = d["label"], d["source"]
    out = {n: float(roc_auc_score(y[ok & (src == n)], s[ok & (src == n)])) for n in SOURCES if (src == n).any()}
    gan = ok & ((y == 0) | (src == "synthetic"))
    if (ok & (src == "synthetic")).any():
        out["gan_vs_reals"] = float(roc_auc_score(y[gan], s[gan]))
    out["mean"] = float(np.mean([out[n] for n in SOURCES if n in out]))
    return out


def paired_bootstrap(d, base, other, ok, source, draws=1000, seed=0) -> tuple[float, float, float]:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    idx = np.where(ok & (d["source"] == source))[0]
    y = d["label"]
    diffs = []
    for _ in range(draws):
        i = rng.choice(idx, len(idx))
        if y[i].min() != y[i].max():
            diffs.append(roc_auc_score(y[i], other[i]) - roc_auc_score(y[i], base[i]))
    return float(np.mean(diffs)), float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", type=Path, default=ROOT / "weights" / "dfd-lite0-multi.spec.yaml")
    ap.add_argument("--labels", type=Path, help="a shipped file list (calibration or held-out rows)")
    ap.add_argument("--model", default=None, help="a card without view_scales (default: the default model)")
    ap.add_argument("--scales", type=float, nargs="+", default=[0.62, 0.66, 0.70, 0.74, 0.78])
    ap.add_argument("--offsets", type=float, nargs="+", default=[0.05, 0.09, 0.13])
    ap.add_argument("--save", type=Path, help="write the per-face logits here (.npz)")
    ap.add_argument("--load", type=Path, help="read per-face logits written by --save instead of scanning")
    ap.add_argument("--bootstrap", action="store_true", help="paired bootstrap of each set against the card's framing")
    a = ap.parse_args()
    if a.load:
        d = dict(np.load(a.load))
    else:
        from dfd_lib.models.checkpoint import load_model

        card = load_model(a.model).card
        framings = [(s, card.crop_offset_y) for s in a.scales]
        framings += [(card.crop_scale, o) for o in a.offsets if (card.crop_scale, o) not in framings]
        d = per_face_logits(a.spec, a.labels, a.model, framings)
        if a.save:
            np.savez(a.save, **d)
    known = [tuple(float(v) for v in f) for f in d["framings"]]
    scales = [f for f in known if f[1] == known[0][1]]
    mid = scales[len(scales) // 2]
    offsets = [f for f in known if f[0] == mid[0]]
    sets = {"card framing alone": [mid], "three scales": scales[1:-1], "all scales": scales, "three offsets": offsets}
    sets["three scales and offsets"] = sorted(set(scales[1:-1]) | set(offsets))
    base, ok = file_scores(d, [mid])
    print(f"{ok.sum()} of {len(ok)} files with a face; framings (scale, offset): {known}")
    for name, chosen in sets.items():
        s, ok = file_scores(d, chosen)
        row = " | ".join(f"{k} {v:.4f}" for k, v in aucs(d, s, ok).items())
        print(f"{name:26s} {row}")
        if a.bootstrap and name != "card framing alone":
            for src in SOURCES:
                m, lo, hi = paired_bootstrap(d, base, s, ok, src)
                print(f"{'':26s}   {src} vs card framing {m:+.4f} [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
