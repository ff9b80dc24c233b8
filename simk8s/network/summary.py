"""The summary's `network` and `zone_outage` sections and the `zone_traffic` table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simk8s.network.accounting import (
    client_matrix,
    cross_zone,
    usd,
    watch_matrix,
    zone_traffic_table,
)
from simk8s.network.topology import ZoneNetwork, build_network, outages

FAILED = (2, 3, 4)  # dataplane.outcomes FAILURE_CODES less REFUSED: a connection that went nowhere
KIND_OF_WATCH = {"EndpointSlices": "EndpointSlice", "Endpoints": "Endpoints", "Services": "Service"}


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, 6)


class _Inputs:
    """What every figure here reads, gathered once per variant."""

    def __init__(self, result: Any) -> None:
        from simk8s.watch.fanout import Watcher

        sc = result.scenario
        world = result.cluster.world
        self.scenario = sc
        self.net: ZoneNetwork = build_network(sc.cluster)
        self.node_zone = world.nodes.zone.astype(np.int64)
        node = np.array([p.node for p in world.pods], dtype=np.int64)
        self.pod_zone = np.where(node >= 0, self.node_zone[np.maximum(node, 0)], -1) if len(node) else np.zeros(0, np.int64)
        self.outages = outages(sc)
        self.dead_at = np.full(len(self.node_zone), math.inf)
        for t, z in self.outages:
            self.dead_at[(self.node_zone == z) & np.isinf(self.dead_at)] = t
        self.watchers = [Watcher(w.name, KIND_OF_WATCH[w.kind], w.count, w.encoding) for w in sc.watchers]
        self.world = world

    def matrices(self, result: Any, window: tuple[float, float] | None = None):
        n = len(self.net.zones)
        if result.fanout is not None:
            watch, unsent = watch_matrix(result.fanout, self.watchers, self.net, self.node_zone, self.outages, window)
        else:
            watch, unsent = np.zeros((n, n), np.int64), 0
        live = {k: _from_live_nodes(r, self.dead_at) for k, r in result.traffic.items()}
        client, conns = client_matrix(live, self.scenario, self.node_zone, self.pod_zone, n, window)
        return watch, unsent, client, conns


def _from_live_nodes(r: Any, dead_at: np.ndarray) -> Any:
    """Connections opened on a node before it was lost (the generator keeps opening them
    on lost nodes: those clients are gone, so they count nowhere here)."""
    import dataclasses

    keep = r.t < dead_at[r.node]
    if keep.all():
        return r
    return dataclasses.replace(r, t=r.t[keep], node=r.node[keep], backend=r.backend[keep], outcome=r.outcome[keep])


@dataclass
class NetworkFigures:
    """A variant's `network` and `zone_outage` sections and its `zone_traffic` table, from
    one pass over its watch and client traffic."""

    section: dict[str, Any]
    outage: dict[str, Any] | None
    zone_traffic: pd.DataFrame


def network_figures(result: Any) -> NetworkFigures:
    inp = _Inputs(result)
    net = inp.net
    n = len(net.zones)
    watch, unsent, client, conns = inp.matrices(result)
    total_conns = int(conns.sum())
    cross_conns = int(conns[:n, :n].sum() - np.trace(conns[:n, :n]))
    section: dict[str, Any] = {
        "watch": {
            "bytes": int(watch.sum()),
            "cross_zone_bytes": cross_zone(watch, n),
            "cross_zone_usd": _num(usd(watch, net)),
            "unsent_bytes": unsent,
        },
        "client": {
            "connections": total_conns,
            "cross_zone_connections": cross_conns,
            "cross_zone_share": _num(cross_conns / total_conns) if total_conns else None,
            "bytes": int(client.sum()),
            "cross_zone_bytes": cross_zone(client, n),
            "cross_zone_usd": _num(usd(client, net)),
            "connections_by_backend_zone": {z: int(conns[:, i].sum()) for i, z in enumerate(net.zones)},
            **_zone_load(result, inp),
        },
        "cross_zone_usd": _num(usd(watch, net) + usd(client, net)),
    }
    return NetworkFigures(section, _outage_section(result, inp), zone_traffic_table(watch, client, net))


def network_summary(result: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the `network` section, the `zone_outage` section or None)."""
    figures = network_figures(result)
    return figures.section, figures.outage


def zone_traffic(result: Any) -> pd.DataFrame:
    """The `zone_traffic` table: bytes and price per (traffic, from_zone, to_zone)."""
    return network_figures(result).zone_traffic


def _zone_load(result: Any, inp: _Inputs) -> dict[str, Any]:
    """Steady-state connections per Ready endpoint, per zone, for the first traffic entry
    (the zone view of TrafficResult.imbalance): PreferClose makes it follow the clients."""
    r = next(iter(result.traffic.values()), None)
    zone = _zone_of_pods(inp.pod_zone)
    backends = zone(r.steady_backends) if r is not None else np.zeros(0, np.int64)
    if r is None or not (backends >= 0).any():  # no pods in the cluster (e.g. selector-less)
        return {"load_per_endpoint_by_zone": None, "zone_load_max_over_mean": None}
    n = len(inp.net.zones)
    eps = np.bincount(backends[backends >= 0], minlength=n)
    steady = zone(r.backend[(r.version == r.steady_version) & (r.backend >= 0)])
    got = np.bincount(steady[steady >= 0], minlength=n)
    has = eps > 0
    load = np.where(has, got / np.maximum(eps, 1), np.nan)
    mean = np.nanmean(load) if has.any() else np.nan
    return {
        "load_per_endpoint_by_zone": {z: _num(load[i]) for i, z in enumerate(inp.net.zones)},
        "zone_load_max_over_mean": _num(np.nanmax(load) / mean) if has.any() and mean > 0 else None,
    }


def _zone_of_pods(pod_zone: np.ndarray):
    """pod ids → zone index; -1 for unscheduled pods and endpoints outside the cluster."""

    def zone(ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        inside = (ids >= 0) & (ids < len(pod_zone))
        out = np.full(len(ids), -1, np.int64)
        out[inside] = pod_zone[ids[inside]]
        return out

    return zone


def _outage_section(result: Any, inp: _Inputs) -> dict[str, Any] | None:
    if not inp.outages:
        return None
    at, z = inp.outages[0]
    net = inp.net
    lost_nodes = np.flatnonzero(inp.dead_at == at)
    lost = set(lost_nodes.tolist())
    pods = inp.world.pods
    conv = next((r.outage_convergence for r in result.traffic.values() if r.outage_convergence is not None), None)
    end = result.scenario.duration
    until = at + conv["max_s"] if conv and conv["max_s"] is not None else end
    failed = failed_live = after = 0
    for r in result.traffic.values():
        sel = r.t >= at
        live = r.t < inp.dead_at[r.node]
        bad = np.isin(r.outcome, FAILED)
        after += int((sel & live).sum())
        failed += int((sel & bad).sum())
        failed_live += int((sel & bad & live).sum())
    watch, _, client, conns = inp.matrices(result, (at, until))
    n = len(net.zones)
    return {
        "zone": net.zones[z],
        "at_s": _num(at),
        "nodes_lost": len(lost),
        "apiserver_replicas_lost": int((net.replica_zone == z).sum()),
        "pods_lost": sum(1 for p in pods if p.node in lost and p.serving_until == at),
        "pods_evicted": sum(1 for p in pods if p.node in lost and p.deleted_reason == "node-lost"),
        "connections_after": after,
        "connections_failed": failed_live,
        "connections_failed_incl_lost_clients": failed,
        # until every surviving node's kube-proxy routes only to live pods (network/outage.py)
        "converged_s": conv,
        "recovery": {
            "window_s": _num(until - at),
            "connections_ok": int(conns.sum()),
            "client_cross_zone_bytes": cross_zone(client, n),
            "watch_bytes": int(watch.sum()),
            "watch_cross_zone_bytes": cross_zone(watch, n),
            "cross_zone_usd": _num(usd(watch, net) + usd(client, net)),
        },
    }


__all__ = ["NetworkFigures", "network_figures", "network_summary", "zone_traffic"]
