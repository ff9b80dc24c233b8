"""nftables mode: the phases of `syncProxyRules` in pkg/proxy/nftables/proxier.go, by release.

One sync, in the proxier's order:
- fixed: runner, change trackers, metrics;
- compute: every Service port and its endpoints are visited on every sync (partial syncs
  skip writing unchanged Services, not visiting them);
- list: the table is read back on every sync to find stale chains and affinity sets.
  1.29–1.35 list only chain and set names (`List("chains")`, `List("sets")`); their cost is
  not measured apart and is inside `compute`. From 1.36 one `ListAll`
  (`nft --json --terse list table`, kubernetes/kubernetes#137501) reads every chain and
  rule, which kubernetes/kubernetes#139513 timed at ~63 s at 44k Services. No release skips
  it on partial syncs: kubernetes/kubernetes#139531 was closed unmerged and #139878 is open;
- transaction: one `nft -f` run. A full sync writes the whole table; the time grows with
  the square of the table's weighted size W = w_service × S + E (fitted: a Service weighs
  ~6 endpoints), although the proxier writes a fixed number of lines per object
  (nftables_tx_lines), so the growth is in nft / the kernel. A partial sync
  (kubernetes/kubernetes#126013, 1.31+) writes only the changed Services' objects: priced
  as the marginal cost of those objects in a table of size W, plus the nft run's reading
  of the table (per weighted object). Endpoint chains that already exist with the same
  content are kept from 1.33 (kubernetes/kubernetes#130119), so only added endpoints are
  written; before, every endpoint chain of a changed Service was rewritten.

Prices: cost_params.yaml `nftables`, fitted by simk8s/calibration/sync_cost.py.
Simplification: every Service is ClusterIP-only, one port, Cluster traffic policy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from simk8s.proxy.cost.params import KINDS, CostParams, as_array, resolve, total

Release = tuple[int, int]
NEWEST: Release = (1, 36)
#: From this release endpoint chains whose name (= content) exists are not rewritten.
ENDPOINT_CHAINS_KEPT: Release = (1, 33)  # kubernetes/kubernetes#130119
#: From this release every sync lists the whole table with ListAll.
LIST_ALL: Release = (1, 36)  # kubernetes/kubernetes#137501; see kubernetes/kubernetes#139513

#: Transaction lines per object, from syncProxyRules (ClusterIP port, Cluster policy, no
#: affinity): a Service adds a cluster-IPs set element, a service-ips map element, its
#: chain (add + flush) and 2 rules (masquerade, numgen vmap); an endpoint adds its chain
#: (add + flush) and 2 rules (hairpin masquerade, DNAT).
TX_LINES_PER_SERVICE = 6
TX_LINES_PER_ENDPOINT = 4


def nftables_tx_lines(kind: str, n_services: ArrayLike, n_endpoints: ArrayLike,
                      changed_services: ArrayLike = 0, written_endpoints: ArrayLike = 0) -> np.ndarray:
    """Lines of the sync's `nft -f` transaction for the Services' objects (the fixed table
    setup of a full sync aside)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    s, e = (n_services, n_endpoints) if kind == "full" else (changed_services, written_endpoints)
    return TX_LINES_PER_SERVICE * as_array(s) + TX_LINES_PER_ENDPOINT * as_array(e)


def table_weight(n_services: ArrayLike, n_endpoints: ArrayLike, params: CostParams | None = None) -> np.ndarray:
    """W = w_service × Services + endpoints: the table size the superlinear prices use."""
    return resolve(params)["nftables"]["w_service"] * as_array(n_services) + as_array(n_endpoints)


def written_endpoints(changed_endpoints: ArrayLike, endpoint_changes: ArrayLike, release: Release = NEWEST) -> np.ndarray:
    """Endpoint chains a partial sync writes: the changed ones (1.33+), else every endpoint
    of the changed Services. `endpoint_changes` counts adds + removes. Simplification: a
    removed endpoint's chain (flushed now, deleted a sync later) is priced like an added one."""
    return as_array(endpoint_changes) if release >= ENDPOINT_CHAINS_KEPT else as_array(changed_endpoints)


def nftables_phases(
    kind: str,
    n_services: ArrayLike,
    n_endpoints: ArrayLike,
    changed_services: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    release: Release = NEWEST,
    params: CostParams | None = None,
) -> dict[str, np.ndarray]:
    """Seconds per phase of one nftables sync on a calibration-speed machine.
    `changed_endpoints`: endpoint chains the transaction writes (see written_endpoints)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    q = resolve(params)["nftables"]
    s, e = as_array(n_services), as_array(n_endpoints)
    w = table_weight(s, e, params)
    # Machine-profile prices (docs/host-calibration.md); 0 in the published parameters.
    c_sq, c_s, c_e = q.get("c_service_sq", 0.0), q.get("c_service", 0.0), q.get("c_endpoint", 0.0)
    if kind == "full":
        tx = q["q_tx"] * w * w + c_sq * s * s + c_s * s + c_e * e
    else:
        ds = np.minimum(as_array(changed_services), s)
        de = as_array(changed_endpoints)
        dw = q["w_service"] * ds + de
        tx = (q["t_tx_per_table_object"] * w + q["q_tx"] * 2.0 * w * dw
              + c_sq * 2.0 * s * ds + c_s * ds + c_e * de)
    list_all = q["q_list_all"] * w * w if release >= LIST_ALL else np.zeros_like(w)
    return {
        "fixed": np.asarray(q["t_fixed"], dtype=np.float64),
        "compute": q["t_compute_per_object"] * (s + e),
        "list": list_all,
        "transaction": tx,
    }


def nftables_sync_seconds(
    kind: str,
    n_services: ArrayLike,
    n_endpoints: ArrayLike,
    changed_services: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    release: Release = NEWEST,
    speed: ArrayLike = 1.0,
    params: CostParams | None = None,
) -> np.ndarray:
    """Duration of one nftables sync (see nftables_phases)."""
    phases = nftables_phases(kind, n_services, n_endpoints, changed_services, changed_endpoints,
                             release=release, params=params)
    return total(phases) * as_array(speed)
