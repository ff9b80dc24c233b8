"""The network between zones as a networkx graph: zones are vertices, links carry one-way
latency, bandwidth and a price per GB charged on each side of the crossing.

Path figures come from the lowest-latency path: RTT = 2 × its latency; the price of a byte
from zone a to zone b = Σ over its links of 2 × pricePerGB (the sender's zone pays for
data out, the receiver's for data in: AWS "$0.01/GB in each direction",
https://aws.amazon.com/ec2/pricing/on-demand/). Within a zone, RTT and price are 0: the
base first-packet latency already holds a same-zone round trip, and same-zone traffic is
free on the major clouds.

Simplifications: link bandwidth is recorded but never queues traffic; the zone is the
finest placement (no racks); a GB is 10^9 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Any

import networkx as nx
import numpy as np

GB = 1e9


@dataclass(frozen=True)
class ZoneNetwork:
    zones: tuple[str, ...]
    graph: Any  # nx.Graph: zone names, edges with latency_s, bandwidth, price_per_gb
    rtt_ms: np.ndarray  # float64[Z, Z]
    usd_per_byte: np.ndarray  # float64[Z, Z]
    replica_zone: np.ndarray  # int64[R]: the zone of each apiserver replica

    def zone_index(self, name: str) -> int:
        return self.zones.index(name)


def build_network(cluster: Any) -> ZoneNetwork:
    """The validated `cluster.network` (scenario/network.py) as a graph and path tables."""
    zones = tuple(cluster.zones)
    net = cluster.network
    graph = nx.Graph()
    graph.add_nodes_from(zones)
    if net.links:
        for link in net.links:
            graph.add_edge(*link.between, latency_s=link.latency, bandwidth=link.bandwidth, price_per_gb=link.price_per_gb)
    else:  # a region: every zone linked to every other
        d = net.default_link
        for a, b in combinations(zones, 2):
            graph.add_edge(a, b, latency_s=d.latency, bandwidth=d.bandwidth, price_per_gb=d.price_per_gb)
    n = len(zones)
    rtt = np.zeros((n, n))
    usd = np.zeros((n, n))
    for i, a in enumerate(zones):
        paths = nx.single_source_dijkstra_path(graph, a, weight="latency_s")
        for j, b in enumerate(zones):
            path = paths[b]  # validation guarantees the zones are connected
            hops = list(pairwise(path))
            rtt[i, j] = 2e3 * sum(graph.edges[h]["latency_s"] for h in hops)
            usd[i, j] = sum(2 * graph.edges[h]["price_per_gb"] for h in hops) / GB
    placed = net.apiserver_zones or zones
    replicas = cluster.apiserver.replicas
    replica_zone = np.array([zones.index(placed[r % len(placed)]) for r in range(replicas)], dtype=np.int64)
    return ZoneNetwork(zones=zones, graph=graph, rtt_ms=rtt, usd_per_byte=usd, replica_zone=replica_zone)


def outages(scenario: Any) -> list[tuple[float, int]]:
    """(time, zone index) of every `zoneOutage` event, in time order."""
    zones = tuple(scenario.cluster.zones)
    return sorted((float(ev.at), zones.index(ev.zone_outage)) for ev in scenario.events if ev.zone_outage is not None)
