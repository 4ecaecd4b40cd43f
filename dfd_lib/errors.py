"""Error types for the workbench.

Every failure the library can explain derives from :class:`DfdError`, so callers can
catch one type and still show a precise message.
"""
from __future__ import annotations

__all__ = [
    "DfdError",
    "MediaError",
    "UnreadableMedia",
    "UnsupportedMedia",
    "MediaTooLarge",
    "ModelError",
    "ModelNotFound",
    "ModelCardError",
    "ModelCardMismatch",
    "RegistryError",
    "DataError",
]


class DfdError(Exception):
    """Root of every error raised on purpose by dfd_lib."""


class MediaError(DfdError):
    """A piece of evidence could not be used; ``status`` names the per-file state."""

    status = "unreadable"


class UnreadableMedia(MediaError):
    status = "unreadable"


class UnsupportedMedia(MediaError):
    status = "unsupported"


class MediaTooLarge(MediaError):
    status = "too_large"


class ModelError(DfdError):
    """A model could not be built or loaded."""


class ModelNotFound(ModelError):
    pass


class ModelCardError(ModelError):
    """A model card is missing, malformed or incomplete."""


class ModelCardMismatch(ModelCardError):
    """The weights file does not match the SHA-256 its card records."""


class RegistryError(DfdError):
    """Unknown or duplicate name in a registry."""


class DataError(DfdError):
    """A training or evaluation data set is malformed."""
