"""Reading ahead: produce the next items of an iterator in a background thread while the caller computes.

Decoding (libjpeg, libavcodec) and hashing release the GIL, so on a 2-core machine the next
file's reading and the current file's face detection and classification overlap. At most
``depth`` items wait in the queue, which bounds the memory read ahead.
"""

from __future__ import annotations

import queue
import threading
from typing import Generator, Iterable, TypeVar

__all__ = ["prefetched"]

T = TypeVar("T")
_DONE = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetched(items: Iterable[T], depth: int = 1) -> Generator[T, None, None]:
    """The items of ``items`` in order, read up to ``depth`` ahead in a daemon thread.

    An exception raised by the iterator reaches the caller at the item where it happened. When
    the caller stops early (break, exception, ``close()``), the producer stops and closes the
    source iterator (so a video container is closed) before this generator returns.
    """
    if depth < 1:
        yield from items
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(obj) -> bool:
        while not stop.is_set():
            try:
                q.put(obj, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            put(_Raised(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="dfd-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            obj = q.get()
            if obj is _DONE:
                return
            if isinstance(obj, _Raised):
                raise obj.exc
            yield obj
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
