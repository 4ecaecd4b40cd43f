"""Case bar: open or create a case (name, title, examiner, agency), see its summary and verification state."""

from __future__ import annotations

import html
import logging

import ipywidgets as widgets
from traitlets import Unicode

from .base import Component, button, reports_errors, styled, text_box
from .presenters import state_counts
from .state import AppState

__all__ = ["CaseBar"]

log = logging.getLogger(__name__)

_NEW = "(new case)"


class CaseBar(Component):
    """Publishes ``case_id``: the id of the open case ('' when none)."""

    case_id = Unicode("")

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.existing = styled(
            widgets.Dropdown(description="Case", options=[_NEW], layout=widgets.Layout(width="280px")), "dfd-case-list"
        )
        self.name = text_box("dfd-case-name", "Name", "e.g. FIR 123 of 2025")
        self.title = text_box("dfd-case-title", "Title", "case title")
        self.examiner = text_box("dfd-examiner", "Examiner", "your name")
        self.agency = text_box("dfd-agency", "Agency", "agency / unit")
        self.open_button = button(
            "dfd-open-case", self._on_open, description="Open / create", button_style="primary", icon="folder-open"
        )
        self.verify_button = button(
            "dfd-verify",
            self._on_verify,
            description="Verify",
            icon="check",
            disabled=True,
            tooltip="re-hash every file and check the custody chain",
        )
        self.summary = widgets.HTML("<i>No case open.</i>")
        self.existing.observe(self._on_pick, names="value")
        self.name.observe(self._on_name, names="value")
        super().__init__(
            [
                widgets.HBox([self.existing, self.name, self.open_button, self.verify_button]),
                widgets.HBox([self.title, self.examiner, self.agency]),
                self.summary,
            ]
        )
        self.add_class("dfd-case-bar")
        self.reload_cases()

    def controls(self) -> list[widgets.Widget]:
        return [self.existing, self.name, self.title, self.examiner, self.agency, self.open_button, self.verify_button]

    def reset(self) -> None:
        super().reset()
        for w in (self.name, self.title, self.examiner, self.agency):
            w.value = ""
        self.existing.value = _NEW

    @reports_errors("listing cases")
    def reload_cases(self) -> None:
        df = self.state.list_cases()
        self.existing.options = [(_NEW, _NEW)] + [
            (f"{r['id']} — {r['title']}", r["id"]) for r in df.to_dict("records") if not r["error"]
        ]

    def _on_pick(self, change: dict) -> None:
        if change["new"] not in (None, _NEW):
            self.name.value = str(change["new"])
        elif self.state.case is not None:  # "(new case)": nothing of the open case carries over
            self.name.value = ""

    def _on_name(self, change: dict) -> None:
        """Title and agency describe the open case: a name that is not that case's clears them, so a new case is
        never created (and logged, permanently) with another case's title and agency."""
        from dfd_lib.case.ids import case_id_from_name
        from dfd_lib.errors import DfdError

        case, name = self.state.case, str(change["new"]).strip()
        if case is None or not name:
            return
        try:
            same = case_id_from_name(name) == case.id
        except DfdError:  # not a valid name: opening it says why
            same = False
        if not same:
            self.title.value = self.agency.value = ""

    @reports_errors("opening the case")
    def _on_open(self, _: widgets.Button) -> None:
        with self.busy():
            case = self.state.open_case(self.name.value, self.title.value, self.examiner.value, self.agency.value)
        info = case.info
        self.title.value, self.agency.value = info.title, info.agency
        self.examiner.value = self.state.examiner
        self.reload_cases()
        self.existing.value = case.id
        self.refresh()

    @reports_errors("verifying the case")
    def _on_verify(self, _: widgets.Button) -> None:
        with self.busy():
            rep = self.state.verify()
        self.refresh()
        for line in rep.lines():
            (log.info if rep.ok else log.error)("%s", line)

    def refresh(self) -> None:
        """Redraw the summary from the state (subscribed to 'case' and 'items')."""
        case = self.state.case
        self.verify_button.disabled = case is None if not self.frozen else True
        if case is None:
            self.summary.value = "<i>No case open.</i>"
            self.case_id = ""
            return
        info = case.info
        counts = state_counts(self.state.items())
        n_items = sum(v for k, v in counts.items() if k not in ("reviewed", "sensitive"))
        per_state = " · ".join(f"{k} {v}" for k, v in counts.items() if k not in ("reviewed", "sensitive"))
        rep = self.state.last_verify
        if rep is None:
            ver = "<span class='dfd-verify-state'>not verified in this session</span>"
        elif rep.ok:
            ver = f"<span class='dfd-verify-state' style='color:#1b5e20'>intact (custody head #{rep.head_seq})</span>"
        else:
            ver = (
                f"<span class='dfd-verify-state' style='color:#c62828'>NOT intact: {len(rep.problems)} "
                f"problem(s)</span>"
            )
        e = html.escape
        self.summary.value = (
            f"<div class='dfd-case-summary'><b>{e(info.title)}</b> ({e(case.id)}) — examiner {e(info.examiner or '-')}"
            f", {e(info.agency or '-')}; created {e(info.created_ist)}<br>{n_items} item(s): {e(per_state) or '-'}; "
            f"reviewed {counts['reviewed']}, sensitive {counts['sensitive']}; verification: {ver}</div>"
        )
        self.case_id = case.id
