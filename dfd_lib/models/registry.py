"""The backbone registry: how each classifier architecture is built (see :class:`dfd_lib.registry.Registry`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..registry import Registry

__all__ = ["Backbone", "BACKBONES"]


@dataclass(frozen=True)
class Backbone:
    """How to build one classifier architecture with a single 'fake' logit.

    ``build(pretrained)`` returns an ``nn.Module`` mapping a normalised NCHW batch to N logits
    (shape N x 1). ``pretrained=True`` initialises from weights that ship inside an installed
    package (never from the network). ``cam_layer(module)`` names the layer Grad-CAM hooks.
    """

    name: str
    build: Callable[[bool], object]
    cam_layer: Callable[[object], object]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    description: str = ""
    pretrained_source: str = ""
    has_pretrained: bool = True  # False: build(True) fails (no offline weights); training then starts from random


BACKBONES: Registry[Backbone] = Registry("backbone")
