"""Parameter sweeps: one scenario, a grid of overrides, any concurrent.futures Executor.

    from simk8s.sweep import sweep
    frame = sweep("scenarios/quick.yaml", {"cluster.kubeProxy.minSyncPeriod": ["0s", "1s", "10s"]})

Runs go to a process pool by default; pass `executor=dask.distributed.Client(...).get_executor()`
to spread them over a Dask cluster. Each point's scenario is loaded and resolved here and
travels to the worker whole (manifests merged in), so a worker needs no file and no working
directory of ours. Each run is independent and deterministic (same seed → same figures,
whatever the worker), and a point that fails is a row with its `exception`.

With `points_store`, every finished point is written there as it finishes, keyed by a hash of
its resolved scenario, overrides, seed, variants and the simk8s version; a rerun reads those
back and runs only the missing points, so an interrupted sweep loses nothing. Failed points
are not kept: a rerun tries them again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
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

POINTS_WRITTEN_BY = "simk8s sweep points"  # the marker of a points store


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


# --- one point ---------------------------------------------------------------------------------


@dataclass
class PointJob:
    """One grid point, resolved: what a worker needs to run it (and nothing on disk)."""

    point: dict[str, Any]
    variants: list[tuple[str, Any]]  # (name, resolved Scenario), in scenario order
    key: str


def run_point(scenario: str | PointJob, point: Mapping[str, Any] | None = None,
              variants: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One grid point, every requested variant; never raises (failures are rows).
    `scenario` is a PointJob (a resolved point), or a scenario path loaded here."""
    if not isinstance(scenario, PointJob):
        job = prepare_point(scenario, dict(point or {}), variants)
        if isinstance(job, list):
            return job
        scenario = job
    return _run_job(scenario)


def _run_job(job: PointJob) -> list[dict[str, Any]]:
    from simk8s.pipeline import cluster_groups, run_group

    try:
        results = [r for group in cluster_groups(job.variants) for r in run_group(group)]
    except Exception as exc:  # one failed run is a row of the table, not the end of the sweep
        return [_failed_row(job.point, exc)]
    rows = []
    for v in results:
        row = {**job.point, "variant": v.name, **flatten(v.summary)}
        row["exception"] = v.summary["sim"]["exception"]
        rows.append(row)
    return rows


def _failed_row(point: Mapping[str, Any], exc: BaseException) -> dict[str, Any]:
    text = "\n".join(exc.lines) if hasattr(exc, "lines") else str(exc)
    return {**point, "variant": None, "exception": f"{type(exc).__name__}: {text}"}


def prepare_point(scenario: str | Path, point: dict[str, Any], variants: Sequence[str]) -> PointJob | list[dict[str, Any]]:
    """Load and resolve one point here (the caller's files, the caller's directory): a
    PointJob, or its failure row when the point does not load."""
    from simk8s import __version__
    from simk8s.experiment import resolved_document
    from simk8s.scenario import load_scenario, load_variants

    overrides = [f"{k}={override_text(v)}" for k, v in point.items()]
    try:
        sc = load_scenario(scenario, overrides)
        chosen = load_variants(sc)
        if variants:
            unknown = sorted(set(variants) - {n for n, _ in chosen})
            if unknown:
                raise ValueError(f"no variant named {', '.join(unknown)}")
            chosen = [(n, s) for n, s in chosen if n in variants]
    except Exception as exc:
        return [_failed_row(point, exc)]
    identity = {
        "resolved": resolved_document(sc, chosen),
        "overrides": overrides,
        "seed": sc.seed,
        "variants": [n for n, _ in chosen],
        "simk8s": __version__,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return PointJob(point, chosen, key)


def override_text(value: Any) -> str:
    """A grid value as `--set` text that reads back as the same value ("1.20" stays a string)."""
    from simk8s.scenario.yamlsource import parse_value

    if isinstance(value, str):
        try:
            if parse_value(value) == value:
                return value
        except ValueError:
            pass
    return json.dumps(value)


# --- typed columns ---------------------------------------------------------------------------

# The scenario's unit-bearing field types, by the parser that reads them (simk8s.scenario.types).
_UNITS = {
    "parse_duration": "s",
    "_parse_duration_or_never": "s",
    "parse_quantity": "bytes",
    "parse_bandwidth": "bytes_per_s",
    "parse_rate": "per_s",
}


def typed_value(scenario: Any, path: str) -> tuple[str | None, Any]:
    """The value a dotted scenario path resolved to, and its unit (None for a plain count,
    number, flag or name): `cluster.kubeProxy.minSyncPeriod` → ("s", 10.0)."""
    obj, info = scenario, None
    for part in path.split("."):
        if isinstance(obj, list | tuple):
            obj = obj[int(part)]
            continue
        fields = type(obj).model_fields
        name = next(n for n, f in fields.items() if part in (n, f.alias))
        info, obj = fields[name], getattr(obj, name)
    unit = None
    for meta in getattr(info, "metadata", ()):
        func = getattr(meta, "func", None)
        if func is not None and getattr(func, "__name__", "") in _UNITS:
            unit = _UNITS[func.__name__]
    return unit, obj


def _typed_columns(job: PointJob, variant: str | None = None) -> dict[str, Any]:
    """`<path>_<unit>` for each swept value with a unit (seconds, bytes, …), as the named
    variant ran it (a variant may set the swept path itself)."""
    out = {}
    scenarios = dict(job.variants)
    sc = scenarios.get(variant) if variant in scenarios else (job.variants[0][1] if job.variants else None)
    for key in job.point:
        if sc is None:
            continue
        try:
            unit, value = typed_value(sc, key)
        except (StopIteration, AttributeError, IndexError, ValueError):
            continue
        if unit is not None:
            out[f"{key}_{unit}"] = float(value)
    return out


# --- finished points on disk -----------------------------------------------------------------


def _frame_bytes(rows: list[dict[str, Any]], key: str, point: Mapping[str, Any]) -> bytes:
    """One point's rows as Parquet (how every point is stored and assembled)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from simk8s import __version__

    table = pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)
    marker = json.dumps({"written_by": "simk8s sweep point", "key": key, "simk8s_version": __version__,
                         "point": point}, default=str).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), PARQUET_KEY: marker})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


class PointStore:
    """Finished points, one Parquet file: each point's own Parquet bytes under its key, so
    a point reads back exactly as it was first assembled. Rewritten whole (atomically) as
    each point finishes: a kill leaves the previous store, never half of one. Only a store
    simk8s wrote is ever replaced."""

    def __init__(self, path: str | Path, *, inputs: Sequence[str | Path] = ()) -> None:
        self.path = check_output_file(path, inputs=inputs, owned=_is_point_store)
        self.blobs = self._load()

    def _load(self) -> dict[str, bytes]:
        import pyarrow.parquet as pq

        if not self.path.exists():
            return {}
        try:
            table = pq.read_table(self.path)
            return dict(zip(table.column("key").to_pylist(), table.column("data").to_pylist(), strict=True))
        except Exception:  # unreadable (ours, by the marker): start afresh
            return {}

    def get(self, key: str) -> bytes | None:
        return self.blobs.get(key)

    def put(self, key: str, data: bytes) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.blobs[key] = data
        table = pa.table({"key": pa.array(list(self.blobs), pa.string()),
                          "data": pa.array(list(self.blobs.values()), pa.binary())})
        marker = json.dumps({"written_by": POINTS_WRITTEN_BY}).encode()
        table = table.replace_schema_metadata({PARQUET_KEY: marker})

        def write(tmp: Path) -> None:
            pq.write_table(table, tmp)

        write_file_atomically(self.path, write)


def _is_point_store(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        meta = (pq.read_schema(path).metadata or {}).get(PARQUET_KEY, b"{}")
        return bool(json.loads(meta).get("written_by") == POINTS_WRITTEN_BY)
    except Exception:  # not Parquet, or not ours
        return False


# --- the sweep ---------------------------------------------------------------------------------


@dataclass
class SweepRun:
    """A sweep's table and what happened to its points."""

    frame: pd.DataFrame
    points: int
    reused: int  # finished in an earlier run (read from the points store)
    failed: int  # points with an exception (a failed load, or any variant's run)


def sweep(
    scenario: str | Path,
    grid: Mapping[str, Sequence[Any]],
    *,
    variants: Sequence[str] = (),
    executor: Executor | None = None,
    workers: int | None = None,
    points_store: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """One row per (grid point, variant), in grid order whatever finishes first."""
    return run_sweep(scenario, grid, variants=variants, executor=executor, workers=workers,
                     points_store=points_store, progress=progress).frame


def run_sweep(
    scenario: str | Path,
    grid: Mapping[str, Sequence[Any]],
    *,
    variants: Sequence[str] = (),
    executor: Executor | None = None,
    workers: int | None = None,
    points_store: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepRun:
    """As `sweep`, with the count of reused and failed points. `progress(done, total)` is
    called as points finish (reused ones count as done at the start). `points_store`: a
    Parquet file of finished points (see PointStore), read first and added to."""
    points = grid_points(grid)
    done = run_points(scenario, [(p, variants) for p in points], executor=executor, workers=workers,
                      points_store=points_store, progress=progress)
    frame = pd.concat(done.frames, ignore_index=True) if done.frames else pd.DataFrame()
    failed = sum(bool(part["exception"].notna().any()) for part in done.frames if "exception" in part.columns)
    return SweepRun(frame, len(points), done.reused, failed)


@dataclass
class PointsRun:
    """Each requested point's rows (in request order) and how many came from the store."""

    frames: list[pd.DataFrame]
    reused: int


def run_points(
    scenario: str | Path,
    requests: Sequence[tuple[Mapping[str, Any], Sequence[str]]],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    points_store: str | Path | PointStore | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PointsRun:
    """Run (point, variants) requests on the executor, reusing and adding to the points store;
    each point may name its own variants (a frontier probes different values per variant)."""
    store = points_store if isinstance(points_store, PointStore) or points_store is None else PointStore(points_store)
    jobs: list[PointJob | None] = []
    frames: dict[int, bytes] = {}
    reused = 0
    for i, (p, variants) in enumerate(requests):
        point = dict(p)
        prepared = prepare_point(scenario, point, variants)
        if isinstance(prepared, list):  # did not load: its failure row
            frames[i] = _frame_bytes(prepared, "", point)
            jobs.append(None)
            continue
        job = prepared
        jobs.append(job)
        if store is not None:
            stored = store.get(job.key)
            if stored is not None:
                frames[i] = stored
                reused += 1
    todo = [i for i, job in enumerate(jobs) if job is not None and i not in frames]
    done = len(requests) - len(todo)
    if progress is not None:
        progress(done, len(requests))
    if todo:
        runnable = [j for j in (jobs[i] for i in todo) if j is not None]
        for i, rows in _run_jobs(runnable, todo, executor, workers):
            finished = jobs[i]
            assert finished is not None
            data = _frame_bytes([{**row, **_typed_columns(finished, row.get("variant"))} for row in rows], finished.key, finished.point)
            frames[i] = data
            if store is not None and not any(r.get("exception") for r in rows):
                store.put(finished.key, data)
            done += 1
            if progress is not None:
                progress(done, len(requests))
    return PointsRun([_as_frame(frames[i]) for i in range(len(requests))], reused)


def _as_frame(data: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pandas()


def _run_jobs(jobs: list[PointJob], index: list[int], executor: Executor | None,
              workers: int | None) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(grid index, rows) of each job as it finishes."""
    own = executor is None
    pool = executor or _local_pool(workers)
    pending: dict[Future, int] = {}
    by_index = dict(zip(index, jobs, strict=True))
    try:
        pending = {pool.submit(run_point, job): i for i, job in by_index.items()}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in sorted(finished, key=pending.__getitem__):  # same order for the same batch
                i = pending.pop(f)
                try:
                    rows = f.result()
                except Exception as exc:  # the worker itself failed (died, lost, unpicklable)
                    rows = [_failed_row(by_index[i].point, exc)]
                yield i, rows
    except BaseException:  # Ctrl-C or SIGTERM: stop our own workers now, not after their runs
        for f in pending:
            f.cancel()
        if own:
            stop_workers(pool)
        raise
    finally:
        if own:
            with contextlib.suppress(Exception):
                pool.shutdown()


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
