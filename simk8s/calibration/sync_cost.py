"""Calibration of the sync-cost model (simk8s.proxy.cost) against published points.

`fit_parameters()` derives every fitted price of cost_params.yaml from the points marked
"fit"; `sync_cost_points()` replays every published sync-cost point with the model on the
setup it was measured on (counts, release, machine) and marks it fit or prediction.
Points are numbered as docs/model.md "Published figures" (the `row` column); a letter
after the number is a further figure of the same source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simk8s.proxy import cost
from simk8s.proxy.cost.params import total

# Row 8 (kubernetes/kubernetes#138073): 195,195 NAT chains and 578,470 NAT rules solve, with
# the rule counts of simk8s.proxy.rulecount (chains = P + E, rules = 2P + 3E), to P = 7,115
# service ports and E = 188,080 endpoints.
ROW8_PORTS, ROW8_ENDPOINTS = 7_115, 188_080
ROW8_RESTORE_LINES = 4 + 50 + 195_195 + 578_470  # + filter: 5 chains, 45 rules
ROW8_SAVE_LINES = 2 + 195_195 + 578_470
ROW8B_RESTORE_LINES = 4 + 50 + 210_215 + 589_552  # same issue, a later dump: restore 10.52 s
ROW7_LINES = 695_992  # kubernetes/kubernetes#96018: iptables-restore of this dump took 12.8 s
# Rows 5 and 6: time to add one rule vs services on a 500-node cluster (docs/references.md [flftuu-2019]).
FLFTUU_SERVICES = np.array([1, 100, 500, 1000, 1500, 2000, 5000, 10000, 15000, 20000])
FLFTUU_IPT_MS = np.array([77, 100, 491, 1302, 2476, 2662, 6547, 9491, 15125, 20000], dtype=float)
FLFTUU_IPVS_MS = np.array([0.8, 0.85, 0.85, 0.85, 0.90, 0.90, 0.90, 0.97, 1.0, 1.52])
FLFTUU_FIT = np.arange(10) % 2 == 0  # held back: every other point is a prediction
ROW20_VS = 2 * 1_500  # kubernetes/kubernetes#84906; ClusterIP + one externalIP VS per service (assumption)
ROW20_RS = ROW20_VS  # one endpoint per Service (assumption), a real server under each VS
ROW17_CREATE_RATE = 10_000 / 540.0  # svc/s; assumption: creation paced like the 9-min partial run

# kubernetes/kubernetes#139513 (v1.36.1), from its kube-proxy logs: "Syncing" → "Reloading"
# (ListAll + compute) and "Reloading" → "complete" (the nft transaction).
ROW18 = {"services": 44_125, "endpoints": 44_152, "before_tx": 63.296551, "total": 1003.895506}
ROW18B = {"services": 44_128, "endpoints": 44_131, "before_tx": 1.074073, "total": 1.328050}  # patched: no ListAll
ROW19 = {"services": 5_006, "endpoints": 250_011, "total": 795.342107}  # kubernetes/kubernetes#135639
RELEASE_ROW19 = (1, 34)  # reported Nov 2025: lists names only
RELEASE_KIND = (1, 30)  # kubernetes/kubernetes#126013's runs: before ListAll and #130119


def _ls_relative(columns: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Least squares minimising Σ(model/y − 1)², model linear in the parameters."""
    a = np.stack([c / y for c in columns], axis=1)
    return np.linalg.lstsq(a, np.ones_like(y), rcond=None)[0]


def fit_parameters() -> dict[str, float]:
    """Recompute each fitted price from its points (fixed/assumed ones are read from the YAML)."""
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
    rules = 4.0 * FLFTUU_SERVICES[FLFTUU_FIT]
    t0, k = _ls_relative([np.ones_like(rules), rules], FLFTUU_IPT_MS[FLFTUU_FIT] / 1000)
    out["iptables_cli.flftuu_2019.t0"], out["iptables_cli.flftuu_2019.k"] = t0, k
    svcs = FLFTUU_SERVICES[FLFTUU_FIT].astype(float)
    op0, opk = _ls_relative([np.ones_like(svcs), svcs], FLFTUU_IPVS_MS[FLFTUU_FIT] / 1000)
    out["ipvs.t_op0"], out["ipvs.t_op_per_vs"] = op0, opk
    static = ipt["t_restore_per_line"] * ipvs["static_restore_lines"]
    reads = float(cost.ipvs_netlink_reads(ROW20_VS, ROW20_RS))
    out["ipvs.t_netlink_msg"] = (0.73 - ipvs["t_fixed"] - static) / reads
    out.update(_fit_nftables(nft["t_fixed"]))
    return out


def _fit_nftables(t_fixed: float) -> dict[str, float]:
    s18, e18 = ROW18["services"], ROW18["endpoints"]
    tc = (ROW18B["before_tx"] - t_fixed) / (ROW18B["services"] + ROW18B["endpoints"])
    tx18 = ROW18["total"] - ROW18["before_tx"]
    tx19 = ROW19["total"] - t_fixed - tc * (ROW19["services"] + ROW19["endpoints"])
    # q (w s18 + e18)² = tx18 and q (w s19 + e19)² = tx19, solved for w then q.
    r = np.sqrt(tx18 / tx19)
    w = (r * ROW19["endpoints"] - e18) / (s18 - r * ROW19["services"])
    q = tx18 / (w * s18 + e18) ** 2
    w18 = w * s18 + e18
    q_list = (ROW18["before_tx"] - t_fixed - tc * (s18 + e18)) / w18**2
    w18b = w * ROW18B["services"] + ROW18B["endpoints"]
    tx18b = ROW18B["total"] - ROW18B["before_tx"]
    per_object = (tx18b - q * 2.0 * w18b * (w + 1.0)) / w18b
    out = {"nftables.t_compute_per_object": tc, "nftables.w_service": w, "nftables.q_tx": q,
           "nftables.q_list_all": q_list, "nftables.t_tx_per_table_object": per_object}
    params = cost.CostParams({**cost.load_params().raw, "nftables": {
        **cost.load_params()["nftables"], **{k.split(".")[1]: v for k, v in out.items()}}})
    full15 = cost.nftables_sync_seconds("full", 10_001, 20_002, release=RELEASE_KIND, params=params)
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
                                                     eps_per_service * (n - done), release=RELEASE_KIND,
                                                     speed=speed))
        done, first = n, False
    return t


def sync_cost_points() -> list[dict]:
    """Every published sync-cost point, replayed: row, what, condition, published, simulated,
    role (fit / prediction / context) and the source."""
    p = cost.load_params()
    kind_m = p["machines"]["kind_laptop"]
    q = p["iptables"]
    pts: list[dict] = []

    def add(row, what, condition, metric, published, simulated, role, source):
        pts.append({"group": "sync cost", "row": row, "what": what, "condition": condition, "metric": metric,
                    "published": published, "simulated": None if simulated is None else float(simulated),
                    "role": role, "source": source})

    for r, n_rules, y in (("1", 8, 0.002), ("2", 40_000, 660.0), ("3", 160_000, 18_000.0)):
        add(r, "iptables CLI add rule", f"{n_rules:,} rules", "s", y,
            cost.iptables_cli_seconds(n_rules, "huawei_2017"), "fit", "[huawei-2017]")
    for n in (1, 5_000, 20_000):
        add("4", "IPVS add rule", f"{n:,} svcs", "s", 0.002, cost.ipvs_op_seconds(n), "prediction",
            "[huawei-2017] (truncated row)")
    for i, (s, y) in enumerate(zip(FLFTUU_SERVICES, FLFTUU_IPT_MS, strict=True)):
        add("5", "iptables CLI add one rule", f"{s:,} svcs", "s", y / 1000,
            cost.iptables_cli_seconds(4 * s, "flftuu_2019"), "fit" if FLFTUU_FIT[i] else "prediction",
            "[flftuu-2019]")
    for i, (s, y) in enumerate(zip(FLFTUU_SERVICES, FLFTUU_IPVS_MS, strict=True)):
        add("6", "IPVS add one rule", f"{s:,} svcs", "s", y / 1000, cost.ipvs_op_seconds(s),
            "fit" if FLFTUU_FIT[i] else "prediction", "[flftuu-2019]")
    add("7", "iptables-restore", f"{ROW7_LINES:,} lines", "s", 12.8, q["t_restore_per_line"] * ROW7_LINES,
        "fit", "kubernetes/kubernetes#96018")
    phases8 = cost.iptables_phases("full", ROW8_PORTS, ROW8_ENDPOINTS)
    add("8", "iptables full sync: restore", "7,115 ports, 188,080 eps", "s", 10.49, phases8["restore"], "fit",
        "kubernetes/kubernetes#138073")
    add("8", "iptables full sync: save", "same", "s", 3.83, phases8["save"], "fit", "kubernetes/kubernetes#138073")
    add("8", "iptables full sync", "same", "s", 17.5, cost.iptables_sync_seconds("full", ROW8_PORTS, ROW8_ENDPOINTS),
        "fit", "kubernetes/kubernetes#138073")
    add("8b", "iptables-restore", "210,215 chains, 589,552 rules", "s", 10.52,
        q["t_restore_per_line"] * ROW8B_RESTORE_LINES, "prediction", "kubernetes/kubernetes#138073")
    add("15", "nftables full sync (1.30, kind)", "10k svcs × 2 eps, add 1 svc", "s", 480.0,
        cost.nftables_sync_seconds("full", 10_001, 20_002, release=RELEASE_KIND, speed=kind_m), "fit",
        "kubernetes/kubernetes#126013")
    add("15b", "nftables partial sync (1.31, kind)", "10k svcs × 2 eps, add 1 svc", "s", 0.141,
        cost.nftables_sync_seconds("partial", 10_001, 20_002, 1, 2, release=RELEASE_KIND, speed=kind_m),
        "prediction", "kubernetes/kubernetes#126013")
    add("17", "nftables bulk create, full syncs (kind)", "10k svcs × 2 eps", "s", 1500.0,
        bulk_create_seconds("full", speed=kind_m), "prediction", "kubernetes/kubernetes#126013")
    add("17", "nftables bulk create, partial syncs (kind)", "10k svcs × 2 eps", "s", 540.0,
        bulk_create_seconds("partial", speed=kind_m), "prediction", "kubernetes/kubernetes#126013")
    s18, e18 = ROW18["services"], ROW18["endpoints"]
    ph18 = cost.nftables_phases("full", s18, e18)
    add("18", "nftables full sync (1.36)", "44,125 svcs, 44,152 eps", "s", ROW18["total"],
        cost.nftables_sync_seconds("full", s18, e18), "fit", "kubernetes/kubernetes#139513")
    add("18", "nftables sync start → transaction (ListAll)", "same", "s", ROW18["before_tx"],
        ph18["fixed"] + ph18["compute"] + ph18["list"], "fit", "kubernetes/kubernetes#139513")
    s18b, e18b = ROW18B["services"], ROW18B["endpoints"]
    patched = cost.nftables_phases("partial", s18b, e18b, 1, 1, release=(1, 35))  # the patch skips ListAll
    add("18b", "nftables incremental sync, ListAll skipped (patched)", "44,128 svcs, 44,131 eps", "s",
        ROW18B["total"], total(patched), "fit", "kubernetes/kubernetes#139513")
    add("18c", "nftables incremental sync (1.36, unpatched)", "44k svcs, 1 svc changed", "s ('over a minute')",
        60.0, cost.nftables_sync_seconds("partial", s18b, e18b, 1, 1), "prediction", "kubernetes/kubernetes#139878")
    add("19", "nftables full sync (1.34)", "5,006 svcs, 250,011 eps", "s", ROW19["total"],
        cost.nftables_sync_seconds("full", ROW19["services"], ROW19["endpoints"], release=RELEASE_ROW19), "fit",
        "kubernetes/kubernetes#135639")
    add("20", "IPVS sync (after the fix)", "1,500 svcs × 2 VSs", "s", 0.73,
        cost.ipvs_sync_seconds("partial", ROW20_VS, ROW20_RS), "fit", "kubernetes/kubernetes#84906")
    add("21", "IPVS sync (2019)", "1,000 svcs × 4 eps", "s ('~20 s to reflect')", 20.0,
        cost.ipvs_sync_seconds("partial", 1_000, 4_000, 0, 1), "context",
        "kubernetes/kubernetes#73382: propagation to all nodes through a 2019 per-object hot spot, not one sync")
    return pts


def calibration_table() -> pd.DataFrame:
    """The sync-cost points as a frame, with the relative error."""
    df = pd.DataFrame(sync_cost_points())
    df["rel_error"] = [None if s is None else s / p - 1.0 for s, p in zip(df["simulated"], df["published"], strict=True)]
    return df


def render_calibration_table(df: pd.DataFrame | None = None) -> str:
    """Plain-text table for reports and the CLI."""
    df = calibration_table() if df is None else df
    view = df.copy()
    view["rel_error"] = view["rel_error"].map(lambda v: "" if v is None or pd.isna(v) else f"{v:+.1%}")
    for col in ("published", "simulated"):
        view[col] = view[col].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.4g}")
    return view.drop(columns=["group"]).to_string(index=False)
