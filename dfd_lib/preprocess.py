"""Model input preparation shared by inference and training: square resize and normalisation."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["resize_square", "to_tensor"]


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    if (h, w) == (size, size):
        return img
    interp = cv2.INTER_AREA if max(h, w) > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def to_tensor(img: np.ndarray, mean, std):
    """HxWx3 uint8 RGB -> normalised 3xHxW float tensor."""
    import torch

    t = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (t - m) / s
