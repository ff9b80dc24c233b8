"""Data path benchmark: 1,000,000 connections over 3000 nodes during a rolling update.

Run: .venv/bin/python benchmarks/bench_dataplane.py   (or pytest benchmarks -m benchmark)
Prints wall time per mode / scheduler and checks exact counters (noise-free regression signal).

    .venv/bin/python benchmarks/bench_dataplane.py --rolling [VARIANT ...] [--repeat N]

times the pipeline's data-path stage alone on scenarios/rolling-2000.yaml: the cluster,
watch and proxy stages run once per variant (the cluster once per cluster_key), then
`run_dataplane_stage` runs N times (best wall time printed).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simk8s.dataplane import TrafficSpec, simulate_traffic
from simk8s.dataplane.synthetic import rolling_update

N_NODES = 3000
CONNECTIONS = 1_000_000
DURATION = 150.0
CASES = [
    ("iptables", "rr", None),
    ("nftables", "rr", None),
    ("ipvs", "sh", None),
    ("ipvs", "mh", None),
    ("ipvs", "rr", None),
    ("ipvs", "lc", None),
    ("iptables", "rr", 10800.0),
]


def build(affinity: float | None):
    return rolling_update(n_nodes=N_NODES, replicas=300, rng=np.random.default_rng(1), surge=15, step_interval=5.0,
                          service_ports_total=5000, session_affinity_timeout=affinity)  # fmt: skip


def run_case(mode: str, scheduler: str, affinity: float | None) -> tuple[float, dict]:
    ro = build(affinity)
    spec = TrafficSpec(rate=CONNECTIONS / DURATION, start=0.0, end=DURATION, clients=60_000)
    t0 = time.perf_counter()
    res = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode=mode, ipvs_scheduler=scheduler,
                           rng=np.random.default_rng(7))  # fmt: skip
    wall = time.perf_counter() - t0
    return wall, res.summary()


def rolling_stage_times(only: list[str], repeat: int) -> None:
    from simk8s.dataplane.stage import run_dataplane_stage
    from simk8s.pipeline import cluster_key, run_variant
    from simk8s.scenario import load_scenario, load_variants

    path = Path(__file__).resolve().parent.parent / "scenarios" / "rolling-2000.yaml"
    clusters: dict[str, object] = {}
    for name, sc in load_variants(load_scenario(path)):
        if only and name not in only:
            continue
        key = cluster_key(sc)
        r = run_variant(sc, name, stages=("cluster", "watch", "proxy"), cluster=clusters.get(key))
        clusters[key] = r.cluster
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = run_dataplane_stage(sc, r.cluster, r.fleet)
            walls.append(time.perf_counter() - t0)
        conns = sum(t.n for t in res.values())
        print(f"{name:20s} data path {min(walls):6.2f} s (best of {repeat})  {conns:,} connections", flush=True)


def main() -> None:
    if "--rolling" in sys.argv:
        args = [a for a in sys.argv[1:] if a != "--rolling"]
        repeat = 3
        if "--repeat" in args:
            i = args.index("--repeat")
            repeat = int(args[i + 1])
            del args[i : i + 2]
        rolling_stage_times(args, repeat)
        return
    ro = build(None)
    print(f"{N_NODES} nodes, {len(ro.history.versions)} endpoint versions, ~{CONNECTIONS:,} connections")
    for mode, scheduler, affinity in CASES:
        wall, s = run_case(mode, scheduler, affinity)
        label = f"{mode}{'/' + scheduler if mode == 'ipvs' else ''}{' +affinity' if affinity else ''}"
        print(
            f"{label:22s} {wall:6.2f} s  {s['connections'] / wall / 1e6:5.2f} M conn/s  "
            f"pod-gone={s['failed']['failed-pod-gone']:6d}  p50={s['first_packet_ms']['p50']:.4f} ms  "
            f"p99={s['first_packet_ms']['p99']:.4f} ms  imbalance max/mean={s['imbalance']['max_over_mean']:.2f}"
        )


@pytest.mark.benchmark
def test_bench_iptables_million(benchmark):
    _wall, s = benchmark.pedantic(run_case, args=("iptables", "rr", None), rounds=1, iterations=1)
    # exact counters: the noise-free regression signal riding along with the timing
    assert s["connections"] == 1_000_939
    assert s["failed"]["failed-pod-gone"] == 4662


if __name__ == "__main__":
    main()
