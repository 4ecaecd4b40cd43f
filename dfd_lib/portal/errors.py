"""Errors of portal profiles and form answers; they derive from :class:`dfd_lib.errors.DfdError`."""

from __future__ import annotations

from typing import Sequence

from ..errors import DfdError

__all__ = ["PortalError", "PortalFieldsError"]


class PortalError(DfdError):
    """An unknown portal, a malformed portal profile or an unreadable fields file."""


class PortalFieldsError(PortalError):
    """Portal form fields are missing or invalid; ``problems`` lists every one of them."""

    def __init__(self, portal: str, problems: Sequence[str]) -> None:
        self.portal = portal
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"the {portal} form has {len(self.problems)} missing or invalid field(s):\n{lines}\n"
            f"Fill them with `dfd portal-form CASE --portal {portal}` (or --from FIELDS.yaml; "
            f"`dfd portal-form --portal {portal} --template` prints every field)."
        )
