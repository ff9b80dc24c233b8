"""Fit the tool prices of simk8s.proxy.cost to this host's timings (`simk8s calibrate --host`).

Input: the records of host_timing.measure (one per timed run). The median of each size's
repeats is fitted, least squares on the relative error (as sync_cost.py fits the published
figures) with every price kept >= 0:
- iptables-restore: T = a + t_restore_per_line × L + t_restore_per_line_sq × L², L = input
  lines, over full and partial restores (iptables-nft is superlinear in what one restore writes);
- iptables-save -t nat: T = a + t_save_per_line × printed lines;
- nft -f, full transaction: T = a + c_service_sq × S² + c_service × S + c_endpoint × E.
The intercepts `a` (process start, cache load) are reported, not used: the model's t_fixed
stands for the whole fixed cost of a sync. Partial nft transactions are listed against the
fitted model, not fitted: what they cost beyond the changed objects grows with the table (nft
reloads its cache each run), which the model charges through nftables.t_compute_per_object.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from simk8s.proxy import cost

PARAMS_OF = {  # op → (cost_params section, its price names in column order after the intercept)
    "restore": ("iptables", ("t_restore_per_line", "t_restore_per_line_sq")),
    "save": ("iptables", ("t_save_per_line",)),
    "nft": ("nftables", ("c_service_sq", "c_service", "c_endpoint")),
}


def nonnegative_relative_ls(columns: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """argmin Σ(model/y − 1)² with every coefficient >= 0; exact for a handful of columns
    (the best unconstrained solution over every subset of columns that is feasible)."""
    a = np.stack([c / y for c in columns], axis=1)
    ones = np.ones_like(y)
    best, best_err = np.zeros(len(columns)), float(ones @ ones)
    for k in range(1, len(columns) + 1):
        for subset in itertools.combinations(range(len(columns)), k):
            sol = np.linalg.lstsq(a[:, subset], ones, rcond=None)[0]
            if (sol < 0).any():
                continue
            r = a[:, subset] @ sol - ones
            if float(r @ r) < best_err - 1e-15:
                best, best_err = np.zeros(len(columns)), float(r @ r)
                best[list(subset)] = sol
    return best


def medians(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    keys = ["op", "services", "endpoints", "eps", "lines"]
    return (frame.groupby(keys, sort=False)
            .agg(wall=("wall", "median"), cpu=("cpu", "median"), repeats=("wall", "size"))
            .reset_index())


def _design(op: str, m: pd.DataFrame) -> list[np.ndarray]:
    one = np.ones(len(m))
    if op == "restore":
        lines = m["lines"].to_numpy(float)
        return [one, lines, lines * lines]
    if op == "save":
        return [one, m["lines"].to_numpy(float)]
    s, e = m["services"].to_numpy(float), m["endpoints"].to_numpy(float)
    return [one, s * s, s, e]


_ROWS = {"restore": ("ipt_full", "ipt_partial"), "save": ("ipt_save",), "nft": ("nft_full",)}


def fit(records: list[dict]) -> dict[str, Any]:
    """{"params": {section: {price: value}}, "intercepts": {op: s}, "residuals": DataFrame,
    "tool_cpu_fraction": CPU/wall of all timed runs}."""
    m = medians(records)
    params: dict[str, dict[str, float]] = {"iptables": {}, "nftables": {}}
    intercepts: dict[str, float] = {}
    fitted = pd.Series(np.nan, index=m.index)
    for op, rows in _ROWS.items():
        part = m[m["op"].isin(rows)]
        if part.empty:
            continue
        cols = _design(op, part)
        coef = nonnegative_relative_ls(cols, part["wall"].to_numpy(float))
        section, names = PARAMS_OF[op]
        intercepts[op] = float(coef[0])
        params[section].update({n: float(c) for n, c in zip(names, coef[1:], strict=True)})
        fitted[part.index] = np.stack(cols, axis=1) @ coef
    nft = m[m["op"] == "nft_partial"]
    if not nft.empty and "c_endpoint" in params["nftables"]:
        q = params["nftables"]
        s = nft["services"].to_numpy(float)
        # one changed Service, one endpoint chain added and one deleted per transaction
        fitted[nft.index] = (intercepts["nft"] + q["c_service_sq"] * 2 * s + q["c_service"] + q["c_endpoint"] * 2)
    residuals = m.assign(model=fitted, rel_error=fitted / m["wall"] - 1.0,
                         status=np.where(m["op"] == "nft_partial", "predicted", "fitted"))
    frame = pd.DataFrame(records)
    return {"params": {k: v for k, v in params.items() if v}, "intercepts": intercepts, "residuals": residuals,
            "tool_cpu_fraction": float(frame["cpu"].sum() / frame["wall"].sum())}


def published_beside(params: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Each price of the profile beside the published one (0 where the published model has
    no such term)."""
    base = cost.load_params()
    rows = []
    for section, values in params.items():
        for name, value in values.items():
            pub = float(base[section].get(name, 0.0))
            rows.append({"price": f"{section}.{name}", "published": pub, "this host": value,
                         "ratio": value / pub if pub else np.nan})
    return pd.DataFrame(rows)
