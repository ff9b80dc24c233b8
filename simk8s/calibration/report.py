"""`simk8s calibrate`: every published figure the model is held against, side by side.

Sync-cost rows come from sync_cost.py, first-packet latency rows from first_packet.py,
fleet-level NPL rows from the KEP-3453 replay (kep3453.py). The `row` column numbers the
published figures as docs/model.md "Published figures" lists them, each with its source.
"""

from __future__ import annotations

import pandas as pd

from simk8s.calibration.first_packet import calibration_table as dataplane_table
from simk8s.calibration.sync_cost import calibration_table as sync_cost_table


def kep3453_rows() -> pd.DataFrame:
    """Fleet-level NPL at 5000 nodes (KEP-3453 phases A and B; rows 10 and 11)."""
    from simk8s.calibration.kep3453 import kep3453_table

    t = kep3453_table(machines=("gce-n1-standard-1",), phases=("A", "B"))
    return pd.DataFrame(
        {
            "stage": "kube-proxy fleet NPL",
            "row": t["phase"].map({"A": 10, "B": 11}),
            "mode": "iptables " + t["phase"].map({"A": "full restores", "B": "partial restores"}),
            "condition": "5000 nodes, min-sync 10s (" + t["machine"] + ")",
            "metric": "NPL " + t["metric"].astype(str),
            "published": t["published"],
            "simulated": t["simulated"],
            "rel_error": t["rel_error"],
            "status": t["fitted"].map({True: "fitted (line-cost factor)", False: "predicted"}),
        }
    )


def calibration_frame(*, fleet: bool = True) -> pd.DataFrame:
    cost = sync_cost_table().rename(columns={"quantity": "metric"})
    cost = cost[~cost["status"].astype(str).str.contains("data plane")]  # listed below with their figures
    cost["stage"] = "kube-proxy sync cost"
    data = dataplane_table().rename(columns={"services": "condition"})
    data["condition"] = data["condition"].map(lambda n: f"{n:,} services")
    data["stage"] = "data path first packet"
    cols = ["stage", "row", "mode", "condition", "metric", "published", "simulated", "rel_error"]
    parts = [cost, data]
    if fleet:
        parts[0] = cost[~cost["status"].astype(str).str.contains("fleet")]
        parts.append(kep3453_rows())
    return pd.concat([p.reindex(columns=[*cols, "status"]) for p in parts], ignore_index=True)


def format_calibration() -> str:
    """One section per stage, fit for an 100-column terminal; figures the model does not
    compute (context rows) are listed by name under each section, not as rows of blanks."""
    frame = calibration_frame()
    out = []
    for stage, part in frame.groupby("stage", sort=False):
        known = part[part["published"].notna() & part["simulated"].notna()]
        shown = pd.DataFrame({
            "row": known["row"],
            "mode": known["mode"].astype(str),
            "condition": known["condition"].astype(str).str.replace(r" \(.*", "", regex=True),
            "metric": known["metric"].astype(str),
            "published": known["published"].map(_figure),
            "simulated": known["simulated"].map(_figure),
            "error": known["rel_error"].map(lambda e: "" if pd.isna(e) else f"{e:+.0%}"),
            "status": known["status"].fillna("").astype(str).str.replace(r" \(.*", "", regex=True),
        })
        out.append(f"== {stage} ==")
        out.append(shown.to_string(index=False))
        for _, row in part.drop(known.index).iterrows():
            out.append(f"  row {row['row']}: {row['mode']} ({row['condition']}): {row['status']}")
        out.append("")
    out.append('Rows are numbered as docs/model.md "Published figures" lists them, each with its source.')
    return "\n".join(out)


def _figure(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
