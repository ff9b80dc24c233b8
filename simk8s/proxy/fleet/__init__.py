"""The kube-proxy fleet: every node's sync schedule as numpy state advanced by vector steps.

Semantics (the per-node reference in simk8s/proxy/reference.py is the spec in plain code):

* every kube-proxy does its startup sync at t = 0 (FULL; with the ≤ v1.33 runner it takes
  a token): upstream `syncProxyRules` starts with needFullSync set. Simplification:
  upstream runs that first sync outside the runner (OnServiceSynced/OnEndpointSlicesSynced);
* a write reaching a node at time a is a Run() request at a; runs are serialized,
  coalesced and rate-limited by the release's BoundedFrequencyRunner (simk8s/proxy/runner/:
  `pkg/util/async` up to v1.33, `pkg/proxy/runner` since v1.34);
* the maxInterval timer forces a run maxInterval after the previous run ENDED: IPVS's
  syncPeriod (30 s) reconcile, iptables' hourly run (`time.Hour` since
  kubernetes/kubernetes#81517);
* a sync starting at s applies every write that reached the node at or before s;
* full vs partial (KEP-3453 for iptables, kubernetes/kubernetes#126013 for nftables):
  iptables/nftables sync FULL at startup and when s − last full start ≥ fullSyncPeriod
  (`doFullSync` in `pkg/proxy/iptables/proxier.go`, kubernetes/kubernetes#129329), not in
  large-cluster mode when FleetConfig.large_cluster_skips_full_sync (#138571), and on
  every sync when FleetConfig.partial_syncs is off (before those changes); IPVS
  reconciles every time (FULL only at startup), and its timer-forced syncs are flagged
  `periodic`;
* stale-chain cleanup (iptables only, when config.cleanup_period is set): see
  FleetConfig.cleanup_period; the flag goes to the cost function as ``cleanup=``;
* NPL (`pkg/proxy/metrics/metrics.go` NetworkProgrammingLatency): one sample per (write
  with a trigger time, node) = end of the sync that applied it on that node − trigger
  time, unless that sync also applied a later write erasing its Service's queued times
  (ChangeStream.drops_triggers; which writes carry a time: simk8s/proxy/changetracker.py);
* syncs starting at or after end_time are not simulated (one that starts before it is
  kept whole); a write not applied by then on a node gives no sample for that node.

Modules: `inputs` (stream, config, cost-function protocol), `schedule` (the vectorized
runner schedule), `cluster_state` (what a sync applied), `result` (syncs table, NPL).
"""

from simk8s.proxy.fleet.inputs import (
    MODES,
    PARTIAL_SYNC_MODES,
    ChangeStream,
    FleetConfig,
    SyncCostFn,
    validate,
)
from simk8s.proxy.fleet.result import FleetCounters, FleetResult, SyncTable, npl_histogram
from simk8s.proxy.fleet.schedule import run_fleet

__all__ = [
    "MODES",
    "PARTIAL_SYNC_MODES",
    "ChangeStream",
    "FleetConfig",
    "FleetCounters",
    "FleetResult",
    "SyncCostFn",
    "SyncTable",
    "npl_histogram",
    "run_fleet",
    "validate",
]
