"""The network between zones (networkx): links with latency, bandwidth and price; where
nodes and apiserver replicas sit; bytes by (zone, zone) pair for the watch fan-out and the
client traffic, what they cost, the path RTT of each connection, and the recovery from a
zone outage. Settings: `cluster.network` (scenario/network.py)."""

from simk8s.network.accounting import (
    client_matrix,
    cross_zone,
    usd,
    watch_matrix,
    zone_traffic_table,
)
from simk8s.network.topology import GB, ZoneNetwork, build_network, outages
from simk8s.network.watch_bytes import derive_watcher_bytes, watcher_bytes

__all__ = [
    "GB",
    "ZoneNetwork",
    "build_network",
    "client_matrix",
    "cross_zone",
    "derive_watcher_bytes",
    "outages",
    "usd",
    "watch_matrix",
    "watcher_bytes",
    "zone_traffic_table",
]
