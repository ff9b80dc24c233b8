"""Stage 3: the kube-proxy on every node, fed by the watch stage.

Builds the change stream (writes of the kind kube-proxy watches, with the per-node arrival
times from the fan-out), runs the vectorized fleet with the calibrated cost model, and
reports the `kube_proxy` and `network_programming_latency_s` summary sections.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simk8s.proxy import cost as cost_model
from simk8s.proxy.changetracker import track_trigger_times
from simk8s.proxy.fleet import ChangeStream, FleetConfig, FleetResult, run_fleet
from simk8s.proxy.metrics import NPL_BUCKETS
from simk8s.proxy.rulecount import iptables_totals, ipvs_totals, nftables_totals
from simk8s.proxy.stream import MergedEndpoints, initial_merged, service_key_of
from simk8s.rng import component_rng
from simk8s.watch.fanout import FanOut


@dataclass
class ProxyStage:
    fleet: FleetResult
    stream: ChangeStream
    services: list[tuple[str, str]]  # dynamic service keys, index = ChangeStream.service
    objects: list[Any]  # object written by each stream write
    ops: list[str]
    kind: str
    initial: dict[tuple[str, str], MergedEndpoints]
    initial_objects: list[Any] = field(default_factory=list)  # watched objects existing at t=0
    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    stream_parts: Any = None  # _StreamParts, for another variant's `run_proxy_stage(shared=)`


def make_cost_fn(mode: str, *, params: Any = None, release: tuple[int, int] = cost_model.nftables.NEWEST):
    """Adapt the calibrated cost model (simk8s.proxy.cost) to the fleet's batch interface.

    `release` (cluster.kubernetesVersion) picks what an nftables sync writes and lists
    (simk8s/proxy/cost/nftables.py). Simplification: every Service has one port. iptables
    needs the fleet's ``cleanup=`` flag (FleetConfig.cleanup_period set): whether the sync
    runs the stale-chain iptables-save, on the schedule of iptables `syncProxyRules`
    (kubernetes/kubernetes#110334).
    """

    def cost(full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed,
             endpoint_changes=None, cleanup=None):
        if mode == "iptables" and cleanup is None:
            raise ValueError("the iptables cost needs the fleet's cleanup flag: set FleetConfig.cleanup_period")
        out = np.empty(len(full), dtype=np.float64)
        diff = changed_endpoints if endpoint_changes is None else endpoint_changes
        full = np.asarray(full, bool)
        any_full = bool(full.any())
        parts: list[tuple[str, Any]] = [("full", full), ("partial", ~full)]
        if not any_full or full.all():  # one kind (the usual step): no per-kind copies
            parts = [("full" if any_full else "partial", slice(None))] if len(full) else []
        for kind, mask in parts:
            if mode == "iptables":
                out[mask] = cost_model.iptables_sync_seconds(
                    kind, total_services[mask], total_endpoints[mask], 0, changed_services[mask],
                    changed_endpoints[mask], cleanup=np.asarray(cleanup, bool)[mask], speed=speed[mask],
                    params=params,
                )
            elif mode == "ipvs":
                # Every IPVS sync reads every virtual server and real server back; it writes
                # netlink operations for the difference only. Simplification: weight-0 real
                # servers in graceful termination are not counted (n_terminating = 0).
                out[mask] = cost_model.ipvs_sync_seconds(
                    kind, total_services[mask], total_endpoints[mask], changed_services[mask], diff[mask],
                    speed=speed[mask], params=params,
                )
            else:
                written = (cost_model.written_endpoints(changed_endpoints[mask], diff[mask], release)
                           if kind == "partial" else changed_endpoints[mask])
                out[mask] = cost_model.nftables_sync_seconds(
                    kind, total_services[mask], total_endpoints[mask], changed_services[mask],
                    written, release=release, speed=speed[mask], params=params,
                )
        return out

    return cost


@dataclass(frozen=True)
class _StreamParts:
    """What `build_stream` derives from the watch stage, for variants to share: it depends
    on the fan-out and on `key` only (not on the cost model, the runner or the node speeds)."""

    key: tuple
    fanout: FanOut  # the watch stage it was built from (compared by identity)
    stream: ChangeStream  # endpoint_delta always filled; dropped below where unused
    services: list[tuple[str, str]]
    objects: list[Any]
    ops: list[str]
    init: dict


def _stream_key(scenario: Any, kind: str) -> tuple:
    # The walk diffs legacy Endpoints only for IPVS/nftables (MergedEndpoints.apply); a
    # restart at t = 0 changes which trigger times count (track_trigger_times).
    diff = scenario.cluster.kube_proxy.mode != "iptables"
    return (kind, diff or kind != "Endpoints", scenario.cluster.kube_proxy.restart_at_start)


def build_stream(scenario: Any, cluster: Any, fanout: FanOut,
                 shared: _StreamParts | None = None) -> tuple[ChangeStream, list, list, list, dict]:
    """The change stream kube-proxy consumes. `shared`: parts built by another variant of the
    same cluster run, reused when they came from this fan-out with the same `_stream_key`."""
    parts = shared if shared is not None and _reusable(shared, scenario, fanout) else \
        _stream_parts(scenario, cluster, fanout)
    diff = scenario.cluster.kube_proxy.mode != "iptables"  # only IPVS/nftables cost by the diff
    stream = parts.stream if diff else dataclasses.replace(parts.stream, endpoint_delta=None)
    return stream, parts.services, parts.objects, parts.ops, {**parts.init, "parts": parts}


def _reusable(parts: _StreamParts, scenario: Any, fanout: FanOut) -> bool:
    return parts.fanout is fanout and parts.key == _stream_key(scenario, fanout.proxy_kind)


def _stream_parts(scenario: Any, cluster: Any, fanout: FanOut) -> _StreamParts:
    world = cluster.world
    kind = fanout.proxy_kind
    key = _stream_key(scenario, kind)
    services = list(world.services)
    index = {k: i for i, k in enumerate(services)}
    writes = fanout.writes
    rows = np.flatnonzero(fanout.to_proxy)
    seqs = writes["seq"].to_numpy()[rows] if len(rows) else np.zeros(0, np.int64)
    objects = [world.apiserver.objects[int(s)] for s in seqs]
    ops = list(writes["op"].to_numpy()[rows]) if len(rows) else []
    initial = initial_merged(
        [o for o in cluster.initial_objects.get(kind, []) if not world.services[service_key_of(kind, o)].headless], kind
    )
    state = {k: initial[k].copy() if k in initial else MergedEndpoints() for k in services}
    svc_idx = np.zeros(len(rows), dtype=np.int32)
    after = np.zeros(len(rows), dtype=np.int32)
    delta = np.zeros(len(rows), dtype=np.int32)
    diff = key[1]
    for i, obj in enumerate(objects):
        service = service_key_of(kind, obj)
        svc_idx[i] = index[service]
        delta[i] = state[service].apply(kind, ops[i], obj, diff=diff)
        after[i] = state[service].ready_count()
    # Which writes queue a trigger time in kube-proxy's change tracker, which erase the queue;
    # a kube-proxy restarted at t = 0 ignores times from before its tracker started.
    tracked = track_trigger_times(
        kind, ops, objects,
        writes["trigger_time"].to_numpy(np.float64)[rows] if len(rows) else np.zeros(0),
        cluster.initial_objects.get(kind, []),
        tracker_start=0.0 if key[2] else -math.inf,
    )  # fmt: skip
    stream = ChangeStream(
        commit_time=writes["time"].to_numpy(np.float64)[rows] if len(rows) else np.zeros(0),
        trigger_time=tracked.trigger_time,
        service=svc_idx,
        service_endpoints=after,
        arrival=fanout.arrival_fn(rows),
        endpoint_delta=delta,
        drops_triggers=tracked.drops,
    )
    initial_counts = np.array(
        [initial[k].ready_count() if k in initial else 0 for k in services], dtype=np.int32
    )
    return _StreamParts(key, fanout, stream, services, objects, ops,
                        {"initial": initial, "initial_counts": initial_counts})


def run_proxy_stage(scenario: Any, cluster: Any, fanout: FanOut, shared: ProxyStage | None = None) -> ProxyStage:
    """`shared`: the proxy stage of another variant of this cluster run, whose change stream
    this one reuses if it came from the same watch stage (see `build_stream`)."""
    kp = scenario.cluster.kube_proxy
    n = scenario.cluster.nodes
    stream, services, objects, ops, init = build_stream(
        scenario, cluster, fanout, shared.stream_parts if shared is not None else None
    )
    params = cost_model.params_for_machine(kp.machine)  # published, or a host profile (docs/host-calibration.md)
    rng = component_rng(scenario.seed, "kube-proxy/node-speed")
    speed = rng.lognormal(0.0, kp.node_speed_spread, size=n) if kp.node_speed_spread > 0 else np.ones(n)
    config = fleet_config(scenario, init["initial_counts"], speed, float(params[kp.mode]["cpu_fraction"]))
    cost_fn = make_cost_fn(kp.mode, params=params, release=_release(scenario.cluster.kubernetes_version))
    fleet = run_fleet(stream, config, cost_fn)
    stage = ProxyStage(
        fleet, stream, services, objects, ops, fanout.proxy_kind, init["initial"],
        initial_objects=list(cluster.initial_objects.get(fanout.proxy_kind, [])),
        stream_parts=init["parts"],
    )
    ports = _proxied_ports(cluster.world, services)
    stage.summary = _summary(scenario, fleet, stream, config, init["initial_counts"], ports)
    stage.tables = _tables(fleet, config.warm_start, cluster.world.nodes.names)
    return stage


def _release(version: str) -> tuple[int, int]:
    """"1.36" (already validated by the scenario loader) → (1, 36)."""
    major, minor = str(version).split(".")[:2]
    return int(major), int(minor)


def fleet_config(scenario: Any, initial_counts: np.ndarray, speed: np.ndarray, cpu_fraction: float) -> FleetConfig:
    """The fleet's settings from the scenario's kube-proxy settings and feature gates (their
    release defaults already filled in by `cluster.kubernetesVersion`)."""
    kp = scenario.cluster.kube_proxy
    gates = scenario.cluster.feature_gates
    n = scenario.cluster.nodes
    bg = scenario.background
    # The runner's maxInterval: iptables forces a sync every fullSyncPeriod (time.Hour before
    # v1.33, kubernetes/kubernetes#81517, which is also what `fullSyncPeriod: never` keeps);
    # IPVS/nftables every syncPeriod (their NewProxier).
    if kp.mode == "iptables":
        max_interval = kp.full_sync_period if math.isfinite(kp.full_sync_period) else 3600.0
        partial_syncs = gates.minimize_iptables_restore  # KEP-3453
    else:
        max_interval = kp.sync_period
        partial_syncs = kp.nftables_partial_syncs if kp.mode == "nftables" else True  # #126013
    return FleetConfig(
        n_nodes=n,
        mode=kp.mode,
        runner=kp.runner,
        min_sync_period=kp.min_sync_period,
        max_interval=max_interval,
        full_sync_period=kp.full_sync_period,
        end_time=scenario.duration,
        static_services=bg.services,
        static_endpoints=bg.services * bg.endpoints_per_service,
        initial_service_endpoints=initial_counts,
        node_speed=speed,
        cpu_per_sync_second=cpu_fraction,
        warm_start=not kp.restart_at_start,
        # A running cluster: each node's last full sync lies somewhere in the last period.
        initial_last_full=-component_rng(scenario.seed, "kube-proxy/full-sync-phase").uniform(
            0.0, kp.full_sync_period, size=n
        )
        if math.isfinite(kp.full_sync_period)
        else None,  # never: no phase to draw
        # iptables only: stale-chain cleanup every sync, or once per syncPeriod in
        # large-cluster mode (kubernetes/kubernetes#110334). Running cluster: each node's last cleanup lies somewhere
        # in the last syncPeriod (as if its kube-proxy had been syncing steadily before t = 0).
        cleanup_period=kp.sync_period if kp.mode == "iptables" else None,
        large_cluster_endpoints=kp.large_cluster_endpoints_threshold,
        initial_last_cleanup=-component_rng(scenario.seed, "kube-proxy/cleanup-phase").uniform(
            0.0, kp.sync_period, size=n
        ),
        large_cluster_cleanup_pacing=kp.large_cluster_cleanup_pacing,
        partial_syncs=partial_syncs,
        large_cluster_skips_full_sync=kp.large_cluster_skips_full_sync and kp.mode == "iptables",
    )


def _proxied_ports(world: Any, services: list[tuple[str, str]]) -> np.ndarray:
    """Service ports kube-proxy programs, per stream Service: none for headless Services
    (filtered out of its watch) and ExternalName ones (a DNS name, no rules)."""
    return np.array(
        [
            0 if svc.headless or svc.type == "ExternalName" else len(svc.ports)
            for svc in (world.services[k] for k in services)
        ],
        dtype=np.int64,
    )


def _max_endpoints(stream: ChangeStream, initial_counts: np.ndarray, ports: np.ndarray) -> int:
    """Most (endpoint, port) pairs programmed at once: each ready endpoint gets a chain per
    port of its Service. Simplification: every port of a Service has the same endpoints."""
    counts = initial_counts.astype(np.int64).copy()
    best = int((counts * ports).sum())
    total = best
    for s, e in zip(stream.service.tolist(), stream.service_endpoints.tolist(), strict=True):
        total += int(ports[s]) * (e - counts[s])
        counts[s] = e
        best = max(best, int(total))
    return best


def _summary(
    scenario: Any, fleet: FleetResult, stream: ChangeStream, config: FleetConfig, initial_counts, ports: np.ndarray
) -> dict:
    mode = scenario.cluster.kube_proxy.mode
    services = config.static_services + int(ports.sum())  # proxied service ports
    endpoints = config.static_endpoints + _max_endpoints(stream, initial_counts, ports)
    if mode == "iptables":
        # localhost NodePorts on: kube-proxy's default for IPv4, and what `simk8s rules` renders
        counts = iptables_totals(services, endpoints, localhost_nodeports=True)
        rules = int(np.asarray(counts.filter_rules) + np.asarray(counts.nat_rules))
    elif mode == "ipvs":
        ipvs = ipvs_totals(services, endpoints)
        rules = int(ipvs["virtual_servers"] + ipvs["real_servers"])
    else:
        rules = int(nftables_totals(services, endpoints, release=_release(scenario.cluster.kubernetes_version))["rules"])
    c = fleet.counters
    # The t = 0 sync is either a restart's full sync (restartAtStart) or, for kube-proxies
    # already running, a zero-cost runner initialization: reported apart, not in the percentiles.
    syncs = fleet.syncs
    durations = syncs.end - syncs.start
    startup = syncs.start == 0.0
    warm = config.warm_start
    later = durations[~startup]
    sync = {
        "p50": float(np.percentile(later, 50, method="inverted_cdf")) if later.size else None,
        "p99": float(np.percentile(later, 99, method="inverted_cdf")) if later.size else None,
        "max": float(later.max()) if later.size else None,
    }
    npl = fleet.npl_summary()
    return {
        "kube_proxy": {
            "syncs": int(c.syncs - (int(startup.sum()) if warm else 0)),
            "full_syncs": int(c.full_syncs),
            "periodic_syncs": int(c.periodic_syncs),
            # iptables: syncs that ran the stale-chain iptables-save (none at the warm t = 0)
            **({"cleanup_syncs": int(c.cleanup_syncs)} if c.cleanup_syncs is not None else {}),
            "sync_seconds": {"p50": _r(sync.get("p50")), "p99": _r(sync.get("p99")), "max": _r(sync.get("max"))},
            "startup_sync_seconds": {"p50": _r(np.median(durations[startup])) if startup.any() and not warm else None},
            "cpu_seconds_total": _r(c.cpu_seconds),
            "rules_max": rules,
        },
        "network_programming_latency_s": {
            "p50": _r(npl.get("p50")),
            "p90": _r(npl.get("p90")),
            "p99": _r(npl.get("p99")),
            "max": _r(npl.get("max")),
            "samples": int(fleet.npl.count),
        },
    }


def _r(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if not np.isfinite(x) else round(x, 6)


def _tables(fleet: FleetResult, warm: bool, node_names: list[str]) -> dict[str, pd.DataFrame]:
    """The syncs table (the summary's syncs, one row each: a warm start's zero-length t = 0
    runner initialization is left out, as in the summary) with node names as `simk8s rules
    --node` takes them, and kube-proxy's NPL histogram."""
    table = fleet.syncs
    keep = table.start != 0.0 if warm else slice(None)  # filtered as arrays: no frame copies
    node = table.node[keep]
    syncs = pd.DataFrame(
        {
            "node": node,
            "node_name": pd.Categorical.from_codes(node, categories=pd.Index(node_names)),
            **{name: getattr(table, name)[keep] for name in table.COLUMNS if name != "node"},
        },
        copy=False,
    )
    cumulative = fleet.npl_prometheus()
    npl = pd.DataFrame(
        {
            "le": [*map(float, NPL_BUCKETS), float("inf")],
            "cumulative_count": np.asarray(cumulative, dtype=np.int64),
        }
    )
    return {"syncs": syncs, "network_programming_duration_seconds": npl}
