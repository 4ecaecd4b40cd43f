"""Can a face be settled from its centre framing alone? (needs ../shared; see weights/README.md, "Screening")

The default card scores every face at five framings, each with its mirror image: ten classifier passes. Most faces
in real evidence are real and score far below the threshold at the first framing already. This script scans a
shipped file list through the scanner's own face search and view cutting and saves, per face found, the logit and
the novelty statistics' block statistics of every view (mirror-averaged), so that a screening rule can be chosen on
the calibration rows and checked on the held-out rows without scanning again:

* one-framing P(fake): the centre view's logit through that framing's own calibration (``--temperature``,
  ``--bias``: the default card's at one framing were 1.0632 and 0.5701);
* five-framing P(fake) and novelty: what the card reports today;
* for each candidate rule (one-framing P below ``p`` and one-framing novelty below ``n``): the share of faces it
  settles, the highest five-framing P(fake) among them, how many of them the card calls fake or outside the model's
  experience today, and the file-level AUC per source with screened faces scored at one framing.

    python bench/screening.py --labels weights/dfd-lite0-multi.calib_files.csv --save calib.npz
    python bench/screening.py --labels weights/dfd-lite0-multi.val_files.csv --save val.npz
    python bench/screening.py --load calib.npz --load-val val.npz --temperature 1.0632 --bias 0.5701 --below 0.2

Measured on 2026-12-07 and not kept (bench/README.md, "Screening at one framing").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("dfdc", "ffpp", "rff")


def per_face_views(spec_path: Path, labels: Path, model: str | None) -> dict:
    from dfd_lib.scan import Scanner
    from dfd_lib.training.spec import read_spec, table_from_lists

    rows = table_from_lists(read_spec(spec_path), labels).reset_index(drop=True)
    sc = Scanner(model)
    c = sc.model.card
    k = len(c.views)
    if k < 2:
        raise SystemExit(f"{c.name} scores one framing: nothing to screen")
    rows_of, zs, stats, t0 = [], [], [], time.perf_counter()
    for i, p in enumerate(rows["abs_path"]):
        r = sc._read(p)
        if not hasattr(r, "image") or r.image is None:
            continue
        faces = sc.faces.detect(r.image.pixels)
        if not faces:
            continue
        views = sc._views(r.image.pixels, faces)
        z, _, st = sc.detector._forward_single([v for vs in views for v in vs], True)
        rows_of += [i] * len(faces)
        zs += list(z.reshape(len(faces), k))
        stats += list(st.reshape(len(faces), k, -1))
        if i % 500 == 0:
            print(f"{i} of {len(rows)} files, {time.perf_counter() - t0:.0f} s", flush=True)
    return {
        "row": np.array(rows_of),
        "logits": np.array(zs),
        "stats": np.array(stats, dtype=np.float32),
        "label": rows["label"].to_numpy().astype(int),
        "source": rows["source"].to_numpy().astype(str),
    }


def file_auc(d: dict, p: np.ndarray) -> dict[str, float]:
    """File-level ROC AUC per source (a file's score: its highest face's), GAN faces against all reals."""
    from sklearn.metrics import roc_auc_score

    s = np.full(len(d["label"]), -np.inf)
    np.maximum.at(s, d["row"], p)
    ok, y, src = np.isfinite(s), d["label"], d["source"]
    out = {n: float(roc_auc_score(y[ok & (src == n)], s[ok & (src == n)])) for n in SOURCES if (ok & (src == n)).any()}
    gan = ok & ((y == 0) | (src == "synthetic"))
    if (ok & (src == "synthetic")).any():
        out["gan_vs_reals"] = float(roc_auc_score(y[gan], s[gan]))
    return out


def outcomes(d: dict, card, nov, centre: int, temperature: float, bias: float) -> dict[str, np.ndarray]:
    """Per face: one-framing P(fake) and novelty, and what the card reports at all framings."""

    def sig(z):
        return 1 / (1 + np.exp(-np.clip(z, -60, 60)))

    z, st = d["logits"], d["stats"].astype(np.float64)
    return {
        "p1": sig(z[:, centre] / temperature + bias),
        "pk": sig(z.mean(1) / card.temperature + card.logit_bias),
        "n1": nov.score(st[:, centre]),
        "nk": nov.score(st.mean(1)),
    }


def report(name: str, d: dict, o: dict, card, nov, below: float, nov_below: float) -> dict:
    settled = (o["p1"] < below) & (o["n1"] < nov_below)
    mixed = np.where(settled, o["p1"], o["pk"])
    lab = d["label"][d["row"]]
    full, scr = file_auc(d, o["pk"]), file_auc(d, mixed)
    r = {
        "faces": int(len(settled)),
        "settled_share": float(settled.mean()),
        "settled_share_of_real_faces": float(settled[lab == 0].mean()),
        "settled_share_of_fake_faces": float(settled[lab == 1].mean()),
        "settled_highest_p_at_all_framings": float(o["pk"][settled].max()) if settled.any() else None,
        "settled_called_fake_at_all_framings": int((o["pk"][settled] >= card.threshold).sum()),
        "settled_outside_at_all_framings": int((o["nk"][settled] > nov.threshold).sum()),
        "largest_p_change_of_a_settled_face": float(np.abs(o["p1"] - o["pk"])[settled].max()) if settled.any() else 0,
        "auc_all_framings": full,
        "auc_screened": scr,
    }
    print(
        f"{name}: {r['faces']} faces, settled {100 * r['settled_share']:.1f}% (real faces "
        f"{100 * r['settled_share_of_real_faces']:.1f}%, fake {100 * r['settled_share_of_fake_faces']:.1f}%); "
        f"highest all-framing P of a settled face {r['settled_highest_p_at_all_framings']}; called fake "
        f"{r['settled_called_fake_at_all_framings']}, outside {r['settled_outside_at_all_framings']}"
    )
    print("   AUC " + " | ".join(f"{k} {full[k]:.4f} -> {scr[k]:.4f} ({scr[k] - full[k]:+.4f})" for k in full))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", type=Path, default=ROOT / "weights" / "dfd-lite0-multi.spec.yaml")
    ap.add_argument("--labels", type=Path, help="a shipped file list to scan")
    ap.add_argument("--model", default=None, help="a card with several view_scales (default: the default model)")
    ap.add_argument("--save", type=Path, help="write the per-face views' logits and statistics here (.npz)")
    ap.add_argument("--load", type=Path, help="calibration rows written by --save: choose the rule here")
    ap.add_argument("--load-val", type=Path, help="held-out rows written by --save: check the rule here")
    ap.add_argument("--temperature", type=float, help="the screening framing's own calibration: temperature")
    ap.add_argument("--bias", type=float, help="and bias (the card's values at one framing, before session 22)")
    ap.add_argument("--below", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7])
    ap.add_argument("--max-settled-p", type=float, default=0.8, help="rule: highest all-framing P of a settled face")
    ap.add_argument("--json", type=Path, help="write the chosen rule and its measurements here")
    a = ap.parse_args()
    if a.labels:
        d = per_face_views(a.spec, a.labels, a.model)
        if a.save:
            np.savez(a.save, **d)
        return
    from dfd_lib.models.checkpoint import load_model

    m = load_model(a.model)
    card, nov = m.card, m.novelty
    centre = min(range(len(card.views)), key=lambda i: abs(card.views[i] - card.crop_scale))
    if a.temperature is None or a.bias is None:
        raise SystemExit("give the screening framing's calibration: --temperature T --bias B")
    t, b = a.temperature, a.bias
    cal = dict(np.load(a.load))
    oc = outcomes(cal, card, nov, centre, t, b)
    # novelty bound: the largest one-framing novelty below which no calibration face is outside at all framings,
    # less 10%; never above the card's own threshold
    outside = oc["nk"] > nov.threshold
    nov_below = min(float(oc["n1"][outside].min()) if outside.any() else nov.threshold, nov.threshold) * 0.9
    chosen = None
    for below in sorted(a.below):
        settled = (oc["p1"] < below) & (oc["n1"] < nov_below)
        top = float(oc["pk"][settled].max()) if settled.any() else 0.0
        print(
            f"below {below}: settles {100 * settled.mean():.1f}% of calibration faces, highest all-framing P {top:.3f}"
        )
        if top <= a.max_settled_p:
            chosen = below
    if chosen is None:
        raise SystemExit("no candidate bound keeps the settled faces below --max-settled-p")
    print(
        f"chosen on the calibration rows: below {chosen}, novelty_below {nov_below:.3f} (card threshold {nov.threshold:.3f})"
    )
    out = {"view": card.views[centre], "temperature": t, "logit_bias": b, "below": chosen, "novelty_below": nov_below}
    out["calibration_rows"] = report("calibration rows", cal, oc, card, nov, chosen, nov_below)
    if a.load_val:
        val = dict(np.load(a.load_val))
        out["held_out_rows"] = report(
            "held-out rows", val, outcomes(val, card, nov, centre, t, b), card, nov, chosen, nov_below
        )
    if a.json:
        import json

        a.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
