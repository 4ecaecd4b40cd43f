"""Which model card's findings a report or bundle shows: one card per report, never a mix.

A case can hold the findings of several cards (a fast first pass with ``dfd-lite0-multi-fast``, then the default; a
second opinion from another model). Each card has its own threshold and calibration, so a report that took each
item's latest finding of any card would count verdicts reached at different thresholds as one, and its model section
would describe cards that scored only some of its items. A report therefore shows one card's findings: the one the
examiner names, else the installed default card where it scored anything in the case, else the card that scored
last. The other cards are named with the number of items each scored, so the reader knows they exist.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..case import Case
from ..errors import ModelCardError, ModelNotFound
from ..models import find_card
from .errors import ReportError

__all__ = ["CHOSEN_BY", "ReportCard", "choose_report_card"]

CHOSEN_BY = {
    "examiner": "chosen by the examiner",
    "default": "the installed default model",
    "latest": "the model that scored last",
}


@dataclass(frozen=True)
class ReportCard:
    """The card whose findings a report shows, and the others that scored items of the case."""

    name: str | None  # None: no item of the case has been scored by any card
    sha256: str | None
    chosen_by: str  # "examiner", "default" (the installed default card), "latest" (the card that scored last), ""
    others: tuple[tuple[str, str, int], ...] = ()  # (name, weights SHA-256, items it scored), latest first

    @property
    def chosen_by_words(self) -> str:
        """Why this card, in words ('' where no card was chosen)."""
        return CHOSEN_BY.get(self.chosen_by, "")

    @property
    def key(self) -> tuple[str | None, str | None]:
        """(weights SHA-256, name): the filter :meth:`dfd_lib.case.Case.details` takes."""
        return self.sha256, self.name


def _used_cards(case: Case) -> list[tuple[str, str, int]]:
    """(name, weights SHA-256, items scored) of every card with a detector finding in the case, latest first."""
    found = case.findings(kind="detector")
    found = found[found["kind"] == "detector"]
    if found.empty:
        return []
    groups = found.groupby(["model_name", "model_sha256"], sort=False).agg(
        last=("id", "max"), items=("item_id", "nunique")
    )
    groups = groups.sort_values("last", ascending=False)
    return [(str(name), str(sha), int(r["items"])) for (name, sha), r in groups.iterrows()]


def choose_report_card(
    case: Case, model: str | None = None, weights_dir: str | os.PathLike | None = None
) -> ReportCard:
    """The card a report of ``case`` shows (see the module notes). ``model``: a card name the examiner chose; it
    must have scored items of the case if any card has (else :class:`ReportError` naming the cards that did)."""
    used = _used_cards(case)
    if model is not None:
        mine = [u for u in used if u[0] == model]
        if not mine:
            if not used:  # nothing scored yet: the report says so; any card name is as good as another
                return ReportCard(model, None, "examiner")
            scored = "; ".join(f"{n} ({k} item{'s' if k != 1 else ''})" for n, _, k in used)
            raise ReportError(f"model {model!r} scored no item of case {case.id}; models with findings: {scored}")
        chosen, chosen_by = mine[0], "examiner"
    elif not used:
        return ReportCard(None, None, "")
    else:
        chosen, chosen_by = used[0], "latest"
        if len(used) > 1:
            try:
                _, card = find_card(None, weights_dir)
            except (ModelNotFound, ModelCardError):
                card = None
            default = [u for u in used if card is not None and (u[0], u[1]) == (card.name, card.sha256)]
            if default:
                chosen, chosen_by = default[0], "default"
    others = tuple(u for u in used if u is not chosen)
    return ReportCard(chosen[0], chosen[1], chosen_by, others)
