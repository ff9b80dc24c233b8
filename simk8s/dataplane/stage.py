"""Stage 4: connections through each traffic Service, routed by every node's programmed state.

Glue between the pipeline and the data-path engine (simk8s.dataplane.traffic): it turns the
cluster's pods into a PodTable, the kube-proxy change stream into one ServiceHistory per
Service with traffic, and the fleet's sync table into NodeProgramming.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simk8s.dataplane.endpoint_table import EndpointIndex
from simk8s.dataplane.inputs import (
    EndpointVersion,
    LazyVersions,
    NodeProgramming,
    PodTable,
    ServiceHistory,
    TrafficSpec,
)
from simk8s.dataplane.ipvs_schedulers import node_time_order
from simk8s.dataplane.latency import params_for_machine as latency_params_for_machine
from simk8s.dataplane.outcomes import FAILURE_CODES, OUTCOME_NAMES
from simk8s.dataplane.shared import per_cluster
from simk8s.dataplane.traffic import (
    TrafficResult,
    arrivals_read_programming,
    generate_arrivals,
    simulate_traffic,
)
from simk8s.network.connections import apply_network
from simk8s.proxy.stream import MergedEndpoints, service_key_of
from simk8s.rng import component_rng


def _service_kind(svc: Any) -> str:
    if svc.type == "ExternalName":
        return "ExternalName"
    if svc.headless:
        return "Headless"
    if svc.type == "ClusterIP" and svc.external_ips:
        # Fix (service-types): the schema allows `from: external` for a ClusterIP Service
        # with externalIPs, but the data path accepted it only for NodePort/LoadBalancer.
        # Traffic to an external IP reaches a node and that node's rules DNAT it, like
        # NodePort traffic with externalTrafficPolicy Cluster (iptables syncProxyRules:
        # KUBE-SERVICES external-IP rule → KUBE-EXT). Simplification: it arrives on a
        # uniformly random node (really: whichever node the network routes the IP to).
        return "NodePort"
    return svc.type


def endpoint_versions(
    key: tuple[str, str],
    writes: list[tuple[int, str, Any]],
    initial: MergedEndpoints | None,
    kind: str,
    index: EndpointIndex,
    terminating_fallback: bool = True,
) -> tuple[np.ndarray, LazyVersions, EndpointVersion]:
    """One Service's endpoint versions: (write index of each, the versions, the initial one).

    Every written object is indexed now (in write order, which fixes the synthetic pod ids of
    pod-less endpoints); each version's arrays are gathered only when the data path reads it.
    """
    # slice name → row numbers of its endpoints: the slice bookkeeping of MergedEndpoints.apply
    # (kube-proxy's EndpointSliceCache), without its ready-set diff (read by the cost model only).
    slices = initial.slices if initial is not None else {}
    state = {name: index.rows(slices[name], (key, name)) for name in sorted(slices)}
    first = [state[name] for name in sorted(state)]
    write_index, parts = [], []
    for w, op, obj in writes:
        name = "" if kind == "Endpoints" else obj.name
        if op == "delete":
            state.pop(name, None)
        else:
            state[name] = index.rows(obj if kind == "Endpoints" else obj.endpoints, (key, name))
        write_index.append(int(w))
        parts.append([state[n] for n in sorted(state)])
    versions = LazyVersions(
        len(parts),
        lambda k: index.version_of_rows(parts[k]),
        lambda k: index.cluster_pool_of_rows(parts[k], terminating_fallback),
    )
    return np.asarray(write_index, dtype=np.int64), versions, index.version_of_rows(first)


def build_history(
    key: tuple[str, str],
    writes: list[tuple[int, str, Any]],
    initial: MergedEndpoints | None,
    kind: str,
    world: Any,
    scenario: Any,
    index: EndpointIndex,
    *,
    terminating_fallback: bool = True,
    versions: tuple[np.ndarray, LazyVersions, EndpointVersion] | None = None,
) -> ServiceHistory:
    """One Service's endpoint versions (`endpoint_versions`, unless given as `versions`) and
    what the data path reads of the Service. `writes` are (change-stream index, op, object).
    `terminating_fallback`: kube-proxy's ProxyTerminatingEndpoints gate (KEP-1669).
    """
    svc = world.services[key]
    if versions is None:
        versions = endpoint_versions(key, writes, initial, kind, index, terminating_fallback)
    write_index, lazy, first = versions
    ports_total = scenario.background.services + sum(
        len(s.ports) for s in world.services.values() if s.type != "ExternalName" and not s.headless
    )
    return ServiceHistory(
        name=f"{key[0]}/{key[1]}",
        write_index=write_index,
        versions=lazy,
        initial=first,
        kind=_service_kind(svc),
        session_affinity_timeout=float(svc.session_affinity_timeout_s) if svc.session_affinity == "ClientIP" else None,
        internal_local=svc.internal_traffic_policy == "Local",
        external_local=svc.external_traffic_policy == "Local",
        traffic_distribution=svc.traffic_distribution,
        service_ports_total=max(1, ports_total),
        terminating_fallback=terminating_fallback,
    )


# CoreDNS answers headless lookups from its own EndpointSlice watch and caches them for its
# default TTL (5 s). Simplification: every client sees a change exactly this long after commit.
DNS_TTL_S = 5.0


@dataclass(frozen=True)
class _HistorySource:
    """What one Service's endpoint versions are built from (see `endpoint_versions`)."""

    writes: list[tuple[int, str, Any]]
    initial: MergedEndpoints | None
    kind: str
    terminating_fallback: bool
    programming: NodeProgramming | None  # its own (DNS), or None: the fleet's

    def fingerprint(self, key: tuple[str, str]) -> tuple:
        """Equal for equal inputs: objects by identity (all held by the cluster run)."""
        first = sorted((name, id(v)) for name, v in self.initial.slices.items()) if self.initial else []
        writes = tuple((w, op, id(obj)) for w, op, obj in self.writes)
        return key, self.kind, self.terminating_fallback, tuple(first), writes


def _proxy_source(key, stage, scenario) -> _HistorySource:
    svc_i = stage.services.index(key)
    rows = np.flatnonzero(stage.stream.service == svc_i)
    writes = [(int(w), stage.ops[w], stage.objects[w]) for w in rows.tolist()]
    fallback = scenario.cluster.feature_gates.proxy_terminating_endpoints
    return _HistorySource(writes, stage.initial.get(key), stage.kind, fallback, None)


def _proxy_history(key, stage, world, scenario, index) -> tuple[ServiceHistory, None]:
    src = _proxy_source(key, stage, scenario)
    history = build_history(
        key, src.writes, src.initial, src.kind, world, scenario, index, terminating_fallback=src.terminating_fallback
    )
    return history, None


def _dns_source(key, cluster, stage, world) -> _HistorySource:
    """Headless Services are not proxied (kube-proxy filters them out); clients resolve them."""
    kind = stage.kind
    apiserver = world.apiserver
    log = [r for r in apiserver.log if not r.rejected and r.kind == kind and (r.namespace, r.service) == key]
    writes = [(i, r.op, apiserver.objects[r.seq]) for i, r in enumerate(log)]
    initial = [o for o in cluster.initial_objects.get(kind, []) if service_key_of(kind, o) == key]
    merged = MergedEndpoints()
    for o in initial:
        merged.apply(kind, "create", o)
    visible = np.array([r.time for r in log], dtype=np.float64) + DNS_TTL_S

    def applied_at(nodes: np.ndarray, times: np.ndarray) -> np.ndarray:
        return np.searchsorted(visible, np.asarray(times, dtype=np.float64), side="right").astype(np.int64)

    programming = NodeProgramming(n_nodes=len(world.nodes), zone=world.nodes.zone, applied_at=applied_at)
    return _HistorySource(writes, merged, kind, True, programming)


def _histories(
    cluster: Any, stage: Any, scenario: Any, keys: list[tuple[str, str]]
) -> tuple[EndpointIndex, dict[tuple[str, str], tuple[ServiceHistory, NodeProgramming | None]]]:
    """Every traffic Service's history, with the endpoint table they were indexed in.

    The versions (the costly part) are built once per cluster run for equal sources, in
    the same order from a fresh table, so a variant that reuses them reads the same rows.
    """
    world = cluster.world
    sources = {
        key: _dns_source(key, cluster, stage, world) if world.services[key].headless else _proxy_source(key, stage, scenario)
        for key in keys
    }

    def build() -> tuple[EndpointIndex, dict]:
        index = EndpointIndex(world)
        return index, {
            key: endpoint_versions(key, src.writes, src.initial, src.kind, index, src.terminating_fallback)
            for key, src in sources.items()
        }

    fingerprint = tuple(src.fingerprint(key) for key, src in sources.items())
    index, versions = per_cluster(cluster, ("endpoint versions", fingerprint), build)
    histories = {}
    for key, src in sources.items():
        history = build_history(
            key, src.writes, src.initial, src.kind, world, scenario, index,
            terminating_fallback=src.terminating_fallback, versions=versions[key],
        )  # fmt: skip
        histories[key] = (history, src.programming)
    return index, histories


def pod_table(world: Any, index: EndpointIndex) -> PodTable:
    pods = world.pods
    extra = len(index.extra_ips)
    node = np.array([p.node for p in pods] + [-1] * extra, dtype=np.int32)
    zone = np.where(node >= 0, world.nodes.zone[np.maximum(node, 0)], -1).astype(np.int16)
    # User-written endpoints (selector-less Services) are outside the cluster: always serving.
    serving_from = np.array([p.serving_from for p in pods] + [0.0] * extra, dtype=np.float64)
    serving_until = np.array([p.serving_until for p in pods] + [math.inf] * extra, dtype=np.float64)
    return PodTable(node=node, zone=zone, serving_from=serving_from, serving_until=serving_until)


def applied_at_by_node(fleet: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``fleet.applied_at`` (writes applied on node n at time t: ``last_write`` of the node's
    latest sync ending at or before t, 0 before its first), one binary search per node.

    Same answer whenever the sync table is sorted by node and each node's ends never
    decrease (its syncs are serialized); otherwise the fleet's own function is returned.
    """
    syncs = getattr(fleet, "syncs", None)
    if syncs is None:
        return fleet.applied_at
    node, ends, last = np.asarray(syncs.node), np.asarray(syncs.end), np.asarray(syncs.last_write, np.int64)
    same_node = node[1:] == node[:-1]
    if len(ends) == 0 or np.any(node[1:] < node[:-1]) or np.any(same_node & (ends[1:] < ends[:-1])):
        return fleet.applied_at
    offsets = np.searchsorted(node, np.arange(fleet.n_nodes + 1), side="left")

    def applied_at(nodes: np.ndarray, times: np.ndarray) -> np.ndarray:
        nodes, times = np.broadcast_arrays(np.asarray(nodes, np.int64), np.asarray(times, np.float64))
        shape = nodes.shape
        nodes, times = nodes.ravel(), times.ravel()
        order = node_time_order(nodes, times)
        sorted_nodes = nodes[order]
        if len(order) and (sorted_nodes[0] < 0 or sorted_nodes[-1] >= fleet.n_nodes):
            return fleet.applied_at(nodes, times).reshape(shape)
        sorted_times = times[order]
        bounds = np.searchsorted(sorted_nodes, np.arange(fleet.n_nodes + 1))  # each node's first row
        present = np.flatnonzero(bounds[1:] > bounds[:-1])
        lo, hi = bounds[present].tolist(), bounds[present + 1].tolist()
        applied = np.zeros(len(order), np.int64)  # in node-time order; filled node by node
        for n, a, b in zip(present.tolist(), lo, hi, strict=True):  # per-node pieces stay small
            s0, s1 = int(offsets[n]), int(offsets[n + 1])
            if s1 > s0:
                done = np.searchsorted(ends[s0:s1], sorted_times[a:b], side="right")  # syncs ended by then
                applied[a:b] = np.where(done > 0, last[s0:s1][done - 1], 0)
        out = np.empty(len(order), np.int64)
        out[order] = applied
        return out.reshape(shape)

    return applied_at


def _shared_arrivals(
    cluster: Any, seed: int, rng_name: str, spec: TrafficSpec, history: ServiceHistory, programming: NodeProgramming
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """`generate_arrivals` as `simulate_traffic` draws it (first of three spawned streams),
    once per cluster run when it reads nothing of this variant's kube-proxy; else None."""
    if arrivals_read_programming(spec, history):
        return None

    def draw() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arrays = generate_arrivals(spec, history, programming, component_rng(seed, rng_name).spawn(3)[0])
        for a in arrays:
            a.flags.writeable = False  # shared by variants
        return arrays

    return per_cluster(cluster, ("arrivals", seed, rng_name, spec, programming.n_nodes), draw)


def run_dataplane_stage(scenario: Any, cluster: Any, stage: Any) -> dict[str, TrafficResult]:
    world = cluster.world
    programming = NodeProgramming(n_nodes=len(world.nodes), zone=world.nodes.zone, applied_at=applied_at_by_node(stage.fleet))
    keys = []
    for traffic in scenario.traffic:
        spec_svc = scenario.service(traffic.service)
        keys.append((spec_svc.namespace, spec_svc.name))
    index, histories = _histories(cluster, stage, scenario, list(dict.fromkeys(keys)))
    pods = pod_table(world, index)
    kp = scenario.cluster.kube_proxy
    latency = latency_params_for_machine(kp.machine)  # published, or a host profile's `dataplane`
    results: dict[str, TrafficResult] = {}
    for i, traffic in enumerate(scenario.traffic):
        spec_svc = scenario.service(traffic.service)
        key = (spec_svc.namespace, spec_svc.name)
        spec = TrafficSpec(
            rate=traffic.rate,
            start=traffic.start,
            end=scenario.duration if traffic.end is None else traffic.end,
            source=traffic.from_,
            client_nodes=traffic.client_nodes,
            clients=traffic.clients,
            requests_per_connection=traffic.requests_per_connection,
            connection_duration=traffic.connection_duration,
        )
        rng_name = f"dataplane/traffic/{i}/{key[0]}/{key[1]}"
        history, own_programming = histories[key]
        result = simulate_traffic(
            history, own_programming or programming, pods, spec, mode=kp.mode, ipvs_scheduler=kp.ipvs_scheduler,
            rng=component_rng(scenario.seed, rng_name), latency_params=latency,
            arrivals=_shared_arrivals(cluster, scenario.seed, rng_name, spec, history, own_programming or programming),
        )  # fmt: skip
        # The network between zones: path RTT on the first packet; convergence after an outage.
        results[f"{i}:{key[0]}/{key[1]}"] = apply_network(
            result, history, pods, world, scenario, stage, source=spec.source, proxied=own_programming is None
        )
    return results


def dataplane_section(results: dict[str, TrafficResult]) -> dict[str, Any]:
    """The summary's `dataplane` section: totals over every traffic entry, plus each one."""
    outcome = np.concatenate([r.outcome for r in results.values()]) if results else np.zeros(0, np.int8)
    fp = np.concatenate([r.first_packet_ms for r in results.values()]) if results else np.zeros(0)
    fp_rules = np.concatenate([r.first_packet_rules_ms() for r in results.values()]) if results else np.zeros(0)
    codes = np.bincount(outcome.astype(np.int64), minlength=len(OUTCOME_NAMES))
    replied = (outcome == 0) & np.isfinite(fp)
    ok, ok_rules = fp[replied], fp_rules[replied]
    failed = {OUTCOME_NAMES[c]: int(codes[c]) for c in FAILURE_CODES}
    per_service = {}
    for name, r in results.items():
        counts = np.bincount(r.outcome.astype(np.int64), minlength=len(OUTCOME_NAMES))
        dns = int(counts[OUTCOME_NAMES.index("dns-answer")])
        per_service[name] = {  # the fields of r.summary() this section keeps
            "connections": r.n - dns,
            "dns_answers": dns,
            "failed": {OUTCOME_NAMES[c]: int(counts[c]) for c in FAILURE_CODES},
            "imbalance": {k: _num(v) for k, v in r.imbalance().items()},
        }
    return {
        "connections": int(len(outcome) - codes[OUTCOME_NAMES.index("dns-answer")]),
        "dns_answers": int(codes[OUTCOME_NAMES.index("dns-answer")]),
        "failed": failed,
        "failed_total": int(sum(failed.values())),
        "first_packet_ms": {
            "p50": _num(np.percentile(ok, 50)) if len(ok) else None,
            "p99": _num(np.percentile(ok, 99)) if len(ok) else None,
        },
        # the same without the path between zones: the part kube-proxy's rules (or IPVS) add
        "first_packet_rules_ms": {
            "p50": _num(np.percentile(ok_rules, 50)) if len(ok_rules) else None,
            "p99": _num(np.percentile(ok_rules, 99)) if len(ok_rules) else None,
        },
        # load spread over the first traffic entry's backends (steady state), see TrafficResult.imbalance
        "imbalance": next(iter(per_service.values()))["imbalance"] if per_service else None,
        "services": per_service,
    }


def dataplane_tables(results: dict[str, TrafficResult]) -> dict[str, pd.DataFrame]:
    frames = []
    for name, r in results.items():
        ts = r.outcome_timeseries()
        if ts.empty:
            continue
        ts = ts.reset_index(names="t_s")
        ts.insert(0, "traffic", name)
        frames.append(ts)
    return {"connection_outcomes": pd.concat(frames, ignore_index=True)} if frames else {}


def _num(x: Any) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else round(x, 6)


__all__ = ["dataplane_section", "dataplane_tables", "run_dataplane_stage"]
