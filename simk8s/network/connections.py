"""What the network does to one traffic entry's connections: the path RTT on their first
packet, and after a zone outage: no connection starts from a node that is gone, and when
surviving nodes stopped routing to lost pods."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from simk8s.network.outage import convergence
from simk8s.network.paths import with_path_rtt
from simk8s.network.topology import build_network, outages


def apply_network(result: Any, history: Any, pods: Any, world: Any, scenario: Any, stage: Any, *,
                  source: str, proxied: bool) -> Any:
    """`result` (TrafficResult) with path RTTs and, when the scenario has a zone outage and
    the Service goes through kube-proxy (`proxied`), its `outage_convergence`."""
    net = build_network(scenario.cluster)
    events = outages(scenario)
    result = without_lost_clients(result, world.nodes.zone, events)
    result = with_path_rtt(result, world.nodes.zone, pods.zone, net.rtt_ms)
    syncs = getattr(getattr(stage, "fleet", None), "syncs", None)
    if events and proxied and syncs is not None:
        use_local = history.internal_local if source == "pods" else history.external_local
        conv = convergence(history, syncs, stage.stream.commit_time, pods, world.nodes.zone.astype("int64"),
                           world.nodes.alive, events[0][0], use_local=use_local)
        result = dataclasses.replace(result, outage_convergence=conv)
    return result


def without_lost_clients(result: Any, node_zone: np.ndarray, events: list[tuple[float, int]]) -> Any:
    """`result` without the connections the traffic generator drew on a node of a zone that
    was already lost: a client pod on a dead node opens nothing. Simplification: its clients
    are not rescheduled elsewhere; the surviving zones' clients keep their rate."""
    if not events or not result.n:
        return result
    zone = np.asarray(node_zone, np.int64)[result.node]
    keep = np.ones(result.n, bool)
    for at, lost in events:
        keep &= ~((zone == lost) & (result.t >= at))
    if keep.all():
        return result
    n = result.n
    cut = {f.name: getattr(result, f.name)[keep] for f in dataclasses.fields(result)
           if f.name != "steady_backends" and isinstance(getattr(result, f.name), np.ndarray)
           and len(getattr(result, f.name)) == n}
    return dataclasses.replace(result, **cut)
