"""Self-Blended Images (Shiohara and Yamasaki, CVPR 2022): pseudo-fakes from real faces alone.

One real face is blended with a slightly altered copy of itself inside a face-shaped mask.
The result carries the generic traces of face swapping (blending boundary, colour and
sharpness mismatch, small misalignment) without any particular generator's fingerprint,
which is what lets a detector hold up on manipulation methods it never saw.

Steps here: a convex face mask from MTCNN's five landmarks plus points derived from them,
elastically deformed and blurred; colour and sharpness jitter on the source copy; a small
affine shift; blending with a random ratio. JPEG recompression is applied later by the
common augmentation, to real and fake alike.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["face_hull_points", "blend_mask", "local_mask", "self_blend", "LOCAL_REGIONS"]

# Regions a local pseudo-fake is blended in: expression reenactment (Face2Face, NeuralTextures) rewrites the mouth
# and lower face, some edits only the eyes; a whole-face mask never shows the model a boundary inside the face.
LOCAL_REGIONS = ("mouth", "eyes", "lower_face")


def face_hull_points(landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points outlining the face from five landmarks (eyes, nose, mouth corners), randomly scaled."""
    le, re, nose, ml, mr = (np.asarray(p, dtype=np.float32) for p in landmarks)
    eye_mid = (le + re) / 2
    mouth_mid = (ml + mr) / 2
    down = mouth_mid - eye_mid  # eye-to-mouth vector
    d = float(np.linalg.norm(down)) + 1e-3
    across = (re - le) / (np.linalg.norm(re - le) + 1e-3)
    w = float(np.linalg.norm(re - le)) + 1e-3
    up_k = rng.uniform(0.15, 0.55)  # forehead height
    chin_k = rng.uniform(0.2, 0.55)
    side_k = rng.uniform(0.1, 0.4)
    pts: list[np.ndarray] = [
        eye_mid - down * up_k,
        le - across * w * side_k - down * up_k * 0.5,
        re + across * w * side_k - down * up_k * 0.5,
        le - across * w * side_k,
        re + across * w * side_k,
        ml - across * w * side_k * 0.7 + down * 0.2,
        mr + across * w * side_k * 0.7 + down * 0.2,
        mouth_mid + down * chin_k * (d / d),
        ml + down * chin_k * 0.8,
        mr + down * chin_k * 0.8,
        nose,
    ]
    return np.stack(pts).astype(np.float32)


def blend_mask(shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """HxW float32 mask in [0, 1]: deformed convex face hull with a blurred edge."""
    return _soften(_hull_mask(shape, face_hull_points(landmarks, rng)), rng)


def _region_points(region: str, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points outlining one region of the face (see ``LOCAL_REGIONS``), from the five landmarks, randomly sized."""
    le, re, nose, ml, mr = (np.asarray(p, dtype=np.float32) for p in landmarks)
    eye_mid, mouth_mid = (le + re) / 2, (ml + mr) / 2
    down = mouth_mid - eye_mid
    d = float(np.linalg.norm(down)) + 1e-3
    unit_down = down / d
    across = (re - le) / (np.linalg.norm(re - le) + 1e-3)
    w = float(np.linalg.norm(re - le)) + 1e-3
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)[:, None]
    if region == "mouth":
        centre = mouth_mid + down * rng.uniform(0.0, 0.15)
        a = (float(np.linalg.norm(mr - ml)) / 2 + 1e-3) * rng.uniform(1.3, 1.9)
        b = d * rng.uniform(0.3, 0.55)
    elif region == "eyes":
        centre = eye_mid
        a, b = w * rng.uniform(0.75, 0.95), d * rng.uniform(0.2, 0.35)
    elif region == "lower_face":
        side = rng.uniform(0.4, 0.7)
        chin = mouth_mid + down * rng.uniform(0.35, 0.6)
        pts = [
            nose - across * w * side - unit_down * d * 0.1,
            nose + across * w * side - unit_down * d * 0.1,
            ml - across * w * 0.35 + down * 0.25,
            mr + across * w * 0.35 + down * 0.25,
            chin - across * w * 0.3,
            chin + across * w * 0.3,
        ]
        return np.stack(pts).astype(np.float32)
    else:
        raise ValueError(f"unknown face region {region!r}; known: {', '.join(LOCAL_REGIONS)}")
    return (centre + a * np.cos(t) * across + b * np.sin(t) * unit_down).astype(np.float32)


def local_mask(
    shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator, region: str | None = None
) -> np.ndarray:
    """HxW float32 mask in [0, 1] over one region of the face (``region``, else one drawn from ``LOCAL_REGIONS``),
    deformed and blurred as :func:`blend_mask`'s."""
    region = region or str(rng.choice(LOCAL_REGIONS))
    return _soften(_hull_mask(shape, _region_points(region, landmarks, rng)), rng)


def _hull_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    mask: np.ndarray = np.zeros(shape, dtype=np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 1.0)
    return mask


def _soften(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = mask.shape
    # Elastic deformation: a smooth random displacement field.
    alpha = rng.uniform(0.01, 0.04) * w
    grid = max(3, w // 32)
    dx = cv2.resize(rng.normal(0, 1, (grid, grid)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC) * alpha
    dy = cv2.resize(rng.normal(0, 1, (grid, grid)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC) * alpha
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mask = cv2.remap(mask, xs + dx, ys + dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    # Random erosion or dilation, then a blurred edge.
    k = int(rng.integers(1, max(2, w // 20)))
    kernel = np.ones((k, k), np.uint8)
    mask = cv2.erode(mask, kernel) if rng.random() < 0.5 else cv2.dilate(mask, kernel)
    blur = int(rng.integers(max(3, w // 30), max(5, w // 8))) | 1
    mask = cv2.GaussianBlur(mask, (blur, blur), 0)
    if mask.max() > 0:
        mask = mask / mask.max()
    return mask


def _jitter_source(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = img.astype(np.float32)
    # Colour: per-channel shift, brightness/contrast, saturation.
    out += rng.uniform(-12, 12, size=3).astype(np.float32)
    c = rng.uniform(0.9, 1.1)
    b = rng.uniform(-10, 10)
    out = (out - 128) * c + 128 + b
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.8, 1.2)
    out = np.clip(out, 0, 255).astype(np.uint8)
    # Sharpness: blur or unsharp mask.
    r = rng.random()
    if r < 0.35:
        s = rng.uniform(0.5, 1.5)
        out = cv2.GaussianBlur(out, (0, 0), s)
    elif r < 0.7:
        blurred = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 2.0))
        out = cv2.addWeighted(out, 1.5, blurred, -0.5, 0)
    # Small affine shift and scale of the source.
    h, w = out.shape[:2]
    tx, ty = rng.uniform(-0.03, 0.03, size=2) * (w, h)
    s = rng.uniform(0.95, 1.05)
    m = np.array([[s, 0, (1 - s) * w / 2 + tx], [0, s, (1 - s) * h / 2 + ty]], dtype=np.float32)
    return cv2.warpAffine(out, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def self_blend(
    img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, local_share: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return (pseudo-fake RGB uint8, mask used) for a real face crop and its five landmarks. With ``local_share``
    > 0 that share of pseudo-fakes is blended in one region of the face only (:func:`local_mask`); at 0 no draw is
    made for it, so recipes without it keep their random stream."""
    mask = None
    if local_share > 0 and rng.random() < local_share:
        mask = local_mask(img.shape[:2], landmarks, rng)
        if mask.max() <= 0:  # a region eroded away: never a "fake" that is the real face unchanged
            mask = None
    if mask is None:
        mask = blend_mask(img.shape[:2], landmarks, rng)
    mask = mask * float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0]))
    source = _jitter_source(img, rng)
    m = mask[..., None]
    out = source.astype(np.float32) * m + img.astype(np.float32) * (1 - m)
    return np.clip(out, 0, 255).astype(np.uint8), mask
