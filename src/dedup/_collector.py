"""Python's garbage collector around work that makes many long-lived objects at once.

The stream keeps its sets of article ids (each article's copies and pairs, the members of a
sentence or a source in a large story's watch) as the keys of dicts whose values are None: CPython
up to 3.13 leaves a dict that holds only strings, numbers and None out of the collector's walks,
while it walks every member of every set, so a full collection's pause would grow with every copy
of a story. (CPython 3.14 walks every dict; its collector is incremental.)"""

from __future__ import annotations

import gc


def age_young_objects() -> None:
    """Move the objects the collector holds as young to its oldest generation without walking
    them (``gc.freeze`` then ``gc.unfreeze``). Left young, a few million objects just made and
    kept (a batch's records, a state read back) would each be walked by the next collection of
    every generation on their way there. Nothing is done when the caller keeps objects frozen:
    ``gc.unfreeze`` would release them too."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
