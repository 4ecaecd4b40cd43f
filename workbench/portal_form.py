"""A form generated from a portal profile's fields: one input per field, in order, grouped by section.

Fields with allowed values become drop-downs (a field whose values depend on another is refilled
when that one changes); ``multiple`` fields take one value per line. Validation is the profile's own.
"""

from __future__ import annotations

import html
import textwrap
from typing import Any

import ipywidgets as widgets
from traitlets import Dict

from dfd_lib.portal.fieldcheck import FORMATS

from .base import Component

__all__ = ["PortalForm", "web_hint", "fits_one_line", "hint_rows"]

_LABEL = widgets.Layout(width="300px")
_INPUT = widgets.Layout(width="460px")
# what the 460 px inputs show in Chromium: about 72 characters of a one-line input's placeholder (the page's sans-serif
# font; measured by tests/test_dashboard.py), 53 to a line of a text area's (monospace, where 46 leaves room for
# the words that wrap early)
ONE_LINE_CHARS = 72
TEXTAREA_CHARS = 46


def web_hint(f: Any) -> str:
    """The placeholder of a field's input: what to type, in plain words for a web page, whole.

    A field with a format says the format (the profile's help, written for every medium, stays in
    the label's tooltip); others show their help. Multi-value fields take one value per line.
    """
    text = (FORMATS[f.format] if f.format else (f.help or "")).strip()
    if f.multiple:
        text = f"{text.rstrip('.')}; one per line" if text else "one per line"
    return text


def fits_one_line(text: str) -> bool:
    """Whether ``text`` shows whole as the placeholder of a one-line input."""
    return len(text) <= ONE_LINE_CHARS


def hint_rows(text: str) -> int:
    """Rows a multi-line input needs to show its placeholder ``text`` whole, plus one to type on (3 at least)."""
    return max(3, len(textwrap.wrap(text, TEXTAREA_CHARS)) + 1)


class PortalForm(Component):
    """Publishes ``values``: the current answers, field id -> text (or list of texts for ``multiple``)."""

    values = Dict()

    def __init__(self) -> None:
        self.profile: Any = None
        self.inputs: dict[str, widgets.ValueWidget] = {}
        self.rows: dict[str, widgets.Widget] = {}
        self.headers: dict[str, widgets.Widget] = {}
        # a Checkbox cuts its description at the default widget width: let it take the width its words need
        self.anonymous = widgets.Checkbox(
            description="anonymous complaint (leave out the complainant block)",
            indent=False,
            layout=widgets.Layout(width="auto"),
            style={"description_width": "initial"},
        )
        self.anonymous.add_class("dfd-anonymous")
        self.anonymous.observe(lambda _: self._show_sections(), names="value")
        self.body = widgets.VBox()
        self.problems = widgets.HTML()
        self.problems.add_class("dfd-form-problems")
        super().__init__([self.anonymous, self.body, self.problems])
        self.add_class("dfd-portal-form")

    def controls(self) -> list[widgets.Widget]:
        return [self.anonymous, *self.inputs.values()]

    def reset(self) -> None:
        super().reset()
        for w in self.inputs.values():
            w.value = ""
        self.anonymous.value = False
        self.problems.value = ""

    # -- building ----------------------------------------------------------------------------------
    def build(self, profile: Any, values: dict[str, Any]) -> None:
        """Generate the inputs for ``profile`` and fill them with ``values``."""
        self.profile, self.inputs, self.rows, self.headers = profile, {}, {}, {}
        children: list[widgets.Widget] = []
        section = None
        for f in profile.fields:
            if f.section != section:
                section = f.section
                head = widgets.HTML(f"<h4 style='margin:8px 0 2px'>{html.escape(profile.section_label(section))}</h4>")
                self.headers[section] = head
                children.append(head)
            w = self._input(f)
            w.add_class(f"dfd-field-{f.id}")
            self.inputs[f.id] = w
            req = " <span style='color:#c62828'>*</span>" if f.required else ""
            label = widgets.HTML(
                f"<span title='{html.escape(f.help)}'>{html.escape(f.label)}{req}</span>", layout=_LABEL
            )
            hint = web_hint(f)
            if isinstance(w, widgets.Text) and not fits_one_line(hint):
                note = widgets.HTML(
                    f"<div style='font-size:11px;line-height:1.3;color:#616161'>{html.escape(hint)}</div>",
                    layout=widgets.Layout(width="460px"),
                )
                note.add_class(f"dfd-hint-{f.id}")
                row = widgets.HBox([label, widgets.VBox([w, note])])
            else:
                row = widgets.HBox([label, w])
            self.rows[f.id] = row
            children.append(row)
        self.body.children = tuple(children)
        self.set_values(values)
        for w in self.inputs.values():
            w.observe(self._on_change, names="value")
        self._show_sections()

    def _input(self, f: Any) -> widgets.ValueWidget:
        if f.allowed or f.parent is not None:
            return widgets.Dropdown(options=[""] + list(f.allowed), value="", layout=_INPUT)
        hint = web_hint(f)
        if f.multiple or f.multiline:  # as many rows as its hint needs: the whole hint shows
            return widgets.Textarea(placeholder=hint, rows=hint_rows(hint), layout=_INPUT)
        # a hint too long for the box is shown whole below it instead (see build), never cut
        return widgets.Text(placeholder=hint if fits_one_line(hint) else "", layout=_INPUT)

    def set_values(self, values: dict[str, Any]) -> None:
        for f in self.profile.fields:
            raw = values.get(f.id)
            self._refresh_choices(f)
            w = self.inputs[f.id]
            text = "\n".join(map(str, raw)) if isinstance(raw, (list, tuple)) else ("" if raw is None else str(raw))
            if isinstance(w, widgets.Dropdown) and text not in w.options:
                w.options = list(w.options) + [text]
            w.value = text
        self.values = self.current()

    # -- reading -------------------------------------------------------------------------------------
    def current(self) -> dict[str, Any]:
        """Answers given so far (empty fields left out)."""
        out: dict[str, Any] = {}
        if self.profile is None:
            return out
        for f in self.profile.fields_for(self.anonymous.value):
            text = str(self.inputs[f.id].value or "").strip()
            if not text:
                continue
            out[f.id] = [t.strip() for t in text.splitlines() if t.strip()] if f.multiple else text
        return out

    def check(self) -> list[str]:
        """Validate with the profile and show the problems (empty list: complete)."""
        problems = self.profile.validate(self.current(), self.anonymous.value) if self.profile else ["no form"]
        if problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            self.problems.value = (
                f"<div style='color:#c62828'><b>{len(problems)} problem(s) in the form:</b><ul>{items}</ul></div>"
            )
        else:
            self.problems.value = "<div style='color:#1b5e20'>the form is complete</div>"
        return problems

    # -- reacting ----------------------------------------------------------------------------------
    def _on_change(self, change: dict) -> None:
        for f in self.profile.fields:
            if f.parent is not None:
                self._refresh_choices(f)
        self.values = self.current()

    def _refresh_choices(self, f: Any) -> None:
        if f.parent is None:
            return
        w = self.inputs[f.id]
        parent = str(self.inputs[f.parent].value or "")
        choices = f.choices({f.parent: parent}) or ()
        options = [""] + list(choices)
        if list(w.options) != options:
            keep = w.value if w.value in options else ""
            w.options = options
            w.value = keep
        w.disabled = self.frozen or not choices

    def _show_sections(self) -> None:
        if self.profile is None:
            return
        shown = {f.id for f in self.profile.fields_for(self.anonymous.value)}
        for fid, row in self.rows.items():
            row.layout.display = "flex" if fid in shown else "none"
        visible = {f.section for f in self.profile.fields if f.id in shown}
        for section, head in self.headers.items():
            head.layout.display = "block" if section in visible else "none"
        self.values = self.current()
