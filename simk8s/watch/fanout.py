"""Watch fan-out: every accepted write reaches every watcher of its kind through the
apiserver's watch cache, or is missed by a watcher that was cut off and re-listed.

A write is serialized once per encoding (the watch cache's caching serializer,
staging/src/k8s.io/apiserver/pkg/storage/cacher/caching_object.go), dispatched by each
replica's cacher to its watchers (cacher.py) and sent over the replica's egress link,
shared by all its concurrent streams (bandwidth.py). A watcher that falls behind is cut
off and comes back as a client-go reflector does (reflector.py), by re-watch from the watch
cache (watchcache.py) or by a LIST.

Clients are spread over replicas as a round-robin load balancer would: node i's kube-proxy
on replica i % R, other watchers after them, round robin. Simplification: a client keeps
its replica across re-watches and relists (client-go reuses its HTTP/2 connection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simk8s.cluster.apiserver import WriteRecord, writes_frame
from simk8s.rng import component_rng
from simk8s.watch.cacher import Clients, EventClass, Replica, ReplicaResult
from simk8s.watch.reflector import Backoff
from simk8s.watch.watchcache import Window, window

# CPU seconds per byte encoded (once per encoding for watch events, per request for LISTs).
# Assumption, not calibrated: ~500 MB/s protobuf and ~100 MB/s JSON marshalling per core.
ENCODE_SECONDS_PER_BYTE = {"protobuf": 1 / 500e6, "json": 1 / 100e6}
DRAIN_HORIZON = 3600.0  # seconds after the last write to let every backlog and relist finish


@dataclass(frozen=True)
class Watcher:
    """A group of identical watchers: `count` clients watching `kind` in `encoding`."""

    name: str
    kind: str  # EndpointSlice | Endpoints | Service
    count: int
    encoding: str  # protobuf | json


def controller_watchers(controller_manager: Any) -> list[Watcher]:
    """The endpoint controllers' own informers: one protobuf watch of each kind they write.
    Simplification: their being cut off does not feed back into the cluster stage (there,
    informers see writes at once); the summary reports whether it happened."""
    cm = controller_manager
    return [Watcher("kube-controller-manager", kind, 1, "protobuf")
            for kind, on in (("Endpoints", cm.endpoints_controller), ("EndpointSlice", cm.endpoint_slice_controller))
            if on]


@dataclass(frozen=True)
class InitialObject:
    """An object that exists at t = 0: what a LIST returns before any write."""

    kind: str
    namespace: str
    name: str
    service: str
    bytes_proto: int
    bytes_json: int


@dataclass(frozen=True)
class CacheSettings:
    """Per kind: fixed watch-cache capacity (None: adaptive, v1.19+) and chanSize (0: sized
    from the cache, v1.25+); `restarts`: (time, seconds down) of apiserver restarts."""

    capacity: int | None = None
    chan_size: int = 0
    restarts: tuple[tuple[float, float], ...] = ()


@dataclass
class WatchStats:
    terminated: dict[str, int]  # per watcher group: watches closed as unresponsive
    relists: dict[str, int]  # per watcher group
    relist_bytes: int
    node_gap_s: np.ndarray  # float64[N] seconds each node's kube-proxy had no watch
    cache_capacity_max: dict[str, int]  # per kind
    cache_bytes_max: dict[str, int]  # per kind: protobuf bytes of the events the buffer held, at most
    cpu_serialization_s: float
    cpu_list_s: float
    blocked_s: float  # seconds the replicas' dispatchers waited on blocked watchers
    queued_max: int  # most events queued for one watcher


@dataclass
class FanOut:
    writes: pd.DataFrame  # accepted writes in commit order, with columns of WriteRecord
    replicas: int
    bandwidth: float  # bytes/s per replica
    n_nodes: int
    proxy_kind: str
    events: dict[str, int]  # watch events delivered per kind
    egress_bytes: dict[str, int]  # bytes per kind (events and LISTs)
    egress_series: pd.DataFrame  # t_s (1 s bins), replica, bytes
    to_proxy: np.ndarray  # bool[W]: write w is delivered to every kube-proxy
    arrival: np.ndarray  # float64[P, N]: when the p-th kube-proxy write reached node n
    watcher_bytes: pd.DataFrame  # replica, watcher, node, bytes (events and LISTs, whole run)
    stats: WatchStats | None = None
    proxy_row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # write index → row of `arrival`

    def arrival_fn(self, rows: np.ndarray):
        """arrival(i): when write rows[i] reaches each node's kube-proxy; float64[N]."""
        local = self.proxy_row[np.asarray(rows, dtype=np.int64)] if len(rows) else np.zeros(0, np.int64)

        def arrival(i: int) -> np.ndarray:
            return self.arrival[local[i]]

        return arrival


def fan_out(
    records: list[WriteRecord],
    *,
    n_nodes: int,
    proxy_kind: str,
    watchers: list[Watcher],
    replicas: int,
    bandwidth: float,
    proxy_ignored: frozenset[tuple[str, str]] = frozenset(),
    initial: list[InitialObject] | None = None,
    cache: dict[str, CacheSettings] | None = None,
    seed: int = 0,
    duration: float = math.inf,
) -> FanOut:
    """`proxy_ignored`: (namespace, service) whose objects kube-proxy's informers filter out
    server-side (headless Services: label selector `!service.kubernetes.io/headless`).
    `duration`: the run's end; time without a watch is counted up to it."""
    accepted = [r for r in records if not r.rejected]
    writes = writes_frame(accepted)
    cache = cache or {}
    groups = [Watcher("kube-proxy", proxy_kind, n_nodes, "protobuf"), *watchers]
    to_proxy = np.array([r.kind == proxy_kind and (r.namespace, r.service) not in proxy_ignored for r in accepted],
                        dtype=bool)
    # Event classes: what each group receives.
    keys: list[tuple[str, str, bool]] = []
    for g in groups:
        key = (g.kind, g.encoding, g.name == "kube-proxy")
        if key not in keys:
            keys.append(key)
    kinds = sorted({k for k, _, _ in keys})
    kind_pos = {k: np.cumsum([r.kind == k for r in accepted]) - 1 for k in kinds}
    times = np.array([r.time for r in accepted], dtype=np.float64)
    windows: dict[str, Window] = {}
    restarts = tuple(sorted({r for s in cache.values() for r in s.restarts}))
    for k in kinds:
        sel = np.array([r.kind == k for r in accepted], dtype=bool)
        windows[k] = window(times[sel], cache.get(k, CacheSettings()).capacity, tuple(t + d for t, d in restarts))
    classes = [_event_class(accepted, k, enc, proxy, to_proxy, kind_pos[k], times, initial or [], proxy_ignored)
               for k, enc, proxy in keys]
    # Clients, per replica.
    cls, node, group, rep = [], [], [], []
    slot = 0
    for gi, g in enumerate(groups):
        ci = keys.index((g.kind, g.encoding, g.name == "kube-proxy"))
        for m in range(g.count):
            cls.append(ci)
            node.append(m if gi == 0 else -1)
            group.append(gi)
            rep.append(slot % replicas)
            slot += 1
    cls_a, node_a, group_a, rep_a = (np.asarray(x, dtype=np.int64) for x in (cls, node, group, rep))
    proxy_ci = keys.index((proxy_kind, "protobuf", True))
    arrival = np.full((len(classes[proxy_ci].gidx), n_nodes), np.inf)
    chan = {k: cache.get(k, CacheSettings()).chan_size for k in kinds}
    sims: list[Replica] = []
    members: list[np.ndarray] = []
    for r in range(replicas):
        idx = np.flatnonzero(rep_a == r)
        members.append(idx)
        backoff = Backoff(len(idx), component_rng(seed, f"watch/reflector-backoff/{r}"))
        sims.append(Replica(classes, windows, Clients(cls_a[idx], node_a[idx], group_a[idx]), bandwidth, chan,
                            backoff, arrival))
        sims[-1].gap_until = duration
    _dispatch_all(accepted, classes, sims, restarts)
    end = (float(times[-1]) if len(times) else 0.0) + DRAIN_HORIZON
    results = [s.finish(max(end, max((t + d for t, d in restarts), default=0.0) + DRAIN_HORIZON)) for s in sims]
    return _assemble(writes, replicas, bandwidth, n_nodes, proxy_kind, to_proxy, arrival, classes, groups, results,
                     members, cls_a, node_a, group_a, windows, accepted, kind_pos)


def _event_class(accepted, kind, enc, proxy, to_proxy, kpos, times, initial, ignored) -> EventClass:
    sel = to_proxy.copy() if proxy else np.array([r.kind == kind for r in accepted], dtype=bool)
    gidx = np.flatnonzero(sel)
    size = np.array([accepted[g].bytes_proto if enc == "protobuf" else accepted[g].bytes_json for g in gidx],
                    dtype=np.float64)
    # The selected objects' total size over time: what a LIST returns.
    current: dict[tuple[str, str], int] = {}
    for o in initial:
        if o.kind == kind and not (proxy and (o.namespace, o.service) in ignored):
            current[(o.namespace, o.name)] = o.bytes_proto if enc == "protobuf" else o.bytes_json
    total = sum(current.values())
    list_times, list_bytes = [-np.inf], [float(total)]
    for g in gidx:
        r = accepted[g]
        key = (r.namespace, r.name)
        total -= current.pop(key, 0)
        if r.op != "delete":
            current[key] = r.bytes_proto if enc == "protobuf" else r.bytes_json
            total += current[key]
        list_times.append(r.time)
        list_bytes.append(float(total))
    return EventClass(kind=kind, encoding=enc, gidx=gidx, size=size, kidx=kpos[gidx], times=times[gidx],
                      list_times=np.asarray(list_times), list_bytes=np.asarray(list_bytes), proxy=proxy)


def _dispatch_all(accepted, classes: list[EventClass], sims: list[Replica], restarts) -> None:
    local = [np.full(len(accepted), -1, dtype=np.int64) for _ in classes]
    for k, ec in enumerate(classes):
        local[k][ec.gidx] = np.arange(len(ec.gidx))
    present = [set(s.c.cls.tolist()) for s in sims]
    pending = list(restarts)
    for g, rec in enumerate(accepted):
        while pending and pending[0][0] <= rec.time:
            t, down = pending.pop(0)
            for s in sims:
                s.restart(t, down)
        hits = {k: int(local[k][g]) for k in range(len(classes)) if local[k][g] >= 0}
        for s, have in zip(sims, present, strict=True):
            mine = {k: j for k, j in hits.items() if k in have}
            if mine:
                s.dispatch(rec.kind, rec.time, mine)
            else:
                for k, j in hits.items():
                    s.ndisp[k] = j + 1
    for t, down in pending:
        for s in sims:
            s.restart(t, down)


def _assemble(writes, replicas, bandwidth, n_nodes, proxy_kind, to_proxy, arrival, classes, groups,
              results: list[ReplicaResult], members, cls_a, node_a, group_a, windows, accepted, kind_pos) -> FanOut:
    n = len(cls_a)
    received = np.zeros(n)
    listed = np.zeros(n)
    term = np.zeros(n, dtype=np.int64)
    rel = np.zeros(n, dtype=np.int64)
    gap = np.zeros(n)
    rep = np.zeros(n, dtype=np.int64)
    events: dict[str, int] = {}
    for r, (res, idx) in enumerate(zip(results, members, strict=True)):
        received[idx], listed[idx], term[idx], rel[idx], gap[idx], rep[idx] = (
            res.received, res.list_bytes, res.terminated, res.relists, res.gap, r)
        for k, ec in enumerate(classes):
            events[ec.kind] = events.get(ec.kind, 0) + int(res.events[k])
    whole = np.rint(received).astype(np.int64)
    kind_of = np.array([classes[c].kind for c in cls_a]) if n else np.zeros(0, dtype=str)
    egress = {k: int(whole[kind_of == k].sum()) for k in {g.kind for g in groups}}
    for k in {g.kind for g in groups}:
        events.setdefault(k, 0)
    names = [g.name for g in groups]
    per_client = pd.DataFrame({"replica": rep, "watcher": [names[g] for g in group_a], "node": node_a,
                               "bytes": whole})
    watcher_bytes = pd.DataFrame(per_client.groupby(["replica", "watcher", "node"], as_index=False, sort=True)["bytes"].sum())
    node_gap = np.zeros(n_nodes)
    kp = node_a >= 0
    node_gap[node_a[kp]] = gap[kp]
    cpu_ser = 0.0
    for ec in classes:
        cpu_ser += float(ec.size.sum()) * ENCODE_SECONDS_PER_BYTE[ec.encoding] * replicas
    cpu_list = float(sum(listed[cls_a == c].sum() * ENCODE_SECONDS_PER_BYTE[ec.encoding]
                         for c, ec in enumerate(classes)))
    cache_bytes = {}
    for k, win in windows.items():
        sizes = np.array([r.bytes_proto for r in accepted if r.kind == k], dtype=np.float64)
        prefix = np.concatenate(([0.0], np.cumsum(sizes)))
        held = prefix[1:] - prefix[win.oldest[1:]] if len(sizes) else np.zeros(1)
        cache_bytes[k] = int(held.max()) if held.size else 0
    stats = WatchStats(
        terminated=_by_name(groups, group_a, term),
        relists=_by_name(groups, group_a, rel),
        relist_bytes=int(np.rint(listed).sum()),
        node_gap_s=node_gap,
        cache_capacity_max={k: w.max_capacity() for k, w in windows.items()},
        cache_bytes_max=cache_bytes,
        cpu_serialization_s=cpu_ser,
        cpu_list_s=cpu_list,
        blocked_s=float(sum(r.blocked_s for r in results)),
        queued_max=max((r.queued_max for r in results), default=0),
    )
    proxy_row = np.full(len(writes), -1, dtype=np.int64)
    proxy_ci = next(k for k, ec in enumerate(classes) if ec.proxy)
    proxy_row[classes[proxy_ci].gidx] = np.arange(len(classes[proxy_ci].gidx))
    return FanOut(
        writes=writes, replicas=replicas, bandwidth=bandwidth, n_nodes=n_nodes, proxy_kind=proxy_kind,
        events=events, egress_bytes=egress,
        egress_series=_egress_series([(a, b, r, x) for r, res in enumerate(results) for a, b, x in res.spans],
                                     replicas, int(whole.sum())),
        to_proxy=to_proxy, arrival=arrival, watcher_bytes=watcher_bytes, stats=stats, proxy_row=proxy_row,
    )


def _by_name(groups: list[Watcher], group_of: np.ndarray, values: np.ndarray) -> dict[str, int]:
    """Per watcher group name (groups of one name, e.g. an informer per kind, add up)."""
    out: dict[str, int] = {}
    for i, g in enumerate(groups):
        out[g.name] = out.get(g.name, 0) + int(values[group_of == i].sum())
    return out


def _egress_series(spans: list[tuple[float, float, int, float]], replicas: int, total: int) -> pd.DataFrame:
    """Bytes sent per replica per 1 s bin (a send spread evenly over its duration); scaled so
    its sum is the whole bytes of `egress_bytes`."""
    if not spans:
        return pd.DataFrame({"t_s": np.zeros(0, np.int64), "replica": np.zeros(0, np.int64), "bytes": np.zeros(0)})
    a, b, rep, nbytes = (np.array(col) for col in zip(*spans, strict=True))
    rep = rep.astype(np.int64)
    end = int(np.ceil(b.max())) + 1
    # One entry per (span, 1 s bin it touches), in span order: np.add.at adds them in that
    # order, so every bin sums its parts as a loop over the spans would.
    point = b - a < 1e-12  # an instant send: all its bytes in the bin it starts in
    lo = np.floor(a).astype(np.int64)
    nbins = np.where(point, 1, np.floor(b).astype(np.int64) - lo + 1)
    span = np.repeat(np.arange(len(spans)), nbins)
    first = np.cumsum(nbins) - nbins
    t = lo[span] + np.arange(int(nbins.sum())) - first[span]
    sa, sb = a[span], b[span]
    length = np.where(point, 1.0, b - a)[span]
    share = (np.clip(t + 1.0, sa, sb) - np.clip(t.astype(np.float64), sa, sb)) / length * nbytes[span]
    share = np.where(point[span], nbytes[span], share)
    bins = np.zeros((replicas, end))
    np.add.at(bins, (rep[span], t), share)
    sent = bins.sum()
    if sent > 0:
        bins *= total / sent  # whole bytes per watcher, rounded: the same total as egress_bytes
    t, replica = np.nonzero(bins.T)
    return pd.DataFrame({"t_s": t.astype(np.int64), "replica": replica.astype(np.int64), "bytes": bins[replica, t]})
