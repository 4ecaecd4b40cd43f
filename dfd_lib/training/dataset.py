"""Torch Dataset over labelled face images, with self-blended pseudo-fakes generated on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError, TrainingConfigError
from ..preprocess import resize_square, to_tensor
from .augment import augment
from .config import TRAIN_MODES, TrainMode
from .data import Sample
from .sbi import self_blend

__all__ = ["CropDataset", "epoch_samples", "epoch_samples_multi", "frame_box"]


def epoch_samples(
    reals: list[str],
    fakes: list[str],
    sbi_pool: list[str],
    n: int,
    mode: TrainMode,
    rng: np.random.Generator,
    sbi_share: float = 0.5,
) -> list[Sample]:
    """A class-balanced list of ``n`` samples for one epoch.

    mode ``mixed``: half real; the fake half is ``sbi_share`` self-blended pseudo-fakes and the
    rest real fakes (0.5: a quarter each);
    ``sbi_only``: half real, half pseudo-fakes (never sees a real fake);
    ``fakes_only``: half real, half real fakes (no pseudo-fakes).
    ``sbi_pool`` holds the real crops whose landmarks are known (pseudo-fakes are made from them).
    """
    if mode not in TRAIN_MODES:
        raise TrainingConfigError(f"unknown mode {mode!r}; known: {', '.join(TRAIN_MODES)}")
    if not 0.0 <= sbi_share <= 1.0:
        raise TrainingConfigError(f"sbi_share must lie in [0, 1], not {sbi_share}")
    half = n // 2
    out = [Sample(p, 0, "real") for p in _pick(reals, half, rng)]
    if mode == "mixed":
        n_sbi = int(round((n - half) * sbi_share))
        out += [Sample(p, 1, "fake") for p in _pick(fakes, n - half - n_sbi, rng)]
        out += [Sample(p, 1, "sbi") for p in _pick(sbi_pool, n_sbi, rng)]
    elif mode == "sbi_only":
        out += [Sample(p, 1, "sbi") for p in _pick(sbi_pool, half, rng)]
    else:
        out += [Sample(p, 1, "fake") for p in _pick(fakes, half, rng)]
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def _pick(pool: list, k: int, rng: np.random.Generator) -> list:
    if not pool or k <= 0:
        return []
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=k > len(pool))]


def _counts(weights: dict[str, float], k: int, rng: np.random.Generator) -> dict[str, int]:
    names = [n for n, w in weights.items() if w > 0]
    if not names or k <= 0:
        return {}
    w = np.array([weights[n] for n in names], dtype=float)
    return dict(zip(names, rng.multinomial(k, w / w.sum()).tolist()))


def epoch_samples_multi(pools: dict[str, dict], n: int, sbi_share: float, rng: np.random.Generator) -> list[Sample]:
    """A class-balanced epoch drawn across sources.

    ``pools[source]`` holds ``reals``, ``fakes`` and ``sbi`` (lists of paths), ``framing``, and the
    ``real_weight`` / ``fake_weight`` shares. The real half is split across sources by
    ``real_weight``; of the fake half, ``sbi_share`` are pseudo-fakes (sources weighted by
    ``real_weight``, among those with an SBI pool), the rest real fakes by ``fake_weight``.
    """
    half = n // 2
    n_sbi = int(round((n - half) * sbi_share))
    out: list[Sample] = []
    for src, k in _counts({s: p["real_weight"] for s, p in pools.items() if p["reals"]}, half, rng).items():
        out += [Sample(x, 0, "real", pools[src]["framing"]) for x in _pick(pools[src]["reals"], k, rng)]
    for src, k in _counts({s: p["real_weight"] for s, p in pools.items() if p["sbi"]}, n_sbi, rng).items():
        out += [Sample(x, 1, "sbi", pools[src]["framing"]) for x in _pick(pools[src]["sbi"], k, rng)]
    for src, k in _counts({s: p["fake_weight"] for s, p in pools.items() if p["fakes"]}, n - half - n_sbi, rng).items():
        out += [Sample(x, 1, "fake", pools[src]["framing"]) for x in _pick(pools[src]["fakes"], k, rng)]
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def frame_box(img: np.ndarray, box, scale: float, offset_y: float, inside: bool = False) -> np.ndarray:
    """The scanner's square face window around an MTCNN ``box`` (x1, y1, x2, y2), at full resolution
    (``inside``: kept inside the picture, as :func:`dfd_lib.faces.square_box` says)."""
    from ..faces import FaceBox, cut_window, square_box

    face = FaceBox((float(box[0]), float(box[1]), float(box[2]), float(box[3])), 1.0, ())
    return cut_window(img, square_box(face, scale, offset_y, img.shape[:2] if inside else None))


class CropDataset:
    """Loads face images under ``root`` (or absolute paths); ``train=True`` augments and builds pseudo-fakes.

    ``landmarks`` maps a path to its MTCNN ``(box, five points)``; samples framed ``pipeline``
    are cut from their box with the scanner's framing (``crop_scale``, ``crop_offset_y``), jittered
    a little in training. ``h264=False`` trains without the H.264 degradation (JPEG instead).
    """

    def __init__(
        self,
        root,
        samples: list[Sample],
        size: int,
        mean,
        std,
        train: bool,
        landmarks=None,
        seed: int = 0,
        crop_scale: float = 0.70,
        crop_offset_y: float = 0.09,
        h264: bool = True,
        crop_inside: bool = False,
        inside_share: float | None = None,
        view_scales: tuple[float, ...] = (),
        targets: dict[str, float] | None = None,
        sbi_local_share: float = 0.0,
    ):
        self.root = Path(root)
        self.samples = samples
        self.size = size
        self.mean, self.std = mean, std
        self.train = train
        self.landmarks = landmarks or {}
        self.seed = seed
        self.crop_scale, self.crop_offset_y = crop_scale, crop_offset_y
        self.h264 = h264
        self.crop_inside = crop_inside
        self.inside_share = float(crop_inside) if inside_share is None else float(inside_share)
        # training: a teacher's logit per picture; each item is then (x, label, target or NaN for a pseudo-fake)
        self.targets = targets
        self.sbi_local_share = float(sbi_local_share)  # pseudo-fakes blended in one face region only (sbi.local_mask)
        self.view_scales = tuple(view_scales)  # scoring (train=False): each item is these framings, (K, 3, H, W)
        if not 0.0 <= self.inside_share <= 1.0:
            raise ValueError(f"inside_share must lie in [0, 1], not {inside_share}")

    def _inside(self, rng) -> bool:
        """Whether this training crop is framed inside its picture. A draw only for a share strictly between 0 and 1,
        so that recipes with one framing keep their random stream (and so their results)."""
        if 0.0 < self.inside_share < 1.0:
            return bool(rng.random() < self.inside_share)
        return self.inside_share == 1.0

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, rel: str) -> np.ndarray:
        """The training image's RGB pixels; DataError naming the file if it cannot be decoded (truncated, not an
        image), so that the user knows which file to remove or replace."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(self.root / rel) as im:
                return np.asarray(im.convert("RGB"))
        except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as exc:
            raise DataError(f"training image {self.root / rel} cannot be decoded: {exc}") from exc

    def __getitem__(self, i: int):
        import torch

        s = self.samples[i]
        img = self.load(s.path)
        if self.train:
            rng = np.random.default_rng((self.seed, i, torch.initial_seed() % 2**32))
            if s.kind == "sbi":
                img, _ = self_blend(img, self.landmarks[s.path][1], rng, self.sbi_local_share)
            if s.framing == "pipeline":
                img = frame_box(
                    img,
                    self.landmarks[s.path][0],
                    self.crop_scale * rng.uniform(0.9, 1.2),
                    self.crop_offset_y + rng.uniform(-0.04, 0.04),
                    self._inside(rng),
                )
            img = augment(img, self.size, rng, self.h264)
            if self.targets is not None:
                t = float("nan") if s.kind == "sbi" else float(self.targets.get(s.path, float("nan")))
                return to_tensor(img, self.mean, self.std), torch.tensor(float(s.label)), torch.tensor(t)
        elif self.view_scales:
            views = torch.stack([to_tensor(v, self.mean, self.std) for v in self._views(img, s)])
            return views, torch.tensor(float(s.label))
        else:
            if s.framing == "pipeline":
                img = frame_box(img, self.landmarks[s.path][0], self.crop_scale, self.crop_offset_y, self.crop_inside)
            img = resize_square(img, self.size)
        return to_tensor(img, self.mean, self.std), torch.tensor(float(s.label))

    def _views(self, img: np.ndarray, s: Sample) -> list[np.ndarray]:
        """The sample framed at each of ``view_scales``: cut from its box, or (a crop framed as given) zoomed about
        its centre by each scale over ``crop_scale``."""
        from ..faces import zoom_views

        if s.framing != "pipeline":
            return zoom_views(img, self.size, [v / self.crop_scale for v in self.view_scales])
        box = self.landmarks[s.path][0]
        return [
            resize_square(frame_box(img, box, v, self.crop_offset_y, self.crop_inside), self.size)
            for v in self.view_scales
        ]
