"""Outcome of each new connection, from the route and the chosen pod's serving window."""

from __future__ import annotations

import numpy as np

from simk8s.dataplane.inputs import PodTable
from simk8s.dataplane.selection import ROUTE_DROPPED, ROUTE_REFUSED

OK = 0
REFUSED = 1  # REJECT, ICMP port-unreachable: no endpoints at all (iptables syncProxyRules)
FAILED_POD_GONE = 2  # stale rules DNAT to a pod that already stopped serving (no retry: virtual-ips docs)
FAILED_NOT_SERVING = 3  # chosen pod not yet accepting connections
DROPPED_NO_LOCAL = 4  # Local policy, no local endpoint: DROP
DNS_ANSWER = 5  # ExternalName / Headless: a DNS answer, no proxying

OUTCOME_NAMES = (
    "ok",
    "refused",
    "failed-pod-gone",
    "failed-not-serving",
    "dropped-no-local-endpoints",
    "dns-answer",
)
FAILURE_CODES = (REFUSED, FAILED_POD_GONE, FAILED_NOT_SERVING, DROPPED_NO_LOCAL)


def classify(route: np.ndarray, backend: np.ndarray, t: np.ndarray, pods: PodTable) -> np.ndarray:
    """Vectorized outcome code per connection."""
    out = np.full(len(t), OK, dtype=np.int8)
    out[route == ROUTE_REFUSED] = REFUSED
    out[route == ROUTE_DROPPED] = DROPPED_NO_LOCAL
    routed = np.flatnonzero(backend >= 0)  # none when the Service never had a pod
    b, when = backend[routed], t[routed]
    gone = pods.serving_until[b] <= when
    early = ~gone & (pods.serving_from[b] > when)
    out[routed[gone]] = FAILED_POD_GONE
    out[routed[early]] = FAILED_NOT_SERVING
    return out
