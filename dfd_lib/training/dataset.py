"""Torch Dataset over labelled face crops, with self-blended pseudo-fakes generated on the fly."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..preprocess import resize_square, to_tensor
from .augment import augment
from .data import Sample
from .sbi import self_blend

__all__ = ["CropDataset", "epoch_samples"]


def epoch_samples(
    reals: list[str], fakes: list[str], sbi_pool: list[str], n: int, mode: str, rng: np.random.Generator,
    sbi_share: float = 0.5,
) -> list[Sample]:
    """A class-balanced list of ``n`` samples for one epoch.

    mode ``mixed``: half real; the fake half is ``sbi_share`` self-blended pseudo-fakes and the
    rest real fakes (0.5: a quarter each);
    ``sbi_only``: half real, half pseudo-fakes (never sees a real fake);
    ``fakes_only``: half real, half real fakes (no pseudo-fakes).
    ``sbi_pool`` holds the real crops whose landmarks are known (pseudo-fakes are made from them).
    """
    if mode not in ("mixed", "sbi_only", "fakes_only"):
        raise ValueError(f"unknown mode {mode!r}")
    if not 0.0 <= sbi_share <= 1.0:
        raise ValueError(f"sbi_share must lie in [0, 1], not {sbi_share}")
    half = n // 2

    def pick(pool: list[str], k: int) -> list[str]:
        if not pool or k <= 0:
            return []
        return [pool[i] for i in rng.choice(len(pool), size=k, replace=k > len(pool))]

    out = [Sample(p, 0, "real") for p in pick(reals, half)]
    if mode == "mixed":
        n_sbi = int(round((n - half) * sbi_share))
        out += [Sample(p, 1, "fake") for p in pick(fakes, n - half - n_sbi)]
        out += [Sample(p, 1, "sbi") for p in pick(sbi_pool, n_sbi)]
    elif mode == "sbi_only":
        out += [Sample(p, 1, "sbi") for p in pick(sbi_pool, half)]
    else:
        out += [Sample(p, 1, "fake") for p in pick(fakes, half)]
    order = rng.permutation(len(out))
    return [out[i] for i in order]


class CropDataset:
    """Loads crops under ``root``; ``train=True`` applies augmentation and builds pseudo-fakes."""

    def __init__(self, root, samples: list[Sample], size: int, mean, std, train: bool, landmarks=None, seed: int = 0):
        self.root = Path(root)
        self.samples = samples
        self.size = size
        self.mean, self.std = mean, std
        self.train = train
        self.landmarks = landmarks or {}
        self.seed = seed

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, rel: str) -> np.ndarray:
        from PIL import Image

        with Image.open(self.root / rel) as im:
            return np.asarray(im.convert("RGB"))

    def __getitem__(self, i: int):
        import torch

        s = self.samples[i]
        img = self.load(s.path)
        if self.train:
            rng = np.random.default_rng((self.seed, i, torch.initial_seed() % 2**32))
            if s.kind == "sbi":
                img, _ = self_blend(img, self.landmarks[s.path][1], rng)
            img = augment(img, self.size, rng)
        else:
            img = resize_square(img, self.size)
        return to_tensor(img, self.mean, self.std), torch.tensor(float(s.label))
