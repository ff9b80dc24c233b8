"""A variant's run as the Prometheus metrics its cluster would have exported.

Names, labels and buckets are the upstream ones, so a dashboard or an alert written for a
real cluster reads the simulated one unchanged:

* kube-proxy (`pkg/proxy/metrics/metrics.go`): `kubeproxy_sync_proxy_rules_duration_seconds`,
  `kubeproxy_network_programming_duration_seconds`, and for iptables from v1.28 the
  full/partial split (`kubeproxy_sync_full_proxy_rules_duration_seconds`,
  `kubeproxy_sync_partial_proxy_rules_duration_seconds`, kubernetes/kubernetes#117787);
* kube-apiserver (`staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go`):
  `apiserver_request_total` for the controllers' writes, `apiserver_watch_events_total`
  (kubernetes/kubernetes#78732) and `apiserver_watch_events_sizes` (#80477).

Simplifications, named where they happen: every series is the sum over the fleet (one
kube-proxy per node, one or more apiserver replicas: no `instance` label); pod writes are
left out of `apiserver_request_total` (the run counts them, not their verbs).

Built from the summary and tables alone (in memory after a run, or read back from a
results directory), and written with prometheus-client's exposition code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from simk8s.proxy.metrics import (
    SYNC_DURATION_BUCKETS,
    bucket_counts,
    histogram_quantile,
)
from simk8s.watch import controller_watchers

METRICS_FILE = "metrics.prom"  # per variant, in the results directory (Prometheus text format)

# apiserver_watch_events_sizes: ExponentialBuckets(1024, 2, 8), 1 KiB … 128 KiB
WATCH_EVENT_SIZE_BUCKETS = 1024.0 * 2.0 ** np.arange(8)

# The watch kind of `cluster.kubeProxy.watch` and of `watchers[].kind` (simk8s.pipeline).
_WATCHED_KIND = {"EndpointSlices": "EndpointSlice", "Endpoints": "Endpoints", "Services": "Service"}
# kind → (API group, resource); the version depends on the release (see _group_version).
_RESOURCE = {
    "Endpoints": ("", "endpoints"),
    "EndpointSlice": ("discovery.k8s.io", "endpointslices"),
    "Service": ("", "services"),
}
# HTTP code of a rejected write: the apiserver's own body limit answers 413; an etcd error
# without a status of its own surfaces as an internal error (500).
_REJECTED_CODE = {"the request body is too large": "413"}


@dataclass
class VariantRun:
    """What the metrics are built from: one variant's summary, scenario and tables."""

    name: str
    summary: Mapping[str, Any]
    scenario: Any  # the variant's resolved simk8s.scenario.Scenario
    table: Callable[[str], pd.DataFrame | None]

    @classmethod
    def from_result(cls, result: Any) -> VariantRun:
        """From a VariantResult of this process (its tables are in memory)."""
        return cls(result.name, result.summary, result.scenario, result.tables.get)

    @classmethod
    def from_directory(cls, results: str | Path, variant: str, summary: Mapping[str, Any], scenario: Any) -> VariantRun:
        """From a results directory: `summary` is the variant's section of summary.json."""
        folder = Path(results) / variant
        cache: dict[str, pd.DataFrame | None] = {}

        def table(name: str) -> pd.DataFrame | None:
            if name not in cache:
                path = folder / f"{name}.parquet"
                cache[name] = pd.read_parquet(path) if path.is_file() else None
            return cache[name]

        return cls(variant, summary, scenario, table)


# --- the families --------------------------------------------------------------------------


def families(run: VariantRun) -> list[Metric]:
    """Every metric family of one variant, kube-proxy first."""
    return [*_kube_proxy(run), *_apiserver(run)]


def _histogram(name: str, doc: str, bounds: Iterable[float], cumulative: np.ndarray, total: float) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=[])
    les = [floatToGoString(b) for b in bounds] + ["+Inf"]
    family.add_metric([], list(zip(les, map(float, cumulative), strict=True)), float(total))
    return family


def _kube_proxy(run: VariantRun) -> Iterator[Metric]:
    syncs = run.table("syncs")
    if syncs is None:  # no kube-proxy stage in this run
        return
    kp = run.scenario.cluster.kube_proxy
    duration = (syncs["end"] - syncs["start"]).to_numpy(np.float64)
    yield _histogram("kubeproxy_sync_proxy_rules_duration_seconds",
                     "Seconds one sync of the proxy rules took (simulated, all nodes).",
                     SYNC_DURATION_BUCKETS, bucket_counts(duration, SYNC_DURATION_BUCKETS), duration.sum())
    if kp.mode == "iptables" and _release(run.scenario) >= (1, 28):
        full = syncs["full"].to_numpy(bool)
        for kind, mask in (("full", full), ("partial", ~full)):
            d = duration[mask]
            yield _histogram(f"kubeproxy_sync_{kind}_proxy_rules_duration_seconds",
                             f"Seconds one {kind} sync of the proxy rules took (simulated, all nodes).",
                             SYNC_DURATION_BUCKETS, bucket_counts(d, SYNC_DURATION_BUCKETS), d.sum())
    npl = run.table("network_programming_duration_seconds")
    if npl is not None:
        cumulative = npl["cumulative_count"].to_numpy(np.int64)
        finite = npl["le"].to_numpy(np.float64)[:-1]
        yield _histogram("kubeproxy_network_programming_duration_seconds",
                         "Seconds from an endpoint change (its trigger time) to its rules on a node "
                         "(simulated, all nodes).",
                         finite, cumulative, npl_sum(run, int(cumulative[-1])))


def _release(scenario: Any) -> tuple[int, int]:
    from simk8s.scenario.releases import parse_release

    return parse_release(scenario.cluster.kubernetes_version)


def _proxy_writes(run: VariantRun) -> pd.DataFrame | None:
    """The accepted writes every kube-proxy receives, in the order of the syncs table's
    write indices: the kind it watches, minus headless Services' objects (its informers
    filter `service.kubernetes.io/headless` out server-side)."""
    writes = run.table("writes")
    if writes is None:
        return None
    kind = _WATCHED_KIND[run.scenario.cluster.kube_proxy.watch]
    headless = {(s.namespace, s.name) for s in run.scenario.services if s.headless}
    accepted = writes[_accepted(writes)]
    keep = (accepted["kind"] == kind).to_numpy(bool, copy=True)
    if headless:
        pairs = zip(accepted["namespace"].astype(str), accepted["service"].astype(str), strict=True)
        keep &= np.array([p not in headless for p in pairs], dtype=bool)
    return accepted[keep]


def _accepted(writes: pd.DataFrame) -> np.ndarray:
    rejected = writes["rejected"].fillna("").astype(str)
    return (rejected == "").to_numpy(bool)


def npl_sum(run: VariantRun, count: int) -> float:
    """Σ of every network programming latency sample: for each sync, (its end − trigger
    time) over the writes it applied that carry a trigger time, as kube-proxy observes
    them (`pkg/proxy/metrics/metrics.go`). The run keeps the histogram's buckets but not
    its sum, so the sum is recomputed from the syncs and writes tables; NaN (an honest
    unknown) when the samples so found are not the histogram's `count`."""
    syncs, writes = run.table("syncs"), _proxy_writes(run)
    if syncs is None or writes is None:
        return math.nan
    trigger = writes["trigger_time"].to_numpy(np.float64)
    sampled = np.isfinite(trigger)
    n_before = np.concatenate(([0], np.cumsum(sampled)))
    t_before = np.concatenate(([0.0], np.cumsum(np.where(sampled, trigger, 0.0))))
    first, last = syncs["first_write"].to_numpy(np.int64), syncs["last_write"].to_numpy(np.int64)
    if last.size and int(last.max()) > trigger.size:
        return math.nan
    n = n_before[last] - n_before[first]
    if int(n.sum()) != count:
        return math.nan
    return float((syncs["end"].to_numpy(np.float64) * n).sum() - (t_before[last] - t_before[first]).sum())


def _apiserver(run: VariantRun) -> Iterator[Metric]:
    writes = run.table("writes")
    release = _release(run.scenario)
    if writes is not None and len(writes):
        requests = CounterMetricFamily(
            "apiserver_request", "Requests the apiserver answered (simulated controller writes of "
            "Endpoints, EndpointSlices and Services; pod writes left out).",
            labels=["code", "component", "group", "resource", "scope", "subresource", "verb", "version"])
        keys = pd.DataFrame({"kind": writes["kind"].astype(str), "op": writes["op"].astype(str),
                             "why": writes["rejected"].fillna("").astype(str)})
        # (kind, op, why) → writes
        counts: dict[tuple[str, str, str], int] = keys.value_counts(sort=False, dropna=False).to_dict()  # type: ignore[assignment]
        for (kind, op, why), n in sorted(counts.items()):
            if kind not in _RESOURCE:
                continue
            group, resource = _RESOURCE[kind]
            verb, scope, ok = {"create": ("POST", "namespace", "201"), "update": ("PUT", "resource", "200"),
                               "delete": ("DELETE", "resource", "200")}[op]
            code = ok if not why else _REJECTED_CODE.get(why, "500")
            requests.add_metric([code, "apiserver", group, resource, scope, "", verb, _version(kind, release)], float(n))
        yield requests
    section = run.summary.get("apiserver") or {}
    events = section.get("watch_events") or {}
    if events:
        total = CounterMetricFamily("apiserver_watch_events", "Watch events sent to clients (simulated).",
                                    labels=["group", "kind", "version"])
        for kind in sorted(events):
            if kind in _RESOURCE:
                total.add_metric([_RESOURCE[kind][0], kind, _version(kind, release)], float(events[kind]))
        yield total
        sizes = _watch_event_sizes(run, release, events, section.get("egress_bytes") or {})
        if sizes is not None:
            yield sizes


def _version(kind: str, release: tuple[int, int]) -> str:
    # discovery.k8s.io/v1 is served from 1.21 (KEP-752 GA); before it v1beta1.
    return "v1beta1" if kind == "EndpointSlice" and release < (1, 21) else "v1"


def _watch_event_sizes(run: VariantRun, release: tuple[int, int], events: Mapping[str, int],
                       egress: Mapping[str, int]) -> Metric | None:
    """Each accepted write sent to each watcher of its kind: kube-proxies get the protobuf
    encoding, other watchers the one they asked for. None when the events so counted are
    not the run's (then the histogram would mislead)."""
    writes = run.table("writes")
    if writes is None:
        return None
    accepted = writes[_accepted(writes)]
    sc = run.scenario
    proxy = _proxy_writes(run)
    proxy_rows = set(proxy["seq"].tolist()) if proxy is not None else set()
    nodes = sc.cluster.nodes
    extra: dict[str, list[tuple[int, str]]] = {}
    for w in sc.watchers:
        extra.setdefault(_WATCHED_KIND[w.kind], []).append((w.count, w.encoding))
    for cw in controller_watchers(sc.cluster.controller_manager):  # as the watch stage adds them
        extra.setdefault(cw.kind, []).append((cw.count, cw.encoding))
    family = HistogramMetricFamily("apiserver_watch_events_sizes", "Bytes of one watch event (simulated).",
                                   labels=["group", "kind", "version"])
    for kind in sorted(events):
        if kind not in _RESOURCE:
            continue
        of_kind = accepted[accepted["kind"] == kind]
        proto = of_kind["bytes_proto"].to_numpy(np.float64)
        json_ = of_kind["bytes_json"].to_numpy(np.float64)
        to_proxy = of_kind["seq"].isin(proxy_rows).to_numpy(bool)
        sizes = [proto[to_proxy]]
        weights = [np.full(int(to_proxy.sum()), float(nodes))]
        for count, encoding in extra.get(kind, []):
            sizes.append(proto if encoding == "protobuf" else json_)
            weights.append(np.full(len(of_kind), float(count)))
        size, weight = np.concatenate(sizes), np.concatenate(weights)
        if round(weight.sum()) != events[kind] or abs((size * weight).sum() - egress.get(kind, 0)) > 1 + 1e-9 * weight.sum():
            return None
        order = np.argsort(size, kind="stable")
        size, weight = size[order], weight[order]
        weight_before = np.concatenate(([0.0], np.cumsum(weight)))  # [i]: weight of the i smallest
        cumulative = np.append(weight_before[np.searchsorted(size, WATCH_EVENT_SIZE_BUCKETS, side="right")],
                               weight.sum())
        les = [floatToGoString(b) for b in WATCH_EVENT_SIZE_BUCKETS] + ["+Inf"]
        family.add_metric([_RESOURCE[kind][0], kind, _version(kind, release)],
                          list(zip(les, map(float, cumulative), strict=True)), float((size * weight).sum()))
    return family


# --- exposition and queries ------------------------------------------------------------------


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


def with_variant_label(runs: Mapping[str, list[Metric]]) -> list[Metric]:
    """Several variants in one exposition: each family once, its series labelled `variant`."""
    merged: dict[str, Metric] = {}
    for variant, fams in runs.items():
        for fam in fams:
            into = merged.setdefault(fam.name, Metric(fam.name, fam.documentation, fam.type, fam.unit))
            for s in fam.samples:
                into.add_sample(s.name, {"variant": variant, **s.labels}, s.value, s.timestamp, s.exemplar)
    return list(merged.values())


def exposition(metrics: list[Metric], *, openmetrics: bool = False) -> str:
    """The metrics in the Prometheus text format (0.0.4), or OpenMetrics 1.0 (`# EOF`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metrics))
    if openmetrics:
        from prometheus_client.openmetrics.exposition import generate_latest as om_latest

        return om_latest(registry).decode()
    from prometheus_client.exposition import generate_latest

    return generate_latest(registry).decode()


def sample_names(metrics: list[Metric]) -> list[str]:
    """Every name a check may use: family names (histograms) and their samples' names."""
    names = {m.name for m in metrics if m.type == "histogram"}
    names |= {s.name for m in metrics for s in m.samples}
    return sorted(names)


def metric_value(metrics: list[Metric], name: str, quantile: float | None = None,
                 labels: Mapping[str, str] | None = None) -> float | None:
    """A figure as a PromQL query would give it over the whole run: with `quantile`,
    histogram_quantile over the histogram's buckets (summed over the series matching
    `labels`); without, the sum of the matching samples (e.g. a `_count`, a counter).
    KeyError when no family has that name."""
    labels = dict(labels or {})

    def matches(sample_labels: Mapping[str, str]) -> bool:
        return all(sample_labels.get(k) == v for k, v in labels.items())

    if quantile is not None:
        fam = next((m for m in metrics if m.name == name and m.type == "histogram"), None)
        if fam is None:
            raise KeyError(name)
        by_le: dict[float, float] = {}
        for s in fam.samples:
            if s.name == f"{name}_bucket" and matches({k: v for k, v in s.labels.items() if k != "le"}):
                le = float(s.labels["le"])
                by_le[le] = by_le.get(le, 0.0) + s.value
        bounds = sorted(b for b in by_le if math.isfinite(b))
        if not by_le or by_le.get(math.inf, 0.0) == 0:
            return None
        cumulative = np.array([by_le[b] for b in bounds] + [by_le[math.inf]])
        return float(histogram_quantile(np.array(bounds), cumulative, quantile))
    found = [s for m in metrics for s in m.samples if s.name == name]
    if not found:
        raise KeyError(name)
    values = [s.value for s in found if matches(s.labels)]
    return float(sum(values)) if values else None


# --- results directories -----------------------------------------------------------------------


def runs_in_directory(results: str | Path, variant: str | None = None) -> dict[str, VariantRun]:
    """The variants of a results directory (or only `variant`), by name, in summary order.
    LookupError (one line) for a directory that is not one, or lacks the variant."""
    import json

    from simk8s.results.inspect import load_resolved_variant

    path = Path(results) / "summary.json"
    try:
        sections = json.loads(path.read_text())["variants"]
    except FileNotFoundError:
        raise LookupError(f"{results}: not a simk8s results directory (no summary.json)") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise LookupError(f"{path}: unreadable ({type(err).__name__})") from None
    if variant is not None and variant not in sections:
        raise LookupError(f"no variant {variant!r} in {results}; have {', '.join(map(str, sections))}")
    runs = {}
    for name in [variant] if variant is not None else list(sections):
        _, scenario = load_resolved_variant(results, name)
        runs[name] = VariantRun.from_directory(results, name, sections[name], scenario)
    return runs


def write_variant_metrics(folder: Path, result: Any) -> None:
    """The variant's `metrics.prom` beside its tables (called while a results directory is
    being written)."""
    (folder / METRICS_FILE).write_text(exposition(families(VariantRun.from_result(result))))


__all__ = [
    "METRICS_FILE",
    "VariantRun",
    "exposition",
    "families",
    "metric_value",
    "runs_in_directory",
    "sample_names",
    "with_variant_label",
    "write_variant_metrics",
]
