"""The one registry type: name -> item, registered explicitly, duplicates refused, helpful unknown-name errors.

Backbones (``dfd_lib.models.BACKBONES``), forensic analyses (``dfd_lib.forensics.default_registry``)
and report formats all use it; nothing outside this module reaches into its storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Iterator, Protocol, TypeVar

from .errors import RegistryError

__all__ = ["Registry"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


@dataclass
class Registry(Generic[T]):
    """Name -> item (anything with a ``name``), registered explicitly; duplicates refused."""

    kind: str
    _items: dict[str, T] = field(default_factory=dict)

    def register(self, item: T) -> T:
        if item.name in self._items:
            raise RegistryError(f"{self.kind} {item.name!r} is already registered")
        self._items[item.name] = item
        return item

    def unregister(self, name: str) -> T:
        """Remove and return the item called ``name`` (a plug-in or test that registered it takes it back)."""
        self.get(name)  # RegistryError naming the known items
        return self._items.pop(name)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        """Items in registration order."""
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)
