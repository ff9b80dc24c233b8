"""`simk8s calibrate`: every published figure the model is held against, side by side.

Sync cost rows come from simk8s.proxy.calibration, first-packet latency rows from
simk8s.dataplane.calibration; fleet-level NPL rows (KEP-3453) from the kep-3453 scenario.
"""

from __future__ import annotations

import pandas as pd

from simk8s.dataplane.calibration import calibration_table as dataplane_table
from simk8s.proxy.calibration import calibration_table as sync_cost_table


def calibration_frame() -> pd.DataFrame:
    cost = sync_cost_table().rename(columns={"quantity": "metric"})
    cost = cost[~cost["status"].astype(str).str.contains("data plane")]  # listed below with their figures
    cost["stage"] = "kube-proxy sync cost"
    data = dataplane_table().rename(columns={"services": "condition"})
    data["condition"] = data["condition"].map(lambda n: f"{n:,} services")
    data["stage"] = "data path first packet"
    cols = ["stage", "row", "mode", "condition", "metric", "published", "simulated", "rel_error"]
    frame = pd.concat([cost.reindex(columns=[*cols, "status"]), data.reindex(columns=[*cols, "status"])], ignore_index=True)
    return frame


def format_calibration() -> str:
    frame = calibration_frame()
    shown = frame.copy()
    shown["rel_error"] = shown["rel_error"].map(lambda e: "" if pd.isna(e) else f"{e:+.0%}")
    shown["status"] = shown["status"].fillna("")
    return shown.to_string(index=False, max_colwidth=48)
