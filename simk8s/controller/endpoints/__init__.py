"""The legacy Endpoints controller's rules (upstream ``pkg/controller/endpoint/``).

* ``addresses``: one pod's address for a Service (``podToEndpointAddressForService``);
* ``repack``: the canonical subsets (``pkg/api/v1/endpoints/util.go`` ``RepackSubsets``);
* ``truncate``: the 1000-address cap (``truncateEndpoints``);
* ``sync``: one ``syncService``;
* ``incremental``: the repacked subsets from per-pod changes (this project's HOT PATH).

``TriggerTimeTracker`` (shared with the EndpointSlice controller) lives in
``simk8s.controller.triggertime`` and is re-exported here.
"""

from simk8s.controller.endpoints.addresses import (
    PodContribution,
    address_sort_key,
    pod_contribution,
)
from simk8s.controller.endpoints.incremental import EndpointsState
from simk8s.controller.endpoints.repack import desired_subsets, repack_subsets
from simk8s.controller.endpoints.sync import (
    ENDPOINTS_MANAGED_BY,
    EndpointsSyncResult,
    sync_endpoints,
    sync_endpoints_state,
)
from simk8s.controller.endpoints.truncate import (
    MAX_CAPACITY,
    OVER_CAPACITY_TRUNCATED,
    truncate_subsets,
)
from simk8s.controller.triggertime import TriggerTimeTracker

__all__ = [
    "ENDPOINTS_MANAGED_BY",
    "MAX_CAPACITY",
    "OVER_CAPACITY_TRUNCATED",
    "EndpointsState",
    "EndpointsSyncResult",
    "PodContribution",
    "TriggerTimeTracker",
    "address_sort_key",
    "desired_subsets",
    "pod_contribution",
    "repack_subsets",
    "sync_endpoints",
    "sync_endpoints_state",
    "truncate_subsets",
]
