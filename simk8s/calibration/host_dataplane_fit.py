"""Fit the first-packet latency model (simk8s.dataplane.latency) to this host's connect() times.

Input: host_dataplane.measure_dataplane records (median connect() ms per mode, N, target).
One least-squares fit on the relative error with every term >= 0 (host_fit.nonnegative_relative_ls,
as the sync prices are fitted), in the model's own form (latency_params.yaml):
    median ms = base + [iptables] × rule_ms × (rank + chain rules + table_fraction × N)
- base: shared by both modes (the kernel and socket round trip); nftables pays only base (one
  verdict-map lookup). The nftables-only slope per Service is fitted apart and reported as a
  check, not used.
- rank: the Service's place in KUBE-SERVICES; chain rules: the service and endpoint chains
  of a one-endpoint Service (latency.service_chain_rules).
Simplifications: medians are fitted as if the model were deterministic (its lognormal spread,
`sigma` and `jitter`, stays published: a few dozen connects per point cannot pin tails); the
profile scales the published base's shift and median to the measured base.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simk8s.calibration.host_fit import nonnegative_relative_ls
from simk8s.dataplane import latency

CHAIN_RULES = int(latency.service_chain_rules(np.array([0]), np.array([1]), None)[0])


def walked(rank: np.ndarray) -> np.ndarray:
    return rank + CHAIN_RULES


def fit_dataplane(records: list[dict]) -> dict[str, Any]:
    """{"params": profile `dataplane.params`, "fit": figures reported beside them,
    "medians": the records with the fitted model's value}."""
    m = pd.DataFrame(records)
    y = m["median_ms"].to_numpy(float)
    ipt = (m["mode"] == "iptables").to_numpy(float)
    n = m["services"].to_numpy(float)
    cols = [np.ones(len(m)), ipt * walked(m["rank"].to_numpy(float)), ipt * n]
    base_ms, rule_ms, table_ms = (float(c) for c in nonnegative_relative_ls(cols, y))
    model = np.stack(cols, axis=1) @ np.array([base_ms, rule_ms, table_ms])
    nft = m["mode"] == "nftables"
    nft_slope = 0.0
    if nft.any():
        nft_slope = float(nonnegative_relative_ls([np.ones(int(nft.sum())), n[nft.to_numpy()]], y[nft.to_numpy()])[1])
    pub = latency.load_params()
    scale = base_ms / (pub.shift + pub.median)
    params = {
        "base": {"shift": round(pub.shift * scale, 7), "median": round(pub.median * scale, 7)},
        "iptables": {"rule_ns": round(rule_ms * 1e6, 3),
                     "table_fraction": round(table_ms / rule_ms, 5) if rule_ms > 0 else 0.0},
    }
    fit = {"base_ms": round(float(base_ms), 6), "nftables_ns_per_service": round(nft_slope * 1e6, 4),
           "chain_rules": CHAIN_RULES}
    medians = [{**{k: (round(float(v), 6) if isinstance(v, float) else v) for k, v in r.items()},
                "model_ms": round(float(mv), 6)} for r, mv in zip(records, model, strict=True)]
    return {"params": params, "fit": fit, "medians": medians}


def format_dataplane_report(section: dict[str, Any]) -> str:
    """The curve (N vs median connect() ms at the first, middle and last Service, with the
    fitted model's value) and the fitted parameters beside the published ones."""
    m = pd.DataFrame(section["medians"])
    m["cell"] = [f"{a:.4f} ({b:.4f})" for a, b in zip(m["median_ms"], m["model_ms"], strict=True)]
    curve = m.pivot_table(index=["mode", "services"], columns="target", values="cell", aggfunc="first")
    curve = curve.reindex(columns=[c for c in ("first", "middle", "last") if c in curve.columns]).reset_index()
    curve.columns.name = None
    pub = latency.load_params()
    p = section["params"]
    rows = [
        ("base median ms (shift + median)", pub.shift + pub.median, p["base"]["shift"] + p["base"]["median"]),
        ("iptables.rule_ns", pub.rule_ns, p["iptables"]["rule_ns"]),
        ("iptables.table_fraction", pub.table_fraction, p["iptables"]["table_fraction"]),
    ]
    params = pd.DataFrame([{"parameter": k, "published": f"{a:.4g}", "this host": f"{b:.4g}",
                            "ratio": f"{b / a:.3g}" if a else ""} for k, a, b in rows])
    f = section["fit"]
    return "\n".join([
        "== first-packet latency: median connect() ms through the rules (fitted model in brackets) ==",
        curve.to_string(index=False),
        "",
        "== data-plane model: published (latency_params.yaml) beside this host ==",
        params.to_string(index=False),
        "",
        f"nftables slope per Service (not in the model, which charges one map lookup): "
        f"{f['nftables_ns_per_service']:.3g} ns; published first-packet p50 for comparison: "
        "iptables 5k 0.049 ms, 30k 0.274 ms; nftables 0.014 ms (docs/references.md [blog-nftables])",
    ])
