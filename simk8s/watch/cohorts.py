"""Watch clients in identical state, held as one row: the watch stage stays vectorized.

Clients of one class that are caught up with the same resourceVersion receive the same
bytes at the same moments (they share the link equally), so one row with a `weight` stands
for all of them. A row splits when its members' futures diverge (each draws its own
reflector backoff) and rows merge again when their members are caught up and identical.
Exact, not an approximation: merged rows differ in nothing that can change what happens.
"""

from __future__ import annotations

import numpy as np

WATCH, LIST, WAIT = 0, 1, 2
REWATCH, RELIST = 0, 1

_FIELDS = {
    "cls": np.int64, "weight": np.int64, "mode": np.int8, "lo": np.int64, "live_from": np.int64,
    "pos": np.float64, "cap": np.int64, "list_rem": np.float64, "list_rv": np.int64, "wake": np.float64,
    "action": np.int8, "watch_start": np.float64, "got": np.int64,
    "must_relist": np.bool_, "rv_k": np.int64, "recv": np.float64, "listed": np.float64,
}


class Cohorts:
    """Rows of identical clients; `members(c)` are client indices on the replica."""

    cls: np.ndarray  # EventClass index
    weight: np.ndarray  # clients in the row
    mode: np.ndarray  # WATCH | LIST | WAIT
    lo: np.ndarray  # first undelivered local event
    live_from: np.ndarray  # first event dispatched live to the current watch
    pos: np.ndarray  # bytes received, on the replica's byte axis
    cap: np.ndarray  # events the watch holds
    list_rem: np.ndarray  # LIST bytes still to receive
    list_rv: np.ndarray  # local events the LIST covers
    wake: np.ndarray  # when a waiting client acts (NaN: each member draws its own backoff)
    action: np.ndarray  # REWATCH | RELIST
    watch_start: np.ndarray
    got: np.ndarray  # events since the watch began
    must_relist: np.ndarray  # after a restart: any old RV is gone
    rv_k: np.ndarray  # kind position of the last event seen (the RV)
    recv: np.ndarray  # bytes per member not yet added to the clients' totals
    listed: np.ndarray  # LIST bytes per member not yet added

    def __init__(self, cls: np.ndarray, pos: np.ndarray, cap: np.ndarray):
        """One row per class present: every client starts watching at t = 0."""
        classes, first, counts = np.unique(cls, return_index=True, return_counts=True)
        n = len(classes)
        for name, dtype in _FIELDS.items():
            setattr(self, name, np.zeros(n, dtype=dtype))
        self.cls[:] = classes
        self.weight[:] = counts
        self.pos[:] = pos[first]
        self.cap[:] = cap[first]
        self.wake[:] = np.inf
        self.rv_k[:] = -1
        self._layout(np.argsort(cls, kind="stable").astype(np.int64), self.weight)

    def _layout(self, flat: np.ndarray, weight: np.ndarray) -> None:
        """Members of row c: flat[start[c] : start[c] + weight[c]]; `row_of[i]`: client i's row."""
        self.flat = flat
        self.weight = weight.astype(np.int64)
        self.start = np.concatenate(([0], np.cumsum(self.weight)[:-1])).astype(np.int64)
        self.row_of = np.empty(len(flat), dtype=np.int64)
        self.row_of[flat] = np.arange(len(self.weight)).repeat(self.weight)

    def __len__(self) -> int:
        return len(self.cls)

    def members(self, c: int) -> np.ndarray:
        return self.flat[self.start[c] : self.start[c] + self.weight[c]]

    def expand(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in `rows`, member) for every member of every row listed."""
        if len(rows) == 1:  # one row: its members are one slice of `flat`
            members = self.members(int(rows[0]))
            return np.zeros(len(members), dtype=np.int64), members
        w = self.weight[rows]
        which = np.arange(len(rows)).repeat(w)
        ends = w.cumsum()
        # output i of row r is flat position start[r] + (i - first output of r)
        shift = self.start[rows] - ends + w
        return which, self.flat[shift[which] + np.arange(ends[-1] if len(rows) else 0)]

    def flush(self, received: np.ndarray, listed: np.ndarray) -> None:
        """Add the rows' per-member byte counts to the clients' totals."""
        if len(self) == 0:
            return
        received += self.recv[self.row_of]
        if np.count_nonzero(self.listed):  # adding 0.0 changes nothing: skipped
            listed += self.listed[self.row_of]
            self.listed[:] = 0.0
        self.recv[:] = 0.0

    def split(self, rows: np.ndarray) -> np.ndarray:
        """Each member of `rows` becomes a row of its own; returns the new rows' indices.
        Call `flush` first."""
        is_split = np.zeros(len(self), dtype=bool)
        is_split[rows] = True
        keep = np.flatnonzero(~is_split)
        flat_rows = np.repeat(np.arange(len(self)), self.weight)  # flat is ordered row by row
        parted = is_split[flat_rows]
        new_rows = np.concatenate((keep, flat_rows[parted]))
        weight = np.concatenate((self.weight[keep], np.ones(int(parted.sum()), dtype=np.int64)))
        flat = np.concatenate((self.flat[~parted], self.flat[parted]))
        for name in _FIELDS:
            setattr(self, name, getattr(self, name)[new_rows])
        self._layout(flat, weight)
        return np.arange(len(keep), len(self))

    def merge_caught_up(self, now: float, end: np.ndarray) -> bool:
        """Rows watching, caught up (`pos == end`), past the "very short watch" second, and
        alike in class, RV and channel size become one. Call `flush` first."""
        ok = (self.mode == WATCH) & (self.pos == end)
        if np.count_nonzero(ok) < 2:
            return False
        ok &= (self.got > 0) | (now - self.watch_start >= 1.0)
        if np.count_nonzero(ok) < 2:
            return False
        keys = np.stack([self.cls, self.lo, self.rv_k, self.cap], axis=1)
        return self.merge(ok, keys)

    def merge(self, ok: np.ndarray, keys: np.ndarray) -> bool:
        """Rows where `ok` with equal `keys` rows become one (the first's state). Call `flush` first."""
        idx = np.flatnonzero(ok)
        if idx.size < 2:
            return False
        # Group alike rows: sort their keys (lexsort is stable, so each group's first row
        # in sorted order is its lowest index) and cut where a key changes.
        keys = keys[idx].astype(np.int64)
        order = np.lexsort(keys.T[::-1])
        sorted_keys = keys[order]
        starts = np.ones(len(idx), dtype=bool)
        starts[1:] = (sorted_keys[1:] != sorted_keys[:-1]).any(axis=1)
        if starts.all():
            return False
        # Each row's label: itself, or the first row of its group of alike rows.
        in_order = idx[order]
        label = np.arange(len(self), dtype=np.int64)
        label[in_order] = in_order[starts][starts.cumsum() - 1]
        rows = np.flatnonzero(label == np.arange(len(self)))
        self.got[rows] = np.where(ok[rows], np.maximum(self.got[rows], 1), self.got[rows])
        self.live_from[rows] = np.where(ok[rows], self.lo[rows], self.live_from[rows])
        flat_rows = np.repeat(np.arange(len(self)), self.weight)  # flat is ordered row by row
        order = np.argsort(label[flat_rows], kind="stable")
        new_flat = self.flat[order]
        weight = np.bincount(label[flat_rows], minlength=len(self))[rows]
        for name in _FIELDS:
            setattr(self, name, getattr(self, name)[rows])
        self._layout(new_flat, weight)
        return True
