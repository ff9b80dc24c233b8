"""iptables mode: the phases of `syncProxyRules` in pkg/proxy/iptables/proxier.go.

One sync, in the proxier's order:
- fixed: runner, change trackers, metrics (an anchor, not a count);
- full_extra: the ~20 `iptables` calls that ensure the jumps from the base chains, full
  syncs only;
- compute: every Service port and endpoint is visited on every sync, full or partial (the
  skipped chains are still computed, for the metrics: KEP-3453);
- restore: `iptables-restore` of the lines written (all of them on a full sync; on a
  partial one the filter table, the nat top-level chains and the changed Services' chains);
- save: `iptables-save -t nat` for stale-chain cleanup, when the fleet says it runs
  (every sync, or once per syncPeriod in large-cluster mode, kubernetes/kubernetes#110334).

Prices: cost_params.yaml `iptables`, fitted by simk8s/calibration/sync_cost.py.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from simk8s.proxy.cost.params import KINDS, CostParams, as_array, resolve, total


def iptables_lines(
    kind: str,
    n_ports: ArrayLike,
    n_endpoints: ArrayLike,
    n_empty_ports: ArrayLike = 0,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    deleted_chains: ArrayLike = 0,
    localhost_nodeports: bool = False,
) -> np.ndarray:
    """iptables-restore input lines for ClusterIP/Cluster-policy ports (counts as in rulecount.py).

    full: everything. partial (KEP-3453): the whole filter table, nat KUBE-SERVICES / KUBE-NODEPORTS /
    KUBE-POSTROUTING / KUBE-MARK-MASQ, and the SVC+SEP chains of changed ports
    (`changed_ports` with endpoints, `changed_endpoints` summed over them).
    `deleted_chains`: stale chains flushed and deleted (2 lines each) this sync.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    lh = int(localhost_nodeports)
    empty = as_array(n_empty_ports)
    p = as_array(n_ports) - empty
    e = as_array(n_endpoints)
    filter_lines = 2 + (5 + lh) + (3 + lh) + empty
    nat_fixed = 2 + 4 + 5  # header+COMMIT, 4 chain lines, 5 fixed rules
    services_rules = p  # one KUBE-SERVICES jump per ClusterIP port with endpoints
    if kind == "full":
        per_service = 2 * p + 4 * e  # SVC chain line + masq rule; per endpoint SEP line, jump, 2 SEP rules
    else:
        per_service = 2 * as_array(changed_ports) + 4 * as_array(changed_endpoints)
    return filter_lines + nat_fixed + services_rules + per_service + 2 * as_array(deleted_chains)


def iptables_save_lines(n_ports: ArrayLike, n_endpoints: ArrayLike, n_empty_ports: ArrayLike = 0) -> np.ndarray:
    """Lines `iptables-save -t nat` prints for stale-chain cleanup (all kube nat chains)."""
    p = as_array(n_ports) - as_array(n_empty_ports)
    e = as_array(n_endpoints)
    return 2 + 4 + 5 + 3 * p + 4 * e


def iptables_phases(
    kind: str,
    n_ports: ArrayLike,
    n_endpoints: ArrayLike,
    n_empty_ports: ArrayLike = 0,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    cleanup: ArrayLike = True,
    deleted_chains: ArrayLike = 0,
    params: CostParams | None = None,
) -> dict[str, np.ndarray]:
    """Seconds per phase of one iptables sync on a calibration-speed machine."""
    q = resolve(params)["iptables"]
    lines = iptables_lines(kind, n_ports, n_endpoints, n_empty_ports, changed_ports,
                           changed_endpoints, deleted_chains)
    save = iptables_save_lines(n_ports, n_endpoints, n_empty_ports)
    return {
        "fixed": np.asarray(q["t_fixed"], dtype=np.float64),
        "full_extra": np.asarray(q["t_full_extra"] if kind == "full" else 0.0, dtype=np.float64),
        "compute": q["t_compute_per_object"] * (as_array(n_ports) + as_array(n_endpoints)),
        "restore": q["t_restore_per_line"] * lines,
        # superlinear restores (iptables-nft); 0 unless a machine profile measured it
        "restore_sq": q.get("t_restore_per_line_sq", 0.0) * lines * lines,
        "save": np.where(np.asarray(cleanup, dtype=bool), q["t_save_per_line"] * save, 0.0),
    }


def iptables_sync_seconds(
    kind: str,
    n_ports: ArrayLike,
    n_endpoints: ArrayLike,
    n_empty_ports: ArrayLike = 0,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    cleanup: ArrayLike = True,
    deleted_chains: ArrayLike = 0,
    speed: ArrayLike = 1.0,
    params: CostParams | None = None,
) -> np.ndarray:
    """Duration of one iptables sync. `cleanup`: an iptables-save for stale chains runs
    (every sync normally; once per syncPeriod in large-cluster mode, kubernetes/kubernetes#110334
    — the caller decides)."""
    phases = iptables_phases(kind, n_ports, n_endpoints, n_empty_ports, changed_ports, changed_endpoints,
                             cleanup=cleanup, deleted_chains=deleted_chains, params=params)
    return total(phases) * as_array(speed)


def iptables_cli_seconds(n_rules: ArrayLike, profile: str = "huawei_2017",
                         params: CostParams | None = None) -> np.ndarray:
    """2017–2019 latency of adding rules with the `iptables` CLI; not a sync model.

    Profiles: docs/references.md [huawei-2017] and [flftuu-2019]."""
    q = resolve(params)["iptables_cli"][profile]
    r = as_array(n_rules)
    if profile == "huawei_2017":
        return q["t0"] + q["a"] * r ** q["b"]
    return q["t0"] + q["k"] * r
