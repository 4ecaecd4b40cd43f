"""Registries (backbones, forensic analyses): explicit registration, no duplicates, helpful unknown-name errors."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

from ..errors import RegistryError

__all__ = ["Backbone", "Registry", "BACKBONES"]


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


T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    """Name -> item (anything with a ``name``), registered explicitly; duplicates refused."""

    kind: str
    _items: dict[str, T] = field(default_factory=dict)

    def register(self, item: T) -> T:
        if item.name in self._items:
            raise RegistryError(f"{self.kind} {item.name!r} is already registered")
        self._items[item.name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items


BACKBONES: Registry[Backbone] = Registry("backbone")
