"""How clusters are shown to people, the same in the terminal table and the HTML report: the order
of clusters and of their members, and times written for reading."""

from __future__ import annotations

from dedup.records import Cluster, Member, Relation

# Members after the earliest, from the closest copies to the loosest.
RELATIONS = (
    Relation.EARLIEST,
    Relation.SAME_TEXT,
    Relation.NEAR_IDENTICAL,
    Relation.PARTIAL,
    Relation.EXTENDED,
    Relation.REWRITTEN,
    Relation.NONE,
)
_RELATION_ORDER = {r: i for i, r in enumerate(RELATIONS)}


def earliest_member(c: Cluster) -> Member:
    """The member that is the cluster's earliest source."""
    return next((m for m in c.members if m.id == c.earliest), c.members[0])


def cluster_order(c: Cluster) -> tuple[int, bool, str, str]:
    """Largest first, then by the earliest article's time (untimed last), then its id."""
    first = earliest_member(c)
    return -len(c), first.time is None, first.time or "", c.earliest


def member_order(m: Member) -> tuple[int, bool, str, str]:
    """The earliest first, then by relation (closest copies first), then by time, then id."""
    return _RELATION_ORDER.get(m.relation, len(_RELATION_ORDER)), m.time is None, m.time or "", m.id


def when(iso: str | None) -> str:
    """A member's time for people: ``2017-01-29`` for a day (a printed date), else ``2017-01-29
    10:00 UTC`` (the times are in UTC)."""
    if iso is None:
        return "no time"
    day, _, rest = iso.partition("T")
    clock = rest.removesuffix("+00:00")
    if clock in ("", "00:00:00"):
        return day
    return f"{day} {clock.removesuffix(':00') if len(clock) == 8 else clock} UTC"
