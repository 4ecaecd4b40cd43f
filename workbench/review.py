"""Review panel: the analyst's verdict, notes, tags and sensitive flag, saved through ``case.annotate``.

Keys (with the mouse over the item picture, see :mod:`workbench.shortcuts`): ``j`` next item, ``k`` previous
item, ``1``-``6`` set the verdict in the order of ``VERDICTS`` and save, ``s`` save.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import ipywidgets as widgets
from traitlets import Instance

from dfd_lib.case import VERDICTS, Annotation, review_version

from .base import Component, button, reports_errors, styled, text_box
from .state import AppState

__all__ = ["ReviewPanel", "KEY_HELP"]

log = logging.getLogger(__name__)

KEY_HELP = (
    "keys (mouse over the picture): j next · k previous · "
    + " · ".join(f"{i + 1} {v}" for i, v in enumerate(VERDICTS))
    + " (saves) · s save"
)


class ReviewPanel(Component):
    """Publishes ``last_saved``: the annotation most recently saved from this panel."""

    last_saved = Instance(Annotation, allow_none=True)

    def __init__(self, state: AppState, on_step: Callable[[int], None]) -> None:
        self.state, self.on_step = state, on_step
        self.item: int | None = None
        self.based_on: int | None = None  # the review version the form shows (0: never reviewed)
        self.verdict = styled(
            widgets.ToggleButtons(
                options=[(v.replace("_", " "), v) for v in VERDICTS],
                value=None,
                tooltips=[f"key {i + 1}" for i in range(len(VERDICTS))],
                style={"button_width": "98px"},
            ),
            "dfd-verdict",
        )
        self.notes = styled(
            widgets.Textarea(
                placeholder="what you saw, why",
                description="Notes",
                layout=widgets.Layout(width="560px", height="70px"),
            ),
            "dfd-notes",
        )
        self.tags = text_box("dfd-tags", "Tags", "comma-separated, e.g. whatsapp, morphed", "560px")
        self.sensitive = styled(
            widgets.Checkbox(description="sensitive (withhold media from exports)", indent=False), "dfd-sensitive"
        )
        self.save_button = button(
            "dfd-save-review", lambda _: self.save(), description="Save review (s)", button_style="success", icon="save"
        )
        self.prev_button = button("dfd-prev", lambda _: self.on_step(-1), description="◀ previous (k)")
        self.next_button = button("dfd-next", lambda _: self.on_step(1), description="next (j) ▶")
        self.message = widgets.HTML(f"<span style='font-size:11px;color:#616161'>{KEY_HELP}</span>")
        super().__init__(
            [
                widgets.HTML("<b>Verdict</b> (keys 1-6 choose and save)"),
                self.verdict,
                self.notes,
                self.tags,
                self.sensitive,
                widgets.HBox([self.save_button, self.prev_button, self.next_button]),
                self.message,
            ]
        )
        self.add_class("dfd-review")
        self.load(None)

    def controls(self) -> list[widgets.Widget]:
        return [self.verdict, self.notes, self.tags, self.sensitive, self.save_button]

    def reset(self) -> None:
        super().reset()
        self.load(None)

    def load(self, item_id: int | None) -> None:
        """Fill the form with the item's current review (empty when never reviewed)."""
        self.item = item_id
        current = self.state.require_case().history(item_id)[-1:] if item_id is not None else []
        ann = current[0] if current else None
        self.based_on = review_version(ann) if item_id is not None else None
        self.verdict.value = ann.verdict if ann else None
        self.notes.value = ann.notes if ann else ""
        self.tags.value = ", ".join(ann.tags) if ann else ""
        self.sensitive.value = ann.sensitive if ann else False
        disabled = item_id is None
        for w in self.controls():
            w.disabled = disabled

    @reports_errors("saving the review")
    def save(self) -> None:
        if self.item is None:
            raise ValueError("open an item before saving a review")
        with self.busy():
            # every field is saved, so the save must be based on the review as it is now: if another
            # examiner saved since this form was loaded, StaleReview is reported and the form keeps
            # what was typed (reload the item to see their review)
            saved = self.state.annotate(
                self.item,
                self.verdict.value,
                self.notes.value,
                self.tags.value,
                self.sensitive.value,
                based_on=self.based_on,
            )
            self.based_on = review_version(saved)
            self.last_saved = saved

    def set_verdict(self, verdict: str, save: bool = True) -> None:
        """Choose a verdict (keyboard 1-6) and save at once."""
        if self.item is None:
            log.warning("open an item before choosing a verdict")
            return
        self.verdict.value = verdict
        if save:
            self.save()

    def key_handlers(self) -> dict[str, Callable[[], None]]:
        keys: dict[str, Callable[[], None]] = {
            "j": lambda: self.on_step(1),
            "k": lambda: self.on_step(-1),
            "s": self.save,
        }
        for i, v in enumerate(VERDICTS):
            keys[str(i + 1)] = partial(self.set_verdict, v)
        return keys
