"""Connections through one Service's VIP, routed by each client node's programmed state.

A connection opened at time t on node n is routed by the endpoint version node n's
kube-proxy had programmed at t, not by the apiserver's truth: that lag is what turns a
rollout into failed connections (in iptables mode "the connection fails" if the chosen
backend does not respond: kubernetes.io docs, reference/networking/virtual-ips). Pipeline, all vectorized except where state forces order:

1. arrivals (Poisson), client IP and node;
2. programmed version per connection (NodeProgramming.applied_at → searchsorted);
3. candidate pool per connection (selection.assign_pools, CategorizeEndpoints rules);
4. backend: uniform (iptables statistic chain, nftables numgen), IPVS hashes (sh, dh, mh),
   or a per-node time-ordered loop for IPVS rr/lc-family and for ClientIP affinity;
5. outcome from the chosen pod's serving window; 6. first-packet latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simk8s.dataplane import ipvs_schedulers as ipvs
from simk8s.dataplane.affinity import affinity_state
from simk8s.dataplane.inputs import NodeProgramming, PodTable, ServiceHistory, TrafficSpec
from simk8s.dataplane.latency import (
    LatencyParams,
    base_latency,
    first_packet_ms,
    iptables_rules_walked,
    load_params,
    service_chain_rules,
)
from simk8s.dataplane.outcomes import (
    DNS_ANSWER,
    FAILURE_CODES,
    OK,
    OUTCOME_NAMES,
    REFUSED,
    classify,
)
from simk8s.dataplane.selection import Pools, assign_pools, uniform_index

MODES = ("iptables", "ipvs", "nftables")
POD_IP_BASE = (10 << 24) | (244 << 16)  # client pods: 10.244.0.0/16 onwards
EXTERNAL_IP_BASE = (198 << 24) | (18 << 16)  # external clients: 198.18.0.0/15 (benchmark range)
LB_REDRAWS = 32  # external LB picks among healthy nodes: redraw unhealthy ones this many times


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class TrafficResult:
    """Columnar record of every connection (or DNS answer), in arrival order."""

    service: str
    mode: str
    scheduler: str | None
    t: np.ndarray  # float64 arrival time
    node: np.ndarray  # int32 client node (where the connection enters kube-proxy's rules)
    client: np.ndarray  # int32 client index (IP = base + index)
    backend: np.ndarray  # int32 pod id, -1 none
    outcome: np.ndarray  # int8 code, see outcomes.OUTCOME_NAMES
    first_packet_ms: np.ndarray  # float64; NaN where no reply comes (drop, dead pod)
    version: np.ndarray  # int32 programmed version id used (0 = initial)
    rules_walked: np.ndarray  # int64 nat rules evaluated (iptables); 0 otherwise
    requests_per_connection: int = 1
    steady_backends: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    steady_version: int = 0
    # After a zone outage: when surviving nodes stopped routing to lost pods (simk8s/network/outage.py)
    outage_convergence: dict | None = None
    # float64 path round trip between zones included in first_packet_ms (simk8s/network/paths.py); None: none
    path_rtt_ms: np.ndarray | None = None

    def first_packet_rules_ms(self) -> np.ndarray:
        """First-packet latency without the path between zones: what kube-proxy's rules cost."""
        return self.first_packet_ms if self.path_rtt_ms is None else self.first_packet_ms - self.path_rtt_ms

    @property
    def n(self) -> int:
        return len(self.t)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "t": self.t,
                "node": self.node,
                "client": self.client,
                "backend": self.backend,
                "outcome": pd.Categorical.from_codes(self.outcome, categories=pd.Index(OUTCOME_NAMES)),
                "first_packet_ms": self.first_packet_ms,
                "version": self.version,
                "rules_walked": self.rules_walked,
            }
        )

    def outcome_timeseries(self, bin_s: float = 1.0) -> pd.DataFrame:
        """Counts per outcome per time bin (index: bin start, seconds)."""
        if self.n == 0:
            return pd.DataFrame(columns=list(OUTCOME_NAMES), dtype=np.int64)
        b = np.floor(self.t / bin_s).astype(np.int64)
        b0 = int(b.min())
        nb = int(b.max()) - b0 + 1
        counts = np.zeros((nb, len(OUTCOME_NAMES)), dtype=np.int64)
        np.add.at(counts, (b - b0, self.outcome.astype(np.int64)), 1)
        return pd.DataFrame(counts, index=(np.arange(nb) + b0) * bin_s, columns=list(OUTCOME_NAMES))

    def backend_load(self) -> pd.Series:
        """Connections per backend pod (all routed connections, whatever the outcome)."""
        routed = self.backend[self.backend >= 0]
        pods, counts = np.unique(routed, return_counts=True)
        return pd.Series(counts, index=pd.Index(pods, name="pod"), name="connections")

    def imbalance(self) -> dict[str, float]:
        """Load spread over the steady-state endpoints, counting only steady-state connections.

        Steady state = connections routed by ``steady_version`` (the initial version when
        traffic ran before any change, else the final one); backends = that version's Ready
        endpoints, including those that got no connection.
        """
        backends = self.steady_backends
        if len(backends) == 0:
            return {"backends": 0, "connections": 0, "max_over_mean": float("nan"), "cv": float("nan")}
        sel = (self.version == self.steady_version) & (self.backend >= 0)
        load = np.zeros(len(backends), dtype=np.int64)
        order = np.argsort(backends)
        pos = np.searchsorted(backends[order], self.backend[sel])
        pos = np.minimum(pos, len(backends) - 1)
        inside = backends[order][pos] == self.backend[sel]
        np.add.at(load, order[pos[inside]], 1)
        mean = load.mean()
        return {
            "backends": len(backends),
            "connections": int(load.sum()),
            "max_over_mean": float(load.max() / mean) if mean > 0 else float("nan"),
            "cv": float(load.std() / mean) if mean > 0 else float("nan"),
        }

    def summary(self) -> dict:
        codes = np.bincount(self.outcome.astype(np.int64), minlength=len(OUTCOME_NAMES))
        dns = int(codes[DNS_ANSWER])
        connections = self.n - dns
        ok_ms = self.first_packet_ms[(self.outcome == OK) & np.isfinite(self.first_packet_ms)]
        pct = (
            {"p50": float(np.percentile(ok_ms, 50)), "p99": float(np.percentile(ok_ms, 99)), "mean": float(ok_ms.mean())}
            if len(ok_ms)
            else {"p50": float("nan"), "p99": float("nan"), "mean": float("nan")}
        )
        failed = {OUTCOME_NAMES[c]: int(codes[c]) for c in FAILURE_CODES}
        return {
            "connections": connections,
            "dns_answers": dns,
            "requests": connections * self.requests_per_connection,
            "outcomes": {name: int(codes[i]) for i, name in enumerate(OUTCOME_NAMES)},
            "failed": failed,
            "failed_total": sum(failed.values()),
            "first_packet_ms": pct,
            # keepalive: only a connection's first request pays the rule walk (Tigera 2019)
            "first_packet_ms_per_request": pct["mean"] / self.requests_per_connection,
            "rules_walked_mean": float(self.rules_walked.mean()) if self.n else 0.0,
            "per_backend": self.backend_load(),
            "imbalance": self.imbalance(),
            "timeseries": self.outcome_timeseries(),
        }


# --------------------------------------------------------------------------- stages


def programmed_version(
    history: ServiceHistory, programming: NodeProgramming, node: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Version id each (node, t) had programmed: 0 = initial, k = history.versions[k-1].

    applied_at gives a count c of writes applied (writes 0..c-1), so version k is in effect
    once write_index[k] < c: the id is the number of write indices below c.
    """
    if len(node) == 0:
        return np.zeros(0, np.int32)
    applied = np.asarray(programming.applied_at(node, t), dtype=np.int64)
    return np.searchsorted(np.asarray(history.write_index, np.int64), applied, side="left").astype(np.int32)


def _local_ready_nodes(history: ServiceHistory, n_nodes: int) -> list[np.ndarray]:
    """Per version id, sorted node ids that host a Ready endpoint (what the LB health check sees)."""
    return [np.unique(v.node[v.ready]).astype(np.int64) for v in history.all_versions]


def arrivals_read_programming(spec: TrafficSpec, history: ServiceHistory) -> bool:
    """Whether `generate_arrivals` reads the nodes' programmed state (LB health checks)."""
    return spec.source != "pods" and history.kind == "LoadBalancer" and history.external_local


def generate_arrivals(
    spec: TrafficSpec,
    history: ServiceHistory,
    programming: NodeProgramming,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, node, client) for every new connection, sorted by t."""
    n_nodes = programming.n_nodes
    n = int(rng.poisson(spec.rate * (spec.end - spec.start)))
    t = np.sort(spec.start + rng.random(n) * (spec.end - spec.start))
    client = rng.integers(0, spec.clients, size=n).astype(np.int32)
    if spec.source == "pods":
        # Client pod c lives on node c mod n_client_nodes (fewer clients than nodes → fewer nodes used).
        n_client_nodes = min(spec.client_nodes or n_nodes, n_nodes)
        node = (client % n_client_nodes).astype(np.int32)
        return t, node, client
    node = rng.integers(0, n_nodes, size=n).astype(np.int32)
    if arrivals_read_programming(spec, history):
        # The LB health-checks each node's kube-proxy (healthCheckNodePort), which answers from
        # its own programmed state. Simplification: no health-check interval lag; if no node is
        # healthy the LB keeps spreading over all nodes.
        healthy = _local_ready_nodes(history, n_nodes)

        def unhealthy(rows: np.ndarray, nodes: np.ndarray) -> np.ndarray:
            vid = programmed_version(history, programming, nodes, t[rows])
            bad = np.ones(len(rows), dtype=bool)
            for v in np.unique(vid).tolist():
                sel = vid == v
                bad[sel] = ~np.isin(nodes[sel], healthy[v])
            return bad

        rows = np.arange(n)
        for _ in range(LB_REDRAWS):  # rejection sampling: cheap while most nodes are healthy
            rows = rows[unhealthy(rows, node[rows])]
            if len(rows) == 0:
                break
            node[rows] = rng.integers(0, n_nodes, size=len(rows))
        if len(rows):
            rows = rows[unhealthy(rows, node[rows])]
        all_nodes = np.arange(n_nodes, dtype=np.int32)
        for i in rows.tolist():  # exact for the few left: uniform over nodes healthy at that instant
            ok = ~unhealthy(np.full(n_nodes, i), all_nodes)
            if ok.any():
                node[i] = rng.choice(all_nodes[ok])
    return t, node, client


def _sequential_choice(
    node: np.ndarray,
    t: np.ndarray,
    client_ip: np.ndarray,
    route: np.ndarray,
    pre_index: np.ndarray,
    pools: Pools,
    rot_base: np.ndarray,
    *,
    scheduler: str | None,
    mode: str,
    affinity_timeout: float | None,
    duration: float,
    pods: PodTable,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-node, time-ordered choice for stateful IPVS schedulers and ClientIP affinity.

    Hot loop (≈1–3 µs per connection): plain Python over pre-extracted lists; state is
    rebuilt per node because each node's kernel keeps its own.
    Returns (index in pool, affinity hit rank or -1).
    """
    n = len(t)
    chosen_idx = [-1] * n
    hit_rank = [-1] * n
    pool_tuples = pools.as_tuples()
    positions: list[dict[int, int] | None] = [None] * len(pool_tuples)
    order = ipvs.node_time_order(node, t).tolist()
    node_l, t_l, ip_l = node.tolist(), t.tolist(), client_ip.tolist()
    route_l, pre_l, rot_l = route.tolist(), pre_index.tolist(), rot_base.tolist()
    from_l, until_l = pods.serving_from.tolist(), pods.serving_until.tolist()
    use_rr = scheduler in ipvs.ROUND_ROBIN
    use_lc = scheduler in ipvs.LEAST_CONN
    cur_node = -1
    rr = lc = aff = None
    for i in order:
        r = route_l[i]
        if r < 0:
            continue
        nd = node_l[i]
        if nd != cur_node:
            cur_node = nd
            rr = ipvs.RoundRobin() if use_rr else None
            lc = ipvs.LeastConnection() if use_lc else None
            aff = affinity_state(mode, affinity_timeout) if affinity_timeout is not None else None
        ti = t_l[i]
        pool = pool_tuples[r]
        pos = positions[r]
        if pos is None:
            pos = positions[r] = {p: k for k, p in enumerate(pool)}
        pick = aff.lookup(ip_l[i], pos, ti) if aff is not None else None
        if pick is not None:
            hit_rank[i] = pos[pick]
        else:
            if lc is not None:
                lc.expire(ti)
                pick = lc.pick(pool, rot_l[nd] % len(pool))
            elif rr is not None:
                pick = rr.pick(pool, pos, rot_l[nd] % len(pool))
            else:
                pick = pool[pre_l[i]]
        if aff is not None:
            aff.record(ip_l[i], pick, ti, duration)
        if lc is not None and from_l[pick] <= ti < until_l[pick]:
            lc.opened(pick, ti + duration)  # only established connections count as active
        chosen_idx[i] = pos[pick]
    return np.asarray(chosen_idx, dtype=np.int64), np.asarray(hit_rank, dtype=np.int64)


# --------------------------------------------------------------------------- entry point


def simulate_traffic(
    history: ServiceHistory,
    programming: NodeProgramming,
    pods: PodTable,
    spec: TrafficSpec,
    *,
    mode: str,
    ipvs_scheduler: str = "rr",
    rng: np.random.Generator,
    latency_params: LatencyParams | None = None,
    arrivals: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> TrafficResult:
    """Route every new connection of ``spec`` through ``history``'s Service (module docstring).
    ``latency_params``: a machine profile's (latency.params_for_machine); None: published.
    ``arrivals``: what `generate_arrivals` draws here, when already drawn from an equal ``rng``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "ipvs" and ipvs_scheduler not in ipvs.SCHEDULERS:
        raise ValueError(f"unknown IPVS scheduler {ipvs_scheduler!r}; known: {sorted(ipvs.SCHEDULERS)}")
    if spec.source == "external" and history.kind not in ("NodePort", "LoadBalancer"):
        raise ValueError(f"service {history.name} ({history.kind}) takes no external traffic")
    # Independent streams: arrivals are identical whatever the mode or scheduler.
    rng_arrivals, rng_choice, rng_latency = rng.spawn(3)
    t, node, client = arrivals if arrivals is not None else generate_arrivals(spec, history, programming, rng_arrivals)
    n = len(t)
    ip_base = POD_IP_BASE if spec.source == "pods" else EXTERNAL_IP_BASE
    client_ip = ip_base + client.astype(np.int64)
    versions = history.all_versions
    vid = programmed_version(history, programming, node, t)
    scheduler = ipvs_scheduler if mode == "ipvs" else None

    use_local = history.internal_local if spec.source == "pods" else history.external_local
    # ExternalName: CoreDNS answers a CNAME, kube-proxy writes no rules; Headless:
    # DNS returns the pod IPs and the client connects to one directly (no VIP, no rules).
    # Simplification: a headless client's DNS view is taken as its node's programmed version.
    if history.kind == "ExternalName":
        return TrafficResult(
            service=history.name, mode=mode, scheduler=scheduler, t=t, node=node, client=client,
            backend=np.full(n, -1, np.int32), outcome=np.full(n, DNS_ANSWER, np.int8),
            first_packet_ms=np.full(n, np.nan), version=vid, rules_walked=np.zeros(n, np.int64),
            requests_per_connection=spec.requests_per_connection,
        )  # fmt: skip
    headless = history.kind == "Headless"
    route, pools = assign_pools(
        versions, vid, node, programming.zone[node].astype(np.int64), programming.n_nodes,
        use_local=use_local and not headless,
        traffic_distribution=None if headless else history.traffic_distribution,
        terminating_fallback=headless or history.terminating_fallback,  # a kube-proxy gate
    )  # fmt: skip
    routed = route >= 0
    r_safe = np.where(routed, route, 0)
    length = np.where(routed, pools.length[r_safe] if len(pools.length) else 0, 0)
    start = np.where(routed, pools.start[r_safe] if len(pools.start) else 0, 0)

    # Backend index within the pool (rule order).
    rot_base = rng_choice.integers(0, 1 << 31, size=programming.n_nodes)
    if scheduler == "sh":
        index = ipvs.source_hash_index(client_ip, length, rot_base[node])
    elif scheduler == "dh":
        index = ipvs.dest_hash_index(ipvs.service_vip(history.name), length, rot_base[node])
    elif scheduler == "mh":
        # kube-proxy sets mh-port: hash on source IP and an ephemeral source port (virtual-ips docs).
        src_port = rng_choice.integers(32768, 61000, size=n)
        index = np.full(n, -1, dtype=np.int64)
        index[routed] = ipvs.MaglevTables().indices(
            pools.as_tuples(), route[routed], client_ip[routed], src_port[routed]
        )
    elif scheduler in ipvs.STATEFUL:
        # Chosen below from each node's scheduler state; no draw (nothing later reads rng_choice).
        index = np.zeros(n, dtype=np.int8)
    else:
        index = uniform_index(length, rng_choice)  # iptables statistic chain / nftables numgen
    affinity_timeout = history.session_affinity_timeout if not headless else None
    hit_rank = None
    rr_index = None
    if affinity_timeout is None and scheduler in ipvs.ROUND_ROBIN:
        rr_index = ipvs.round_robin_indices(node, t, route, pools.pods, pools.start, pools.length, rot_base)
    if rr_index is not None:
        index, hit_rank = rr_index, np.full(n, -1, dtype=np.int64)
    elif affinity_timeout is not None or scheduler in ipvs.STATEFUL:
        index, hit_rank = _sequential_choice(
            node, t, client_ip, route, index, pools, rot_base,
            scheduler=scheduler, mode=mode, affinity_timeout=affinity_timeout,
            duration=spec.connection_duration, pods=pods,
        )  # fmt: skip
    index = np.where(routed, index, -1)
    backend = np.where(routed, pools.pods[np.where(routed, start + index, 0)] if len(pools.pods) else -1, -1)
    backend = backend.astype(np.int32)
    outcome = classify(route, backend, t, pods)

    # First-packet latency (latency.py): iptables pays the rule walk, others ~constant.
    if headless:
        rules = np.zeros(n, np.int64)
        ms = base_latency(n, latency_params or load_params(), rng_latency)
    else:
        if mode == "iptables":
            chain = service_chain_rules(index, length, hit_rank)
            walk_all = (~routed) | (spec.source == "external")  # NodePort flows: all of KUBE-SERVICES
            rules = iptables_rules_walked(history.service_ports_total, chain, walk_all, rng_latency)
        else:
            rules = np.zeros(n, np.int64)
        ms = first_packet_ms(mode, rules_walked=rules, service_ports_total=history.service_ports_total,
                             rng=rng_latency, params=latency_params)
    # No reply (or only a timeout) for drops and dead / not-yet-listening pods.
    ms = np.where((outcome == OK) | (outcome == REFUSED), ms, np.nan)

    steady_version = 0 if np.any(vid == 0) else len(versions) - 1
    sv = versions[steady_version]
    return TrafficResult(
        service=history.name, mode=mode, scheduler=scheduler, t=t, node=node, client=client,
        backend=backend, outcome=outcome, first_packet_ms=ms, version=vid, rules_walked=rules,
        requests_per_connection=spec.requests_per_connection,
        steady_backends=np.unique(sv.pod[sv.ready]).astype(np.int32), steady_version=steady_version,
    )  # fmt: skip
