"""The limits a frontier keeps: `NAME=MAX` texts, each read from one run's summary row.

A name is a short alias (`npl.p99`, `failed.ratio`, `etcd.rejections`, `egress`,
`proxy.cpu_per_node`, …) or any dotted summary.json figure (`kube_proxy.syncs`). A figure
the run did not produce (no latency sample, no traffic) keeps the limit: there was nothing
to break it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simk8s.scenario import parse_duration, parse_quantity

Row = Mapping[str, Any]  # one (point, variant) row of a sweep: flattened summary figures


def _get(row: Row, column: str) -> float | None:
    value = row.get(column)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _sum(prefix: str) -> Callable[[Row, int], float | None]:
    def figure(row: Row, nodes: int) -> float | None:
        values = [v for k in row if k.startswith(prefix) and (v := _get(row, k)) is not None]
        return float(sum(values)) if values else None
    return figure


def _ratio(num: str, den: str) -> Callable[[Row, int], float | None]:
    def figure(row: Row, nodes: int) -> float | None:
        top, bottom = _get(row, num), _get(row, den)
        return None if top is None or not bottom else top / bottom
    return figure


def _per_node(column: str) -> Callable[[Row, int], float | None]:
    def figure(row: Row, nodes: int) -> float | None:
        value = _get(row, column)
        return None if value is None or nodes <= 0 else value / nodes
    return figure


def _column(column: str) -> Callable[[Row, int], float | None]:
    return lambda row, nodes: _get(row, column)


# alias → (what it measures, unit, how to read it from a row)
ALIASES: dict[str, tuple[str, str, Callable[[Row, int], float | None]]] = {
    "npl.p50": ("network programming latency p50", "s", _column("network_programming_latency_s.p50")),
    "npl.p90": ("network programming latency p90", "s", _column("network_programming_latency_s.p90")),
    "npl.p99": ("network programming latency p99", "s", _column("network_programming_latency_s.p99")),
    "npl.max": ("network programming latency max", "s", _column("network_programming_latency_s.max")),
    "sync.p99": ("kube-proxy sync duration p99", "s", _column("kube_proxy.sync_seconds.p99")),
    "failed": ("failed connections", "count", _column("dataplane.failed_total")),
    "failed.ratio": ("failed / all connections", "ratio", _ratio("dataplane.failed_total", "dataplane.connections")),
    "etcd.rejections": ("writes etcd rejected", "count", _sum("apiserver.rejected_writes.")),
    "egress": ("apiserver egress (all watchers)", "bytes", _sum("apiserver.egress_bytes.")),
    "proxy.cpu_per_node": ("kube-proxy CPU per node", "s", _per_node("kube_proxy.cpu_seconds_total")),
}


@dataclass(frozen=True)
class Limit:
    """`figure(row, nodes) <= max`, named as the user wrote it."""

    name: str
    what: str
    unit: str  # s, bytes, ratio, count or number
    max: float
    figure: Callable[[Row, int], float | None]

    def value(self, row: Row, nodes: int) -> float | None:
        return self.figure(row, nodes)

    def keeps(self, row: Row, nodes: int) -> bool:
        value = self.value(row, nodes)
        return value is None or value <= self.max

    def __str__(self) -> str:
        return f"{self.name} <= {format_value(self.max, self.unit)}"


def parse_limit(text: str) -> Limit:
    """`npl.p99=5s`, `failed.ratio=1%`, `etcd.rejections=0`, `egress=20GB`,
    `proxy.cpu_per_node=30s`, `kube_proxy.syncs=5000` → Limit. ValueError when malformed."""
    name, sep, bound = text.partition("=")
    name, bound = name.strip(), bound.strip()
    if not sep or not name or not bound:
        raise ValueError(f"{text!r}: expected NAME=MAX, e.g. npl.p99=5s")
    if name in ALIASES:
        what, unit, figure = ALIASES[name]
    else:
        unit = "s" if name.split(".")[0].endswith("_s") or name.endswith("_s") else "number"
        what, figure = name, _column(name)
    try:
        value = _parse_bound(bound, unit)
    except ValueError as err:
        raise ValueError(f"{text!r}: {err}") from None
    return Limit(name, what, unit, value, figure)


def _parse_bound(text: str, unit: str) -> float:
    if text.endswith("%"):
        return float(text[:-1]) / 100
    if unit == "s":
        return parse_duration(text)
    if unit == "bytes":
        return float(_parse_bytes(text))
    value = float(text)
    if math.isnan(value):
        raise ValueError("not a number")
    return value


def _parse_bytes(text: str) -> int:
    # `20GB` reads as the Kubernetes quantity `20G` (decimal), the way people write it.
    return parse_quantity(text[:-1] if text.endswith("B") and not text.endswith("iB") else text.replace("iB", "i"))


def format_value(value: float | None, unit: str) -> str:
    """A figure in its unit, scaled for reading: 1.5 GB, 250 ms, 0.4 %."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "bytes":
        for scale in ("B", "kB", "MB", "GB", "TB"):
            if abs(value) < 1000 or scale == "TB":
                return f"{value:,.0f} B" if scale == "B" else f"{value:,.1f} {scale}"
            value /= 1000
    if unit == "s":
        return f"{value * 1000:,.0f} ms" if 0 < abs(value) < 1 else f"{value:,.2f} s"
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"
