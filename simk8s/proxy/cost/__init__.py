"""Sync-duration and CPU model of kube-proxy, per mode, sync kind and release.

One module per proxier (iptables, ipvs, nftables), each following its `syncProxyRules`:
a sync's duration is the sum over its phases of (a count read from the node's state) ×
(a per-unit price). Prices live in cost_params.yaml, each with the published points that
fixed it (simk8s/calibration/sync_cost.py refits them; docs/validation.md holds them
against every published point). A machine profile (`simk8s calibrate --host`) sets the
tool prices it measured over the published ones (params.load_machine_profile).

Every function takes numpy arrays (one entry per node) or scalars: no Python loops, so the
fleet evaluates thousands of nodes per call. `speed` is the per-node slowness multiplier
(1.0 = the calibration machines).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from simk8s.proxy.cost.iptables import (
    iptables_cli_seconds,
    iptables_lines,
    iptables_phases,
    iptables_save_lines,
    iptables_sync_seconds,
)
from simk8s.proxy.cost.ipvs import (
    ipvs_netlink_reads,
    ipvs_op_seconds,
    ipvs_ops,
    ipvs_phases,
    ipvs_sync_seconds,
)
from simk8s.proxy.cost.nftables import (
    ENDPOINT_CHAINS_KEPT,
    LIST_ALL,
    nftables_phases,
    nftables_sync_seconds,
    nftables_tx_lines,
    table_weight,
    written_endpoints,
)
from simk8s.proxy.cost.params import (
    KINDS,
    MODES,
    PARAMS_PATH,
    PROFILE_KIND,
    PROFILE_MARKER,
    PROFILE_PARAMS,
    CostParams,
    MachineProfileError,
    as_array,
    load_machine_profile,
    load_params,
    params_for_machine,
    resolve,
)

__all__ = [
    "ENDPOINT_CHAINS_KEPT", "KINDS", "LIST_ALL", "MODES", "PARAMS_PATH", "PROFILE_KIND", "PROFILE_MARKER",
    "PROFILE_PARAMS", "CostParams", "MachineProfileError", "cpu_seconds", "iptables_cli_seconds",
    "iptables_lines", "iptables_phases", "iptables_save_lines", "iptables_sync_seconds", "ipvs_netlink_reads",
    "ipvs_op_seconds", "ipvs_ops", "ipvs_phases", "ipvs_sync_seconds", "load_machine_profile", "load_params",
    "nftables_phases", "nftables_sync_seconds", "nftables_tx_lines", "params_for_machine", "sync_seconds",
    "table_weight", "written_endpoints",
]


def sync_seconds(
    mode: str,
    kind: str,
    n_ports: ArrayLike,
    n_endpoints: ArrayLike,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    n_empty_ports: ArrayLike = 0,
    cleanup: ArrayLike = True,
    speed: ArrayLike = 1.0,
    params: CostParams | None = None,
) -> np.ndarray:
    """Mode dispatcher for ClusterIP-only clusters (one virtual server per port in IPVS;
    Services = ports in nftables), newest release. Use the per-mode functions for more."""
    if mode == "iptables":
        return iptables_sync_seconds(kind, n_ports, n_endpoints, n_empty_ports, changed_ports,
                                     changed_endpoints, cleanup=cleanup, speed=speed, params=params)
    if mode == "ipvs":
        return ipvs_sync_seconds(kind, n_ports, n_endpoints, changed_ports, changed_endpoints,
                                 speed=speed, params=params)
    if mode == "nftables":
        return nftables_sync_seconds(kind, n_ports, n_endpoints, changed_ports, changed_endpoints,
                                     speed=speed, params=params)
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def cpu_seconds(mode: str, sync_secs: ArrayLike, params: CostParams | None = None) -> np.ndarray:
    """CPU time of syncs ≈ duration × the mode's documented cpu_fraction."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return as_array(sync_secs) * resolve(params)[mode]["cpu_fraction"]
