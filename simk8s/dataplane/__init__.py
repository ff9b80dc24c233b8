"""The data path: new connections through Service VIPs, routed by each node's programmed rules.

Entry point: `simulate_traffic(history, programming, pods, spec, mode=..., ipvs_scheduler=..., rng=...)`.
Inputs are the records in `inputs`. The latency model is held against published figures in
simk8s.calibration.first_packet.
"""

from simk8s.dataplane.inputs import (
    EndpointVersion,
    NodeProgramming,
    PodTable,
    ServiceHistory,
    TrafficSpec,
    step_programming,
)
from simk8s.dataplane.outcomes import OUTCOME_NAMES
from simk8s.dataplane.traffic import TrafficResult, simulate_traffic

__all__ = [
    "OUTCOME_NAMES",
    "EndpointVersion",
    "NodeProgramming",
    "PodTable",
    "ServiceHistory",
    "TrafficResult",
    "TrafficSpec",
    "simulate_traffic",
    "step_programming",
]
