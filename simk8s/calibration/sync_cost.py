"""Calibration of the sync-cost model (simk8s.proxy.cost) against published figures.

`fit_parameters()` derives every fitted parameter of cost_params.yaml from the figures;
`calibration_table()` sets each sync-cost figure beside the model's. Figures are numbered
as in docs/model.md "Published figures" (the `row` column), which gives each one's source.
Rows about NPL (fleet) and the data plane are listed as "checked elsewhere".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simk8s.proxy import cost
from simk8s.proxy.iptables import IPT_NUM_2022
from simk8s.proxy.rulecount import iptables_rule_counts

# Row 8 (kubernetes/kubernetes#138073): 195,195 NAT chains and 578,470 NAT rules solve, with
# the rule counts of simk8s.proxy.rulecount (chains = P + E, rules = 2P + 3E), to P = 7,115
# service ports and E = 188,080 endpoints.
ROW8_PORTS, ROW8_ENDPOINTS = 7_115, 188_080
ROW8_RESTORE_LINES = 4 + 50 + 195_195 + 578_470  # + filter: 5 chains, 45 rules
ROW8_SAVE_LINES = 2 + 195_195 + 578_470
ROW7_LINES = 695_992  # kubernetes/kubernetes#96018: iptables-restore of this dump took 12.8 s
# Rows 5 and 6: time to add one rule vs services on a 500-node cluster (docs/references.md [flftuu-2019]).
FLFTUU_SERVICES = np.array([1, 100, 500, 1000, 1500, 2000, 5000, 10000, 15000, 20000])
FLFTUU_IPT_MS = np.array([77, 100, 491, 1302, 2476, 2662, 6547, 9491, 15125, 20000], dtype=float)
FLFTUU_IPVS_MS = np.array([0.8, 0.85, 0.85, 0.85, 0.90, 0.90, 0.90, 0.97, 1.0, 1.52])
ROW20_VS = 2 * 1_500  # kubernetes/kubernetes#84906; ClusterIP + one externalIP VS per service (assumption)
ROW17_CREATE_RATE = 10_000 / 540.0  # svc/s; assumption: creation paced like the 9-min partial run


def _ls_relative(columns: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Least squares minimising Σ(model/y − 1)², model linear in the parameters."""
    a = np.stack([c / y for c in columns], axis=1)
    return np.linalg.lstsq(a, np.ones_like(y), rcond=None)[0]


def fit_parameters() -> dict[str, float]:
    """Recompute each fitted parameter from the figures (fixed/assumed ones are read from the YAML)."""
    p = cost.load_params()
    ipt, ipvs, nft = p["iptables"], p["ipvs"], p["nftables"]
    out: dict[str, float] = {}
    (t_restore,) = _ls_relative([np.array([ROW7_LINES, ROW8_RESTORE_LINES], float)], np.array([12.8, 10.49]))
    out["iptables.t_restore_per_line"] = t_restore
    out["iptables.t_save_per_line"] = 3.83 / ROW8_SAVE_LINES
    out["iptables.t_compute_per_object"] = (
        17.5 - ipt["t_fixed"] - ipt["t_full_extra"] - t_restore * ROW8_RESTORE_LINES - 3.83
    ) / (ROW8_PORTS + ROW8_ENDPOINTS)
    b = np.log(18_000 / 660) / np.log(160_000 / 40_000)
    out["iptables_cli.huawei_2017.b"] = b
    out["iptables_cli.huawei_2017.a"] = (660 - 0.002) / 40_000**b
    rules = 4.0 * FLFTUU_SERVICES
    t0, k = _ls_relative([np.ones_like(rules), rules], FLFTUU_IPT_MS / 1000)
    out["iptables_cli.flftuu_2019.t0"], out["iptables_cli.flftuu_2019.k"] = t0, k
    op0, opk = _ls_relative([np.ones(10), FLFTUU_SERVICES.astype(float)], FLFTUU_IPVS_MS / 1000)
    out["ipvs.t_op0"], out["ipvs.t_op_per_vs"] = op0, opk
    static = ipt["t_restore_per_line"] * ipvs["static_restore_lines"]
    out["ipvs.t_reconcile_per_vs"] = (0.73 - ipvs["t_fixed"] - static) / ROW20_VS
    tc = (1.33 - nft["t_fixed"]) / (44_125 + 44_152)
    out["nftables.t_compute_per_object"] = tc
    s, e, t = np.array([44_125, 5_006.0]), np.array([44_152, 250_011.0]), np.array([1004.0, 795.0])
    cs, ce = np.linalg.solve(np.stack([s * s, e], axis=1), t - nft["t_fixed"] - tc * (s + e))
    out["nftables.c_service_sq"], out["nftables.c_endpoint"] = cs, ce
    full15 = cost.nftables_sync_seconds("full", 10_001, 20_002)
    out["machines.kind_laptop"] = 480.0 / float(full15)
    return out


def bulk_create_seconds(kind: str, n_services: int = 10_000, eps_per_service: int = 2,
                        rate: float = ROW17_CREATE_RATE, min_gap: float = 1.0,
                        speed: float = 1.0) -> float:
    """Row 17 (kubernetes/kubernetes#126013): time until the last of n services created at
    `rate`/s is programmed, with back-to-back syncs (gap ≥ min_gap) that are all full or all
    partial after the first."""
    t, done, first = 0.0, 0, True
    while done < n_services:
        start = max(t + (0.0 if first else min_gap), (done + 1) / rate)
        n = min(n_services, int(rate * start))
        k = "full" if (first or kind == "full") else "partial"
        t = start + float(cost.nftables_sync_seconds(k, n, eps_per_service * n, n - done,
                                                     eps_per_service * (n - done), speed=speed))
        done, first = n, False
    return t


_ELSEWHERE = "checked elsewhere"


def calibration_table() -> pd.DataFrame:
    """One row per published figure concerning sync cost: published, simulated, relative error."""
    p = cost.load_params()
    kind_m = p["machines"]["kind_laptop"]
    rows: list[dict] = []

    def add(row, mode, x, quantity, published, simulated, conf, status, bound=None):
        rel = None if simulated is None or published in (None, 0) else simulated / published - 1.0
        rows.append({"row": row, "mode": mode, "condition": x, "quantity": quantity, "published": published,
                         "simulated": simulated, "rel_error": rel, "confidence": conf, "status": status,
                         "error_bound": bound})

    for r, n_rules, y in (("1", 8, 0.002), ("2", 40_000, 660.0), ("3", 160_000, 18_000.0)):
        add(r, "iptables CLI", f"{n_rules} rules", "add-rule latency s", y,
            float(cost.iptables_cli_seconds(n_rules, "huawei_2017")), "M", "fitted (exact)", 1e-3)
    for n in (1, 5_000, 20_000):
        add("4", "IPVS", f"{n} svcs", "add-rule latency s", 0.002, float(cost.ipvs_op_seconds(n)),
            "L", "context (truncated row, not fitted)")
    for s, y in zip(FLFTUU_SERVICES, FLFTUU_IPT_MS, strict=True):
        add("5", "iptables CLI", f"{s} svcs", "add one rule s", y / 1000,
            float(cost.iptables_cli_seconds(4 * s, "flftuu_2019")), "L", "fitted (least squares)")
    for s, y in zip(FLFTUU_SERVICES, FLFTUU_IPVS_MS, strict=True):
        add("6", "IPVS", f"{s} svcs", "add one rule s", y / 1000, float(cost.ipvs_op_seconds(s)),
            "L", "fitted (least squares)")
    q = p["iptables"]
    add("7", "iptables-restore", f"{ROW7_LINES} lines", "restore s", 12.8,
        q["t_restore_per_line"] * ROW7_LINES, "M", "fitted (least squares)", 0.2)
    lines8 = float(cost.iptables_lines("full", ROW8_PORTS, ROW8_ENDPOINTS))
    add("8", "iptables full sync", "3,595 svcs / 7,115 ports, 188,080 ep chains", "restore s", 10.49,
        q["t_restore_per_line"] * lines8, "M", "fitted (least squares)", 0.2)
    add("8", "iptables full sync", "same", "save s", 3.83,
        q["t_save_per_line"] * float(cost.iptables_save_lines(ROW8_PORTS, ROW8_ENDPOINTS)), "M", "fitted", 0.02)
    add("8", "iptables full sync", "same", "sync s (17.5–21.4)", 17.5,
        float(cost.iptables_sync_seconds("full", ROW8_PORTS, ROW8_ENDPOINTS)), "M", "fitted", 0.02)
    for r, what in (("10", "iptables NPL, full restores"), ("11", "iptables NPL, partial restores"),
                    ("13", "nftables NPL gce-100"), ("14", "NPL threshold 30 s")):
        add(r, what, "fleet", "NPL", None, None, "M", _ELSEWHERE + " (fleet)")
    add("15", "nftables full sync", "10k svcs × 2 eps, kind", "sync s", 480.0,
        float(cost.nftables_sync_seconds("full", 10_001, 20_002, speed=kind_m)), "M",
        "fitted (kind speed multiplier)", 0.02)
    add("17", "nftables bulk create", "10k svcs × 2 eps, no partial, kind", "total s", 1500.0,
        bulk_create_seconds("full", speed=kind_m), "M", "predicted", 0.4)
    add("17", "nftables bulk create", "10k svcs × 2 eps, partial, kind", "total s", 540.0,
        bulk_create_seconds("partial", speed=kind_m), "M", "predicted (creation rate derived from it)", 0.15)
    add("18", "nftables full sync", "44,125 svcs, 44,152 eps", "sync s", 1004.0,
        float(cost.nftables_sync_seconds("full", 44_125, 44_152)), "M", "fitted (exact)", 0.01)
    add("18", "nftables partial sync", "same, 1 svc + 1 ep changed (patched)", "sync s", 1.33,
        float(cost.nftables_sync_seconds("partial", 44_125, 44_152, 1, 1)), "M", "fitted", 0.1)
    add("19", "nftables full sync", "5,006 svcs, 250,011 eps (2:13–20 min seen)", "sync s", 795.0,
        float(cost.nftables_sync_seconds("full", 5_006, 250_011)), "M", "fitted (exact)", 0.01)
    add("20", "IPVS sync", ">1,500 svcs with externalIPs (after fix)", "sync s", 0.73,
        float(cost.ipvs_sync_seconds("partial", ROW20_VS, 1_500)), "M", "fitted (exact)", 0.01)
    add("21", "IPVS propagation", "~4,000 endpoints (1,000 svcs × 4)", "avg s to all nodes", 20.0,
        float(cost.ipvs_sync_seconds("partial", 1_000, 4_000, 0, 1)), "L/M",
        "context: 2019 hot spot not modelled; NPL checked elsewhere (fleet)")
    for r, what in (("22", "iptables first packet 5k"), ("24", "iptables first packet 30k"),
                    ("25", "nftables first packet"), ("26", "iptables p99 fit"),
                    ("27", "CPU iptables vs IPVS data plane"), ("28", "RTT iptables vs IPVS"),
                    ("29", "rules traversed per connection"), ("34", "prober latency")):
        add(r, what, "data plane", "latency/CPU", None, None, "M", _ELSEWHERE + " (data plane)")
    for e in (1, 2, 10):
        c = iptables_rule_counts(1, e, options=IPT_NUM_2022)
        add("30", "iptables rule count", f"1 ClusterIP svc, {e} eps", "nat rules", 5 + 2 + 3 * e,
            c.nat_rules, "H", "exact", 0.0)
    add("31", "iptables rule count", "10 svcs × 10 eps", "nat rules", 325,
        iptables_rule_counts(10, 10, options=IPT_NUM_2022).nat_rules, "H", "exact", 0.0)
    add("31", "iptables rule count", "10 LB svcs × 10 eps", "nat rules", 385,
        iptables_rule_counts(10, 10, load_balancer=True, options=IPT_NUM_2022).nat_rules, "H", "exact", 0.0)
    add("32", "xtables lock waits", "5k svcs", "5 s waits", None, None, "L/M", "not modelled")
    add("33", "limits", "cluster", "10k svcs, 250 eps/svc", None, None, "H", "scenario bounds, not a cost figure")
    return pd.DataFrame(rows)


def render_calibration_table(df: pd.DataFrame | None = None) -> str:
    """Plain-text table for reports and the CLI."""
    df = calibration_table() if df is None else df
    view = df.copy()
    view["rel_error"] = view["rel_error"].map(lambda v: "" if v is None or pd.isna(v) else f"{v:+.1%}")
    for col in ("published", "simulated"):
        view[col] = view[col].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.4g}")
    view["error_bound"] = view["error_bound"].map(lambda v: "" if v is None or pd.isna(v) else f"±{v:.0%}")
    return view.to_string(index=False)
