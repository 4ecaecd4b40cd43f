"""Error types for the workbench.

Every failure the library can explain derives from :class:`DfdError`, so callers can
catch one type and still show a precise message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .results import FileStatus

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
    "DataSpecError",
    "TrainingConfigError",
]


class DfdError(Exception):
    """Root of every error raised on purpose by dfd_lib."""


class MediaError(DfdError):
    """A piece of evidence could not be used; ``status`` names the per-file state."""

    status: ClassVar[FileStatus] = "unreadable"


class UnreadableMedia(MediaError):
    status: ClassVar[FileStatus] = "unreadable"


class UnsupportedMedia(MediaError):
    status: ClassVar[FileStatus] = "unsupported"


class MediaTooLarge(MediaError):
    status: ClassVar[FileStatus] = "too_large"


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
    """A training or evaluation data set is malformed or missing."""


class DataSpecError(DataError):
    """A multi-source data spec (.yaml) cannot be read or is invalid."""


class TrainingConfigError(DfdError, ValueError):
    """A training or evaluation setting is invalid (a ValueError too, for callers that catch that)."""
