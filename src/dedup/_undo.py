"""The undo journal of one ``Deduplicator.add``: each change to the in-memory state is recorded
before it is made, and put back in reverse order if the addition fails, so that an ``add`` either
completes or changes nothing (a change that fails half-way is put back too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Undo:
    """The changes one ``add`` made, to put back in reverse order if it fails."""

    __slots__ = ("_steps",)

    def __init__(self) -> None:
        self._steps: list[Callable[[], object]] = []

    def call(self, step: Callable[[], object]) -> None:
        """Run ``step`` on rollback."""
        self._steps.append(step)

    def item(self, mapping: dict[K, V], key: K) -> None:
        """``mapping[key]`` (or its absence) is about to change."""
        if key in mapping:
            old = mapping[key]
            self._steps.append(lambda: mapping.__setitem__(key, old))
        else:
            self._steps.append(lambda: mapping.pop(key, None))

    def member(self, sets: dict[K, set[T]], key: K, value: T) -> None:
        """``value`` is about to be added to or discarded from ``sets[key]`` (made if missing)."""
        held = sets.get(key)
        if held is None:
            self._steps.append(lambda: sets.pop(key, None))
        elif value in held:
            self._steps.append(lambda: held.add(value))
        else:
            self._steps.append(lambda: held.discard(value))

    def rollback(self) -> None:
        for step in reversed(self._steps):
            step()
        self._steps.clear()
