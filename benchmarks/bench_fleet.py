"""Benchmarks: vectorized kube-proxy fleet vs the per-node SimPy reference (simk8s/proxy/reference.py).

    .venv/bin/pytest benchmarks/bench_fleet.py -m benchmark        # pytest-benchmark timings
    .venv/bin/python benchmarks/bench_fleet.py [nodes] [writes]     # fleet vs reference ratio

Each benchmark also asserts exact counters, so a timing run doubles as a regression check.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import pytest

from simk8s.proxy.fleet import ChangeStream, FleetConfig, FleetResult, run_fleet
from simk8s.proxy.reference import run_reference

SEND_TIME = 2e-6  # apiserver → one node, per write (≈ 2.5 KB at 10 Gbps)


def synthetic_stream(n_nodes: int, n_writes: int, duration: float, n_services: int, seed: int):
    """Writes spread over `duration`, fanned out over one apiserver link node after node."""
    rng = np.random.default_rng(seed)
    commit = np.sort(rng.uniform(0.0, duration, n_writes))
    # Link busy n_nodes × SEND_TIME per write: base[w] = max(commit[w], base[w-1] + per_write),
    # a max-plus recurrence solved with a running maximum.
    per_write = n_nodes * SEND_TIME
    shift = np.arange(n_writes) * per_write
    base = np.maximum.accumulate(commit - shift) + shift
    offsets = (rng.permutation(n_nodes) + 1) * SEND_TIME + rng.uniform(0.001, 0.02, n_nodes)
    trigger = commit - rng.uniform(0.0, 0.5, n_writes)
    trigger[rng.random(n_writes) < 0.1] = np.nan
    stream = ChangeStream(
        commit_time=commit,
        trigger_time=trigger,
        service=rng.integers(0, n_services, n_writes).astype(np.int32),
        service_endpoints=rng.integers(0, 500, n_writes).astype(np.int32),
        arrival=lambda w: base[w] + offsets,
    )
    initial = rng.integers(0, 500, n_services).astype(np.int32)
    speed = rng.uniform(0.8, 1.5, n_nodes)
    return stream, initial, speed


def bench_cost(
    full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed
):
    """Simple deterministic stand-in for proxy/cost.py: O(total) full, O(changed) partial."""
    partial = 0.05 + 1e-4 * changed_endpoints + 2e-5 * total_services
    whole = 0.5 + 2e-5 * total_endpoints
    return (np.where(full, whole, partial) + np.where(periodic, 0.1, 0.0)) * speed


def case(n_nodes: int, n_writes: int, duration: float, mode: str = "iptables", seed: int = 0):
    stream, initial, speed = synthetic_stream(n_nodes, n_writes, duration, 10, seed)
    config = FleetConfig(
        n_nodes=n_nodes,
        mode=mode,
        runner="token-bucket",
        min_sync_period=1.0,
        max_interval=3600.0 if mode == "iptables" else 30.0,
        full_sync_period=3600.0,
        end_time=duration + 60.0,
        static_services=2000,
        static_endpoints=20000,
        initial_service_endpoints=initial,
        node_speed=speed,
    )
    return stream, config


def timed(fn: Callable[[], FleetResult]) -> tuple[FleetResult, float]:
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


@pytest.mark.benchmark
def test_fleet_3000_nodes_6000_writes(benchmark):
    stream, config = case(3000, 6000, 600.0)
    result = benchmark.pedantic(
        run_fleet, args=(stream, config, bench_cost), rounds=3, iterations=1
    )
    assert result.counters.syncs == len(result.syncs) > 3000
    assert result.npl.count == 3000 * int(np.isfinite(stream.trigger_time).sum())


@pytest.mark.benchmark
def test_fleet_3000_nodes_6000_writes_ipvs(benchmark):
    stream, config = case(3000, 6000, 600.0, mode="ipvs")
    result = benchmark.pedantic(
        run_fleet, args=(stream, config, bench_cost), rounds=3, iterations=1
    )
    assert result.counters.periodic_syncs > 0


@pytest.mark.benchmark
@pytest.mark.slow
def test_fleet_5000_nodes_100k_writes(benchmark):
    stream, config = case(5000, 100_000, 1800.0)
    result = benchmark.pedantic(
        run_fleet, args=(stream, config, bench_cost), rounds=1, iterations=1
    )
    assert result.npl.count == 5000 * int(np.isfinite(stream.trigger_time).sum())


@pytest.mark.benchmark
def test_fleet_equals_reference_at_200_nodes(benchmark):
    stream, config = case(200, 500, 120.0)
    fleet = run_fleet(stream, config, bench_cost)
    ref = benchmark.pedantic(
        run_reference, args=(stream, config, bench_cost), rounds=1, iterations=1
    )
    assert fleet.syncs_frame().equals(ref.syncs_frame())
    assert np.array_equal(fleet.npl.counts, ref.npl.counts)


def main(argv: list[str]) -> None:
    n_nodes = int(argv[1]) if len(argv) > 1 else 1000
    n_writes = int(argv[2]) if len(argv) > 2 else 1000
    stream, config = case(n_nodes, n_writes, duration=n_writes / 10.0)
    fleet, t_fleet = timed(lambda: run_fleet(stream, config, bench_cost))
    ref, t_ref = timed(lambda: run_reference(stream, config, bench_cost))
    same = fleet.syncs_frame().equals(ref.syncs_frame()) and np.array_equal(
        fleet.npl.counts, ref.npl.counts
    )
    print(f"{n_nodes} nodes × {n_writes} writes: {fleet.counters.syncs} syncs, "
          f"{fleet.npl.count} NPL samples, identical={same}")  # fmt: skip
    print(f"  fleet     {t_fleet:8.3f} s")
    print(f"  reference {t_ref:8.3f} s")
    print(f"  speed-up  {t_ref / t_fleet:8.1f}×")
    for nodes, writes, duration in ((3000, 6000, 600.0), (5000, 100_000, 1800.0)):
        stream, config = case(nodes, writes, duration)
        fleet, t_fleet = timed(lambda s=stream, c=config: run_fleet(s, c, bench_cost))
        print(f"fleet {nodes} nodes × {writes} writes: {t_fleet:.2f} s, "
              f"{fleet.counters.syncs} syncs, {fleet.npl.count} NPL samples, "
              f"NPL {fleet.npl_summary()}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv)
