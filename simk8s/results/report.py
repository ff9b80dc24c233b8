"""The side-by-side comparison printed after a run (and usable from notebooks)."""

from __future__ import annotations

from typing import Any

import pandas as pd

# (section, figure path, label, format)
ROWS: list[tuple[str, str, str]] = [
    ("rollout.duration_s", "rollout/scale duration", "{:.1f} s"),  # the longest one
    ("apiserver.writes.Endpoints", "Endpoints writes", "{:,.0f}"),
    ("apiserver.writes.EndpointSlice", "EndpointSlice writes", "{:,.0f}"),
    ("apiserver.rejected_writes.Endpoints", "Endpoints writes rejected", "{:,.0f}"),
    ("apiserver.max_object_bytes.Endpoints", "largest Endpoints write (proto)", "{:,.0f} B"),  # refused ones too
    ("apiserver.max_object_bytes.EndpointSlice", "largest EndpointSlice write (proto)", "{:,.0f} B"),
    ("apiserver.watch_events.@proxy", "watch events (kube-proxy's kind, all watchers)", "{:,.0f}"),
    ("apiserver.egress_bytes.@proxy", "apiserver egress (kube-proxy's kind)", "bytes"),
    ("apiserver.egress_bytes_per_write.@proxy", "  per write (all watchers)", "bytes"),
    # the watch cache: watchers cut off, and what coming back cost (simk8s/watch/)
    ("watch.apiserver_terminated_watchers_total.kube-proxy", "kube-proxy watches closed (too slow)", "{:,.0f}"),
    ("watch.relists.kube-proxy", "kube-proxy relists", "{:,.0f}"),
    ("watch.relist_bytes", "  relist bytes (all watchers)", "bytes"),
    ("watch.node_watch_gap_s.p50", "  time a node had no watch, p50", "{:.1f} s"),
    ("kube_proxy.syncs", "kube-proxy syncs (all nodes)", "{:,.0f}"),
    ("kube_proxy.full_syncs", "  of which full", "{:,.0f}"),
    ("kube_proxy.sync_seconds.p50", "sync duration p50", "{:.3f} s"),
    ("kube_proxy.sync_seconds.p99", "sync duration p99", "{:.3f} s"),
    ("kube_proxy.cpu_seconds_total", "kube-proxy CPU (all nodes)", "{:,.0f} s"),
    ("kube_proxy.rules_max", "rules per node (max)", "{:,.0f}"),
    ("network_programming_latency_s.p50", "programming latency p50", "{:.2f} s"),
    ("network_programming_latency_s.p90", "programming latency p90", "{:.2f} s"),
    ("network_programming_latency_s.p99", "programming latency p99", "{:.2f} s"),
    ("dataplane.connections", "connections", "{:,.0f}"),
    ("dataplane.failed_total", "connections failed", "{:,.0f}"),
    ("dataplane.failed.failed-pod-gone", "  to a pod already gone", "{:,.0f}"),
    ("dataplane.failed.failed-not-serving", "  to a pod not yet serving", "{:,.0f}"),
    ("dataplane.failed.refused", "  refused (no endpoints)", "{:,.0f}"),
    ("dataplane.failed.dropped-no-local-endpoints", "  dropped (no local endpoint)", "{:,.0f}"),
    ("dataplane.dns_answers", "DNS answers (ExternalName)", "{:,.0f}"),
    ("dataplane.imbalance.max_over_mean", "backend load max/mean", "{:.2f}"),
    ("dataplane.first_packet_ms.p50", "first packet p50", "{:.3f} ms"),
    ("dataplane.first_packet_ms.p99", "first packet p99", "{:.3f} ms"),
    ("dataplane.first_packet_rules_ms.p50", "  of which kube-proxy's rules, p50", "{:.3f} ms"),
    ("dataplane.first_packet_rules_ms.p99", "  of which kube-proxy's rules, p99", "{:.3f} ms"),
    # the network between zones (simk8s/network/)
    ("network.watch.cross_zone_bytes", "cross-zone watch bytes", "bytes"),
    ("network.client.cross_zone_share", "cross-zone connections", "{:.1%}"),
    ("network.client.cross_zone_bytes", "cross-zone client bytes", "bytes"),
    ("network.cross_zone_usd", "cross-zone price", "${:,.2f}"),
    ("zone_outage.connections_failed", "failed after the zone outage", "{:,.0f}"),
    ("zone_outage.converged_s.max_s", "  surviving nodes clean after", "{:.1f} s"),
]

PROXY_KIND = {"EndpointSlices": "EndpointSlice", "Endpoints": "Endpoints"}


def _get(summary: dict, path: str, proxy_kind: str) -> Any:
    node: Any = summary
    for part in path.split("."):
        part = proxy_kind if part == "@proxy" else part
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{n:,.0f} B"
        n /= 1000.0
    return str(n)


def comparison_frame(variants: list[tuple[str, dict, str]]) -> pd.DataFrame:
    """variants: (name, summary, kube-proxy watch mode). Rows = figures, columns = variants."""
    data: dict[str, list[str]] = {}
    for name, summary, watch in variants:
        kind = PROXY_KIND.get(watch, watch)
        column = []
        for path, _label, fmt in ROWS:
            value = _get(summary, path, kind)
            if value is None:
                column.append("–")
            elif fmt == "bytes":
                column.append(human_bytes(value))
            else:
                column.append(fmt.format(value))
        data[name] = column
    return pd.DataFrame(data, index=[label for _p, label, _f in ROWS])


def comparison_values(variants: list[tuple[str, dict, str]]) -> pd.DataFrame:
    """The comparison's numbers (floats; NaN where a variant has no such figure): the same
    rows and columns as `comparison_frame`, for computing with rather than reading."""
    data: dict[str, list[float]] = {}
    for name, summary, watch in variants:
        kind = PROXY_KIND.get(watch, watch)
        values = [_get(summary, path, kind) for path, _label, _fmt in ROWS]
        data[name] = [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else float("nan") for v in values]
    frame = pd.DataFrame(data, index=[label for _p, label, _f in ROWS])
    frame.attrs["units"] = {label: unit_of_format(fmt) for _p, label, fmt in ROWS}  # rows mix s, ms and bytes
    return frame


def unit_of_format(fmt: str) -> str:
    """The unit of a comparison row's numbers, from how the row is printed: s, ms, B,
    ratio, USD or count."""
    if fmt == "bytes" or fmt.endswith(" B"):
        return "B"
    if fmt.endswith(" ms"):
        return "ms"
    if fmt.endswith(" s"):
        return "s"
    if fmt.endswith("%}") or fmt == "{:.2f}":  # a share, or max/mean
        return "ratio"
    if fmt.startswith("$"):
        return "USD"
    return "count"


def shown_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows worth printing: not '–' everywhere, and the optional ones only when not all zero."""
    optional = {"DNS answers (ExternalName)", "  refused (no endpoints)", "  dropped (no local endpoint)",
                "  to a pod not yet serving", "Endpoints writes rejected", "kube-proxy watches closed (too slow)",
                "kube-proxy relists", "  relist bytes (all watchers)", "  time a node had no watch, p50"}
    zero = frame.isin(["0", "0 B", "–"])
    empty = (frame == "–").all(axis=1) | (frame.index.isin(optional) & zero.all(axis=1))
    return ~empty


def format_comparison(variants: list[tuple[str, dict, str]]) -> str:
    frame = comparison_frame(variants)
    # rows with nothing to say (no such figure, or zero everywhere for the optional ones)
    return frame[shown_rows(frame)].to_string()
