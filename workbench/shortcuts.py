"""Keyboard shortcuts for fast triage, through ipyevents.

ipyevents watches ``keydown`` on one source widget: when the mouse enters that widget it takes the
keyboard focus (and gets the ``ipyevents-watched`` CSS class, outlined by the workbench's style).
Because it then captures every key, the source must hold no text inputs: the workbench attaches it
to the item view (picture and faces), not to the review form. Without ipyevents installed the
shortcuts are off and the buttons with key hints still work; a warning says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import ipywidgets as widgets

__all__ = ["KeyboardShortcuts", "EDITABLE_TAGS"]

log = logging.getLogger(__name__)

EDITABLE_TAGS = {"INPUT", "TEXTAREA", "SELECT"}


class KeyboardShortcuts:
    """Dispatch single-key presses over ``source`` to ``handlers`` (key -> callable)."""

    def __init__(self, source: widgets.DOMWidget, handlers: Mapping[str, Callable[[], None]]) -> None:
        self.handlers = dict(handlers)
        self.event: widgets.Widget | None = None
        try:
            from ipyevents import Event
        except ImportError:
            log.warning("keyboard shortcuts are off: the ipyevents package is not installed")
            return
        self.event = Event(source=source, watched_events=["keydown"], ignore_modifier_key_events=True)
        self.event.on_dom_event(self.on_event)

    @property
    def enabled(self) -> bool:
        return self.event is not None

    def on_event(self, event: dict) -> None:
        target = event.get("target") or {}
        if str(target.get("tagName", "")).upper() in EDITABLE_TAGS:
            return
        if event.get("ctrlKey") or event.get("altKey") or event.get("metaKey"):
            return
        self.press(str(event.get("key", "")))

    def press(self, key: str) -> bool:
        """Run the handler bound to ``key``; True when there was one."""
        handler = self.handlers.get(key) or self.handlers.get(key.lower())
        if handler is None:
            return False
        handler()
        return True
