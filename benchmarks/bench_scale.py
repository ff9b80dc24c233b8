"""The scale benchmark: scenarios/scale-150k.yaml — 5000 nodes, 10,000 Services, 150,000 pods.

    .venv/bin/pytest benchmarks/bench_scale.py -m benchmark      # pytest-benchmark timing
    .venv/bin/python benchmarks/bench_scale.py                   # wall, per stage, peak memory

Target (issue 16): the whole scenario (both variants) in under 15 s and under 1.5 GiB peak
memory on a 2-core machine. The targets are printed next to the measurements, never asserted
(machines are noisy); exact counters are asserted, so a timing run doubles as a regression
check. The CLI equivalent: `/usr/bin/time -v .venv/bin/simk8s run scenarios/scale-150k.yaml --out /tmp/scale`.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import pytest

from simk8s.experiment import Experiment, run_scenario

ROOT = Path(__file__).resolve().parent.parent
SCALE = ROOT / "scenarios" / "scale-150k.yaml"
TARGET_WALL_S = 15.0
TARGET_PEAK_GIB = 1.5


def run_scale() -> Experiment:
    return run_scenario(SCALE, write=False)


def check_counts(exp: Experiment) -> None:
    """Exact counters of the scale run (the noise-free part of the benchmark)."""
    base = exp.variants[0]
    pods = base.cluster.pods
    assert len(pods) == 150_000 + 20 * 15  # the initial pods + one replacement per rolled pod
    assert base.summary["rollout"]["count"] == 20
    assert base.summary["rollout"]["completed"] == 20
    assert base.cluster.exception is None
    assert base.cluster is exp.variants[1].cluster  # the variants share the control plane


def peak_rss_gib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


@pytest.mark.benchmark
def test_scale_150k(benchmark):
    exp = benchmark.pedantic(run_scale, rounds=1, iterations=1)
    check_counts(exp)


def main() -> None:
    t = time.perf_counter()
    exp = run_scale()
    wall = time.perf_counter() - t
    check_counts(exp)
    for v in exp.variants:
        stages = ", ".join(f"{k} {s:.2f} s" for k, s in v.stage_wall_s.items())
        print(f"{v.name}: {stages}")
    print(f"whole scenario (load + {len(exp.variants)} variants): {wall:.1f} s (target < {TARGET_WALL_S:.0f} s)")
    print(f"peak memory (max RSS): {peak_rss_gib():.2f} GiB (target < {TARGET_PEAK_GIB:.0f} GiB)")


if __name__ == "__main__":
    sys.exit(main())
