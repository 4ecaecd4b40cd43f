"""Does "outside the model's experience" catch the false positives of a source the model never saw?

The test bed: a model trained on some sources only (default ``dfd-lite0-sbi``, DFDC alone) and the shipped
multi-source lists (``weights/dfd-lite0-multi.{calib,val}_files.csv``), whose other sources it never saw.
For each candidate feature vector (the pooled features, or the per-channel mean and standard deviation of one or
more of the backbone's blocks) novelty statistics are fitted on half of the seen sources' calibration rows,
thresholded at the 99th percentile of the other half, and measured on the seen sources' held-out rows and on
every listed row of the unseen sources: share flagged, and how many of the unseen sources' real faces that the
model calls fake at its threshold are flagged (the false positives the flag turns into "inconclusive").

Needs ../shared/data. Run: .venv/bin/python bench/novelty_check.py [--model dfd-lite0-sbi] [--seen dfdc]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ["pooled", "2", "3", "4", "2+3+4", "6"]


def features(model_name: str, lists: dict[str, Path]) -> dict:
    """Logits, pooled features and every block's statistics of the listed rows (one view, no mirror image)."""
    import torch

    from dfd_lib.models.checkpoint import load_model
    from dfd_lib.models.tta import channels_last, forward_heads
    from dfd_lib.training.multi import crop_loader, listed_boxes
    from dfd_lib.training.spec import read_spec, table_from_lists

    spec = read_spec(ROOT / "weights" / "dfd-lite0-multi.spec.yaml")
    loaded = load_model(model_name, ROOT / "weights", runtime="torch")
    card, module = loaded.card, loaded.module
    blocks = tuple(range(len(module.blocks)))
    out: dict = {"card": card}
    for which, path in lists.items():
        rows = table_from_lists(spec, path).reset_index(drop=True)
        ok, landmarks = listed_boxes(spec, rows)
        rows = rows[ok].reset_index(drop=True)
        zs, fs, ss = [], [], []
        with torch.inference_mode():
            for x, _ in crop_loader(spec, rows, card, landmarks):
                z, f, s = forward_heads(module, channels_last(x), "none", blocks)
                zs.append(z.numpy())
                fs.append(f.numpy())
                ss.append(s.numpy())
        stats = np.concatenate(ss)
        probe = torch.zeros(1, 3, card.input_size, card.input_size)
        with torch.inference_mode():
            widths = [forward_heads(module, probe, "none", (k,))[2].shape[1] for k in blocks]
        edges = np.cumsum([0] + widths)
        out[which] = {
            "z": np.concatenate(zs),
            "pooled": np.concatenate(fs),
            "blocks": {k: stats[:, edges[k] : edges[k + 1]] for k in range(len(widths))},
            "y": rows["label"].to_numpy().astype(int),
            "src": rows["source"].to_numpy().astype(str),
        }
        print(f"{which}: {len(rows)} rows", flush=True)
    return out


def pick(part: dict, cand: str) -> np.ndarray:
    if cand == "pooled":
        return part["pooled"]
    return np.concatenate([part["blocks"][int(k)] for k in cand.split("+")], 1)


def main() -> None:
    from dfd_lib.models.novelty import fit_novelty

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="dfd-lite0-sbi")
    ap.add_argument("--seen", default="dfdc", help="comma-separated sources the model was trained on")
    ap.add_argument("--k", type=int, nargs="+", default=[32, 64])
    args = ap.parse_args()
    w = ROOT / "weights"
    d = features(
        args.model, {"calib": w / "dfd-lite0-multi.calib_files.csv", "val": w / "dfd-lite0-multi.val_files.csv"}
    )
    card, cal, val = d["card"], d["calib"], d["val"]
    seen = args.seen.split(",")

    def p_fake(z):
        return 1 / (1 + np.exp(-(z / card.temperature + card.logit_bias)))

    rng = np.random.default_rng(0)
    idx = np.flatnonzero(np.isin(cal["src"], seen))
    rng.shuffle(idx)
    fit_rows, thr_rows = idx[: len(idx) // 2], idx[len(idx) // 2 :]
    unseen = sorted(set(np.r_[cal["src"], val["src"]]) - set(seen))
    print(f"model {card.name} (threshold {card.threshold:.3f}), seen: {', '.join(seen)}; unseen: {', '.join(unseen)}")
    print(
        "| features | k | seen reals flagged | "
        + " | ".join(f"{s} reals flagged | {s} false positives caught | {s} fakes flagged" for s in unseen)
        + " |"
    )
    for cand in CANDIDATES:
        for k in args.k:
            fc, fv = pick(cal, cand), pick(val, cand)
            nm = fit_novelty(fc[fit_rows], fc[thr_rows], k=k, standardise=cand != "pooled")
            fl_v, fl_c = nm.score(fv) > nm.threshold, nm.score(fc) > nm.threshold
            seen_real = np.isin(val["src"], seen) & (val["y"] == 0)
            cells = [cand, str(k), f"{fl_v[seen_real].mean():.3f}"]
            for s in unseen:
                # Every listed row of an unseen source counts: the model never saw any of them.
                flag = np.r_[fl_v[val["src"] == s], fl_c[cal["src"] == s]]
                y = np.r_[val["y"][val["src"] == s], cal["y"][cal["src"] == s]]
                p = p_fake(np.r_[val["z"][val["src"] == s], cal["z"][cal["src"] == s]])
                fp = (y == 0) & (p >= card.threshold)
                cells += [
                    f"{flag[y == 0].mean():.2f}" if (y == 0).any() else "-",
                    f"{int((flag & fp).sum())} of {int(fp.sum())}",
                    f"{flag[y == 1].mean():.2f}" if (y == 1).any() else "-",
                ]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
