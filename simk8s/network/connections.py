"""What the network does to one traffic entry's connections: the path RTT on their first
packet, and (after a zone outage) when surviving nodes stopped routing to lost pods."""

from __future__ import annotations

import dataclasses
from typing import Any

from simk8s.network.outage import convergence
from simk8s.network.paths import with_path_rtt
from simk8s.network.topology import build_network, outages


def apply_network(result: Any, history: Any, pods: Any, world: Any, scenario: Any, stage: Any, *,
                  source: str, proxied: bool) -> Any:
    """`result` (TrafficResult) with path RTTs and, when the scenario has a zone outage and
    the Service goes through kube-proxy (`proxied`), its `outage_convergence`."""
    net = build_network(scenario.cluster)
    result = with_path_rtt(result, world.nodes.zone, pods.zone, net.rtt_ms)
    events = outages(scenario)
    syncs = getattr(getattr(stage, "fleet", None), "syncs", None)
    if events and proxied and syncs is not None:
        use_local = history.internal_local if source == "pods" else history.external_local
        conv = convergence(history, syncs, stage.stream.commit_time, pods, world.nodes.zone.astype("int64"),
                           world.nodes.alive, events[0][0], use_local=use_local)
        result = dataclasses.replace(result, outage_convergence=conv)
    return result
