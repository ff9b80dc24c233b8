"""Parameter sweeps: one scenario, a grid of overrides, any concurrent.futures Executor.

    from simk8s.sweep import sweep
    frame = sweep("scenarios/quick.yaml", {"cluster.kubeProxy.minSyncPeriod": ["0s", "1s", "10s"]})

Runs go to a process pool by default; pass `executor=dask.distributed.Client(...).get_executor()`
to spread them over a Dask cluster. Each run is independent and deterministic (same seed →
same figures, whatever the worker), and a run that fails is a row with its `exception`.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from simk8s.results.output import (
    PARQUET_KEY,
    check_output_file,
    parquet_written_by_simk8s,
    write_file_atomically,
)
from simk8s.workers import die_with_parent, stop_workers


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def run_point(scenario: str, point: Mapping[str, Any], variants: Sequence[str]) -> list[dict[str, Any]]:
    """One grid point, every requested variant; never raises (failures are rows)."""
    from simk8s.experiment import run_scenario

    overrides = [f"{k}={v}" for k, v in point.items()]
    try:
        exp = run_scenario(scenario, overrides=overrides, only=variants, write=False)
    except Exception as exc:  # failures of one run are data (DESIGN principle 5)
        return [{**point, "variant": None, "exception": f"{type(exc).__name__}: {exc}"}]
    rows = []
    for v in exp.variants:
        row = {**point, "variant": v.name, **flatten(v.summary)}
        row["exception"] = v.summary["sim"]["exception"]
        rows.append(row)
    return rows


def sweep(
    scenario: str | Path,
    grid: Mapping[str, Sequence[Any]],
    *,
    variants: Sequence[str] = (),
    executor: Executor | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    points = grid_points(grid)
    own = executor is None
    pool = executor or _local_pool(workers)
    try:
        futures = [pool.submit(run_point, str(scenario), p, tuple(variants)) for p in points]
        rows = [row for f in futures for row in f.result()]
    except BaseException:  # Ctrl-C or SIGTERM: stop our own workers now, not after their runs
        if own:
            stop_workers(pool)
        raise
    finally:
        if own:
            pool.shutdown()
    return pd.DataFrame(rows)


def _local_pool(workers: int | None) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),))


def write_sweep(frame: pd.DataFrame, target: str | Path, *, inputs: Sequence[str | Path] = ()) -> Path:
    """Write a sweep's table to `target` (Parquet) whole or not at all. Refuses (OutputError)
    a target that is an input, a directory, or a file simk8s did not write."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = check_output_file(target, inputs=inputs, owned=parquet_written_by_simk8s)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    from simk8s import __version__

    marker = json.dumps({"written_by": "simk8s sweep", "simk8s_version": __version__}).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), PARQUET_KEY: marker})
    write_file_atomically(target, lambda tmp: pq.write_table(table, tmp))
    return target
