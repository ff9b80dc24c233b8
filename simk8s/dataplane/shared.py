"""What the data-path stages of variants sharing one cluster run compute only once.

Variants of one group (simk8s.pipeline.cluster_key) read the same finished cluster stage,
and those that watch alike see the same change stream, so they route connections through
the same endpoint histories and draw the same arrivals. The first variant to need a value
builds it; later ones (in this process, or forked from it afterwards: simk8s.parallel)
reuse it when its key, everything the value is built from, is equal. A value must not
refer to the cluster run itself, or the run would never be freed.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_BY_CLUSTER: dict[int, dict[Hashable, Any]] = {}  # id(cluster run) → key → value; dropped with the run


def per_cluster(cluster: Any, key: Hashable, build: Callable[[], T]) -> T:
    """`build()`, once per cluster run and `key` (every time for an object that cannot be
    referenced weakly)."""
    memo = _BY_CLUSTER.get(id(cluster))
    if memo is None:
        try:  # the id is reused only after the run is freed, and then its entry is already gone
            weakref.finalize(cluster, _BY_CLUSTER.pop, id(cluster), None)
        except TypeError:  # no weak references to it (a test's stand-in): nothing is kept
            return build()
        memo = _BY_CLUSTER[id(cluster)] = {}
    if key not in memo:
        memo.setdefault(key, build())  # threads racing here built equal values: the first stays
    value: T = memo[key]
    return value


__all__ = ["per_cluster"]
