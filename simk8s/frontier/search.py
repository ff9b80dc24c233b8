"""The frontier search: the largest value of one scenario dimension that keeps every limit,
per variant.

Per variant, the search brackets the breaking point by doubling from the scenario's own
value (or halving when that value already breaks), then bisects the bracket. Each round's
probes go to the sweep executor (`simk8s.sweep.run_points`: local processes or Dask) as
one point per distinct value, carrying the variants that need it, and finished points are
kept in the sweep's resumable store. The probes depend only on earlier figures, and runs
are deterministic, so a rerun asks for the same points and reads them back.

Simplification: each figure is taken to grow with the dimension (once a value breaks a
limit, every larger one does). A non-monotone figure can hide an earlier break between
two probes; when the probes themselves show a limited figure falling as the dimension
grows, the answer carries a note saying so (`_falling_notes`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simk8s.frontier.limits import ALIASES, Limit, format_value, parse_limit


@dataclass
class _Bracket:
    ok: float | None = None  # largest value known to keep every limit
    broken: float | None = None  # smallest value known to break one
    broken_by: str = ""


@dataclass
class Frontier:
    """A frontier's answer: `table` (one row per variant) and `probes` (every run)."""

    grow: str
    limits: list[Limit]
    table: pd.DataFrame
    probes: pd.DataFrame
    points: int = 0  # probes run or read back
    reused: int = 0  # read back from the points store
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"largest {self.grow} keeping {', '.join(str(lim) for lim in self.limits)}:"]
        show = self.table.copy()
        for lim in self.limits:
            column = f"{lim.name} at largest"
            show[column] = [format_value(v, lim.unit) for v in show[column]]
        show = show.astype(object).where(show.notna(), "–")
        lines.append(show.to_string(index=False))
        return "\n".join([*lines, *self.notes])


def frontier(
    scenario: str | Path,
    grow: str,
    limits: Sequence[str | Limit],
    *,
    variants: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    start: float | None = None,
    lowest: float = 1,
    highest: float | None = None,
    resolution: float | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    points_store: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Frontier:
    """Search `grow` (a dotted scenario path holding a number, e.g. `workloads.0.replicas`)
    for each variant's largest value keeping every limit (`npl.p99=5s`, … see
    simk8s.frontier.limits). `overrides`: fixed scenario values for every probe (`--set`
    style paths). `start`: the first probe (default: the scenario's value);
    `highest`: give up growing there (default 1024 × start); `resolution`: stop bisecting
    when the bracket is this narrow (default 1 for whole numbers, 1 % of start otherwise)."""
    from simk8s.scenario import load_scenario, load_variants
    from simk8s.sweep import PointStore, override_text, run_points, typed_value

    parsed = [lim if isinstance(lim, Limit) else parse_limit(lim) for lim in limits]
    if not parsed:
        raise ValueError("a frontier needs at least one limit")
    fixed = dict(overrides or {})
    if grow in fixed:
        raise ValueError(f"{grow} is both grown and fixed")
    first_point = {**fixed, **({grow: start} if start is not None else {})}
    sc = load_scenario(scenario, [f"{k}={override_text(v)}" for k, v in first_point.items()])
    names = [n for n, _ in load_variants(sc)]
    if variants:
        unknown = [v for v in variants if v not in names]
        if unknown:
            raise ValueError(f"no variant named {', '.join(unknown)}; have {', '.join(names)}")
        names = [n for n in names if n in variants]
    try:
        _unit, current = typed_value(sc, grow)
    except (StopIteration, AttributeError, IndexError, ValueError):
        raise ValueError(f"{grow}: not a field of this scenario") from None
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise ValueError(f"{grow}: holds {current!r}, not a number to grow")
    integer = isinstance(current, int)
    first = start if start is not None else current
    first = max(first, lowest)
    if highest is not None and highest < first:
        raise ValueError(f"--max {_shown(highest, integer)} is below the first value probed, {_shown(first, integer)}")
    top = highest if highest is not None else max(first * 1024, lowest)
    step = resolution if resolution is not None else (1 if integer else max(abs(first) * 0.01, 1e-9))
    brackets = {n: _Bracket() for n in names}
    store = PointStore(points_store) if points_store is not None else None
    probes: list[pd.DataFrame] = []
    done_points = reused = 0
    nodes_at: dict[float, dict[str, int]] = {}
    while True:
        wanted: dict[float, list[str]] = {}
        for name in names:
            value = _next_value(brackets[name], first, lowest, top, step, integer)
            if value is not None:  # None: this variant's search is over
                wanted.setdefault(value, []).append(name)
        if not wanted:
            break
        values = sorted(wanted)
        requests = [({**fixed, grow: int(v) if integer else v}, wanted[v]) for v in values]
        base = done_points

        def counted(done: int, total: int, _base: int = base) -> None:
            if progress is not None:
                progress(_base + done, _base + total)

        ran = run_points(scenario, requests, executor=executor, workers=workers, points_store=store, progress=counted)
        done_points += len(requests)
        reused += ran.reused
        if done_points == len(requests):  # the first batch: every figure named must exist
            _check_figures(parsed, ran.frames)
        for value, frame in zip(values, ran.frames, strict=True):
            nodes = nodes_at.setdefault(value, _nodes(scenario, {**fixed, grow: int(value) if integer else value}))
            for name in wanted[value]:
                row = _row_of(frame, name)
                verdict = _judge(row, parsed, nodes.get(name, 0))
                _record(brackets[name], value, verdict)
                probes.append(pd.DataFrame([{grow: value, "variant": name, **_figures(row, parsed, nodes.get(name, 0)),
                                             "ok": not verdict, "broken_by": verdict or None}]))
    frame = pd.concat(probes, ignore_index=True) if probes else pd.DataFrame()
    if integer and not frame.empty:
        frame[grow] = frame[grow].astype(int)
    table = _table(grow, parsed, names, brackets, frame, integer, top, lowest)
    notes = _falling_notes(frame, grow, parsed, integer)
    if any(b.broken is None for b in brackets.values()):
        notes.append(f"(none broke up to {_shown(top, integer)}: raise --max to look further)")
    return Frontier(grow, parsed, table, frame, done_points, reused, notes)


FALL = 0.05  # a figure lower by more than this share at a larger value counts as falling


def _falling_notes(probes: pd.DataFrame, grow: str, limits: list[Limit], integer: bool) -> list[str]:
    """One note per (variant, limit) whose figure fell by more than FALL between two probes as
    the dimension grew: the search assumes the opposite, so its answer is less exact than it
    looks (a seed's noise, e.g. NPL p99 from a few hundred samples, can move it)."""
    notes: list[str] = []
    if probes.empty:
        return notes
    for name, mine in probes.groupby("variant", sort=False):
        ordered = mine.sort_values(grow)
        for lim in limits:
            values = ordered[[grow, lim.name]].dropna().to_numpy().tolist()
            peak_at, peak = None, None
            for at, figure in values:
                if peak is not None and peak_at is not None and figure < peak * (1 - FALL):
                    notes.append(f"({name}: {lim.name} fell from {format_value(peak, lim.unit)} at "
                                 f"{_shown(peak_at, integer)} to {format_value(figure, lim.unit)} at "
                                 f"{_shown(at, integer)}: not monotone here, so the breaking point is "
                                 "approximate; rerun with another seed to see the spread)")
                    break
                if peak is None or figure > peak:
                    peak_at, peak = at, figure
    return notes


def _next_value(b: _Bracket, first: float, lowest: float, top: float, step: float, integer: bool) -> float | None:
    if b.ok is None and b.broken is None:
        return first
    if b.broken is None:  # still growing
        assert b.ok is not None
        if b.ok >= top:
            return None
        return min(max(b.ok * 2, b.ok + step), top)
    if b.ok is None:  # breaks already: shrink
        if b.broken <= lowest:
            return None
        nxt = max(b.broken / 2, lowest)
        return float(math.floor(nxt)) if integer else nxt
    if b.broken - b.ok <= step:
        return None
    mid = (b.ok + b.broken) / 2
    return float(math.floor(mid)) if integer else mid


def _record(b: _Bracket, value: float, verdict: str) -> None:
    if verdict:
        if b.broken is None or value < b.broken:
            b.broken, b.broken_by = value, verdict
    elif b.ok is None or value > b.ok:
        b.ok = value


def _row_of(frame: pd.DataFrame, name: str) -> dict[str, Any]:
    if "variant" in frame.columns:
        mine = frame[frame["variant"] == name]
        if not mine.empty:
            return dict(mine.iloc[0])
    # the point failed as a whole (did not load, or its worker died): one row for all
    return dict(frame.iloc[0]) if not frame.empty else {"exception": "no result"}


def _judge(row: dict[str, Any], limits: list[Limit], nodes: int) -> str:
    """'' when every limit holds; else what broke (the limits, or the run's error)."""
    error = row.get("exception")
    if isinstance(error, str) and error:
        first = error.splitlines()[0]
        refused = re.match(r"ScenarioError: --set:\d+: [^:]+: (.*)", first)
        if refused:  # the model's own input limits (e.g. the cluster's room for pods)
            return f"refused: {refused.group(1)}"
        return f"error: {first if len(first) <= 90 else first[:89] + '…'}"
    return ", ".join(lim.name for lim in limits if not lim.keeps(row, nodes))


def _check_figures(limits: list[Limit], frames: list[pd.DataFrame]) -> None:
    """ValueError for a limit on a summary figure no run has (a typo would otherwise keep the
    limit at every size: a missing figure counts as kept). Runs that failed prove nothing."""
    columns = set().union(*(f.columns for f in frames if "variant" in f.columns))
    if not any(c.startswith("kube_proxy.") for c in columns):
        return
    for lim in limits:
        if lim.name not in ALIASES and lim.name not in columns:
            near = sorted(c for c in columns if c.split(".")[0] == lim.name.split(".")[0])[:5]
            hint = f" (figures under {lim.name.split('.')[0]}: {', '.join(near)})" if near else ""
            raise ValueError(f"--limit {lim.name}: no such figure in a run's summary{hint}")


def _figures(row: dict[str, Any], limits: list[Limit], nodes: int) -> dict[str, float | None]:
    return {lim.name: lim.value(row, nodes) for lim in limits}


def _nodes(scenario: str | Path, point: Mapping[str, Any]) -> dict[str, int]:
    """Each variant's node count at this point (for per-node limits)."""
    from simk8s.scenario import load_scenario, load_variants
    from simk8s.sweep import override_text

    try:
        overrides = [f"{k}={override_text(v)}" for k, v in point.items()]
        return {n: s.cluster.nodes for n, s in load_variants(load_scenario(scenario, overrides))}
    except Exception:  # the point itself reports why it does not load
        return {}


def _table(grow: str, limits: list[Limit], names: list[str], brackets: dict[str, _Bracket],
           probes: pd.DataFrame, integer: bool, top: float, lowest: float) -> pd.DataFrame:
    rows = []
    for name in names:
        b = brackets[name]
        row: dict[str, Any] = {"variant": name, "largest ok": _as_number(b.ok, integer),
                               "first broken": _as_number(b.broken, integer), "broken by": b.broken_by or None}
        at = probes[(probes["variant"] == name) & (probes[grow] == b.ok)] if b.ok is not None else probes.iloc[0:0]
        for lim in limits:
            row[f"{lim.name} at largest"] = at[lim.name].iloc[0] if not at.empty else None
        rows.append(row)
    table = pd.DataFrame(rows)
    if integer:  # whole numbers, with <NA> where nothing broke
        for column in ("largest ok", "first broken"):
            table[column] = table[column].astype("Int64")
    return table


def _as_number(value: float | None, integer: bool) -> float | int | None:
    if value is None:
        return None
    return int(value) if integer else value


def _shown(value: float, integer: bool) -> str:
    return f"{int(value):,}" if integer else f"{value:g}"
