"""Endpoint records → row numbers of one table, at C speed for the records already seen.

The data-path stage turns every write kube-proxy saw into row numbers (see
endpoint_table.EndpointIndex). Writes repeat most records of the previous one (a legacy
Endpoints object carries every address in every write), so per-record Python work would
dominate. Two helpers avoid it:

- `IdentityRows` finds rows by object identity for a whole tuple at once (`map(id, ...)`
  plus a numpy binary search); only records never seen before run Python code.
- `rows_along` walks a new tuple against the previous one, reusing the previous rows along
  equal runs found by C-level tuple comparison; only the records between runs are looked up.

A row is a pure function of a record's field values (see `EndpointIndex.row`), so reusing
the row of an equal record gives the same table values as looking the record up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

GALLOP_START = 16  # first probe of a run (doubles while the run goes on)
RESYNC_SKIP = 8  # after a mismatch, try realigning within this many skipped records
RESYNC_CHECK = 4  # records that must match to accept a realignment


class IdentityRows:
    """id(object) → row number for every object seen so far, looked up a whole tuple at once.

    Every object looked up is kept alive here, so no other object can reuse its id while
    the map exists: the id alone identifies the object. A dict holds every id; a sorted
    numpy copy of it, refreshed when many ids were added since, serves long tuples.
    """

    SHORT = 48  # tuples up to this length are looked up in the dict, one object at a time

    def __init__(self) -> None:
        self._row: dict[int, int] = {}
        self._keep: list[Any] = []
        self._keys = np.zeros(0, np.int64)  # sorted ids (a snapshot of _row)
        self._vals = np.zeros(0, np.int64)  # row of each id in _keys

    def _get(self, obj: Any, make_row: Callable[[Any], int]) -> int:
        r = self._row.get(id(obj))
        if r is None:
            r = self._row[id(obj)] = make_row(obj)
            self._keep.append(obj)
        return r

    def rows(self, objs: Sequence[Any], make_row: Callable[[Any], int]) -> np.ndarray:
        """Row of each object; `make_row` numbers a new one (called in order of appearance)."""
        n = len(objs)
        if n <= self.SHORT:
            return np.fromiter((self._get(o, make_row) for o in objs), np.int64, n)
        if len(self._row) - len(self._keys) > max(self.SHORT, len(self._keys) // 4):
            keys = np.fromiter(self._row.keys(), np.int64, len(self._row))
            vals = np.fromiter(self._row.values(), np.int64, len(self._row))
            order = np.argsort(keys)
            self._keys, self._vals = keys[order], vals[order]
        ids = np.fromiter(map(id, objs), np.int64, n)
        keys = self._keys
        if len(keys):
            pos = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
            rows = self._vals[pos]
            miss = np.flatnonzero(keys[pos] != ids)
        else:
            rows = np.empty(n, np.int64)
            miss = np.arange(n)
        for i in miss.tolist():  # in order: new objects are numbered in order of appearance
            rows[i] = self._get(objs[i], make_row)
        return rows


def common_run(a: Sequence[Any], j: int, b: Sequence[Any], i: int) -> int:
    """Largest k with a[j:j+k] == b[i:i+k] (element-wise ==, identity checked first).

    Galloping then bisection over slice comparisons: O(k) element steps in C, O(log k) in Python.
    """
    n = min(len(a) - j, len(b) - i)
    lo, step = 0, GALLOP_START
    while True:  # invariant: a[j:j+lo] == b[i:i+lo]
        hi = min(lo + step, n)
        if a[j + lo : j + hi] != b[i + lo : i + hi]:
            break
        lo = hi
        if lo == n:
            return n
        step *= 2
    while hi - lo > 1:  # the first mismatch is in [lo, hi)
        mid = (lo + hi) // 2
        if a[j + lo : j + mid] == b[i + lo : i + mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _realign(a: Sequence[Any], j: int, b: Sequence[Any], i: int) -> tuple[int, int]:
    """After a mismatch at (j, i): how many records of b and of a to skip to match again.

    Tries the fewest skipped records first (inserted, removed or replaced records);
    gives up with "skip the rest of b" when nothing realigns within RESYNC_SKIP.
    """
    nb, na = len(b), len(a)
    if j >= na:
        return nb - i, 0
    for total in range(1, 2 * RESYNC_SKIP + 1):
        for skip_b in range(max(0, total - RESYNC_SKIP), min(total, RESYNC_SKIP) + 1):
            ib, ja = i + skip_b, j + total - skip_b
            if ib >= nb:
                return nb - i, 0  # every remaining record of b is new
            if ja >= na:
                continue
            k = min(RESYNC_CHECK, nb - ib, na - ja)
            if a[ja : ja + k] == b[ib : ib + k]:
                return skip_b, total - skip_b
    return nb - i, 0


def rows_along(
    prev: Sequence[Any], prev_rows: np.ndarray, new: Sequence[Any], lookup: Callable[[Sequence[Any]], np.ndarray]
) -> np.ndarray:
    """Rows of `new`: `prev_rows` along runs equal to `prev`, `lookup(records)` for the rest.

    Whatever the alignment found, every reused row belongs to an equal record, so the result
    equals `lookup(new)` in table values; `lookup` sees the unmatched records in order.
    """
    out: list[np.ndarray] = []
    i = j = 0
    nb = len(new)
    while i < nb:
        k = common_run(prev, j, new, i)
        if k:
            out.append(prev_rows[j : j + k])
            i += k
            j += k
            continue
        skip_b, skip_a = _realign(prev, j, new, i)
        if skip_b:
            out.append(lookup(new[i : i + skip_b]))
        i += skip_b
        j += skip_a
    if not out:
        return np.zeros(0, np.int64)
    return out[0] if len(out) == 1 else np.concatenate(out)
