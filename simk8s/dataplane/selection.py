"""Which endpoints a node's rules offer a new connection, and the uniform random pick.

kube-proxy turns a Service's endpoints into a per-node candidate list the same way in every
mode (`CategorizeEndpoints` in `pkg/proxy/topology.go`):

- Cluster policy: Ready endpoints, narrowed by topology hints when every Ready endpoint has
  a hint and one matches this node (node hints for PreferSameNode, else zone hints); if no
  Ready endpoint exists anywhere, Serving+Terminating ones (KEP-1669).
- Local policy: Ready endpoints on this node, else Serving+Terminating ones on this node,
  else DROP. Local takes precedence over topology.
- No Ready or Serving+Terminating endpoint at all: REJECT, whatever the policy.

With the ProxyTerminatingEndpoints gate off (≤ 1.25, KEP-1669 alpha) there is no
Serving+Terminating fallback: only Ready endpoints count, so REJECT (or DROP for Local)
when none is left (`terminating_fallback=False`).

The fast path builds every candidate list ("pool") once per (version, zone or node) that
connections actually use and stores them concatenated, so a million connections resolve to
(pool start, pool length) with array lookups. `reference_candidates` is the plain,
per-connection rule the tests hold the fast path against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from simk8s.dataplane.inputs import EndpointVersion

# Route codes for connections that never reach a pool.
ROUTE_REFUSED = -1  # REJECT: the service has no endpoints at all
ROUTE_DROPPED = -2  # DROP: Local policy and no local endpoint

PREFER_SAME_NODE = "PreferSameNode"


def _node_hints_active(version: EndpointVersion, traffic_distribution: str | None) -> bool:
    # Simplification: EndpointVersion carries zone hints only; with PreferSameNode the slice
    # controller also hints each endpoint's own node, so node hints = endpoint node (KEP-3015).
    return traffic_distribution == PREFER_SAME_NODE and version.hint_zone is not None


def reference_candidates(
    version: EndpointVersion,
    node: int,
    node_zone: int,
    *,
    use_local: bool,
    traffic_distribution: str | None = None,
    terminating_fallback: bool = True,
) -> tuple[int, list[int]]:
    """Plain per-connection CategorizeEndpoints: (route code or 0, candidate pod ids in rule order)."""
    eps = range(version.size)
    ready = [i for i in eps if version.ready[i]]
    serving_term = [
        i for i in eps
        if terminating_fallback and version.serving[i] and version.terminating[i] and not version.ready[i]
    ]  # fmt: skip
    has_any = bool(ready or serving_term)
    if not has_any:
        return ROUTE_REFUSED, []
    if use_local:
        local = [i for i in ready if version.node[i] == node]
        if not local:
            local = [i for i in serving_term if version.node[i] == node]
        if not local:
            return ROUTE_DROPPED, []
        return 0, [int(version.pod[i]) for i in local]
    chosen = ready
    if ready and version.hint_zone is not None:
        hints = version.hint_zone
        if _node_hints_active(version, traffic_distribution):
            same_node = [i for i in ready if version.node[i] == node]
            if same_node:
                return 0, [int(version.pod[i]) for i in same_node]
        if all(hints[i] >= 0 for i in ready):
            same_zone = [i for i in ready if hints[i] == node_zone]
            if same_zone:
                chosen = same_zone
    if not chosen:
        chosen = serving_term  # KEP-1669: nothing Ready anywhere
    return 0, [int(version.pod[i]) for i in chosen]


@dataclass(frozen=True)
class Pools:
    """Candidate lists stored back to back; pool p is pods[start[p] : start[p] + length[p]]."""

    pods: np.ndarray  # int32
    start: np.ndarray  # int64[n_pools]
    length: np.ndarray  # int64[n_pools]

    def members(self, pool: int) -> np.ndarray:
        s = int(self.start[pool])
        return self.pods[s : s + int(self.length[pool])]

    def as_tuples(self) -> list[tuple[int, ...]]:
        """Every pool as a tuple of pod ids (for the sequential scheduler/affinity loop)."""
        flat = self.pods.tolist()
        return [tuple(flat[s : s + n]) for s, n in zip(self.start.tolist(), self.length.tolist(), strict=True)]


class _PoolBuilder:
    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._lengths: list[int] = []

    def add(self, pods: np.ndarray) -> int:
        self._chunks.append(pods.astype(np.int32, copy=False))
        self._lengths.append(len(pods))
        return len(self._lengths) - 1

    def build(self) -> Pools:
        length = np.asarray(self._lengths, dtype=np.int64)
        start = np.zeros(len(length), dtype=np.int64)
        if len(length) > 1:
            np.cumsum(length[:-1], out=start[1:])
        pods = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int32)
        return Pools(pods=pods, start=start, length=length)


def _group_by_node(idx: np.ndarray, node: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices grouped by node (stable, so rule order is kept): (nodes, group starts, sorted idx)."""
    order = np.argsort(node[idx], kind="stable")
    sorted_idx = idx[order]
    nodes, starts = np.unique(node[sorted_idx], return_index=True)
    return nodes, starts, sorted_idx


def _serving_terminating(version: EndpointVersion, terminating_fallback: bool) -> np.ndarray:
    """Indices of Serving+Terminating (not Ready) endpoints: the KEP-1669 fallback; none
    with the ProxyTerminatingEndpoints gate off."""
    if not terminating_fallback:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(version.serving & version.terminating & ~version.ready)


def cluster_base_pool(
    version: EndpointVersion, terminating_fallback: bool = True
) -> tuple[np.ndarray, bool] | None:
    """Cluster-policy candidates of a version without topology hints, as `assign_pools` uses
    them: (pods in rule order, whether any endpoint can take traffic); None if it has hints.

    Ready endpoints, or Serving+Terminating ones when nothing is Ready (KEP-1669, when
    `terminating_fallback`).
    """
    if version.hint_zone is not None:
        return None
    ready_idx = np.flatnonzero(version.ready)
    if len(ready_idx):
        return (version.pod if len(ready_idx) == version.size else version.pod[ready_idx]), True
    st_idx = _serving_terminating(version, terminating_fallback)
    return version.pod[st_idx], len(st_idx) > 0


def _unique_ids(vid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(vid, return_inverse=True)`` for small non-negative ids, by counting."""
    if len(vid) == 0 or vid.min() < 0:
        return np.unique(vid, return_inverse=True)
    used = np.flatnonzero(np.bincount(vid))
    remap = np.zeros(int(used[-1]) + 1, dtype=np.intp)
    remap[used] = np.arange(len(used))
    return used.astype(vid.dtype), remap[vid]


def assign_pools(
    versions: Sequence[EndpointVersion],
    vid: np.ndarray,
    node: np.ndarray,
    node_zone: np.ndarray,
    n_nodes: int,
    *,
    use_local: bool,
    traffic_distribution: str | None = None,
    terminating_fallback: bool = True,
) -> tuple[np.ndarray, Pools]:
    """Pool id per connection (or ROUTE_REFUSED / ROUTE_DROPPED), vectorized.

    ``vid`` indexes ``versions`` (0 = initial). ``node_zone`` is the zone of each connection's
    node (-1 unknown). Hot path: one numpy pass per distinct version used, then array lookups.
    ``terminating_fallback``: the ProxyTerminatingEndpoints gate (KEP-1669); a ``versions``
    with its own ``cluster_pool`` must answer for the same gate.
    """
    n_conn = len(vid)
    route = np.full(n_conn, ROUTE_REFUSED, dtype=np.int64)
    builder = _PoolBuilder()
    used, inverse = _unique_ids(vid)
    n_zones = int(max(node_zone.max(initial=-1), 0)) + 1
    # cluster_table[j, z + 1]: the Cluster-policy pool of version used[j] for zone z (col 0: unknown)
    cluster_table = np.full((len(used), n_zones + 1), ROUTE_REFUSED, dtype=np.int64)
    node_keys: list[np.ndarray] = []  # j * n_nodes + node, for node-scoped pools
    node_pool: list[np.ndarray] = []
    has_any = np.zeros(len(used), dtype=bool)

    # versions may answer cluster_base_pool without building the version (inputs.LazyVersions)
    quick_pool = getattr(versions, "cluster_pool", None)
    for j, v in enumerate(used.tolist()):
        if not use_local:
            quick = quick_pool(v) if quick_pool is not None else None
            if quick is None:
                quick = cluster_base_pool(versions[v], terminating_fallback)  # None: topology hints, see below
            if quick is not None:
                has_any[j] = quick[1]
                if quick[1]:
                    cluster_table[j, :] = builder.add(quick[0])
                continue
        ver = versions[v]
        ready_idx = np.flatnonzero(ver.ready)
        st_idx = _serving_terminating(ver, terminating_fallback)
        has_any[j] = len(ready_idx) > 0 or len(st_idx) > 0
        if not has_any[j]:
            continue  # REJECT everywhere
        if use_local:
            # Local: ready local endpoints, else serving+terminating local ones (KEP-1669).
            r_nodes, r_starts, r_sorted = _group_by_node(ready_idx, ver.node)
            s_nodes, s_starts, s_sorted = _group_by_node(st_idx, ver.node)
            s_only = ~np.isin(s_nodes, r_nodes)
            for nodes_, starts_, sorted_, keep in (
                (r_nodes, r_starts, r_sorted, np.ones(len(r_nodes), bool)),
                (s_nodes, s_starts, s_sorted, s_only),
            ):
                bounds = np.append(starts_, len(sorted_))
                ids = [builder.add(ver.pod[sorted_[bounds[g] : bounds[g + 1]]]) for g in np.flatnonzero(keep)]
                node_keys.append(j * n_nodes + nodes_[keep].astype(np.int64))
                node_pool.append(np.asarray(ids, dtype=np.int64))
            continue
        base_idx = ready_idx if len(ready_idx) else st_idx  # KEP-1669 fallback when nothing Ready
        base_pool = builder.add(ver.pod[base_idx])
        cluster_table[j, :] = base_pool
        if len(ready_idx) and ver.hint_zone is not None:
            hints = ver.hint_zone[ready_idx]
            if np.all(hints >= 0):  # zone hints usable only if every Ready endpoint has one
                for z in np.unique(hints).tolist():
                    if 0 <= z < n_zones:
                        cluster_table[j, z + 1] = builder.add(ver.pod[ready_idx[hints == z]])
            if _node_hints_active(ver, traffic_distribution):
                r_nodes, r_starts, r_sorted = _group_by_node(ready_idx, ver.node)
                bounds = np.append(r_starts, len(r_sorted))
                ids = [builder.add(ver.pod[r_sorted[bounds[g] : bounds[g + 1]]]) for g in range(len(r_nodes))]
                node_keys.append(j * n_nodes + r_nodes.astype(np.int64))
                node_pool.append(np.asarray(ids, dtype=np.int64))

    pools = builder.build()
    if use_local:
        route[:] = np.where(has_any[inverse], ROUTE_DROPPED, ROUTE_REFUSED)
    else:
        route[:] = cluster_table[inverse, np.clip(node_zone, -1, n_zones - 1) + 1]
    if node_keys:
        keys = np.concatenate(node_keys)
        pool_ids = np.concatenate(node_pool)
        order = np.argsort(keys)
        keys, pool_ids = keys[order], pool_ids[order]
        conn_keys = inverse.astype(np.int64) * n_nodes + node.astype(np.int64)
        pos = np.searchsorted(keys, conn_keys)
        pos_c = np.minimum(pos, max(len(keys) - 1, 0))
        hit = (pos < len(keys)) & (keys[pos_c] == conn_keys) if len(keys) else np.zeros(n_conn, bool)
        route[hit] = pool_ids[pos_c[hit]]
    return route, pools


def uniform_index(length: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform position in each pool: iptables' statistic chain and nftables' numgen.

    Equivalent in law to the iptables chain of p_i = 1/(E - i) draws (see
    `statistic_chain_probabilities` and `iptables_statistic_chain`). nftables draws
    `numgen random mod E`; its modulo bias (< E / 2^32) is ignored.
    """
    u = rng.random(len(length))
    return np.minimum((u * length).astype(np.int64), np.maximum(length - 1, 0))


def statistic_chain_probabilities(n_endpoints: int) -> list[Fraction]:
    """Exact overall probability of each rule of the iptables statistic chain (computeProbability).

    Rule i (i < E-1) matches with p_i = 1/(E-i) given that rules 0..i-1 did not; the last
    rule always matches. Every entry comes out as 1/E.
    """
    out: list[Fraction] = []
    survive = Fraction(1)
    for i in range(n_endpoints):
        p = Fraction(1, n_endpoints - i) if i < n_endpoints - 1 else Fraction(1)
        out.append(survive * p)
        survive *= 1 - p
    return out


def iptables_statistic_chain(length: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Faithful emulation: walk each connection's chain rule by rule with its own draw.

    Cost is O(sum of rules walked); used by tests to show it matches `uniform_index`.
    The kernel quantizes p to 2^-31 (Linux `net/netfilter/xt_statistic.c`); ignored (≲ 1e-9).
    """
    length = np.asarray(length, dtype=np.int64)
    chosen = np.full(len(length), -1, dtype=np.int64)
    active = np.flatnonzero(length > 0)
    i = 0
    while len(active):
        e = length[active]
        last = i >= e - 1
        fire = last | (rng.random(len(active)) < 1.0 / np.maximum(e - i, 1))
        chosen[active[fire]] = i
        active = active[~fire]
        i += 1
    return chosen
