"""A zone outage: every node of one zone dies at the same instant (event `zoneOutage`).

The node lifecycle controller (pkg/controller/nodelifecycle/node_lifecycle_controller.go)
marks the pods NotReady once the nodes miss node-monitor-grace-period, as for one lost node.
Eviction differs: NoExecute taints are added per zone through a rate-limited queue, and a
zone whose nodes are all NotReady ("full disruption", while other zones are healthy) keeps
the normal `--node-eviction-rate` of 0.1 nodes/s (`setLimiterInZone`, `HealthyQPSFunc`).
Each node's pods are then deleted when the default unreachable toleration (300 s,
DefaultTolerationSeconds admission) runs out, and their ReplicaSets replace them elsewhere.

Simplifications: nodes are tainted in index order, one every 1/rate seconds from the
moment the first one goes NotReady (burst 1); the apiserver replicas of the zone are
accounted for by the network figures only (simk8s/network/): writes keep their latency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NODE_EVICTION_RATE = 0.1  # kube-controller-manager --node-eviction-rate (nodes per second)
UNREACHABLE_TOLERATION = 300.0  # DefaultTolerationSeconds for node.kubernetes.io/unreachable


def lose_zone(world: Any, zone: str, *, monitor_grace: float) -> list[int]:
    """Kill every live node of `zone` now; returns their indices."""
    now = world.env.now
    nodes = world.nodes
    z = nodes.zone_names.index(zone)
    lost = [int(n) for n in np.flatnonzero((nodes.zone == z) & nodes.alive)]
    for k, node in enumerate(lost):
        nodes.alive[node] = False
        nodes.schedulable[node] = False
        world.placement.unschedulable(node)
        world.node_events.append({"time_s": now, "node": nodes.names[node], "event": "zone-outage"})
        pods = [world.pods[p] for p in sorted(world.pods_on_node[node])]
        for pod in pods:
            pod.serving_until = min(pod.serving_until, now)
        world.timers.at(now + monitor_grace, world._node_not_ready, pods)
        tainted = now + monitor_grace + k / NODE_EVICTION_RATE
        world.timers.at(tainted + UNREACHABLE_TOLERATION, world._evict_lost, pods)
    return lost
