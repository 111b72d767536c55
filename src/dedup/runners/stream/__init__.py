"""The stream runner: ``Deduplicator``, one article at a time, answered at once.

Its parts, each in its own place:

- ``deduplicator``: the public class (``add``, ``add_many``, ``remove``, the answers, the window,
  the lock and the undo journal of an ``add``);
- ``groups``: the clusters of the articles in memory over the cached pairs (grouping and provenance,
  a large story's groups kept, each member's last answer, cluster ids passed on in a window);
- ``replica``: the in-memory replica of the index (entries, LSH indexes, boilerplate model);
- ``sync``: the replica loaded from a SQLite file (or after a state, the articles added since) and
  kept in step with a shared Redis index;
- ``state``: the memory saved beside a SQLite file and read back when it is next opened.

It calls the stages (``dedup.stages.prepare``, ``dedup.stages.pairs``, ``dedup.stages.grouping``,
``dedup.stages.provenance``) and writes through a store (``dedup.stores.base.Store``).
"""

from dedup.runners.stream.deduplicator import Deduplicator

__all__ = ["Deduplicator"]
