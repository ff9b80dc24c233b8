"""The summary contract (README, docs/architecture.md): per variant, a JSON-able dict of named figures.

Figure names are a public interface; change them only with a documented migration.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from simk8s.cluster.apiserver import writes_frame
from simk8s.results.variant import VariantResult

OBJECT_KINDS = ("Endpoints", "EndpointSlice", "Service")


def _num(x: float) -> float | None:
    """JSON has no inf/NaN: report them as null."""
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, 6)


def summarize(result: VariantResult, earlier: dict[str, pd.DataFrame] | None = None
              ) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """(summary, tables) of a finished variant; the network figures are computed once for
    both. `earlier`: the tables of another variant of the same cluster run (reused where they
    depend on the cluster run alone)."""
    network = None
    if result.fanout is not None:
        from simk8s.network.summary import network_figures

        network = network_figures(result)
    return build_summary(result, network), build_tables(result, network, earlier)


def build_summary(result: VariantResult, network: Any = None) -> dict[str, Any]:
    """`network`: the variant's NetworkFigures, if already computed."""
    cluster = result.cluster
    assert cluster is not None
    api = cluster.world.apiserver
    summary: dict[str, Any] = {
        "sim": {
            "end_time_s": _num(cluster.end_time),
            "events": cluster.events,
            "wall_s": round(sum(result.stage_wall_s.values()), 3),
            "exception": cluster.exception,
        },
        "rollout": _rollout_section(cluster.rollouts),
        "apiserver": _apiserver_section(api.log, result.fanout, api),
    }
    if result.fanout is not None and result.fanout.stats is not None:
        summary["watch"] = _watch_section(result.fanout)
    if result.fleet is not None:
        summary["kube_proxy"] = result.fleet.summary["kube_proxy"]
        summary["network_programming_latency_s"] = result.fleet.summary["network_programming_latency_s"]
    if result.traffic:
        from simk8s.dataplane.stage import dataplane_section

        summary["dataplane"] = dataplane_section(result.traffic)
    if result.fanout is not None:
        from simk8s.network.summary import network_figures

        network = network or network_figures(result)
        summary["network"] = network.section  # bytes and price by zone pair
        if network.outage is not None:
            summary["zone_outage"] = network.outage
    return summary


def _rollout_section(rollouts: pd.DataFrame) -> dict[str, Any]:
    if rollouts.empty:
        return {"duration_s": None, "count": 0, "completed": 0, "max_pods": None, "min_available": None}
    done = rollouts[np.isfinite(rollouts["end_s"])]
    return {
        "duration_s": _num(rollouts["duration_s"].max()),
        "count": len(rollouts),
        "completed": len(done),
        "max_pods": int(rollouts["max_pods"].max()),
        "min_available": int(rollouts["min_available"].min()),
    }


def _apiserver_section(log: list, fanout: Any, api: Any) -> dict[str, Any]:
    writes = dict.fromkeys(OBJECT_KINDS, 0)
    rejected = dict.fromkeys(OBJECT_KINDS, 0)
    max_bytes = dict.fromkeys(OBJECT_KINDS, 0)
    for rec in log:
        if rec.rejected:
            rejected[rec.kind] = rejected.get(rec.kind, 0) + 1
        else:
            writes[rec.kind] = writes.get(rec.kind, 0) + 1
        max_bytes[rec.kind] = max(max_bytes.get(rec.kind, 0), rec.bytes_proto)
    writes["Pod"] = int(sum(api.pod_writes.values()))
    first = next((r for r in log if r.rejected), None)
    watch_events: dict[str, int] = dict.fromkeys(OBJECT_KINDS, 0)
    egress_bytes: dict[str, int] = dict.fromkeys(OBJECT_KINDS, 0)
    per_write: dict[str, int | None] = dict.fromkeys(OBJECT_KINDS)
    section: dict[str, Any] = {
        "writes": writes,
        "rejected_writes": rejected,
        "watch_events": watch_events,
        "egress_bytes": egress_bytes,
        "max_object_bytes": max_bytes,
        # The first write etcd (or the body limit) refused: when, what, and how big it was.
        "first_rejection": None
        if first is None
        else {
            "time_s": _num(first.time),
            "kind": first.kind,
            "name": first.name,
            "endpoints": first.endpoints,
            "bytes_proto": first.bytes_proto,
            "bytes_json": first.bytes_json,
            "error": first.rejected,
        },
    }
    section["egress_bytes_per_write"] = per_write
    if fanout is not None:
        for k, v in fanout.events.items():
            watch_events[k] = int(v)
        for k, v in fanout.egress_bytes.items():
            egress_bytes[k] = int(v)
            # One write's fan-out to every watcher (the "1.5 MB × 3000 nodes" figure).
            per_write[k] = int(v // writes[k]) if writes.get(k) else None
    return section


def _watch_section(fanout: Any) -> dict[str, Any]:
    """Watchers cut off, relists and their cost (simk8s/watch/; metric names as the
    apiserver exports them where one exists)."""
    st = fanout.stats
    gap = st.node_gap_s
    cut = gap[gap > 0]
    series = fanout.egress_series
    per_s = series.groupby("replica")["bytes"].max() if len(series) else pd.Series(dtype=float)
    return {
        "apiserver_terminated_watchers_total": dict(st.terminated),
        "relists": dict(st.relists),
        "relist_bytes": int(st.relist_bytes),
        # seconds each node's kube-proxy had no watch (cut off until re-watched or re-listed)
        "node_watch_gap_s": {
            "nodes": int(cut.size),
            "p50": _num(np.percentile(cut, 50, method="inverted_cdf")) if cut.size else None,
            "p99": _num(np.percentile(cut, 99, method="inverted_cdf")) if cut.size else None,
            "max": _num(cut.max()) if cut.size else None,
            "node_seconds": _num(gap.sum()),
        },
        "apiserver_watch_cache_capacity_max": dict(st.cache_capacity_max),
        "watch_cache_event_bytes_max": dict(st.cache_bytes_max),
        "apiserver_cpu_seconds": {"serialization": _num(st.cpu_serialization_s), "list": _num(st.cpu_list_s)},
        "dispatch_blocked_s": _num(st.blocked_s),
        "events_queued_per_watcher_max": int(st.queued_max),
        "egress_bytes_per_s_max": _num(per_s.max()) if len(per_s) else None,
    }


# Tables read from the cluster run alone: variants sharing one share these (never modified).
CLUSTER_TABLES = ("pods", "rollouts", "deployment_history", "writes")


def build_tables(result: VariantResult, network: Any = None,
                 earlier: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """`network`: as for `build_summary`; `earlier`: as for `summarize`."""
    cluster = result.cluster
    assert cluster is not None
    if earlier is not None and all(name in earlier for name in CLUSTER_TABLES):
        tables = {name: earlier[name] for name in CLUSTER_TABLES}
    else:
        tables = {"pods": cluster.pods, "rollouts": cluster.rollouts}
        tables["deployment_history"] = pd.DataFrame(
            [(d.name, *row) for d in cluster.world.deployments.values() for row in d.history],
            columns=["workload", "t_s", "active", "available", "terminating"],
        )
        tables["writes"] = writes_frame(cluster.world.apiserver.log)
    if result.fanout is not None:
        tables["egress"] = result.fanout.egress_series
    if result.fleet is not None:
        tables.update(result.fleet.tables)
    if result.traffic:
        from simk8s.dataplane.stage import dataplane_tables

        tables.update(dataplane_tables(result.traffic))
    if result.fanout is not None:
        from simk8s.network.summary import network_figures

        tables["zone_traffic"] = (network or network_figures(result)).zone_traffic
    return tables
