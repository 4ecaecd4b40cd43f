"""What every component shares: freeze/unfreeze/reset, a busy context that always restores the UI,
and a guard that turns a failing callback into a message in the log area instead of losing it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import ipywidgets as widgets

__all__ = ["Component", "reports_errors"]

log = logging.getLogger("workbench")

F = TypeVar("F", bound=Callable[..., Any])


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
