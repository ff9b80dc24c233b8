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

from simk8s.watch.bandwidth import Drain, drain
from simk8s.watch.calm import CALM_ROWS, advance_calm
from simk8s.watch.cohorts import LIST, RELIST, REWATCH, WAIT, WATCH, Cohorts
from simk8s.watch.reflector import SHORT_WATCH, Backoff
from simk8s.watch.watchcache import EVENT_FRESH_DURATION, Window

BUDGET_MAX = 0.1  # time_budget.go maxBudget
TICK = 0.25  # seconds: the grid clients' timed actions are handled on
BUDGET_REFILL = 0.05  # time_budget.go refreshPerSecond (per second; refilled continuously here, not by a 1 s ticker)
_NO_ROWS = np.zeros(0, dtype=np.int64)


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
        return float(self.list_bytes[int(self.list_times.searchsorted(t, side="right")) - 1])

    def committed_by(self, t: float) -> int:
        return int(self.times.searchsorted(t, side="right"))


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
        # kidx_axis[class_off[k] + j]: the kind position of class k's local event j (an RV)
        self.kidx_axis = np.concatenate([np.append(ec.kidx, -1) for ec in classes]) if classes else np.zeros(1, np.int64)
        self.proxy_class = next((k for k, ec in enumerate(classes) if ec.proxy), -1)
        self.proxy_nodes_only = bool((clients.node[clients.cls == self.proxy_class] >= 0).all())
        self._nodes: dict[int, np.ndarray] = {}  # row → its members' nodes (kube-proxies only)
        self.class_off = np.asarray(offsets, dtype=np.int64)
        self.ndisp = np.zeros(len(classes), dtype=np.int64)
        self._fixed_caps: np.ndarray | None = None
        if all(self.chan[ec.kind] > 0 for ec in classes):
            self._fixed_caps = self._capacities(0.0)
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

    def _remaining(self, end: np.ndarray, watching: np.ndarray) -> np.ndarray:
        """Bytes each row still has to receive: its events if watching, its LIST if listing.
        `list_rem` is 0 outside LIST (set there, zeroed when the LIST ends or is dropped)."""
        return np.where(watching, np.maximum(end - self.h.pos, 0.0), self.h.list_rem)

    def row_nodes(self, c: int) -> np.ndarray:
        if c not in self._nodes:
            node = self.c.node[self.h.members(c)]
            self._nodes[c] = node[node >= 0]
        return self._nodes[c]

    def advance(self, target: float) -> None:
        """Send bytes and act on timed client actions up to `target`."""
        if len(self.h) <= CALM_ROWS and np.count_nonzero(self.h.mode) == 0:  # all watching
            advance_calm(self, target)
            return
        while True:
            h = self.h
            done = _NO_ROWS
            stop = self.now
            if target > self.now:
                watching = h.mode == WATCH
                end = self._end()
                rem = self._remaining(end, watching)
                busy = rem.nonzero()[0]  # rem >= 0: the rows with bytes left
                # rows not waiting hold wake = inf; no NaN outlives a step (`_split_pending` draws them)
                soon = float(h.wake.min())
                listing = busy[h.mode[busy] == LIST]
                d = drain(self.now, rem, h.weight, self.bw, busy) if busy.size else None
                if listing.size and d is not None:
                    soon = min(soon, float(d.time_of(rem[listing]).min()))
                # Clients act on a grid of TICK seconds (simplification: a LIST's end or a
                # backoff's end takes effect up to TICK late), so that a storm of thousands of
                # jittered relists is a few thousand steps.
                stop = max(min(target, math.ceil(soon / TICK) * TICK if soon < np.inf else np.inf), self.now)
                if d is not None and stop > self.now:
                    self._apply(d, rem, stop, end, busy, watching)
                    # a LIST's bytes only fall here: only a busy LIST can have ended
                    done = listing[h.list_rem[listing] <= 0.0]
            self.now = stop
            for c in done.tolist():
                self._list_done(c)
            due = (h.wake <= stop).nonzero()[0]  # NaN (a backoff still to draw) is never due
            if due.size:
                self._wake(due)
            self._split_pending()
            if stop >= target and done.size == 0 and due.size == 0:
                return

    def _apply(self, d: Drain, rem: np.ndarray, t: float, end: np.ndarray, busy: np.ndarray,
               watching: np.ndarray) -> None:
        """Send the bytes of `d` up to `t`; `busy`: the rows with bytes left (`rem > 0`)."""
        h = self.h
        dv = d.v_at(t)
        # Only busy rows get bytes: the others' `sent` is 0 (and adding 0 changes nothing).
        rb = rem[busy]
        sent = np.minimum(rb, dv)
        close = sent >= rb * (1 - 1e-9) - 1e-6  # float round trip
        np.copyto(sent, rb, where=close)
        full_sent = np.zeros(len(rem))
        full_sent[busy] = sent
        total = float((full_sent * h.weight).sum())  # over every row: the same float sum as before
        if total > 0:
            self.spans.append((self.now, min(t, d.busy_until), total))
        h.recv[busy] += sent
        ws = watching[busy]
        if np.count_nonzero(ws) < len(ws):
            # LIST bytes of every busy row: 0 for the watching ones (subtracting or adding 0 changes nothing)
            list_sent = np.where(ws, 0.0, sent)
            h.list_rem[busy] -= list_sent
            h.listed[busy] += list_sent
            busy, sent, close = busy[ws], sent[ws], close[ws]
        if busy.size == 0:
            return
        wm = busy
        old = h.pos[wm]
        new = old + sent
        np.copyto(new, end[wm], where=close)  # no rounding short of the last event
        h.pos[wm] = new
        # Events completed: local j with cumulative[j + 1] <= the new position.
        first = h.lo[wm]
        done_to = self.axis.searchsorted(new, side="right") - 1  # on the axis: class offset + local index
        cw = h.cls[wm]
        count = done_to - self.class_off[cw] - first
        has = count > 0
        completed = np.count_nonzero(has)
        if completed < len(has):
            if completed == 0:
                return
            wm, old, count, first, done_to, cw = wm[has], old[has], count[has], first[has], done_to[has], cw[has]
        h.lo[wm] = first + count
        h.got[wm] += count
        h.rv_k[wm] = self.kidx_axis[done_to - 1]
        self.events += np.bincount(cw, weights=count * h.weight[wm], minlength=len(self.classes)).astype(np.int64)
        proxy = cw == self.proxy_class
        if np.count_nonzero(proxy):
            self._record_arrivals(d, wm[proxy], old[proxy], first[proxy], count[proxy], done_to[proxy] - count[proxy])

    def _record_arrivals(self, d: Drain, rows: np.ndarray, old: np.ndarray, first: np.ndarray, count: np.ndarray,
                         at: np.ndarray) -> None:
        """When each event completed for each member (a node's kube-proxy) of `rows`: local
        events first..first+count-1, whose ends sit at axis[at + 1 ...]."""
        h = self.h
        pair = np.arange(len(rows)).repeat(count)  # one (row, event) pair per event completed
        j = (first - count.cumsum() + count)[pair] + np.arange(len(pair))
        when = d.time_of(self.axis[(at + 1 - first)[pair] + j] - old[pair])
        which, member = h.expand(rows[pair])
        node = self.c.node[member]
        if not self.proxy_nodes_only:
            kube_proxy = node >= 0
            which, node = which[kube_proxy], node[kube_proxy]
        self.arrival[j[which], node] = when[which]

    # -- dispatch ----------------------------------------------------------------------------
    def dispatch(self, kind: str, commit: float, local: dict[int, int]) -> None:
        """Write committed at `commit`: the local index it has in each class (`local`)."""
        t = max(commit, self.free.get(kind, 0.0), self.now)  # one dispatcher per kind, in order
        self.advance(t)
        h = self.h
        if t >= self.up_at and len(h) <= CALM_ROWS and np.count_nonzero(h.mode) == 0:
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
            is_watch = h.mode == WATCH
            if len(local) == 1:
                watching = is_watch & (h.cls == next(iter(local)))
            else:
                lut = np.zeros(len(self.classes), dtype=bool)
                lut[list(local)] = True
                watching = is_watch & lut[h.cls]
            rows = watching.nonzero()[0]
            if rows.size:
                live = self.ndisp[h.cls[rows]] - np.maximum(h.lo[rows], h.live_from[rows])
                self.queued_max = max(self.queued_max, int(live.max()) + 1)
                blocked = rows[live >= h.cap[rows]]
                if blocked.size:
                    self._wait_for(kind, t, blocked, is_watch)
                    self._split_pending()
        for k, j in local.items():
            self.ndisp[k] = j + 1
        if len(self.h) > len(self.classes):
            self.h.flush(self.received, self.listed)
            if self.h.merge_caught_up(self.now, self._end()):
                self._nodes.clear()

    def _wait_for(self, kind: str, t: float, blocked: np.ndarray, watching: np.ndarray) -> None:
        h = self.h
        budget, when = self.budget.get(kind, (0.0, 0.0))
        timeout = min(BUDGET_MAX, budget + BUDGET_REFILL * (t - when))
        rem = self._remaining(self._end(), watching)
        head = self.axis[self.class_off[h.cls[blocked]] + h.lo[blocked] + 1] - h.pos[blocked]
        if _surely_late(head, rem, h.weight, self.bw, timeout):
            late = np.ones(len(blocked), dtype=bool)
            any_late = True
        else:
            unblock = drain(t, rem, h.weight, self.bw).time_of(np.maximum(head, 0.0))
            late = unblock > t + timeout
            any_late = bool(np.count_nonzero(late))
        waited = timeout if any_late else float(unblock.max() - t)
        self.budget[kind] = (min(BUDGET_MAX, timeout - waited), t)
        self.free[kind] = t + waited
        self.blocked_s += waited
        if any_late:
            self._terminate(blocked[late], t)  # at the wait's start: simplification named in the docstring

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

    def _capacities(self, t: float) -> np.ndarray:
        """`_capacity` of every class at `t`; the same at every t when no chanSize follows the cache."""
        if self._fixed_caps is not None:
            return self._fixed_caps
        return np.array([self._capacity(k, t) for k in range(len(self.classes))], dtype=np.int64)

    def _backoff_each(self, rows: np.ndarray | int) -> None:
        """Every member draws its own backoff: the rows are split before their next step."""
        self.h.wake[rows] = np.nan
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
        new = h.split(rows)
        client = h.flat[h.start[new]]  # one member each
        self.list_from[client] = h.lo[new]  # what a LIST will bring it: from its first undelivered event
        h.wake[new] = np.ceil((self.now + self.backoff.wait(client, self.now)) / TICK) * TICK
        # Clients whose backoffs end on the same tick act together: one row.
        ok = (h.mode == WAIT) & ((h.action == RELIST) | h.must_relist)
        keys = np.stack([h.cls, h.wake.view(np.int64), h.must_relist, h.action], axis=1)
        if int(ok.sum()) > 1 and h.merge(ok, keys):
            self._nodes.clear()

    def _terminate(self, rows: np.ndarray, t: float) -> None:
        """The watches of `rows` are closed at `t` (rows are independent: done all at once)."""
        h = self.h
        _, m = h.expand(rows)
        self.terminated[m] += 1
        h.mode[rows] = WAIT
        down = self.down[m]
        self.down[m] = np.where(np.isnan(down), t, down)
        short = (t - h.watch_start[rows] < SHORT_WATCH) & (h.got[rows] == 0)
        h.action[rows] = np.where(short, RELIST, REWATCH)
        h.wake[rows] = np.where(short, np.nan, t)  # NaN: a backoff to draw (`_backoff_each`)
        if np.count_nonzero(short):
            self._split_due = True

    def _wake(self, rows: np.ndarray) -> None:
        """Rows whose wait ended now: relist, re-watch, or find the RV gone (410) and back off."""
        h, t = self.h, self.now
        if t < self.up_at:  # connection refused: retried after a backoff
            self._backoff_each(rows)
            return
        relist = h.action[rows] == RELIST
        if np.count_nonzero(relist):
            self._start_lists(rows[relist], t)
        rest = rows[~relist]
        if rest.size == 0:
            return
        gone = h.must_relist[rest] | ~self._resumable(rest, t)
        if np.count_nonzero(gone):
            h.action[rest[gone]] = RELIST  # 410 Gone: ListAndWatch returns, BackoffUntil waits
            self._backoff_each(rest[gone])
            rest = rest[~gone]
        if rest.size:
            self._watch(rest, t)

    def _resumable(self, rows: np.ndarray, t: float) -> np.ndarray:
        """Whether the watch cache can still serve a watch from each row's RV."""
        h = self.h
        cls = h.cls[rows]
        present = set(cls.tolist())
        if len(present) == 1:  # the common case: one class, one window to ask
            return h.rv_k[rows] + 1 >= self.windows[self.classes[present.pop()].kind].resumable_from(t)
        first = np.array([self.windows[ec.kind].resumable_from(t) for ec in self.classes], dtype=np.int64)
        return h.rv_k[rows] + 1 >= first[cls]

    def _start_lists(self, rows: np.ndarray, t: float) -> None:
        h = self.h
        h.must_relist[rows] = False
        _, m = h.expand(rows)
        self.relists[m] += 1
        h.mode[rows] = LIST
        h.wake[rows] = np.inf
        cls = h.cls[rows]
        for k in set(cls.tolist()):
            ec = self.classes[k]
            sel = rows[cls == k]
            h.list_rem[sel] = ec.bytes_at(t)
            h.list_rv[sel] = ec.committed_by(t)
            h.rv_k[sel] = self.windows[ec.kind].committed_by(t) - 1
        for c in rows[h.list_rem[rows] <= 0.0].tolist():
            self._list_done(c)

    def _watch(self, rows: np.ndarray, t: float) -> None:
        h = self.h
        k = h.cls[rows]
        h.mode[rows] = WATCH
        h.wake[rows] = np.inf
        h.pos[rows] = self.axis[self.class_off[k] + h.lo[rows]]
        h.live_from[rows] = self.ndisp[k]
        h.watch_start[rows] = t
        h.got[rows] = 0
        h.cap[rows] = self._capacities(t)[k]
        _, m = h.expand(rows)
        down = self.down[m]
        was_down = ~np.isnan(down)
        self.gap[m[was_down]] += np.maximum(min(t, self.gap_until) - down[was_down], 0.0)
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
            if len(node) == 1:  # a lone client (the common case): its column, in place
                if first[0] < rv:
                    column = self.arrival[int(first[0]) : rv, int(node[0])]
                    np.minimum(column, t, out=column)
            else:
                for lo in np.unique(first[first < rv]).tolist():
                    nodes = node[first == lo]
                    self.arrival[lo:rv, nodes] = np.minimum(self.arrival[lo:rv, nodes], t)
        h.lo[c] = max(int(self.list_from[m].max()), rv)
        h.list_rem[c] = 0.0
        if not self.windows[ec.kind].can_resume(h.rv_k[c : c + 1], t)[0]:
            h.mode[c] = WAIT
            h.action[c] = RELIST
            self._backoff_each(c)
            return
        self._watch(np.array([c]), t)

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


def _surely_late(head: np.ndarray, rem: np.ndarray, weight: np.ndarray, bw: float, timeout: float) -> bool:
    """Whether every blocked watcher is certainly still blocked after `timeout`, without the
    drain: until a stream has `head` bytes, every row with at least `head` bytes left is
    still sending, so it needs at least head × (their weight) / bw seconds. The margin
    keeps the answer the drain's own wherever float rounding could decide it."""
    smallest = float(head.min())
    if smallest <= 0.0:
        return False
    sharing = int(weight[rem >= float(head.max())].sum())
    return smallest * sharing / bw > timeout + 1e-6
