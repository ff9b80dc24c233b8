"""Every published point of the calibration set, replayed, with its role.

A point is `fit` when a parameter was fitted to it, `prediction` when nothing was (it is
held back and reported as the model's error), `context` when it is kept for reference but
is not the quantity the model computes (the reason is in `source`). Groups:

* sync cost: sync_cost.py (the cost model on each measured setup);
* NPL: the KEP-3453 5000-node replay (kep3453.py; the fleet with the cost model);
* first packet: first_packet.py (the data-path latency model);
* sizes and fan-out: object sizes of simk8s.api.sizes against KEP-752 and the
  EndpointSlice blog, times the watchers of an update (one kube-proxy per node);
* etcd crossing: the pod count at which one Endpoints object passes etcd's request limit.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from simk8s.api.sizes import Naming, endpoints_limit_pod_count, sizes_table
from simk8s.calibration.sync_cost import sync_cost_points
from simk8s.proxy.iptables import IPT_NUM_2022
from simk8s.proxy.rulecount import iptables_rule_counts

ETCD_LIMIT = 1_572_864  # etcd --max-request-bytes default (server/embed/config.go)
BLOG = "[blog-endpointslices]"
KEP752 = "[kep-752]"
COLUMNS = ["group", "row", "what", "condition", "metric", "published", "simulated", "role", "source"]


def npl_points() -> list[dict]:
    """Rows 10 and 11: NPL at 5000 nodes, full vs partial restores (KEP-3453 figure)."""
    from simk8s.calibration.kep3453 import kep3453_table

    t = kep3453_table(machines=("gce-n1-standard-1",), phases=("A", "B"))
    label = {"A": "full restores", "B": "partial restores (KEP-3453)"}
    return [{"group": "NPL", "row": "10" if r["phase"] == "A" else "11", "what": f"iptables NPL, {label[r['phase']]}",
             "condition": "5000 nodes, minSyncPeriod 10 s", "metric": f"{r['metric']} s", "published": r["published"],
             "simulated": float(r["simulated"]), "role": "fit" if r["fitted"] else "prediction",
             "source": "[KEP-3453] figure (digitized)"} for r in _records(t)]


def first_packet_points() -> list[dict]:
    """Rows 22–29: first-packet latency (nftables blog chart) and Tigera's comparison."""
    from simk8s.calibration.first_packet import calibration_table

    out = []
    for r in _records(calibration_table()):
        row, services = int(r["row"]), int(r["services"])
        if row == 25 and services != 5000:
            continue  # the nftables bars are the same at 10k and 30k: one set of points
        role, source = "fit", "[blog-nftables] chart (digitized)"
        if row == 26:
            role, source = "context", "derived: a line through rows 22 and 24, not a measurement"
        elif row in (27, 29):
            role, source = "prediction", "[tigera-2019]"
        elif row == 28:
            role, source = "context", "[tigera-2019]: 'trivially insignificant', no figure"
        out.append({"group": "first packet", "row": str(row), "what": f"{r['mode']} first packet",
                    "condition": f"{services:,} services", "metric": r["metric"], "published": r["published"],
                    "simulated": float(r["simulated"]), "role": role, "source": source})
    return out


def size_points() -> list[dict]:
    """Object sizes and per-update fan-out bytes (KEP-752, the EndpointSlice blog, #73324):
    the stored protobuf, which etcd's limit applies to and kube-proxies receive (JSON is
    ~1.46× larger, docs/sizes.md)."""
    def size(pods: int, kind: str, field: str = "stored_bytes") -> float:
        return float(next(getattr(r, field) for r in sizes_table(pods) if r.object == kind))

    ep5k, ep20k, ep10k = size(5_000, "Endpoints"), size(20_000, "Endpoints"), size(10_000, "Endpoints")
    slice100 = size(100, "EndpointSlice")
    pts = []

    def add(row, what, condition, metric, published, simulated, source):
        pts.append({"group": "sizes and fan-out", "row": row, "what": what, "condition": condition, "metric": metric,
                    "published": published, "simulated": simulated, "role": "prediction", "source": source})

    add("35", "Endpoints object", "5,000 pods", "MB", 1.5, ep5k / 1e6, BLOG)
    add("35", "bytes sent per Endpoints update", "5,000 pods, 3,000 nodes", "GB", 4.5, ep5k * 3_000 / 1e9, BLOG)
    add("35", "rolling update, every pod replaced", "5,000 pods, 3,000 nodes", "TB", 22.5,
        ep5k * 3_000 * 5_000 / 1e12, BLOG + " (one full object per pod replaced)")
    add("36", "Endpoints object", "20,000 endpoints", "MB", 2.0, ep20k / 1e6, KEP752)
    add("36", "EndpointSlice of 100 endpoints", "100 endpoints", "KB", 10.0, slice100 / 1e3, KEP752)
    add("36", "one endpoint update, Endpoints", "20,000 eps, 5,000 nodes", "GB", 10.0, ep20k * 5_000 / 1e9, KEP752)
    add("36", "one endpoint update, EndpointSlices", "20,000 eps, 5,000 nodes", "MB", 50.0,
        slice100 * 5_000 / 1e6, KEP752)
    add("36", "rolling update, Endpoints", "20,000 eps, 5,000 nodes", "TB", 200.0, ep20k * 5_000 * 20_000 / 1e12,
        KEP752)
    add("36", "rolling update, EndpointSlices", "20,000 eps, 5,000 nodes", "TB", 1.0,
        slice100 * 5_000 * 20_000 / 1e12, KEP752)
    add("37", "Endpoints object", "10,000 pods", "MB ('>1 MB')", 1.0, ep10k / 1e6,
        "kubernetes/kubernetes#73324 (a lower bound: error 0 when above it)")
    add("38", "etcd crossing: pods in one Endpoints object at 1.5 MiB", "one port, short names", "pods", 5_000.0,
        float(endpoints_limit_pod_count(ETCD_LIMIT, naming=Naming())), BLOG + " ('in some cases … 5,000 Pod IPs')")
    return pts


def rule_count_points() -> list[dict]:
    """Rows 30, 31: iptables rule counts of upstream's number_generated_rules_test.go."""
    pts = []
    for e in (1, 2, 10):
        pts.append({"group": "rule counts", "row": "30", "what": "iptables nat rules", "condition": f"1 svc, {e} eps",
                    "metric": "rules", "published": 5 + 2 + 3 * e,
                    "simulated": float(iptables_rule_counts(1, e, options=IPT_NUM_2022).nat_rules),
                    "role": "prediction", "source": "[k8s-iptables-rule-counts]"})
    for lb, n in ((False, 325), (True, 385)):
        pts.append({"group": "rule counts", "row": "31", "what": "iptables nat rules" + (", LoadBalancer" if lb else ""),
                    "condition": "10 svcs × 10 eps", "metric": "rules", "published": n,
                    "simulated": float(iptables_rule_counts(10, 10, load_balancer=lb, options=IPT_NUM_2022).nat_rules),
                    "role": "prediction", "source": "[k8s-iptables-rule-counts]"})
    return pts


#: Published figures the report lists but no scenario here reproduces (row: why).
NOT_REPRODUCED = {
    "13, 34": "nftables NPL and prober latency on gce-100 (kubernetes/kubernetes#124272): needs the "
              "clusterloader2 load at 100 nodes, which no scenario here reproduces",
    "14": "NPL threshold 30 s ([cl2-measurements]): a limit, not a measurement",
    "18 (nft list table)": "`nft list table` alone 40 s (kubernetes/kubernetes#139513): the CLI, not a sync phase",
    "19 (other runs)": "2 min 13 s and ~20 min syncs of the same cluster (kubernetes/kubernetes#135639): "
                       "not said to be full syncs",
    "20 (before the fix)": "12.0 s (kubernetes/kubernetes#84906): a per-externalIP loop fixed since",
    "32": "xtables lock waits of 5 s ([flftuu-2019]): not modelled",
    "33": "10k Services, 250 endpoints per Service ([k8s-scal-thresholds]): scenario bounds",
}


def validation_frame(*, fleet: bool = True) -> pd.DataFrame:
    """All points, one row each, with the relative error (|error| for a lower bound below)."""
    rows = sync_cost_points() + (npl_points() if fleet else []) + first_packet_points() + size_points()
    rows += rule_count_points()
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["rel_error"] = [_error(r) for r in _records(df)]
    return df


def _error(r: dict[str, Any]) -> float:
    sim, pub = r["simulated"], r["published"]
    if sim is None or not pub or math.isnan(float(sim)):
        return float("nan")
    err = float(sim) / float(pub) - 1.0
    return min(0.0, err) if r["row"] == "37" else err  # row 37 is a lower bound


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in df.to_dict("records")]


def summary(df: pd.DataFrame) -> dict[str, float | int]:
    """Counts by role and the median / worst absolute error of the predictions."""
    pred = df[(df["role"] == "prediction") & df["rel_error"].notna()]
    timing = pred[~pred["group"].isin(["sizes and fan-out", "rule counts"])]
    errors = pred["rel_error"].abs()
    return {
        "fit": int((df["role"] == "fit").sum()),
        "prediction": int((df["role"] == "prediction").sum()),
        "context": int((df["role"] == "context").sum()),
        "median": float(errors.median()),
        "worst": float(errors.max()),
        "timing_median": float(timing["rel_error"].abs().median()),
        "timing_worst": float(timing["rel_error"].abs().max()),
    }
