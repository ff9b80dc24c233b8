"""IPVS mode: the phases of `syncProxyRules` in pkg/proxy/ipvs/proxier.go.

Every IPVS sync (a change, or the syncPeriod timer) reconciles every virtual server:
`syncService` asks the kernel for it (`GetVirtualServer`) and `syncEndpoint` asks again
and dumps its destinations (`GetRealServers`), so a sync reads O(virtual servers + real
servers) netlink messages whatever changed. The dump includes the weight-0 real servers
that graceful termination (pkg/proxy/ipvs/graceful_termination.go) keeps until their
connections drain. Then the changed objects are written one netlink call each, and the
small static iptables ruleset is restored.

Phases: fixed; netlink_reads = (2 × virtual servers + real servers) × t_netlink_msg;
ops = netlink writes for the changes × t_op(virtual servers); static_restore.
Simplification: the ipset updates (one entry per virtual server, written only when it
changes) are counted in ops_per_new_port, and listing ipset entries is not charged.
Prices: cost_params.yaml `ipvs`, fitted by simk8s/calibration/sync_cost.py.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from simk8s.proxy.cost.params import KINDS, CostParams, as_array, resolve, total


def ipvs_op_seconds(n_virtual_servers: ArrayLike, params: CostParams | None = None) -> np.ndarray:
    """One netlink add/delete; grows slowly with table size (docs/references.md [flftuu-2019])."""
    q = resolve(params)["ipvs"]
    return q["t_op0"] + q["t_op_per_vs"] * as_array(n_virtual_servers)


def ipvs_ops(changed_ports: ArrayLike, changed_endpoints: ArrayLike, params: CostParams | None = None) -> np.ndarray:
    """Netlink writes for the changes: a new port's virtual server, address and ipset entry;
    one real server added, or set to weight 0, per endpoint change (syncEndpoint)."""
    q = resolve(params)["ipvs"]
    return q["ops_per_new_port"] * as_array(changed_ports) + q["ops_per_endpoint"] * as_array(changed_endpoints)


def ipvs_netlink_reads(n_virtual_servers: ArrayLike, n_real_servers: ArrayLike,
                       n_terminating: ArrayLike = 0) -> np.ndarray:
    """Netlink messages read per sync: two virtual-server gets per virtual server, one
    message per real server dumped (weight-0 ones in graceful termination included)."""
    return 2 * as_array(n_virtual_servers) + as_array(n_real_servers) + as_array(n_terminating)


def ipvs_phases(
    kind: str,
    n_virtual_servers: ArrayLike,
    n_real_servers: ArrayLike,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    n_terminating: ArrayLike = 0,
    params: CostParams | None = None,
) -> dict[str, np.ndarray]:
    """Seconds per phase of one IPVS sync; `full` (the first sync) creates every virtual
    server and real server."""
    p = resolve(params)
    q = p["ipvs"]
    vs = as_array(n_virtual_servers)
    if kind == "full":
        ops = q["ops_per_new_port"] * vs + q["ops_per_endpoint"] * as_array(n_real_servers)
    elif kind == "partial":
        ops = ipvs_ops(changed_ports, changed_endpoints, params)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return {
        "fixed": np.asarray(q["t_fixed"], dtype=np.float64),
        "netlink_reads": q["t_netlink_msg"] * ipvs_netlink_reads(vs, n_real_servers, n_terminating),
        "ops": ipvs_op_seconds(vs, params) * ops,
        "static_restore": np.asarray(p["iptables"]["t_restore_per_line"] * q["static_restore_lines"]),
    }


def ipvs_sync_seconds(
    kind: str,
    n_virtual_servers: ArrayLike,
    n_real_servers: ArrayLike,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    n_terminating: ArrayLike = 0,
    speed: ArrayLike = 1.0,
    params: CostParams | None = None,
) -> np.ndarray:
    """Duration of one IPVS sync (see ipvs_phases)."""
    phases = ipvs_phases(kind, n_virtual_servers, n_real_servers, changed_ports, changed_endpoints,
                         n_terminating=n_terminating, params=params)
    return total(phases) * as_array(speed)
