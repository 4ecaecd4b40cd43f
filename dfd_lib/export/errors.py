"""Errors raised while building an export bundle; they derive from :class:`dfd_lib.errors.DfdError`."""

from __future__ import annotations

from ..errors import DfdError

__all__ = ["ExportError", "ExportCancelled"]


class ExportError(DfdError):
    """The export bundle could not be built (for example, the case failed verification)."""


class ExportCancelled(ExportError):
    """The caller cancelled through its Progress object; nothing was written or logged."""
