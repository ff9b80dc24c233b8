"""One apiserver replica's cachers dispatching watch events to its clients (vectorized over clients).

Upstream: staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go `dispatchEvent` and
cache_watcher.go `add`. Each event is first offered to every watcher without blocking;
watchers whose channel is full are "blocked" and the dispatcher waits for them, in turn,
for at most what the cacher's time budget holds (time_budget.go: 100 ms at most, refilled
50 ms per second, unused time returned). Every watcher still blocked when the timer fires
is closed ("Forcing ... watcher close due to unresponsiveness",
`apiserver_terminated_watchers_total`). The client comes back as reflector.py says.

A client's events wait in its channels and then share the replica's egress link with
every other stream (bandwidth.py), LIST responses included.

Simplifications (each named where it happens below): a watcher holds `2 × chanSize + 1`
events (input and result channels, plus the one being written); a closed watcher stops at
the start of the dispatcher's wait rather than its end (its next event would not have
completed in between, only the partial bytes differ); dispatches keep commit order across
kinds; an apiserver restart stops every replica at once and writes still commit meanwhile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simk8s.watch.bandwidth import drain
from simk8s.watch.reflector import SHORT_WATCH, Backoff
from simk8s.watch.watchcache import EVENT_FRESH_DURATION, Window

WATCH, LIST, WAIT = 0, 1, 2
REWATCH, RELIST = 0, 1
BUDGET_MAX = 0.1  # time_budget.go maxBudget
BUDGET_REFILL = 0.05  # time_budget.go refreshPerSecond (per second; refilled continuously here, not by a 1 s ticker)


@dataclass
class EventClass:
    """The events one kind of client receives: writes of `kind` its selector passes, in
    `encoding`; local index j is the class's j-th event."""

    kind: str
    encoding: str
    gidx: np.ndarray  # global write index of each local event
    size: np.ndarray  # bytes of each local event in this encoding
    kidx: np.ndarray  # position of each local event among all events of its kind
    times: np.ndarray  # commit time of each local event
    list_times: np.ndarray  # times at which the selected objects' total size changes
    list_bytes: np.ndarray  # total bytes of the selected objects from list_times[i] on (first: t = -inf)
    proxy: bool = False  # delivered to node kube-proxies: arrivals are recorded
    cumulative: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cumulative = np.concatenate(([0.0], np.cumsum(self.size, dtype=np.float64)))

    def bytes_at(self, t: float) -> float:
        return float(self.list_bytes[int(np.searchsorted(self.list_times, t, side="right")) - 1])

    def committed_by(self, t: float) -> int:
        return int(np.searchsorted(self.times, t, side="right"))


@dataclass
class Clients:
    """The clients on one replica: one watch each."""

    cls: np.ndarray  # int: EventClass index
    node: np.ndarray  # int: node index, -1 for clients that are not a node's kube-proxy
    group: np.ndarray  # int: watcher group index


@dataclass
class ReplicaResult:
    received: np.ndarray  # float64[S] bytes each client received (events + lists)
    list_bytes: np.ndarray  # float64[S]
    terminated: np.ndarray  # int64[S] watches closed as unresponsive
    relists: np.ndarray  # int64[S]
    gap: np.ndarray  # float64[S] seconds without a watch
    events: np.ndarray  # int64[classes] events delivered per class
    spans: list[tuple[float, float, float]]  # (start, end, bytes) the link was busy
    blocked_s: float  # seconds dispatchers waited on blocked watchers
    queued_max: int  # most events queued for one watcher


class Replica:
    """Dispatch the writes to this replica's clients; `arrival[row, node]` is filled in for
    the proxy class's events."""

    def __init__(self, classes: list[EventClass], windows: dict[str, Window], clients: Clients,
                 bandwidth: float, chan_size: dict[str, int], backoff: Backoff, arrival: np.ndarray):
        self.classes, self.windows, self.c = classes, windows, clients
        self.bw, self.chan, self.backoff, self.arrival = bandwidth, chan_size, backoff, arrival
        n = len(clients.cls)
        self.n = n
        # One strictly increasing byte axis for all classes: class k's cumulative sizes shifted by `base[k]`.
        bases, axis, offsets, at = [], [], [], 0.0
        for ec in classes:
            offsets.append(sum(len(a) for a in axis))
            bases.append(at)
            axis.append(ec.cumulative + at)
            at += float(ec.cumulative[-1]) + 1.0
        self.axis = np.concatenate(axis) if axis else np.zeros(1)
        self.off = np.asarray(offsets, dtype=np.int64)[clients.cls] if n else np.zeros(0, np.int64)
        self.base = np.asarray(bases)[clients.cls] if n else np.zeros(0)
        self.ndisp = np.zeros(len(classes), dtype=np.int64)
        self.mode = np.full(n, WATCH, dtype=np.int8)
        self.lo = np.zeros(n, dtype=np.int64)  # first undelivered local event
        self.live_from = np.zeros(n, dtype=np.int64)  # first event dispatched live to this watch
        self.pos = self.base.copy()  # bytes received, on the shared axis
        self.cap = np.zeros(n, dtype=np.int64)  # events the watch can hold
        self.list_rem = np.zeros(n)
        self.list_rv = np.zeros(n, dtype=np.int64)  # local events the LIST covers
        self.wake = np.full(n, np.inf)
        self.action = np.zeros(n, dtype=np.int8)
        self.watch_start = np.zeros(n)
        self.got = np.zeros(n, dtype=np.int64)  # events since the watch began
        self.down_since = np.full(n, np.nan)
        self.must_relist = np.zeros(n, dtype=bool)
        self.rv_k = np.full(n, -1, dtype=np.int64)  # kind position of the last event seen
        self.received = np.zeros(n)
        self.listed = np.zeros(n)
        self.terminated = np.zeros(n, dtype=np.int64)
        self.relists = np.zeros(n, dtype=np.int64)
        self.gap = np.zeros(n)
        self.events = np.zeros(len(classes), dtype=np.int64)
        self.spans: list[tuple[float, float, float]] = []
        self.budget: dict[str, tuple[float, float]] = {}  # kind → (budget, when)
        self.free: dict[str, float] = {}  # kind → when its dispatcher is free again
        self.blocked_s = 0.0
        self.queued_max = 0
        self.now = 0.0
        self.up_at = -np.inf
        for i in range(n):
            self.cap[i] = self._capacity(i, 0.0)

    # -- the link --------------------------------------------------------------------------
    def _remaining(self) -> np.ndarray:
        rem = np.zeros(self.n)
        w = self.mode == WATCH
        if w.any():
            end = self.axis[self.off[w] + self.ndisp[self.c.cls[w]]]
            rem[w] = np.maximum(end - self.pos[w], 0.0)
        lm = self.mode == LIST
        rem[lm] = self.list_rem[lm]
        return rem

    def advance(self, target: float) -> None:
        """Send bytes and act on timed client actions up to `target`."""
        while True:
            rem = self._remaining()
            d = drain(self.now, rem, np.ones(self.n), self.bw)
            stop = target
            lm = (self.mode == LIST) & (rem > 0)
            if lm.any():
                stop = min(stop, float(d.time_of(rem[lm]).min()))
            waits = self.wake[self.mode == WAIT]
            if waits.size:
                stop = min(stop, float(waits.min()))
            stop = max(stop, self.now)
            self._apply(d, rem, stop)
            self.now = stop
            done = np.flatnonzero((self.mode == LIST) & (self.list_rem <= 0.0))
            for i in done:
                self._list_done(int(i))
            due = np.flatnonzero((self.mode == WAIT) & (self.wake <= stop))
            for i in due:
                self._wake(int(i))
            if stop >= target and done.size == 0 and due.size == 0:
                return

    def _apply(self, d, rem: np.ndarray, t: float) -> None:
        if t <= self.now or not (rem > 0).any():
            return
        dv = d.v_at(t)
        sent = np.minimum(rem, dv)
        sent[sent >= rem * (1 - 1e-9) - 1e-6] = rem[sent >= rem * (1 - 1e-9) - 1e-6]  # float round trip
        total = float(sent.sum())
        if total > 0:
            self.spans.append((self.now, min(t, d.busy_until), total))
        self.received += sent
        lm = self.mode == LIST
        self.list_rem[lm] -= sent[lm]
        self.listed[lm] += sent[lm]
        wm = np.flatnonzero((self.mode == WATCH) & (sent > 0))
        if wm.size == 0:
            return
        old = self.pos[wm].copy()
        new = old + sent[wm]
        full = sent[wm] >= rem[wm]
        end = self.axis[self.off[wm] + self.ndisp[self.c.cls[wm]]]
        new[full] = end[full]  # no rounding short of the last event
        self.pos[wm] = new
        # Events completed: local j with cumulative[j + 1] <= new position.
        upto = np.searchsorted(self.axis, new, side="right") - 1 - self.off[wm]
        count = np.maximum(upto - self.lo[wm], 0)
        has = count > 0
        if not has.any():
            return
        wm, old, count, first = wm[has], old[has], count[has], self.lo[wm][has]
        who = np.repeat(wm, count)
        j = np.repeat(first - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
        when = d.time_of(self.axis[self.off[who] + j + 1] - np.repeat(old, count))
        self.lo[wm] = first + count
        self.got[wm] += count
        np.add.at(self.events, self.c.cls[who], 1)
        for k, ec in enumerate(self.classes):
            mine = wm[self.c.cls[wm] == k]
            if mine.size:
                self.rv_k[mine] = ec.kidx[self.lo[mine] - 1]
            if ec.proxy:
                sel = (self.c.cls[who] == k) & (self.c.node[who] >= 0)
                if sel.any():
                    self.arrival[j[sel], self.c.node[who[sel]]] = when[sel]

    # -- dispatch ----------------------------------------------------------------------------
    def dispatch(self, kind: str, commit: float, local: dict[int, int]) -> None:
        """Write committed at `commit`: the local index it has in each class (`local`)."""
        t = max(commit, self.free.get(kind, 0.0), self.now)  # one dispatcher per kind, in order
        self.advance(t)
        if t < self.up_at:
            for k, j in local.items():
                self.ndisp[k] = j + 1
            return
        blocked_all = []
        for k in local:
            w = (self.mode == WATCH) & (self.c.cls == k)
            live = self.ndisp[k] - np.maximum(self.lo, self.live_from)
            queued = int(live[w].max()) if w.any() else 0
            self.queued_max = max(self.queued_max, queued + 1)
            blocked_all.append(np.flatnonzero(w & (live >= self.cap)))
        blocked = np.concatenate(blocked_all) if blocked_all else np.zeros(0, np.int64)
        if blocked.size:
            self._wait_for(kind, t, blocked)
        for k, j in local.items():
            self.ndisp[k] = j + 1

    def _wait_for(self, kind: str, t: float, blocked: np.ndarray) -> None:
        budget, when = self.budget.get(kind, (0.0, 0.0))
        timeout = min(BUDGET_MAX, budget + BUDGET_REFILL * (t - when))
        rem = self._remaining()
        d = drain(t, rem, np.ones(self.n), self.bw)
        head = self.axis[self.off[blocked] + self.lo[blocked] + 1] - self.pos[blocked]
        unblock = d.time_of(np.maximum(head, 0.0))
        late = unblock > t + timeout
        waited = timeout if late.any() else float(unblock.max() - t)
        self.budget[kind] = (min(BUDGET_MAX, timeout - waited), t)
        self.free[kind] = t + waited
        self.blocked_s += waited
        for i in blocked[late]:
            self._terminate(int(i), t)  # at the wait's start: simplification named in the docstring

    # -- the client ---------------------------------------------------------------------------
    def _capacity(self, i: int, t: float) -> int:
        """Events a watch created at `t` holds: input and result channels of chanSize each,
        plus the one being written (simplification: the socket buffers hold none).
        chanSize: 10 before v1.25; from v1.25 (kubernetes/kubernetes#109708) one second of
        the cache's history, capacity / eventFreshDuration, within [10, 100] for a kind
        without an index (watch_cache.go `suggestedWatchChannelSize`)."""
        kind = self.classes[self.c.cls[i]].kind
        size = int(self.chan[kind])
        if size <= 0:
            win = self.windows[kind]
            size = min(max(math.ceil(int(win.capacity[win.committed_by(t)]) / EVENT_FRESH_DURATION), 10), 100)
        return 2 * size + 1

    def _terminate(self, i: int, t: float) -> None:
        self.terminated[i] += 1
        self.mode[i] = WAIT
        if np.isnan(self.down_since[i]):
            self.down_since[i] = t
        short = t - self.watch_start[i] < SHORT_WATCH and self.got[i] == 0
        self.action[i] = RELIST if short else REWATCH
        self.wake[i] = t + self.backoff.wait(i, t) if short else t

    def _wake(self, i: int) -> None:
        t = self.now
        if t < self.up_at:  # connection refused: retried after a backoff
            self.wake[i] = t + self.backoff.wait(i, t)
            return
        ec = self.classes[self.c.cls[i]]
        if self.action[i] == RELIST:
            self.must_relist[i] = False
            self.relists[i] += 1
            self.mode[i] = LIST
            self.wake[i] = np.inf
            self.list_rem[i] = ec.bytes_at(t)
            self.list_rv[i] = ec.committed_by(t)
            self.rv_k[i] = self.windows[ec.kind].committed_by(t) - 1
            if self.list_rem[i] <= 1e-6:
                self._list_done(i)
            return
        if self.must_relist[i] or not self.windows[ec.kind].can_resume(int(self.rv_k[i]), t):
            self.action[i] = RELIST  # 410 Gone: ListAndWatch returns, BackoffUntil waits
            self.wake[i] = t + self.backoff.wait(i, t)
            return
        self._watch(i, t)

    def _watch(self, i: int, t: float) -> None:
        k = self.c.cls[i]
        self.mode[i] = WATCH
        self.wake[i] = np.inf
        self.pos[i] = self.axis[self.off[i] + self.lo[i]]
        self.live_from[i] = self.ndisp[k]
        self.watch_start[i] = t
        self.got[i] = 0
        self.cap[i] = self._capacity(i, t)
        if not np.isnan(self.down_since[i]):
            self.gap[i] += t - self.down_since[i]
            self.down_since[i] = np.nan

    def _list_done(self, i: int) -> None:
        """The LIST arrived whole: the client's store holds the state at the list's RV, so
        every write it missed before that RV reaches it now, together (simplification:
        delivered as those writes, at the LIST's end)."""
        t = self.now
        ec = self.classes[self.c.cls[i]]
        rv = int(self.list_rv[i])
        if ec.proxy and self.c.node[i] >= 0 and rv > self.lo[i]:
            rows = np.arange(self.lo[i], rv)
            self.arrival[rows, self.c.node[i]] = np.minimum(self.arrival[rows, self.c.node[i]], t)
        self.lo[i] = max(int(self.lo[i]), rv)
        self.list_rem[i] = 0.0
        if not self.windows[ec.kind].can_resume(int(self.rv_k[i]), t):
            self.mode[i] = WAIT
            self.action[i] = RELIST
            self.wake[i] = t + self.backoff.wait(i, t)
            return
        self._watch(i, t)

    def restart(self, t: float, down: float) -> None:
        """Every replica stops at `t` and serves again at `t + down` with a new, empty watch cache."""
        self.advance(t)
        live = self.mode != WAIT
        for i in np.flatnonzero(live):
            if np.isnan(self.down_since[i]):
                self.down_since[i] = t
        self.mode[:] = WAIT
        self.list_rem[:] = 0.0
        self.action[:] = REWATCH
        self.wake[:] = t
        self.must_relist[:] = True
        self.up_at = t + down
        self.budget.clear()
        self.free.clear()

    def finish(self, until: float) -> ReplicaResult:
        self.advance(until)
        return ReplicaResult(self.received, self.listed, self.terminated, self.relists, self.gap,
                             self.events, self.spans, self.blocked_s, self.queued_max)
