"""Watch fan-out: every accepted write is sent to every watcher of its kind.

Each apiserver replica has one egress link (`egressBandwidth`) shared by all its watchers;
a write is serialized once per encoding (watch-cache caching serializer) and then sent to
each watcher in turn, so a large object × many watchers queues behind earlier sends and
reaches the last watcher noticeably later. Watchers are spread evenly over replicas:
node i's kube-proxy is on replica i % R; other watchers follow, round robin.

Simplifications: no watch-cache delay or per-watcher buffers; a watcher that falls behind
is never terminated and forced to re-list; Pod watches (one kubelet each) are not queued.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simk8s.cluster.apiserver import WriteRecord, writes_frame


@dataclass(frozen=True)
class Watcher:
    """A group of identical watchers: `count` clients watching `kind` in `encoding`."""

    name: str
    kind: str  # EndpointSlice | Endpoints | Service
    count: int
    encoding: str  # protobuf | json


@dataclass
class FanOut:
    writes: pd.DataFrame  # accepted writes in commit order, with columns of WriteRecord
    replicas: int
    bandwidth: float  # bytes/s per replica
    n_nodes: int
    proxy_kind: str
    start: np.ndarray  # float64[W, R] time replica r starts sending write w
    proxy_step: np.ndarray  # float64[W] seconds per kube-proxy delivery of write w (0 if not watched by kube-proxy)
    events: dict[str, int]  # watch events per kind
    egress_bytes: dict[str, int]  # bytes per kind
    egress_series: pd.DataFrame  # t_s (1 s bins), replica, bytes
    to_proxy: np.ndarray  # bool[W]: write w is delivered to every kube-proxy

    def arrival_fn(self, rows: np.ndarray):
        """arrival(i): when write rows[i] reaches each node's kube-proxy; float64[N]. Node n is
        served by replica n % R, after the n // R kube-proxies before it on that replica."""
        nodes = np.arange(self.n_nodes)
        rep = nodes % self.replicas
        rank1 = (nodes // self.replicas + 1).astype(np.float64)
        start, step = self.start, self.proxy_step

        def arrival(i: int) -> np.ndarray:
            w = rows[i]
            return start[w, rep] + rank1 * step[w]

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
) -> FanOut:
    """`proxy_ignored`: (namespace, service) whose objects kube-proxy's informers filter out
    server-side (headless Services: label selector `!service.kubernetes.io/headless`)."""
    accepted = [r for r in records if not r.rejected]
    writes = writes_frame(accepted)
    groups = [Watcher("kube-proxy", proxy_kind, n_nodes, "protobuf"), *watchers]
    # Per replica and kind: (kube-proxies on it, other watchers' bytes multiplier per encoding).
    proxy_per_rep = np.bincount(np.arange(n_nodes) % replicas, minlength=replicas)
    extra: dict[str, np.ndarray] = {}  # kind → [R, 2] counts of (protobuf, json) extra watchers
    slot = n_nodes
    for g in watchers:
        arr = extra.setdefault(g.kind, np.zeros((replicas, 2), dtype=np.int64))
        for _ in range(g.count):
            arr[slot % replicas, 0 if g.encoding == "protobuf" else 1] += 1
            slot += 1
    W = len(accepted)
    start = np.zeros((W, replicas))
    step = np.zeros(W)
    busy = np.zeros(replicas)
    to_proxy = np.zeros(W, dtype=bool)
    events: dict[str, int] = {}
    egress: dict[str, int] = {}
    spans: list[tuple[float, float, int, float]] = []
    for w, rec in enumerate(accepted):
        sizes = np.array([rec.bytes_proto, rec.bytes_json], dtype=np.float64)
        per_rep = np.zeros(replicas)
        if rec.kind == proxy_kind and (rec.namespace, rec.service) not in proxy_ignored:
            to_proxy[w] = True
            per_rep += proxy_per_rep * sizes[0]
            step[w] = sizes[0] / bandwidth
        if rec.kind in extra:
            per_rep += extra[rec.kind] @ sizes
        n_events = (n_nodes if to_proxy[w] else 0) + int(extra[rec.kind].sum() if rec.kind in extra else 0)
        events[rec.kind] = events.get(rec.kind, 0) + n_events
        egress[rec.kind] = egress.get(rec.kind, 0) + int(per_rep.sum())
        begin = np.maximum(busy, rec.time)
        start[w] = begin
        busy = begin + per_rep / bandwidth
        for r in range(replicas):
            if per_rep[r] > 0:
                spans.append((begin[r], busy[r], r, per_rep[r]))
    for kind in {g.kind for g in groups}:
        events.setdefault(kind, 0)
        egress.setdefault(kind, 0)
    return FanOut(
        writes=writes,
        replicas=replicas,
        bandwidth=bandwidth,
        n_nodes=n_nodes,
        proxy_kind=proxy_kind,
        start=start,
        proxy_step=step,
        events=events,
        egress_bytes=egress,
        egress_series=_egress_series(spans, replicas),
        to_proxy=to_proxy,
    )


def _egress_series(spans: list[tuple[float, float, int, float]], replicas: int) -> pd.DataFrame:
    """Bytes sent per replica per 1 s bin (a send spread evenly over its duration)."""
    if not spans:
        return pd.DataFrame({"t_s": [], "replica": [], "bytes": []})
    end = int(np.ceil(max(s[1] for s in spans))) + 1
    bins = np.zeros((replicas, end))
    for a, b, r, nbytes in spans:
        if b - a < 1e-12:
            bins[r, int(a)] += nbytes
            continue
        lo, hi = int(np.floor(a)), int(np.floor(b))
        edges = np.clip(np.arange(lo, hi + 2, dtype=np.float64), a, b)
        bins[r, lo : hi + 1] += np.diff(edges) / (b - a) * nbytes
    t, replica = np.nonzero(bins.T)
    return pd.DataFrame({"t_s": t.astype(np.int64), "replica": replica.astype(np.int64), "bytes": bins[replica, t]})
