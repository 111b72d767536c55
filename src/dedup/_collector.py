"""Python's garbage collector around work that makes many long-lived objects at once, and in a
process that runs for a long time.

The stream keeps its sets of article ids (each article's copies and pairs, the members of a
sentence or a source in a large story's watch) as the keys of dicts whose values are None: CPython
up to 3.13 leaves a dict that holds only strings, numbers and None out of the collector's walks,
while it walks every member of every set, so a full collection's pause would grow with every copy
of a story. (CPython 3.14 walks every dict; its collector is incremental.)"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_OLDEST = len(gc.get_threshold()) - 1  # the generation a full collection is reported as


def age_young_objects() -> None:
    """Move the objects the collector holds as young to its oldest generation without walking
    them (``gc.freeze`` then ``gc.unfreeze``). Left young, a few million objects just made and
    kept (a batch's records, a state read back) would each be walked by the next collection of
    every generation on their way there. Nothing is done when the caller keeps objects frozen:
    ``gc.unfreeze`` would release them too."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


@contextmanager
def short_gc_pauses() -> Iterator[None]:
    """Keep Python's full garbage collections short in a process that adds articles for a long
    time (``dedup stream`` runs in it).

    A full collection walks every object the process holds, in the middle of whichever ``add``
    made it due: the objects numpy and numba hold from start-up, and the records of every article
    in a stream's window, so that its pause grows with the window. On entering, one full
    collection is made (a pause at a moment the caller chooses) and the objects it leaves alive
    are frozen (``gc.freeze``); so are the objects that survive each full collection inside the
    block: the next one walks only the objects made since. Frozen objects are still freed as soon
    as nothing refers to them; objects frozen while alive that end in a reference cycle (what the
    collector is for) are freed only after the block: a ``Deduplicator`` let go of inside it,
    whose parts refer to one another, or the garbage of other code of the process. A stream's own
    records, in memory, on a file or in Redis, leave no cycle behind, nor do the errors it raises.
    On leaving, the frozen objects are put back (``gc.unfreeze``) and collected as usual. A
    process that keeps objects frozen already is left as it is. (CPython 3.14's incremental
    collector reports no automatic full collection: there the block freezes once, on entering.)

    >>> import dedup
    >>> with dedup.Deduplicator() as d, dedup.short_gc_pauses():  # doctest: +SKIP
    ...     for article in articles:
    ...         d.add(article)
    """
    if gc.get_freeze_count():
        yield
        return
    try:
        gc.callbacks.append(_freeze_survivors)
        gc.collect()  # (the callback freezes what it leaves alive)
        yield
    finally:
        if _freeze_survivors in gc.callbacks:
            gc.callbacks.remove(_freeze_survivors)
        gc.unfreeze()


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """A collector callback: once a full collection is over, what it left alive is frozen."""
    if phase == "stop" and info["generation"] == _OLDEST:
        gc.freeze()
