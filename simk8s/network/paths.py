"""Path round trip added to each connection's first-packet latency (client node's zone →
backend pod's zone, `ZoneNetwork.rtt_ms`).

Simplification: the base latency (dataplane/latency.py) stands for a same-zone round trip;
a cross-zone connection adds its path's RTT once. Endpoints outside the cluster (no node)
and connections without a reply add nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


def connection_zones(result: Any, node_zone: np.ndarray, pod_zone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(client zone, backend zone) per connection; -1 where unknown (no backend, external endpoint)."""
    client = np.asarray(node_zone, np.int64)[result.node] if result.n else np.zeros(0, np.int64)
    backend = np.asarray(result.backend, np.int64)
    known = (backend >= 0) & (backend < len(pod_zone))
    server = np.full(len(backend), -1, np.int64)
    server[known] = np.asarray(pod_zone, np.int64)[backend[known]]
    return client, server


def with_path_rtt(result: Any, node_zone: np.ndarray, pod_zone: np.ndarray, rtt_ms: np.ndarray) -> Any:
    """`result` (a TrafficResult) with each connection's path RTT added to first_packet_ms."""
    client, server = connection_zones(result, node_zone, pod_zone)
    on_path = (client >= 0) & (server >= 0)
    extra = np.zeros(len(client))
    extra[on_path] = rtt_ms[client[on_path], server[on_path]]
    if not np.any(extra):
        return result
    return dataclasses.replace(result, first_packet_ms=result.first_packet_ms + extra, path_rtt_ms=extra)
