"""The undo journal of one ``Deduplicator.add``: each change to the in-memory state is recorded
before it is made, and put back in reverse order if the addition fails, so that an ``add`` either
completes or changes nothing (a change that fails half-way is put back too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Undo:
    """The changes one ``add`` made, to put back in reverse order if it fails. A step is kept as a
    plain tuple (a mapping's key and its old value, or a set's member and whether it was there), not
    as a closure: an ``add`` records hundreds of them and keeps none."""

    __slots__ = ("_steps",)

    def __init__(self) -> None:
        self._steps: list[Callable[[], object] | tuple[Any, ...]] = []

    def call(self, step: Callable[[], object]) -> None:
        """Run ``step`` on rollback."""
        self._steps.append(step)

    def item(self, mapping: dict[K, V], key: K) -> None:
        """``mapping[key]`` (or its absence) is about to change."""
        self._steps.append((mapping, key, mapping.get(key, _ABSENT)))

    def member(self, sets: dict[K, set[T]] | dict[K, dict[T, None]], key: K, value: T) -> None:
        """``value`` is about to be added to or discarded from ``sets[key]`` (made if missing): a
        set, or a dict whose keys are the members."""
        held = sets.get(key)
        self._steps.append((sets, key, value, held, held is not None and value in held))

    def rollback(self) -> None:
        for step in reversed(self._steps):
            if not isinstance(step, tuple):
                step()
            elif len(step) == 3:
                mapping, key, old = step
                if old is _ABSENT:
                    mapping.pop(key, None)
                else:
                    mapping[key] = old
            else:
                sets, key, value, held, present = step
                if held is None:
                    sets.pop(key, None)
                elif isinstance(held, dict):
                    if present:
                        held[value] = None
                    else:
                        held.pop(value, None)
                elif present:
                    held.add(value)
                else:
                    held.discard(value)
        self._steps.clear()


_ABSENT = object()  # ``item``: the key was not in the mapping
