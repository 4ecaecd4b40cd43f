"""Errors raised while making a report; they derive from :class:`dfd_lib.errors.DfdError`."""

from __future__ import annotations

from ..errors import DfdError

__all__ = ["ReportError", "ReportCancelled"]


class ReportError(DfdError):
    """A report could not be produced."""


class ReportCancelled(ReportError):
    """The caller cancelled through its Progress object; nothing was written or logged."""
