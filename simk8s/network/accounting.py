"""Bytes by (zone, zone) pair and what the crossings cost: watch fan-out and client traffic.

Watch: each (replica, watcher) row of `watch_bytes.watcher_bytes` goes from the replica's
zone to the watcher's: a node's kube-proxy is in its node's zone. Client traffic: each
connection that got a reply carries requestsPerConnection × (requestBytes from the client
node's zone to the backend's, responseBytes back). Every byte lands in exactly one pair;
endpoints outside the cluster are the pseudo-zone "external".

The replica a kube-proxy watches is taken by zone-neutral spread (`proxy_replica`).
After a zone outage (cluster/zone_outage.py), writes sent from then on skip watchers in the
lost zone (counted as `unsent_bytes`: the fan-out in simk8s/watch/ still sends them), and
kube-proxies whose replica was lost re-watch a surviving replica (node i → the i % L-th of
the L survivors). Simplifications: other watchers (ingress controllers, …) sit in their
replica's zone and go down with it; connection setup and failed connections carry no bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from simk8s.network.topology import ZoneNetwork
from simk8s.network.watch_bytes import derive_watcher_bytes, watcher_bytes, write_times

EXTERNAL = "external"
OK = 0  # dataplane.outcomes.OK: a reply came


def watch_matrix(fanout: Any, watchers: Sequence[Any], net: ZoneNetwork, node_zone: np.ndarray,
                 outages: Sequence[tuple[float, int]] = (), window: tuple[float, float] | None = None) -> tuple[np.ndarray, int]:
    """(bytes[Z, Z] from replica zone to watcher zone, bytes not sent to lost watchers)."""
    n = len(net.zones)
    out = np.zeros((n, n), np.int64)
    unsent = 0
    times = write_times(fanout)
    edges = [-np.inf, *(t for t, _ in outages), np.inf]
    for k in range(len(edges) - 1):
        lo, hi = edges[k], edges[k + 1]
        if window is not None:
            lo, hi = max(lo, window[0]), min(hi, window[1])
        mask = (times >= lo) & (times < hi)
        if not mask.any():
            continue
        whole = window is None and len(outages) == 0
        table = watcher_bytes(fanout, watchers) if whole else derive_watcher_bytes(fanout, watchers, mask)
        lost = {z for _, z in outages[:k]}
        unsent += _add_table(out, table, net, node_zone, lost)
    if window is None and len(outages):
        unsent += _add_table(out, _not_derived(fanout, watchers), net, node_zone, set())
    return out, unsent


def _not_derived(fanout: Any, watchers: Sequence[Any]) -> pd.DataFrame:
    """What the fan-out's own table holds beyond the per-write derivation: the
    controller-manager's informers, relists and re-watches (simk8s/watch/). Simplification:
    these bytes are not split at the outage; they count as sent from their replica."""
    own = getattr(fanout, "watcher_bytes", None)
    if not isinstance(own, pd.DataFrame):
        return pd.DataFrame({c: pd.Series(dtype=np.int64 if c != "watcher" else object)
                             for c in ("replica", "watcher", "node", "bytes")})
    keys = ["watcher", "node"]
    mine = own.groupby(keys, as_index=False).agg(replica=("replica", "first"), bytes=("bytes", "sum"))
    derived = derive_watcher_bytes(fanout, watchers).groupby(keys, as_index=False)["bytes"].sum()
    both = mine.merge(derived, on=keys, how="outer", suffixes=("", "_derived")).fillna(0)
    both["bytes"] = (both["bytes"] - both["bytes_derived"]).astype(np.int64)
    both["replica"] = both["replica"].astype(np.int64)
    both["node"] = both["node"].astype(np.int64)
    return both.loc[both["bytes"] != 0, ["replica", "watcher", "node", "bytes"]]


def _add_table(out: np.ndarray, table: pd.DataFrame, net: ZoneNetwork, node_zone: np.ndarray, lost: set[int]) -> int:
    node = table["node"].to_numpy(np.int64)
    nbytes = table["bytes"].to_numpy(np.int64)
    rzone = net.replica_zone
    on_node = node >= 0
    replica = np.where(on_node, proxy_replica(node, net), table["replica"].to_numpy(np.int64))
    dst = np.where(on_node, node_zone[np.maximum(node, 0)], rzone[replica]).astype(np.int64)
    live = np.flatnonzero(~np.isin(rzone, list(lost)))
    src_rep = replica.copy()
    dead_rep = np.isin(rzone[replica], list(lost))
    moved = dead_rep & on_node & (len(live) > 0)
    if moved.any():
        src_rep[moved] = live[node[moved] % len(live)]
    gone = np.isin(dst, list(lost)) | (dead_rep & ~moved)
    np.add.at(out, (rzone[src_rep[~gone]], dst[~gone]), nbytes[~gone])
    return int(nbytes[gone].sum())


def proxy_replica(node: np.ndarray, net: ZoneNetwork) -> np.ndarray:
    """The replica serving node i's kube-proxy watch, for zones: (i // Z) % R.

    The fan-out spreads kube-proxies by i % R and nodes sit in zone i % Z, so with as many
    replicas as zones every watch would stay in its zone. kube-proxy reaches the apiserver
    through a load balancer that picks a replica whatever the zone; (i // Z) % R spreads
    each zone's nodes over all replicas alike (the same bytes: every kube-proxy gets all).
    """
    return (node // len(net.zones)) % len(net.replica_zone)


def client_matrix(traffic: dict[str, Any], scenario: Any, node_zone: np.ndarray, pod_zone: np.ndarray, n_zones: int,
                  window: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(bytes[Z+1, Z+1], connections[Z+1, Z+1]) from client zone to backend zone; index Z:
    external. Only connections that got a reply."""
    size = n_zones + 1
    nbytes = np.zeros((size, size), np.int64)
    conns = np.zeros((size, size), np.int64)
    for key, r in traffic.items():
        flow = scenario.traffic[int(key.split(":", 1)[0])]
        ok = (r.outcome == OK) & (r.backend >= 0)
        if window is not None:
            ok &= (r.t >= window[0]) & (r.t < window[1])
        client = np.asarray(node_zone, np.int64)[r.node[ok]]
        backend = r.backend[ok].astype(np.int64)
        inside = backend < len(pod_zone)
        server = np.full(len(backend), n_zones, np.int64)
        server[inside] = pod_zone[backend[inside]]
        server[server < 0] = n_zones
        per = r.requests_per_connection
        # every connection of a flow carries the same bytes: count them per pair, then multiply
        pairs = np.bincount(client * size + server, minlength=size * size).reshape(size, size)
        conns += pairs
        nbytes += pairs * (per * flow.request_bytes)
        nbytes += pairs.T * (per * flow.response_bytes)
    return nbytes, conns


def usd(matrix: np.ndarray, net: ZoneNetwork) -> float:
    """Price of the bytes of a [Z, Z] (or [Z+1, Z+1], external unpriced) matrix."""
    n = len(net.zones)
    return float((matrix[:n, :n] * net.usd_per_byte).sum())


def cross_zone(matrix: np.ndarray, n_zones: int) -> int:
    """Bytes between two different zones of the cluster (external excluded)."""
    inner = matrix[:n_zones, :n_zones]
    return int(inner.sum() - np.trace(inner))


def zone_traffic_table(watch: np.ndarray, client: np.ndarray, net: ZoneNetwork) -> pd.DataFrame:
    """One row per (traffic, from_zone, to_zone) with bytes > 0, and their price."""
    names = [*net.zones, EXTERNAL]
    n = len(net.zones)
    rows = []
    for label, m in (("watch", watch), ("client", client)):
        for i, j in zip(*np.nonzero(m), strict=True):
            price = float(m[i, j] * net.usd_per_byte[i, j]) if i < n and j < n else 0.0
            rows.append((label, names[i], names[j], int(m[i, j]), price))
    return pd.DataFrame(rows, columns=["traffic", "from_zone", "to_zone", "bytes", "usd"]).astype({"bytes": np.int64})
