"""Plotting helpers for notebooks and reports. Each takes an optional `ax`, returns it, never shows."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes


def _ax(ax: Axes | None) -> Axes:
    if ax is None:
        _fig, ax = plt.subplots(figsize=(7, 3.5))
    return ax


def plot_egress(variants: list[Any], ax: Axes | None = None) -> Axes:
    """apiserver egress (all replicas) per second, one line per variant."""
    ax = _ax(ax)
    for v in variants:
        eg = v.tables.get("egress")
        if eg is None or eg.empty:
            continue
        per_s = eg.groupby("t_s")["bytes"].sum()
        ax.plot(per_s.index, per_s.to_numpy() * 8 / 1e9, label=v.name)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("apiserver egress (Gbit/s)")
    ax.legend(fontsize="small")
    return ax


def plot_npl_cdf(variants: list[Any], ax: Axes | None = None) -> Axes:
    """Cumulative share of (node, change) programming latencies, from the real histogram buckets."""
    ax = _ax(ax)
    for v in variants:
        h = v.tables.get("network_programming_duration_seconds")
        if h is None or h.empty or h.cumulative_count.iloc[-1] == 0:
            continue
        finite = h[np.isfinite(h["le"])]
        ax.step(finite["le"], finite.cumulative_count / h.cumulative_count.iloc[-1], where="post", label=v.name)
    ax.set_xscale("log")
    ax.set_xlabel("network programming latency (s)")
    ax.set_ylabel("fraction ≤ x")
    ax.axvline(30, color="grey", lw=0.8, ls="--")
    ax.legend(fontsize="small")
    return ax


def plot_failures(variants: list[Any], ax: Axes | None = None) -> Axes:
    """Failed or refused new connections per second."""
    ax = _ax(ax)
    for v in variants:
        ts = v.tables.get("connection_outcomes")
        if ts is None or ts.empty:
            continue
        failed = ts.drop(columns=["traffic", "t_s", "ok", "dns-answer"], errors="ignore").sum(axis=1)
        per_s = failed.groupby(ts["t_s"]).sum()
        ax.plot(per_s.index, per_s.to_numpy(), label=v.name)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("failed connections / s")
    ax.legend(fontsize="small")
    return ax


def plot_rollout(variant: Any, ax: Axes | None = None) -> Axes:
    """Pods of each Deployment during the run: active (not terminating), available, terminating."""
    ax = _ax(ax)
    hist = variant.tables.get("deployment_history")
    if hist is not None and not hist.empty:
        for name, h in hist.groupby("workload"):
            ax.step(h.t_s, h.active, where="post", label=f"{name} active")
            ax.step(h.t_s, h.available, where="post", label=f"{name} available")
            ax.step(h.t_s, h.terminating, where="post", label=f"{name} terminating")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("pods")
    ax.legend(fontsize="small")
    return ax
