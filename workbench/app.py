"""The whole workbench: builds the components around one AppState and links them. No logic of its own."""

from __future__ import annotations

import os

import ipywidgets as widgets

from dfd_lib.env import WEIGHTS_DIR_ENV

from .case_bar import CaseBar
from .export import ExportPanel
from .grid import TriageGrid
from .intake import Intake
from .item_view import ItemView
from .logsink import LogPanel
from .review import ReviewPanel
from .shortcuts import KeyboardShortcuts
from .state import AppState

__all__ = ["Workbench", "build_app", "STYLE"]

STYLE = """<style>
.dfd-workbench { font-family: system-ui, sans-serif; }
.dfd-workbench .ipyevents-watched { outline: 3px solid #1565c0; }
.dfd-workbench h2 { margin: 4px 0; }
.dfd-tile-selected { box-shadow: 0 0 6px #1565c0; }
.dfd-verdict .widget-toggle-button { font-size: 12px; padding: 0 2px; }
.dfd-verdict .widget-toggle-button.mod-active { background: #1565c0; color: white; }
.dfd-spinner { display: inline-block; width: 10px; height: 10px; border: 2px solid #90caf9; border-top-color: #1565c0;
  border-radius: 50%; animation: dfd-spin 0.9s linear infinite; vertical-align: -2px; }
@keyframes dfd-spin { to { transform: rotate(360deg); } }
</style>"""


class Workbench(widgets.VBox):
    """Case bar, intake, triage grid, item view, review and export, all on one AppState."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.log_panel = LogPanel()
        self.log_panel.attach()
        self.case_bar = CaseBar(state)
        self.intake = Intake(state)
        self.grid = TriageGrid(state, on_select=state.select)
        self.item_view = ItemView(state)
        self.review = ReviewPanel(state, on_step=self.grid.step)
        self.export = ExportPanel(state)
        self.shortcuts = KeyboardShortcuts(self.item_view, self.review.key_handlers())
        self._link()
        right = widgets.VBox(
            [self.item_view, widgets.HTML("<h3>Review</h3>"), self.review, self.item_view.tabs],
            layout=widgets.Layout(width="56%", padding="0 0 0 12px"),
        )
        left = widgets.VBox([widgets.HTML("<h3>Triage</h3>"), self.grid], layout=widgets.Layout(width="44%"))
        self.tabs = widgets.Tab(
            children=[widgets.HBox([left, right]), self.export], titles=("Triage & review", "Report & export")
        )
        super().__init__(
            [
                widgets.HTML(STYLE + "<h2>dfd — deepfake forensic workbench</h2>"),
                self.case_bar,
                self.intake,
                self.log_panel,
                self.tabs,
            ]
        )
        self.add_class("dfd-workbench")
        self.state.notify("case")

    def _link(self) -> None:
        s = self.state
        s.subscribe("case", self.case_bar.refresh)
        s.subscribe("case", self.grid.reset)
        s.subscribe("case", self.item_view.reset)
        s.subscribe("case", self.review.reset)
        s.subscribe("items", self.case_bar.refresh)
        s.subscribe("items", self.grid.refresh)
        s.subscribe("items", self.item_view.refresh)
        s.subscribe("selection", lambda: self.item_view.show(s.selected))
        s.subscribe("selection", lambda: self.review.load(s.selected))
        s.subscribe("case", self.export.refresh)
        s.subscribe("export", self.item_view.refresh_history)
        self.intake.observe(self._on_running, names="running")

    def _on_running(self, change: dict) -> None:
        for c in (self.case_bar, self.export):
            (c.freeze if change["new"] else c.unfreeze)()

    def close_all(self) -> None:
        self.intake.detach()
        self.log_panel.detach()
        self.state.close()


def build_app(
    cases_dir: str | os.PathLike | None = None, weights_dir: str | os.PathLike | None = None, model: str | None = None
) -> Workbench:
    """The dashboard. Case store and models come from the arguments, else ``$DFD_CASES_DIR`` / ``$DFD_WEIGHTS_DIR``."""
    return Workbench(AppState(cases_dir, weights_dir or os.environ.get(WEIGHTS_DIR_ENV) or None, model))
