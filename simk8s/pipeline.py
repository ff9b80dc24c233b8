"""One scenario variant through every stage: cluster → watch → kube-proxy fleet → data path.

This is the Python API that the CLI and notebooks share: `run_variant(scenario)` returns a
`VariantResult` (tables + summary); `simk8s.results` writes and compares them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from simk8s.cluster.run import ClusterRun, run_cluster
from simk8s.gcpasses import fewer_gc_passes
from simk8s.results.summary import summarize
from simk8s.results.variant import VariantResult
from simk8s.small_pages import small_pages
from simk8s.watch import CacheSettings, FanOut, InitialObject, Watcher, controller_watchers, fan_out

Progress = Callable[[str, str, float, float], None]  # (variant, stage, simulated now, duration)

KIND_OF_WATCH = {"EndpointSlices": "EndpointSlice", "Endpoints": "Endpoints", "Services": "Service"}


def run_variant(
    scenario: Any,
    name: str = "base",
    *,
    progress: Callable[[str, float], None] | None = None,
    stages: tuple[str, ...] = ("cluster", "watch", "proxy", "dataplane"),
    cluster: ClusterRun | None = None,
    fanout: FanOut | None = None,
    shared_proxy: Any = None,
    cluster_tables: dict[str, Any] | None = None,
) -> VariantResult:
    """Run one resolved scenario. `stages` can stop early (e.g. control-plane benchmarks).

    `cluster`: a finished cluster stage to reuse. The SimPy world never reads kube-proxy or
    traffic settings, so variants that differ only there share one (see `cluster_key`).
    `fanout`: the watch stage of a variant with the same cluster and `watch_key`, to reuse.
    `shared_proxy`: that variant's proxy stage, whose change stream to reuse (`run_proxy_stage`).
    `cluster_tables`: the tables of a variant run on `cluster`, to reuse those read from it alone.
    """
    with fewer_gc_passes(), small_pages():
        return _run_stages(scenario, name, progress, stages, cluster, fanout, shared_proxy, cluster_tables)


def _run_stages(scenario, name, progress, stages, cluster, fanout, shared_proxy=None,
                cluster_tables=None) -> VariantResult:
    walls: dict[str, float] = {}
    t0 = time.perf_counter()
    if cluster is None:
        cluster = run_cluster(scenario, progress=(lambda now: progress("cluster", now)) if progress else None)
    elif progress:  # shared with an earlier variant: already done
        progress("cluster", scenario.duration)
    walls["cluster"] = time.perf_counter() - t0
    result = VariantResult(name=name, scenario=scenario, summary={}, cluster=cluster, stage_wall_s=walls)
    if "watch" in stages and cluster.exception is None:
        t0 = time.perf_counter()
        _stage_edge(progress, "watch", 0.0)
        result.fanout = fanout if fanout is not None else run_watch(scenario, cluster)
        _stage_edge(progress, "watch", scenario.duration)
        walls["watch"] = time.perf_counter() - t0
    if "proxy" in stages and result.fanout is not None:
        from simk8s.proxy.fleet_stage import run_proxy_stage

        t0 = time.perf_counter()
        _stage_edge(progress, "proxy", 0.0)
        result.fleet = run_proxy_stage(scenario, cluster, result.fanout, shared_proxy)
        _stage_edge(progress, "proxy", scenario.duration)
        walls["proxy"] = time.perf_counter() - t0
    if "dataplane" in stages and result.fleet is not None and scenario.traffic:
        from simk8s.dataplane.stage import run_dataplane_stage

        t0 = time.perf_counter()
        _stage_edge(progress, "dataplane", 0.0)
        result.traffic = run_dataplane_stage(scenario, cluster, result.fleet)
        _stage_edge(progress, "dataplane", scenario.duration)
        walls["dataplane"] = time.perf_counter() - t0
    result.summary, result.tables = summarize(result, cluster_tables)
    return result


def _stage_edge(progress: Callable[[str, float], None] | None, stage: str, now: float) -> None:
    """A stage's start (0) or end (the duration) for the progress bar; these stages report no
    simulated time as they go."""
    if progress is not None:
        progress(stage, now)


def cluster_key(scenario: Any) -> str:
    """What the cluster stage depends on: the resolved scenario minus kube-proxy, the network
    between zones and traffic."""
    import json

    from simk8s.scenario import resolved_dict

    doc = resolved_dict(scenario)
    doc.get("cluster", {}).pop("kubeProxy", None)
    doc.get("cluster", {}).pop("network", None)  # read after the run (simk8s/network/), never by the world
    for key in ("traffic", "watchers", "compare", "name", "description"):
        doc.pop(key, None)
    return json.dumps(doc, sort_keys=True, default=str)


def watch_key(scenario: Any) -> tuple:
    """What the watch stage reads of a scenario besides the cluster run (see `run_watch`)."""
    cl = scenario.cluster
    watchers = tuple((w.name, w.kind, w.count, w.encoding) for w in scenario.watchers)
    return (cl.nodes, cl.kube_proxy.watch, watchers, cl.apiserver.replicas, cl.apiserver.egress_bandwidth)


def run_watch(scenario: Any, cluster: ClusterRun) -> FanOut:
    cl = scenario.cluster
    watchers = [Watcher(w.name, KIND_OF_WATCH[w.kind], w.count, w.encoding) for w in scenario.watchers]
    watchers += controller_watchers(cl.controller_manager)
    restarts = tuple((ev.at, ev.apiserver_restart) for ev in scenario.events if ev.apiserver_restart is not None)
    api = cl.apiserver
    settings = CacheSettings(capacity=api.watch_cache_capacity or None, chan_size=api.watch_chan_size,
                             restarts=restarts)
    return fan_out(
        cluster.world.apiserver.log,
        n_nodes=cl.nodes,
        proxy_kind=KIND_OF_WATCH[cl.kube_proxy.watch],
        watchers=watchers,
        replicas=api.replicas,
        bandwidth=api.egress_bandwidth,
        # kube-proxy watches with `!service.kubernetes.io/headless`: headless objects never reach it.
        proxy_ignored=frozenset(k for k, svc in cluster.world.services.items() if svc.headless),
        initial=_initial_objects(scenario, cluster, {KIND_OF_WATCH[cl.kube_proxy.watch]} | {w.kind for w in watchers}),
        cache=dict.fromkeys(("Endpoints", "EndpointSlice", "Service"), settings),
        seed=scenario.seed,
        duration=scenario.duration,
    )


def _initial_objects(scenario: Any, cluster: ClusterRun, kinds: set[str]) -> list[InitialObject]:
    """What a LIST returns before any write: the objects of `kinds` (those watched: the
    fan-out reads no other) that exist at t = 0. Sizing them is the cost (scale-150k: 10,000
    Services no one watches took ~0.4 s)."""
    from simk8s.api.sizes import wire_sizes

    out = []
    for kind, objs in cluster.initial_objects.items():
        if kind not in kinds:
            continue
        for o in objs:
            wire = wire_sizes(o)
            service = o.name if kind == "Endpoints" else getattr(o, "service_name", o.name)
            out.append(InitialObject(kind, o.namespace, o.name, service, wire.stored, wire.json))
    return out + [o for o in _background_objects(scenario) if o.kind in kinds]


def _background_objects(scenario: Any) -> list[InitialObject]:
    """`background:` Services have no objects in the cluster stage, but a LIST returns
    theirs. Simplification: each is sized as one representative Endpoints and one
    EndpointSlice with `endpointsPerService` ready pods (a made-up pod name, IP and node)."""
    from simk8s.api.objects import (
        Endpoint,
        EndpointAddress,
        EndpointPort,
        Endpoints,
        EndpointSlice,
        EndpointSubset,
        ObjectReference,
    )
    from simk8s.api.sizes import wire_sizes

    bg = scenario.background
    if bg.services == 0:
        return []
    n = bg.endpoints_per_service
    refs = [ObjectReference("Pod", "default", f"background-0000-7d9c8b6f5d-{i:05d}", f"{i:08d}-0000-4000-8000-000000000000")
            for i in range(n)]
    ips = [f"10.{64 + i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(n)]
    port = (EndpointPort(8080, "http"),)
    ep = Endpoints(name="background-0000", subsets=(EndpointSubset(
        addresses=tuple(EndpointAddress(ip, f"node-{i}", refs[i]) for i, ip in enumerate(ips)), ports=port),))
    sl = EndpointSlice(name="background-0000-x7k2p", labels=(("kubernetes.io/service-name", "background-0000"),),
                       owner_name="background-0000", endpoints=tuple(
                           Endpoint((ip,), target_ref=refs[i], node_name=f"node-{i}", zone="a") for i, ip in enumerate(ips)),
                       ports=port)
    out = []
    for kind, obj in (("Endpoints", ep), ("EndpointSlice", sl)):
        wire = wire_sizes(obj)
        out += [InitialObject(kind, "background", f"background-{i}", f"background-{i}", wire.stored, wire.json)
                for i in range(bg.services)]
    return out


def cluster_groups(variants: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    """Variants grouped by the cluster run they can share (`cluster_key`), in first-seen order."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    for name, sc in variants:
        groups.setdefault(cluster_key(sc), []).append((name, sc))
    return list(groups.values())


def run_group(group: list[tuple[str, Any]], progress: Progress | None = None) -> list[VariantResult]:
    """Every variant of one group, the first one running the shared cluster stage; variants
    that watch alike (`watch_key`) share one watch stage too (its result is read-only)."""
    results: list[VariantResult] = []
    watched: dict[tuple, VariantResult] = {}  # first variant of each watch_key
    for name, sc in group:
        result = _run_member(name, sc, progress, results[0] if results else None, watched.get(watch_key(sc)))
        if result.fanout is not None:
            watched.setdefault(watch_key(sc), result)
        results.append(result)
    return results


def run_after_first(first: VariantResult, name: str, sc: Any, progress: Progress | None = None) -> VariantResult:
    """One more variant of `first`'s group, sharing its cluster run (and its watch stage
    when they watch alike): what `run_group` does for it, without the variants between."""
    watched = first if watch_key(sc) == watch_key(first.scenario) else None
    return _run_member(name, sc, progress, first, watched)


def _run_member(name: str, sc: Any, progress: Progress | None, first: VariantResult | None,
                watched: VariantResult | None) -> VariantResult:
    """`first`: the group's first variant (its cluster run and cluster tables are reused);
    `watched`: a finished variant of this cluster run that watches alike (its watch stage and
    its change stream are reused)."""
    cb = (lambda stage, now, _n=name, _d=sc.duration: progress(_n, stage, now, _d)) if progress else None
    if first is None:
        return run_variant(sc, name, progress=cb)
    return run_variant(
        sc, name, progress=cb, cluster=first.cluster, cluster_tables=first.tables,
        fanout=watched.fanout if watched else None, shared_proxy=watched.fleet if watched else None,
    )


__all__ = ["VariantResult", "cluster_groups", "fewer_gc_passes", "run_after_first", "run_group", "run_variant", "run_watch"]
