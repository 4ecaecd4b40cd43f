"""Backbones, model cards and checkpoint loading."""

from .backbones import register_default_backbones
from .card import ModelCard
from .checkpoint import (
    LoadedModel,
    find_card,
    find_verified_card,
    list_cards,
    valid_cards,
    load_model,
    save_checkpoint,
    weights_dirs,
)
from .registry import BACKBONES, Backbone

__all__ = [
    "BACKBONES",
    "Backbone",
    "LoadedModel",
    "ModelCard",
    "find_card",
    "find_verified_card",
    "list_cards",
    "valid_cards",
    "load_model",
    "register_default_backbones",
    "save_checkpoint",
    "weights_dirs",
]
