"""What every component shares: freeze/unfreeze/reset, a busy context that always restores the UI,
a guard that turns a failing callback into a message in the log area instead of losing it, and the
constructors that give a widget its CSS class (the page's styles and the browser tests find widgets by it)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import ipywidgets as widgets

__all__ = ["Component", "button", "reports_errors", "styled", "text_box"]

log = logging.getLogger("workbench")

F = TypeVar("F", bound=Callable[..., Any])
W = TypeVar("W", bound=widgets.DOMWidget)


def styled(widget: W, css_class: str) -> W:
    """``widget`` with the CSS class ``css_class`` added."""
    widget.add_class(css_class)
    return widget


def button(css_class: str, on_click: Callable[[widgets.Button], Any], **kwargs: Any) -> widgets.Button:
    """A ``widgets.Button(**kwargs)`` with the CSS class ``css_class`` that calls ``on_click(button)`` when clicked."""
    b = styled(widgets.Button(**kwargs), css_class)
    b.on_click(on_click)
    return b


def text_box(css_class: str, description: str, placeholder: str, width: str | None = None) -> widgets.Text:
    """A one-line text input labelled ``description``, with the CSS class ``css_class`` (``width``: CSS width)."""
    layout = widgets.Layout(width=width) if width else widgets.Layout()
    return styled(widgets.Text(placeholder=placeholder, description=description, layout=layout), css_class)


def reports_errors(what: str) -> Callable[[F], F]:
    """Decorate a widget callback: an exception is logged (shown in the log area) with ``what`` failed.

    Callbacks run inside the kernel's comm handler, where a raised exception (and anything
    printed) would never reach the user; logging is how it reaches the page.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # the UI boundary: show every failure to the user
                from dfd_lib.errors import DfdError

                expected = isinstance(exc, (DfdError, ValueError, OSError))
                log.error("%s failed: %s", what, exc, exc_info=not expected)
                return None

        return inner  # type: ignore[return-value]

    return wrap


class Component(widgets.VBox):
    """A VBox publishing one typed traitlet (declared by each subclass).

    ``controls()`` lists the widgets that ``freeze()`` disables; ``freeze`` remembers which were
    already disabled so ``unfreeze`` restores exactly the previous state.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frozen: dict[int, bool] | None = None

    def controls(self) -> list[widgets.Widget]:
        return []

    def freeze(self) -> None:
        if self._frozen is not None:
            return
        self._frozen = {}
        for w in self.controls():
            self._frozen[id(w)] = bool(getattr(w, "disabled", False))
            w.disabled = True

    def unfreeze(self) -> None:
        if self._frozen is None:
            return
        for w in self.controls():
            w.disabled = self._frozen.get(id(w), False)
        self._frozen = None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def reset(self) -> None:
        """Back to the state of a freshly built component (subclasses clear their inputs)."""
        self.unfreeze()

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Freeze for the duration of a long action; the UI is restored whatever happens."""
        self.freeze()
        try:
            yield
        finally:
            self.unfreeze()
