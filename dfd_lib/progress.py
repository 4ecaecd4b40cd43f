"""One small progress protocol shared by the CLI (tqdm), widgets and tests.

Library functions that take time accept ``progress: Progress | None``; they call
``start(total, desc)``, ``advance(n, **info)`` and ``close()``. A caller may also
request cancellation by making ``cancelled()`` return True; long loops check it
between items and stop cleanly, keeping everything already recorded.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

__all__ = ["Progress", "NullProgress", "TqdmProgress", "CallbackProgress", "ensure_progress"]


@runtime_checkable
class Progress(Protocol):
    def start(self, total: int | None, desc: str = "") -> None: ...
    def advance(self, n: int = 1, **info: Any) -> None: ...
    def close(self) -> None: ...
    def cancelled(self) -> bool: ...


class NullProgress:
    """Reports nothing; never cancels."""

    def start(self, total: int | None, desc: str = "") -> None:
        pass

    def advance(self, n: int = 1, **info: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def cancelled(self) -> bool:
        return False


class TqdmProgress(NullProgress):
    """A tqdm bar on stderr; ``info`` keyword arguments appear as its postfix."""

    def __init__(self, disable: bool = False, unit: str = "file") -> None:
        self._bar = None
        self._disable = disable
        self._unit = unit

    def start(self, total: int | None, desc: str = "") -> None:
        from tqdm.auto import tqdm

        self.close()
        self._bar = tqdm(total=total, desc=desc, unit=self._unit, disable=self._disable, dynamic_ncols=True)

    def advance(self, n: int = 1, **info: Any) -> None:
        if self._bar is None:
            return
        if info:
            self._bar.set_postfix(
                {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in info.items()}, refresh=False
            )
        self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class CallbackProgress(NullProgress):
    """Forwards progress to plain callables (used by widgets and tests).

    ``on_update(done, total, desc, info)`` is called after each advance;
    ``should_cancel()`` is polled by long loops.
    """

    def __init__(
        self,
        on_update: Callable[[int, int | None, str, dict], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> None:
        self.done = 0
        self.total: int | None = None
        self.desc = ""
        self._on_update = on_update
        self._should_cancel = should_cancel

    def start(self, total: int | None, desc: str = "") -> None:
        self.done, self.total, self.desc = 0, total, desc
        if self._on_update:
            self._on_update(self.done, self.total, self.desc, {})

    def advance(self, n: int = 1, **info: Any) -> None:
        self.done += n
        if self._on_update:
            self._on_update(self.done, self.total, self.desc, info)

    def cancelled(self) -> bool:
        return bool(self._should_cancel and self._should_cancel())


def ensure_progress(progress: Progress | None) -> Progress:
    return progress if progress is not None else NullProgress()
