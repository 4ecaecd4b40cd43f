"""Grad-CAM explanations (pytorch-grad-cam): where in a face crop the classifier looked.

The heatmap shows which regions raised the 'fake' logit. It is a guide for the examiner's
eye, not a segmentation of the manipulated area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from .models.backbones import BACKBONES
from .models.checkpoint import LoadedModel

if TYPE_CHECKING:
    import torch

__all__ = ["Explanation", "Explainer", "overlay"]


@dataclass(frozen=True)
class Explanation:
    heatmap: np.ndarray = field(repr=False)  # HxW float32 in [0, 1], crop resolution
    overlay: np.ndarray = field(repr=False)  # HxWx3 uint8 RGB: heatmap blended over the crop
    # P(fake) of this one crop (the card's framing); a card with several views scores the face as their mean
    p_fake: float
    method: str = "Grad-CAM"
    target_layer: str = ""


def _graph_starts_here(_module, _inputs, output):
    """Forward hook: the layer's output as a leaf that records gradients, cut from the layers below
    (only where gradients are recorded: an ordinary scan's forward pass goes through unchanged)."""
    import torch

    if not torch.is_grad_enabled():
        return None
    return output.detach().requires_grad_(True)


def overlay(crop: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] heatmap (jet colour map) over an RGB uint8 crop; ``opacity`` is the heatmap's weight."""
    import cv2

    if heatmap.shape[:2] != crop.shape[:2]:
        heatmap = cv2.resize(heatmap, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((255 * np.clip(heatmap, 0, 1)).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    out = crop.astype(np.float32) * (1 - opacity) + colour.astype(np.float32) * opacity
    return np.clip(out, 0, 255).astype(np.uint8)


class Explainer:
    """Grad-CAM for one loaded model; use as a context manager so the hooks are released."""

    def __init__(self, model: LoadedModel, device: str = "cpu") -> None:
        from pytorch_grad_cam import GradCAM

        self.model = model
        self.device = device
        bb = BACKBONES.get(model.card.backbone)
        self._layer = cast("torch.nn.Module", bb.cam_layer(model.module))
        self._layer_name = next((n for n, m in model.module.named_modules() if m is self._layer), "")
        # Grad-CAM needs the logit's gradient at the target layer only. Starting the graph there (its output
        # as a new leaf, registered before pytorch-grad-cam's own hooks) spares the backward pass through
        # every layer below it: the same heatmap, 3x faster on this CPU (bench/release_bench.py).
        self._cut = self._layer.register_forward_hook(_graph_starts_here)
        self._cam = GradCAM(model=model.module, target_layers=[self._layer])

    def __enter__(self) -> "Explainer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._cam is not None:
            self._cam.activations_and_grads.release()
            self._cut.remove()
            self._cam = None

    def explain(self, crop: np.ndarray, opacity: float = 0.5) -> Explanation:
        """Heatmap and overlay for one face crop (RGB uint8)."""
        import torch
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        from .detector import Detector

        if self._cam is None:
            raise RuntimeError("explainer is closed")
        det = Detector(self.model, self.device)
        x = det.to_batch([crop]).to(self.device)
        with torch.enable_grad():
            heat = self._cam(input_tensor=x, targets=[ClassifierOutputTarget(0)])[0]
            logit = (
                float(self._cam.outputs.detach().reshape(-1)[0])
                if hasattr(self._cam, "outputs")
                else float(det.logits([crop])[0])
            )
        p = float(det.calibrate(np.array([logit]))[0])
        heat = np.nan_to_num(heat.astype(np.float32))
        import cv2

        heat = cv2.resize(heat, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
        return Explanation(heatmap=heat, overlay=overlay(crop, heat, opacity), p_fake=p, target_layer=self._layer_name)
