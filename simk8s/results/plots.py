"""Plotting helpers for notebooks and reports. Each takes an optional `ax`, returns it, never shows.

Every plot has a title and axes in units scaled to its data (kB … GB, ms … h). Variants
whose lines coincide stay visible: identical lines are drawn once, named "a = b" in the
legend; otherwise each variant has its own line style and marker, and lines are drawn
thinner on top of thicker ones.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

_STYLES = [("-", "o", 3.2), ("--", "s", 2.4), (":", "^", 1.8), ("-.", "D", 1.2), ((0, (5, 1)), "v", 0.9)]


def style(i: int) -> dict[str, Any]:
    """The i-th variant's line: style, marker and width (wide first, so later ones show on top)."""
    ls, marker, lw = _STYLES[i % len(_STYLES)]
    return {"linestyle": ls, "marker": marker, "linewidth": lw, "markevery": 0.1, "markersize": 4}


def byte_scale(largest: float) -> tuple[float, str]:
    """(divisor, unit) that shows `largest` bytes as a number below 1000."""
    for div, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if largest >= div:
            return div, unit
    return 1.0, "B"


def time_scale(largest: float) -> tuple[float, str]:
    """(divisor, unit) for a span of `largest` seconds: ms below 1 s, min above 5 min, h above 5 h."""
    if largest >= 5 * 3600:
        return 3600.0, "h"
    if largest >= 300:
        return 60.0, "min"
    if 0 < largest < 1:
        return 1e-3, "ms"
    return 1.0, "s"


def same_lines(lines: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
    """(name, x, y) lines with identical data merged into one, named "a = b = c" in the
    legend: a line drawn exactly over another would hide it."""
    merged: list[tuple[list[str], Any, Any]] = []
    for name, x, y in lines:
        xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        for names, mx, my in merged:
            if mx.shape == xs.shape and my.shape == ys.shape and np.array_equal(mx, xs) and np.array_equal(my, ys, equal_nan=True):
                names.append(name)
                break
        else:
            merged.append(([name], xs, ys))
    return [(" = ".join(names), x, y) for names, x, y in merged]


def _ax(ax: Axes | None) -> Axes:
    if ax is None:
        _fig, ax = plt.subplots(figsize=(7, 3.5))
    return ax


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="grey")


def _sim_time(variants: list[Any]) -> tuple[float, str]:
    ends = [float(v.summary.get("sim", {}).get("end_time_s") or 0) for v in variants]
    return time_scale(max(ends, default=0.0))


def plot_egress(variants: list[Any], ax: Axes | None = None) -> Axes:
    """apiserver egress (all replicas) per second, one line per variant."""
    ax = _ax(ax)
    series = []
    for v in variants:
        eg = v.tables.get("egress")
        if eg is not None and not eg.empty:
            series.append((v.name, eg.groupby("t_s")["bytes"].sum()))
    div, unit = byte_scale(max((float(s.max()) for _, s in series), default=0.0))
    tdiv, tunit = _sim_time(variants)
    for i, (name, x, y) in enumerate(same_lines([(n, s.index / tdiv, s.to_numpy() / div) for n, s in series])):
        ax.plot(x, y, label=name, **style(i))
    ax.set_title("apiserver egress to watchers")
    ax.set_xlabel(f"simulated time ({tunit})")
    ax.set_ylabel(f"egress ({unit}/s)")
    _legend(ax)
    return ax


def plot_npl_cdf(variants: list[Any], ax: Axes | None = None) -> Axes:
    """Cumulative share of (node, change) programming latencies, from the real histogram buckets."""
    ax = _ax(ax)
    lines = []
    for v in variants:
        h = v.tables.get("network_programming_duration_seconds")
        if h is None or h.empty or h.cumulative_count.iloc[-1] == 0:
            continue
        finite = h[np.isfinite(h["le"])]
        lines.append((v.name, finite["le"], finite.cumulative_count / h.cumulative_count.iloc[-1]))
    for i, (name, x, y) in enumerate(same_lines(lines)):
        ax.step(x, y, where="post", label=name, **style(i))
    ax.set_xscale("log")
    ax.set_title("network programming latency (CDF over nodes × changes)")
    ax.set_xlabel("network programming latency (s, log scale)")
    ax.set_ylabel("fraction ≤ x")
    # the load test's NPL threshold (docs/references.md [cl2-measurements])
    ax.axvline(30, color="grey", lw=0.8, ls="--", label="30 s objective")
    _legend(ax)
    return ax


def plot_failures(variants: list[Any], ax: Axes | None = None) -> Axes:
    """Failed or refused new connections per second."""
    ax = _ax(ax)
    tdiv, tunit = _sim_time(variants)
    lines = []
    for v in variants:
        ts = v.tables.get("connection_outcomes")
        if ts is None or ts.empty:
            continue
        failed = ts.drop(columns=["traffic", "t_s", "ok", "dns-answer"], errors="ignore").sum(axis=1)
        per_s = failed.groupby(ts["t_s"]).sum()
        lines.append((v.name, per_s.index / tdiv, per_s.to_numpy()))
    for i, (name, x, y) in enumerate(same_lines(lines)):
        ax.plot(x, y, label=name, **style(i))
    ax.set_title("failed new connections")
    ax.set_xlabel(f"simulated time ({tunit})")
    ax.set_ylabel("failed connections / s")
    _legend(ax)
    return ax


def plot_rollout(variant: Any, ax: Axes | None = None) -> Axes:
    """Pods of each Deployment during the run: active (not terminating), available, terminating."""
    ax = _ax(ax)
    hist = variant.tables.get("deployment_history")
    tdiv, tunit = _sim_time([variant])
    if hist is not None and not hist.empty:
        for name, h in hist.groupby("workload"):
            ax.step(h.t_s / tdiv, h.active, where="post", label=f"{name} active", lw=2.4)
            ax.step(h.t_s / tdiv, h.available, where="post", label=f"{name} available", ls="--", lw=1.6)
            ax.step(h.t_s / tdiv, h.terminating, where="post", label=f"{name} terminating", ls=":", lw=1.6)
    ax.set_title(f"rollout: pods per Deployment (variant {variant.name})")
    ax.set_xlabel(f"simulated time ({tunit})")
    ax.set_ylabel("pods")
    _legend(ax)
    return ax


def plot_sweep(frame: Any, x: str, y: str, ax: Axes | None = None, *, unit: str = "number") -> Axes:
    """One figure of a sweep (a `simk8s.sweep` frame) against the swept value, one line per variant."""
    ax = _ax(ax)
    data = frame[frame[y].notna()] if y in frame.columns else frame.iloc[0:0]
    div, label = _unit_axis(data[y].abs().max() if not data.empty else 0.0, unit)
    for i, (name, part) in enumerate(data.groupby("variant", sort=False)):
        part = part.sort_values(x)
        ax.plot(part[x], part[y] / div, label=str(name), **{**style(i), "markevery": 1})
    ax.set_title(f"{y} against {x}")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} ({label})" if label else y)
    _legend(ax)
    return ax


def _unit_axis(largest: float, unit: str) -> tuple[float, str]:
    if unit == "bytes":
        return byte_scale(float(largest))
    if unit == "s":
        return time_scale(float(largest))
    if unit == "ratio":
        return 0.01, "%"
    return 1.0, ""


def plot_frontier(result: Any, axes: Any = None) -> Any:
    """A frontier (simk8s.frontier.Frontier): each limit's figure against the grown dimension,
    per variant, with the limit as a horizontal line and each variant's breaking point marked.
    Returns the figure."""
    limits = result.limits
    if axes is None:
        fig, axes = plt.subplots(len(limits), 1, figsize=(7, 3.2 * len(limits)), squeeze=False)
        axes = list(axes[:, 0])
    fig = axes[0].figure
    probes, grow = result.probes, result.grow
    for ax, lim in zip(axes, limits, strict=True):
        data = probes[probes[lim.name].notna()] if lim.name in probes.columns else probes.iloc[0:0]
        largest = max(float(data[lim.name].abs().max()) if not data.empty else 0.0, abs(lim.max))
        div, label = _unit_axis(largest, lim.unit)
        for i, name in enumerate(result.table["variant"]):
            part = data[data["variant"] == name].sort_values(grow)
            row = result.table[result.table["variant"] == name].iloc[0]
            broken = None if pd.isna(row["first broken"]) else row["first broken"]
            named = f"{name} (breaks at {broken:,})" if broken is not None else f"{name} (no break)"
            (line,) = ax.plot(part[grow], part[lim.name] / div, label=named, **{**style(i), "markevery": 1})
            if broken is not None:  # the breaking point: a dotted line; a cross on the limit it broke
                ax.axvline(broken, color=line.get_color(), ls=":", lw=1)
                if lim.name in str(row["broken by"]).split(", "):
                    ax.plot([broken], [lim.max / div], marker="X", markersize=10, color=line.get_color(), ls="none")
        ax.axhline(lim.max / div, color="red", lw=1, ls="--", label=f"limit {lim}")
        ax.set_xscale("log")
        ax.set_title(f"{lim.what} against {grow}")
        ax.set_xlabel(f"{grow} (log scale)")
        ax.set_ylabel(f"{lim.name} ({label})" if label else lim.name)
        _legend(ax)
    fig.tight_layout()
    return fig

