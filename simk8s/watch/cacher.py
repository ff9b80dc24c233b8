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
from simk8s.watch.calm import CALM_ROWS, advance_calm
from simk8s.watch.cohorts import LIST, RELIST, REWATCH, WAIT, WATCH, Cohorts
from simk8s.watch.reflector import SHORT_WATCH, Backoff
from simk8s.watch.watchcache import EVENT_FRESH_DURATION, Window

BUDGET_MAX = 0.1  # time_budget.go maxBudget
TICK = 0.25  # seconds: the grid clients' timed actions are handled on
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
    the proxy class's events. Clients in identical state are one row (cohorts.py)."""

    def __init__(self, classes: list[EventClass], windows: dict[str, Window], clients: Clients,
                 bandwidth: float, chan_size: dict[str, int], backoff: Backoff, arrival: np.ndarray):
        self.classes, self.windows, self.c = classes, windows, clients
        self.bw, self.chan, self.backoff, self.arrival = bandwidth, chan_size, backoff, arrival
        # watch gaps are counted up to here (the scenario's end; the fan-out itself runs on
        # until every backlog has drained)
        self.gap_until = math.inf
        n = len(clients.cls)
        # One strictly increasing byte axis for all classes: class k's cumulative sizes shifted by `base[k]`.
        bases, axis, offsets, at, length = [], [], [], 0.0, 0
        for ec in classes:
            offsets.append(length)
            bases.append(at)
            axis.append(ec.cumulative + at)
            length += len(ec.cumulative)
            at += float(ec.cumulative[-1]) + 1.0
        self.axis = np.concatenate(axis) if axis else np.zeros(1)
        self.axis_list: list[float] = self.axis.tolist()
        self._nodes: dict[int, np.ndarray] = {}  # row → its members' nodes (kube-proxies only)
        self.class_off = np.asarray(offsets, dtype=np.int64)
        self.ndisp = np.zeros(len(classes), dtype=np.int64)
        cap0 = np.array([self._capacity(int(k), 0.0) for k in clients.cls], dtype=np.int64)
        self.h = Cohorts(clients.cls, np.asarray(bases)[clients.cls] if n else np.zeros(0), cap0)
        self.received = np.zeros(n)
        self.listed = np.zeros(n)
        self.terminated = np.zeros(n, dtype=np.int64)
        self.relists = np.zeros(n, dtype=np.int64)
        self.gap = np.zeros(n)
        self.down = np.full(n, np.nan)  # since when each client has had no watch
        self.list_from = np.zeros(n, dtype=np.int64)  # each listing client's first undelivered event
        self.events = np.zeros(len(classes), dtype=np.int64)
        self.spans: list[tuple[float, float, float]] = []
        self.budget: dict[str, tuple[float, float]] = {}  # kind → (budget, when)
        self.free: dict[str, float] = {}  # kind → when its dispatcher is free again
        self.blocked_s = 0.0
        self._split_due = False
        self.queued_max = 0
        self.now = 0.0
        self.up_at = -np.inf

    # -- the link --------------------------------------------------------------------------
    def _end(self) -> np.ndarray:
        """Position on the byte axis of the last event dispatched to each row's class."""
        return self.axis[self.class_off + self.ndisp][self.h.cls]

    def _remaining(self, end: np.ndarray | None = None) -> np.ndarray:
        h = self.h
        rem = np.maximum((self._end() if end is None else end) - h.pos, 0.0)
        rem[h.mode != WATCH] = 0.0
        is_list = h.mode == LIST
        rem[is_list] = h.list_rem[is_list]
        return rem

    def row_nodes(self, c: int) -> np.ndarray:
        if c not in self._nodes:
            node = self.c.node[self.h.members(c)]
            self._nodes[c] = node[node >= 0]
        return self._nodes[c]

    def advance(self, target: float) -> None:
        """Send bytes and act on timed client actions up to `target`."""
        if len(self.h) <= CALM_ROWS and not self.h.mode.any():  # all watching
            advance_calm(self, target)
            return
        while True:
            h = self.h
            end = self._end()
            rem = self._remaining(end)
            busy = np.flatnonzero(rem > 0)
            d = drain(self.now, rem, h.weight, self.bw, busy)
            soon = np.inf
            is_list = h.mode == LIST
            lm = busy[is_list[busy]]
            if lm.size:
                soon = float(d.time_of(rem[lm]).min())
            waits = h.wake[h.mode == WAIT]
            if waits.size:
                soon = min(soon, float(waits.min()))
            # Clients act on a grid of TICK seconds (simplification: a LIST's end or a
            # backoff's end takes effect up to TICK late), so that a storm of thousands of
            # jittered relists is a few thousand steps.
            stop = max(min(target, math.ceil(soon / TICK) * TICK if soon < np.inf else np.inf), self.now)
            self._apply(d, rem, stop, end, busy)
            self.now = stop
            done = np.flatnonzero(is_list & (h.list_rem <= 0.0))
            for c in done:
                self._list_done(int(c))
            due = np.flatnonzero((h.mode == WAIT) & (h.wake <= stop))
            for c in due:
                self._wake(int(c))
            self._split_pending()
            if stop >= target and done.size == 0 and due.size == 0:
                return

    def _apply(self, d, rem: np.ndarray, t: float, end: np.ndarray, busy: np.ndarray) -> None:
        """Send the bytes of `d` up to `t`; `busy`: the rows with bytes left (`rem > 0`)."""
        h = self.h
        if t <= self.now or busy.size == 0:
            return
        dv = d.v_at(t)
        # Only busy rows get bytes: the others' `sent` is 0 (and adding 0 changes nothing).
        rb = rem[busy]
        sent = np.minimum(rb, dv)
        close = sent >= rb * (1 - 1e-9) - 1e-6  # float round trip
        sent[close] = rb[close]
        full_sent = np.zeros(len(rem))
        full_sent[busy] = sent
        total = float((full_sent * h.weight).sum())  # over every row: the same float sum as before
        if total > 0:
            self.spans.append((self.now, min(t, d.busy_until), total))
        h.recv[busy] += sent
        mode = h.mode[busy]
        lm = mode == LIST
        if lm.any():
            rl = busy[lm]
            h.list_rem[rl] -= sent[lm]
            h.listed[rl] += sent[lm]
        ws = np.flatnonzero(mode == WATCH)
        if ws.size == 0:
            return
        wm = busy[ws]
        old = h.pos[wm]
        new = old + sent[ws]
        full = close[ws]
        new[full] = end[wm][full]  # no rounding short of the last event
        h.pos[wm] = new
        cw = h.cls[wm]
        off = self.class_off[cw]
        # Events completed: local j with cumulative[j + 1] <= the new position.
        lo = h.lo[wm]
        count = np.searchsorted(self.axis, new, side="right") - 1 - off - lo
        has = count > 0
        if not has.any():
            return
        wm, old, count, first, off, cw = wm[has], old[has], count[has], lo[has], off[has], cw[has]
        h.lo[wm] = first + count
        h.got[wm] += count
        wcount = count * h.weight[wm]
        for k, ec in enumerate(self.classes):
            sel_rows = np.flatnonzero(cw == k)
            if sel_rows.size == 0:
                continue
            mine = wm[sel_rows]
            self.events[k] += int(wcount[sel_rows].sum())
            h.rv_k[mine] = ec.kidx[h.lo[mine] - 1]
            if ec.proxy:
                cnt = count[sel_rows]
                pair = np.repeat(sel_rows, cnt)
                j = first[pair] + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                when = d.time_of(self.axis[off[pair] + j + 1] - old[pair])
                which, member = h.expand(wm[pair])
                node = self.c.node[member]
                ok = node >= 0
                self.arrival[j[which][ok], node[ok]] = when[which][ok]

    # -- dispatch ----------------------------------------------------------------------------
    def dispatch(self, kind: str, commit: float, local: dict[int, int]) -> None:
        """Write committed at `commit`: the local index it has in each class (`local`)."""
        t = max(commit, self.free.get(kind, 0.0), self.now)  # one dispatcher per kind, in order
        self.advance(t)
        h = self.h
        if t >= self.up_at and len(h) <= CALM_ROWS and not h.mode.any():
            # all watching: the blocked test in plain Python (calm.py)
            cls, lo, live_from, cap = h.cls.tolist(), h.lo.tolist(), h.live_from.tolist(), h.cap.tolist()
            blocked_any = False
            for r, k in enumerate(cls):
                if k in local:
                    live = int(self.ndisp[k]) - max(lo[r], live_from[r])
                    self.queued_max = max(self.queued_max, live + 1)
                    blocked_any = blocked_any or live >= cap[r]
            if not blocked_any:
                for k, j in local.items():
                    self.ndisp[k] = j + 1
                return
        if t >= self.up_at:
            live = self.ndisp[h.cls] - np.maximum(h.lo, h.live_from)
            if len(local) == 1:
                mine = h.cls == next(iter(local))
            else:
                lut = np.zeros(len(self.classes), dtype=bool)
                lut[list(local)] = True
                mine = lut[h.cls]
            watching = (h.mode == WATCH) & mine
            if watching.any():
                self.queued_max = max(self.queued_max, int(live[watching].max()) + 1)
                blocked = np.flatnonzero(watching & (live >= h.cap))
                if blocked.size:
                    self._wait_for(kind, t, blocked)
                    self._split_pending()
        for k, j in local.items():
            self.ndisp[k] = j + 1
        if len(self.h) > len(self.classes):
            self.h.flush(self.received, self.listed)
            if self.h.merge_caught_up(self.now, self._end()):
                self._nodes.clear()

    def _wait_for(self, kind: str, t: float, blocked: np.ndarray) -> None:
        h = self.h
        budget, when = self.budget.get(kind, (0.0, 0.0))
        timeout = min(BUDGET_MAX, budget + BUDGET_REFILL * (t - when))
        d = drain(t, self._remaining(), h.weight, self.bw)
        head = self.axis[self.class_off[h.cls[blocked]] + h.lo[blocked] + 1] - h.pos[blocked]
        unblock = d.time_of(np.maximum(head, 0.0))
        late = unblock > t + timeout
        waited = timeout if late.any() else float(unblock.max() - t)
        self.budget[kind] = (min(BUDGET_MAX, timeout - waited), t)
        self.free[kind] = t + waited
        self.blocked_s += waited
        for c in blocked[late]:
            self._terminate(int(c), t)  # at the wait's start: simplification named in the docstring

    # -- the client ---------------------------------------------------------------------------
    def _capacity(self, k: int, t: float) -> int:
        """Events a watch of class `k` created at `t` holds: input and result channels of
        chanSize each, plus the one being written (simplification: the socket buffers hold
        none). chanSize: 10 before v1.25; from v1.25 (kubernetes/kubernetes#109708) one second
        of the cache's history, capacity / eventFreshDuration, within [10, 100] for a kind
        without an index (watch_cache.go `suggestedWatchChannelSize`)."""
        kind = self.classes[k].kind
        size = int(self.chan[kind])
        if size <= 0:
            win = self.windows[kind]
            size = min(max(math.ceil(int(win.capacity[win.committed_by(t)]) / EVENT_FRESH_DURATION), 10), 100)
        return 2 * size + 1

    def _backoff_each(self, c: int) -> None:
        """Every member draws its own backoff: the row is split before its next step."""
        self.h.wake[c] = np.nan
        self._split_due = True

    def _split_pending(self) -> None:
        if not self._split_due:  # no row was marked by `_backoff_each`
            return
        self._split_due = False
        h = self.h
        rows = np.flatnonzero((h.mode == WAIT) & np.isnan(h.wake))
        if rows.size == 0:
            return
        h.flush(self.received, self.listed)
        self._nodes.clear()
        for c in h.split(rows):
            i = int(h.members(int(c))[0])
            self.list_from[i] = h.lo[c]  # what a LIST will bring it: from its first undelivered event
            h.wake[c] = math.ceil((self.now + self.backoff.wait(i, self.now)) / TICK) * TICK
        # Clients whose backoffs end on the same tick act together: one row.
        ok = (h.mode == WAIT) & ((h.action == RELIST) | h.must_relist)
        keys = np.stack([h.cls, h.wake.view(np.int64), h.must_relist, h.action], axis=1)
        if int(ok.sum()) > 1 and h.merge(ok, keys):
            self._nodes.clear()

    def _terminate(self, c: int, t: float) -> None:
        h = self.h
        self.terminated[h.members(c)] += 1
        h.mode[c] = WAIT
        m = h.members(c)
        self.down[m] = np.where(np.isnan(self.down[m]), t, self.down[m])
        short = t - h.watch_start[c] < SHORT_WATCH and h.got[c] == 0
        h.action[c] = RELIST if short else REWATCH
        if short:
            self._backoff_each(c)
        else:
            h.wake[c] = t

    def _wake(self, c: int) -> None:
        h, t = self.h, self.now
        if t < self.up_at:  # connection refused: retried after a backoff
            self._backoff_each(c)
            return
        ec = self.classes[h.cls[c]]
        if h.action[c] == RELIST:
            h.must_relist[c] = False
            self.relists[h.members(c)] += 1
            h.mode[c] = LIST
            h.wake[c] = np.inf
            h.list_rem[c] = ec.bytes_at(t)
            h.list_rv[c] = ec.committed_by(t)
            h.rv_k[c] = self.windows[ec.kind].committed_by(t) - 1
            if h.list_rem[c] <= 0.0:
                self._list_done(c)
            return
        if h.must_relist[c] or not self.windows[ec.kind].can_resume(int(h.rv_k[c]), t):
            h.action[c] = RELIST  # 410 Gone: ListAndWatch returns, BackoffUntil waits
            self._backoff_each(c)
            return
        self._watch(c, t)

    def _watch(self, c: int, t: float) -> None:
        h = self.h
        k = h.cls[c]
        h.mode[c] = WATCH
        h.wake[c] = np.inf
        h.pos[c] = self.axis[self.class_off[k] + h.lo[c]]
        h.live_from[c] = self.ndisp[k]
        h.watch_start[c] = t
        h.got[c] = 0
        h.cap[c] = self._capacity(int(k), t)
        m = h.members(c)
        was_down = ~np.isnan(self.down[m])
        self.gap[m[was_down]] += np.maximum(min(t, self.gap_until) - self.down[m[was_down]], 0.0)
        self.down[m] = np.nan

    def _list_done(self, c: int) -> None:
        """The LIST arrived whole: the client's store holds the state at the list's RV, so
        every write it missed before that RV reaches it now, together (simplification:
        delivered as those writes, at the LIST's end)."""
        h, t = self.h, self.now
        ec = self.classes[h.cls[c]]
        rv = int(h.list_rv[c])
        m = h.members(c)
        if ec.proxy:
            node, first = self.c.node[m], self.list_from[m]
            kp = node >= 0
            node, first = node[kp], first[kp]
            for lo in np.unique(first[first < rv]).tolist():
                nodes = node[first == lo]
                self.arrival[lo:rv, nodes] = np.minimum(self.arrival[lo:rv, nodes], t)
        h.lo[c] = max(int(self.list_from[m].max()), rv)
        h.list_rem[c] = 0.0
        if not self.windows[ec.kind].can_resume(int(h.rv_k[c]), t):
            h.mode[c] = WAIT
            h.action[c] = RELIST
            self._backoff_each(c)
            return
        self._watch(c, t)

    def restart(self, t: float, down: float) -> None:
        """Every replica stops at `t` and serves again at `t + down` with a new, empty watch cache."""
        self.advance(t)
        h = self.h
        self.down[:] = np.where(np.isnan(self.down), t, self.down)
        h.mode[:] = WAIT
        h.list_rem[:] = 0.0
        h.action[:] = REWATCH
        h.wake[:] = t
        h.must_relist[:] = True
        self.up_at = t + down
        self.budget.clear()
        self.free.clear()

    def finish(self, until: float) -> ReplicaResult:
        self.advance(until)
        self.h.flush(self.received, self.listed)
        # clients still without a watch: their gap runs to the end of the run
        still = ~np.isnan(self.down)
        self.gap[still] += np.maximum(min(until, self.gap_until) - self.down[still], 0.0)
        return ReplicaResult(self.received, self.listed, self.terminated, self.relists, self.gap,
                             self.events, self.spans, self.blocked_s, self.queued_max)
