"""Triage grid: thumbnails most suspicious first, colour-coded by verdict, filters, counts and paging."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd
from traitlets import Int

from dfd_lib.case import ITEM_STATUSES, VERDICTS
from dfd_lib.media import MEDIA_TYPES

from .base import Component, button, reports_errors, styled
from .imaging import VERDICT_COLOURS, ThumbnailCache
from .presenters import ANY, UNREVIEWED, ItemFilter, filter_items, n_pages, page_of, state_counts
from .state import AppState

__all__ = ["TriageGrid", "PAGE_SIZE"]

log = logging.getLogger(__name__)

PAGE_SIZE = 24
_STATUS_OPTIONS = [ANY, *ITEM_STATUSES]


def _filter_choice(options: Sequence[Any], description: str, width: str, css_class: str) -> widgets.Dropdown:
    """A filter drop-down starting at 'any', its label as wide as its word (the filters wrap within the column)."""
    return styled(
        widgets.Dropdown(
            options=list(options),
            value=ANY,
            description=description,
            layout=widgets.Layout(width=width),
            style={"description_width": "initial"},
        ),
        css_class,
    )


class _Tile(widgets.VBox):
    """One reusable thumbnail tile; the grid keeps a fixed pool of them and refills their values."""

    def __init__(self, on_click: Callable[[int], None]) -> None:
        self.item_id: int | None = None
        self.image = widgets.Image(
            format="png", layout=widgets.Layout(width="128px", height="128px", object_fit="contain")
        )
        self.button = button(
            "dfd-tile-open",
            lambda _: on_click(self.item_id) if self.item_id is not None else None,
            layout=widgets.Layout(width="128px"),
        )
        self.caption = widgets.HTML(layout=widgets.Layout(width="128px"))
        super().__init__(
            [self.image, self.button, self.caption], layout=widgets.Layout(padding="3px", margin="3px", display="none")
        )
        self.add_class("dfd-tile")

    def show(self, row: dict, thumb: bytes, selected: bool) -> None:
        self.item_id = int(row["item_id"])
        score = row["score"] if row["score"] == row["score"] else None
        colour = VERDICT_COLOURS.get(row["analyst_verdict"] or row["verdict"], VERDICT_COLOURS[None])
        self.image.value = thumb
        self.button.description = f"#{self.item_id} " + ("-" if score is None else f"{score:.3f}")
        self.button.tooltip = f"open item {self.item_id}: {row['name']}"
        self.button.style.button_color = colour
        self.button.style.text_color = "white"
        analyst = row["analyst_verdict"] or "unreviewed"
        flag = " ⚠ sensitive" if row["sensitive"] else ""
        self.caption.value = (
            # max-width: the name is cut with an ellipsis inside the tile (its full name in the tooltip), never by
            # the tile's border
            f"<div style='font-size:11px;line-height:1.2;overflow:hidden;white-space:nowrap;max-width:124px;"
            f"text-overflow:ellipsis' title='{html.escape(str(row['name']))}'>"
            f"{html.escape(str(row['name']))}<br>{html.escape(row['status'])} · "
            f"{html.escape(analyst)}{flag}</div>"
        )
        self.layout.display = "flex"
        self.layout.border = f"{4 if selected else 2}px solid {colour if not selected else '#1565c0'}"
        for cls, on in (("dfd-tile-selected", selected),):
            (self.add_class if on else self.remove_class)(cls)

    def hide(self) -> None:
        self.item_id = None
        self.layout.display = "none"


class TriageGrid(Component):
    """Publishes ``selected_item``: the id of the item last opened from the grid (None when none)."""

    selected_item = Int(None, allow_none=True)

    def __init__(self, state: AppState, on_select: Callable[[int], None], page_size: int = PAGE_SIZE) -> None:
        self.state, self.on_select, self.page_size = state, on_select, page_size
        self.page = 0
        self.thumbs = ThumbnailCache()
        # the filters sit in the grid's column (44% of the page: 572 px at a 1366 px window): labels as wide as
        # their words, and each row wraps rather than pushing a filter out of the column, where it would be cut
        label = {"description_width": "initial"}
        self.status = _filter_choice(_STATUS_OPTIONS, "Status", "180px", "dfd-filter-status")
        self.score = styled(
            widgets.FloatRangeSlider(
                value=(0.0, 1.0),
                min=0.0,
                max=1.0,
                step=0.01,
                description="Score",
                readout_format=".2f",
                continuous_update=False,
                layout=widgets.Layout(width="320px"),
                style=label,
            ),
            "dfd-filter-score",
        )
        self.analyst = _filter_choice([ANY, UNREVIEWED, *VERDICTS], "Analyst", "190px", "dfd-filter-analyst")
        self.tag = styled(
            widgets.Text(
                placeholder="tag",
                description="Tag",
                continuous_update=False,
                layout=widgets.Layout(width="160px"),
                style=label,
            ),
            "dfd-filter-tag",
        )
        self.media = _filter_choice([ANY, *MEDIA_TYPES], "Media", "160px", "dfd-filter-media")
        self.counts = styled(widgets.HTML(), "dfd-counts")
        self.prev_button = widgets.Button(description="◀ prev page", layout=widgets.Layout(width="110px"))
        self.next_button = widgets.Button(description="next page ▶", layout=widgets.Layout(width="110px"))
        self.page_label = styled(widgets.HTML(), "dfd-page-label")
        self.tiles = [_Tile(self._open) for _ in range(page_size)]
        self.box = widgets.Box(self.tiles, layout=widgets.Layout(display="flex", flex_flow="row wrap"))
        for w in (self.status, self.score, self.analyst, self.tag, self.media):
            w.observe(self._on_filter, names="value")
        self.prev_button.on_click(lambda _: self.go_to(self.page - 1))
        self.next_button.on_click(lambda _: self.go_to(self.page + 1))
        legend = " ".join(
            f"<span style='background:{VERDICT_COLOURS[v]};color:white;padding:0 4px;border-radius:3px'>{v}</span>"
            for v in VERDICTS
        )
        self.legend = widgets.HTML(
            f"<div style='font-size:11px'>colour = analyst verdict, else the model's (grey: no score): {legend}</div>"
        )
        super().__init__(
            [
                widgets.HBox([self.status, self.score], layout=widgets.Layout(flex_flow="row wrap")),
                widgets.HBox([self.analyst, self.tag, self.media], layout=widgets.Layout(flex_flow="row wrap")),
                self.counts,
                self.legend,
                widgets.HBox([self.prev_button, self.page_label, self.next_button]),
                self.box,
            ]
        )
        self.add_class("dfd-grid")

    def controls(self) -> list[widgets.Widget]:
        return [self.status, self.score, self.analyst, self.tag, self.media, self.prev_button, self.next_button]

    def reset(self) -> None:
        super().reset()
        self.status.value, self.score.value, self.analyst.value = ANY, (0.0, 1.0), ANY
        self.tag.value, self.media.value = "", ANY
        self.page = 0
        self.selected_item = None
        self.refresh()

    # -- data ------------------------------------------------------------------------------------
    @property
    def item_filter(self) -> ItemFilter:
        return ItemFilter(
            self.status.value,
            self.score.value[0],
            self.score.value[1],
            self.analyst.value,
            self.tag.value,
            self.media.value,
        )

    def visible(self) -> pd.DataFrame:
        """The filtered items, in display order (all pages)."""
        return filter_items(self.state.items(), self.item_filter)

    def _on_filter(self, _: dict) -> None:
        self.page = 0
        self.refresh()

    @reports_errors("drawing the triage grid")
    def refresh(self) -> None:
        all_items = self.state.items()
        df = filter_items(all_items, self.item_filter)
        self.page = min(self.page, n_pages(len(df), self.page_size) - 1)
        rows = page_of(df, self.page, self.page_size).to_dict("records")
        for tile, row in zip(self.tiles, rows):
            tile.show(
                row,
                self.thumbs.get(row["sha256"], row["stored_path"], row["media_kind"]),
                row["item_id"] == self.state.selected,
            )
        for tile in self.tiles[len(rows) :]:
            tile.hide()
        c = state_counts(all_items) if len(all_items) else {}
        parts = [f"{html.escape(k)}: <b>{v}</b>" for k, v in c.items() if k not in ("reviewed", "sensitive")]
        self.counts.value = (
            f"{len(df)} of {len(all_items)} item(s) shown — "
            + " · ".join(parts)
            + (f" · reviewed: <b>{c['reviewed']}</b> · sensitive: <b>{c['sensitive']}</b>" if c else "")
        )
        self.page_label.value = f"&nbsp;page {self.page + 1} / {n_pages(len(df), self.page_size)}&nbsp;"

    def go_to(self, page: int) -> None:
        self.page = max(0, page)
        self.refresh()

    # -- selection -------------------------------------------------------------------------------
    @reports_errors("opening the item")
    def _open(self, item_id: int) -> None:
        self.on_select(item_id)
        self.selected_item = item_id
        self.refresh()

    def open_first(self) -> None:
        """Open the most suspicious visible item."""
        df = self.visible()
        if not df.empty:
            self._open(int(df.iloc[0]["item_id"]))

    @reports_errors("moving to another item")
    def step(self, delta: int) -> None:
        """Open the next (``+1``) or previous (``-1``) visible item, turning pages as needed."""
        ids = [int(i) for i in self.visible()["item_id"]]
        if not ids:
            return
        cur = self.state.selected
        pos = ids.index(cur) + delta if cur in ids else 0
        pos = min(max(pos, 0), len(ids) - 1)
        self.page = pos // self.page_size
        self._open(ids[pos])
