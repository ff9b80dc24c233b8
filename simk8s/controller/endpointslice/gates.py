"""Feature gates the EndpointSlice controller reads (kube-controller-manager --feature-gates).

Upstream reads them in ``pkg/controller/endpointslice/endpointslice_controller.go``
``NewController`` (no ``topologyCache`` without TopologyAwareHints) and, before the
reconciler moved to staging, in ``pkg/controller/endpointslice/utils.go`` ``podToEndpoint``
and ``reconciler.go`` (EndpointSliceTerminatingCondition).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SliceGates:
    # EndpointSliceTerminatingCondition (KEP-1672; beta and on from 1.22): off, terminating
    # pods are left out as in Endpoints (unless publishNotReadyAddresses) and endpoints
    # carry no serving/terminating conditions.
    terminating_condition: bool = True
    # TopologyAwareHints (KEP-2433; on from 1.24): off, the controller has no topology
    # cache, so the topology-mode / topology-aware-hints annotation gives no hints.
    topology_aware_hints: bool = True

    @classmethod
    def from_feature_gates(cls, gates: Any) -> SliceGates:
        """From the scenario's ``cluster.featureGates``."""
        return cls(
            terminating_condition=gates.endpoint_slice_terminating_condition,
            topology_aware_hints=gates.topology_aware_hints,
        )


ALL_ON = SliceGates()
