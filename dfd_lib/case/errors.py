"""Errors raised by the case layer; all derive from :class:`dfd_lib.errors.DfdError`."""

from __future__ import annotations

from ..errors import DfdError

__all__ = [
    "CaseError",
    "InvalidCaseName",
    "CaseNotFound",
    "CaseNameConflict",
    "CaseSchemaError",
    "ItemNotFound",
    "AmbiguousItem",
    "StaleReview",
    "CaseReadOnly",
    "CustodyBroken",
]


class CaseError(DfdError):
    """A case could not be created, opened or changed."""


class CaseReadOnly(CaseError):
    """A write to a case opened read-only (or kept on read-only media)."""


class CustodyBroken(CaseError):
    """The custody log no longer ends where its anchor says: entries were removed or rewritten outside dfd.
    Nothing more is appended, so that the break stays on record for every later verification."""


class InvalidCaseName(CaseError):
    """A case name that cannot safely become a folder name (path separators, '..', control characters)."""


class CaseNotFound(CaseError):
    """No case of that name exists in the case store."""


class CaseNameConflict(CaseError):
    """Creating a case would open the folder of a case created under a different name."""


class CaseSchemaError(CaseError):
    """The case database is damaged or was written by a newer version of the tool."""


class ItemNotFound(CaseError):
    """No evidence item matches the given id or SHA-256 prefix."""


class AmbiguousItem(CaseError):
    """More than one evidence item matches the given SHA-256 prefix."""


class StaleReview(CaseError):
    """A review save based on an older version of the item's review (another examiner saved since)."""

    def __init__(self, message: str, current=None) -> None:
        super().__init__(message)
        self.current = current  # the review record now current (an Annotation), or None
