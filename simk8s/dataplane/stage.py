"""Stage 4: connections through each traffic Service, routed by every node's programmed state.

Glue between the pipeline and the data-path engine (simk8s.dataplane.traffic): it turns the
cluster's pods into a PodTable, the kube-proxy change stream into one ServiceHistory per
Service with traffic, and the fleet's sync table into NodeProgramming.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from simk8s.api import objects as api
from simk8s.dataplane.inputs import (
    EndpointVersion,
    NodeProgramming,
    PodTable,
    ServiceHistory,
    TrafficSpec,
)
from simk8s.dataplane.outcomes import FAILURE_CODES, OUTCOME_NAMES
from simk8s.dataplane.traffic import TrafficResult, simulate_traffic
from simk8s.proxy.stream import MergedEndpoints, legacy_endpoint, service_key_of
from simk8s.rng import component_rng


class _EndpointIndex:
    """Maps endpoint records to pod ids, nodes and zones; caches per object identity."""

    def __init__(self, world: Any):
        self.world = world
        self.pod_by_name = {(p.namespace, p.name): p.id for p in world.pods}
        self.node_by_name = {name: i for i, name in enumerate(world.nodes.names)}
        self.zone_by_name = {z: i for i, z in enumerate(world.nodes.zone_names)}
        self.extra_ips: dict[str, int] = {}  # user-written endpoints (no pod): synthetic pod rows
        self._cache: dict[int, tuple[Any, tuple]] = {}
        self._arrays: dict[int, tuple[Any, tuple]] = {}
        self._address_ids: dict[tuple[int, bool], tuple[Any, int]] = {}
        self._rows = 0
        self._table_cols = [np.zeros(1024, t) for t in (np.int32, bool, bool, bool, np.int32, np.int16, np.int16)]

    @staticmethod
    def _empty_columns() -> tuple[np.ndarray, ...]:
        return (np.zeros(0, np.int32), np.zeros(0, bool), np.zeros(0, bool), np.zeros(0, bool),
                np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0, np.int16))

    def row(self, ep: Any) -> tuple:
        hit = self._cache.get(id(ep))
        if hit is not None and hit[0] is ep:
            return hit[1]
        ref = ep.target_ref
        if ref is not None and (ref.namespace, ref.name) in self.pod_by_name:
            pod = self.pod_by_name[(ref.namespace, ref.name)]
        else:
            ip = ep.addresses[0]
            pod = self.extra_ips.setdefault(ip, len(self.world.pods) + len(self.extra_ips))
        node = self.node_by_name.get(ep.node_name or "", -1)
        zone = int(self.world.nodes.zone[node]) if node >= 0 else self.zone_by_name.get(ep.zone or "", -1)
        hint = self.zone_by_name.get(ep.hints_for_zones[0], -1) if ep.hints_for_zones else -1
        row = (
            pod,
            ep.ready is not False,
            ep.serving if ep.serving is not None else ep.ready is not False,
            bool(ep.terminating),
            node,
            zone,
            hint,
        )
        self._cache[id(ep)] = (ep, row)
        return row

    def _address_row_id(self, a: Any, ready: bool) -> int:
        """Legacy Endpoints address → index of its row in the row table (cached by identity)."""
        key = (id(a), ready)
        hit = self._address_ids.get(key)
        if hit is not None and hit[0] is a:
            return hit[1]
        ep = legacy_endpoint(a, ready)
        rid = self._rows
        if rid == len(self._table_cols[0]):  # grow the column arrays (amortized doubling)
            self._table_cols = [np.concatenate([c, np.zeros_like(c)]) for c in self._table_cols]
        for col, value in zip(self._table_cols, self.row(ep), strict=True):
            col[rid] = value
        self._rows += 1
        self._address_ids[key] = (a, rid)
        return rid

    def _table(self) -> list[np.ndarray]:
        return [c[: self._rows] for c in self._table_cols]

    def _columns(self, entries: Any) -> tuple[np.ndarray, ...]:
        """Column arrays for one slice's entries (or one Endpoints object), cached by identity."""
        hit = self._arrays.get(id(entries))
        if hit is not None and hit[0] is entries:
            return hit[1]
        if isinstance(entries, api.Endpoints):
            # Legacy objects carry every address in every write: index a row table (one
            # Python step per address), then gather the columns in numpy.
            rid = self._address_row_id
            ids = np.fromiter(
                (
                    rid(a, ready)
                    for subset in entries.subsets
                    for ready, addrs in ((True, subset.addresses), (False, subset.not_ready_addresses))
                    for a in addrs
                ),
                dtype=np.int64,
            )
            arrays = tuple(c[ids] for c in self._table()) if len(ids) else self._empty_columns()
            self._arrays[id(entries)] = (entries, arrays)
            return arrays
        rows = [self.row(ep) for ep in entries if ep.addresses]
        if rows:
            cols = tuple(zip(*rows, strict=True))
            arrays = (
                np.asarray(cols[0], np.int32), np.asarray(cols[1], bool), np.asarray(cols[2], bool),
                np.asarray(cols[3], bool), np.asarray(cols[4], np.int32), np.asarray(cols[5], np.int16),
                np.asarray(cols[6], np.int16),
            )
        else:
            arrays = self._empty_columns()
        if len(self._arrays) > 1 << 16:
            self._arrays.clear()
        self._arrays[id(entries)] = (entries, arrays)
        return arrays

    def version(self, merged: MergedEndpoints) -> EndpointVersion:
        parts = [self._columns(merged.slices[name]) for name in sorted(merged.slices)]
        if not parts or not any(len(p[0]) for p in parts):
            return EndpointVersion.empty()
        cols = [np.concatenate([p[i] for p in parts]) for i in range(7)]
        # kube-proxy's EndpointSliceCache de-duplicates an endpoint seen in two slices (first wins).
        _, first = np.unique(cols[0], return_index=True)
        if len(first) != len(cols[0]):
            keep = np.sort(first)
            cols = [c[keep] for c in cols]
        hints = cols[6]
        return EndpointVersion(
            pod=cols[0], ready=cols[1], serving=cols[2], terminating=cols[3], node=cols[4], zone=cols[5],
            hint_zone=hints if (hints >= 0).any() else None,
        )


def _service_kind(svc: Any) -> str:
    if svc.type == "ExternalName":
        return "ExternalName"
    if svc.headless:
        return "Headless"
    if svc.type == "ClusterIP" and svc.external_ips:
        # Fix (service-types): the schema allows `from: external` for a ClusterIP Service
        # with externalIPs, but the data path accepted it only for NodePort/LoadBalancer.
        # Traffic to an external IP reaches a node and that node's rules DNAT it, like
        # NodePort traffic with externalTrafficPolicy Cluster (kube-proxy.md §1.1:
        # KUBE-SERVICES external-IP rule → KUBE-EXT). Simplification: it arrives on a
        # uniformly random node (really: whichever node the network routes the IP to).
        return "NodePort"
    return svc.type


def build_history(
    key: tuple[str, str],
    writes: list[tuple[int, str, Any]],
    initial: MergedEndpoints | None,
    kind: str,
    world: Any,
    scenario: Any,
    index: _EndpointIndex,
) -> ServiceHistory:
    """One Service's endpoint versions: `writes` are (change-stream index, op, object)."""
    svc = world.services[key]
    merged = initial.copy() if initial is not None else MergedEndpoints()
    first = index.version(merged)
    write_index, versions = [], []
    for w, op, obj in writes:
        merged.apply(kind, op, obj)
        write_index.append(int(w))
        versions.append(index.version(merged))
    ports_total = scenario.background.services + sum(
        len(s.ports) for s in world.services.values() if s.type != "ExternalName" and not s.headless
    )
    return ServiceHistory(
        name=f"{key[0]}/{key[1]}",
        write_index=np.asarray(write_index, dtype=np.int64),
        versions=versions,
        initial=first,
        kind=_service_kind(svc),
        session_affinity_timeout=float(svc.session_affinity_timeout_s) if svc.session_affinity == "ClientIP" else None,
        internal_local=svc.internal_traffic_policy == "Local",
        external_local=svc.external_traffic_policy == "Local",
        traffic_distribution=svc.traffic_distribution,
        service_ports_total=max(1, ports_total),
    )


# CoreDNS answers headless lookups from its own EndpointSlice watch and caches them for its
# default TTL (5 s). Simplification: every client sees a change exactly this long after commit.
DNS_TTL_S = 5.0


def _proxy_history(key, stage, world, scenario, index) -> tuple[ServiceHistory, None]:
    svc_i = stage.services.index(key)
    rows = np.flatnonzero(stage.stream.service == svc_i)
    writes = [(int(w), stage.ops[w], stage.objects[w]) for w in rows]
    return build_history(key, writes, stage.initial.get(key), stage.kind, world, scenario, index), None


def _dns_history(key, cluster, stage, world, scenario, index) -> tuple[ServiceHistory, NodeProgramming]:
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
    return build_history(key, writes, merged, kind, world, scenario, index), programming


def pod_table(world: Any, index: _EndpointIndex) -> PodTable:
    pods = world.pods
    extra = len(index.extra_ips)
    node = np.array([p.node for p in pods] + [-1] * extra, dtype=np.int32)
    zone = np.where(node >= 0, world.nodes.zone[np.maximum(node, 0)], -1).astype(np.int16)
    # User-written endpoints (selector-less Services) are outside the cluster: always serving.
    serving_from = np.array([p.serving_from for p in pods] + [0.0] * extra, dtype=np.float64)
    serving_until = np.array([p.serving_until for p in pods] + [math.inf] * extra, dtype=np.float64)
    return PodTable(node=node, zone=zone, serving_from=serving_from, serving_until=serving_until)


def run_dataplane_stage(scenario: Any, cluster: Any, stage: Any) -> dict[str, TrafficResult]:
    world = cluster.world
    index = _EndpointIndex(world)
    programming = NodeProgramming(n_nodes=len(world.nodes), zone=world.nodes.zone, applied_at=stage.fleet.applied_at)
    histories: dict[tuple[str, str], tuple[ServiceHistory, NodeProgramming | None]] = {}
    for traffic in scenario.traffic:
        spec_svc = scenario.service(traffic.service)
        key = (spec_svc.namespace, spec_svc.name)
        if key not in histories:
            if world.services[key].headless:
                histories[key] = _dns_history(key, cluster, stage, world, scenario, index)
            else:
                histories[key] = _proxy_history(key, stage, world, scenario, index)
    pods = pod_table(world, index)
    kp = scenario.cluster.kube_proxy
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
        rng = component_rng(scenario.seed, f"dataplane/traffic/{i}/{key[0]}/{key[1]}")
        history, own_programming = histories[key]
        results[f"{i}:{key[0]}/{key[1]}"] = simulate_traffic(
            history, own_programming or programming, pods, spec, mode=kp.mode, ipvs_scheduler=kp.ipvs_scheduler, rng=rng
        )
    return results


def dataplane_section(results: dict[str, TrafficResult]) -> dict[str, Any]:
    """The summary's `dataplane` section: totals over every traffic entry, plus each one."""
    outcome = np.concatenate([r.outcome for r in results.values()]) if results else np.zeros(0, np.int8)
    fp = np.concatenate([r.first_packet_ms for r in results.values()]) if results else np.zeros(0)
    codes = np.bincount(outcome.astype(np.int64), minlength=len(OUTCOME_NAMES))
    ok = fp[(outcome == 0) & np.isfinite(fp)]
    failed = {OUTCOME_NAMES[c]: int(codes[c]) for c in FAILURE_CODES}
    per_service = {}
    for name, r in results.items():
        s = r.summary()
        per_service[name] = {
            "connections": int(s["connections"]),
            "dns_answers": int(s["dns_answers"]),
            "failed": s["failed"],
            "imbalance": {k: _num(v) for k, v in s["imbalance"].items()},
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
