"""The EndpointSlice controller's rules, as pure functions and one incremental state.

Layout follows upstream ``staging/src/k8s.io/endpointslice/``:

* ``gates``: the feature gates the controller reads;
* ``desired``: pods → desired Endpoints and endpoint identity (``utils.go``
  ``podToEndpoint``, ``util/endpointset.go``);
* ``slices``: the plan of API calls and the per-slice helpers (``utils.go``);
* ``hints``: topology hints (``topologycache/``, ``trafficdist/``);
* ``reconciler``: the sync itself (``reconciler.go``);
* ``incremental``: the same sync from per-pod changes (this project's HOT PATH).
"""

from simk8s.controller.endpointslice.desired import (
    DesiredEndpoints,
    EndpointKey,
    PortKey,
    desired_endpoints,
    endpoint_key,
    endpoints_equal_beyond_hash,
    pod_to_endpoint,
)
from simk8s.controller.endpointslice.gates import SliceGates
from simk8s.controller.endpointslice.hints import (
    ANNOTATION_TOPOLOGY_AWARE_HINTS,
    ANNOTATION_TOPOLOGY_MODE,
    CLOSE_TRAFFIC_DISTRIBUTIONS,
    OVERLOAD_THRESHOLD,
    HintFn,
    hints_enabled,
)
from simk8s.controller.endpointslice.incremental import EndpointSliceState
from simk8s.controller.endpointslice.reconciler import (
    DEFAULT_MAX_ENDPOINTS_PER_SLICE,
    Step1Fn,
    reconcile,
)
from simk8s.controller.endpointslice.slices import RESERVED_LABELS, SlicePlan, apply_plan

__all__ = [
    "ANNOTATION_TOPOLOGY_AWARE_HINTS",
    "ANNOTATION_TOPOLOGY_MODE",
    "CLOSE_TRAFFIC_DISTRIBUTIONS",
    "DEFAULT_MAX_ENDPOINTS_PER_SLICE",
    "OVERLOAD_THRESHOLD",
    "RESERVED_LABELS",
    "DesiredEndpoints",
    "EndpointKey",
    "EndpointSliceState",
    "HintFn",
    "PortKey",
    "SliceGates",
    "SlicePlan",
    "Step1Fn",
    "apply_plan",
    "desired_endpoints",
    "endpoint_key",
    "endpoints_equal_beyond_hash",
    "hints_enabled",
    "pod_to_endpoint",
    "reconcile",
]
