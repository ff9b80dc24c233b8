"""How cost grows with the cluster: scenarios/scale-100k.yaml's rollout at 1k … 100k nodes.

    .venv/bin/python benchmarks/bench_growth.py                 # every size, a table
    .venv/bin/python benchmarks/bench_growth.py 1000 3000       # some sizes
    .venv/bin/python benchmarks/bench_growth.py --docs          # + docs/performance.md and its plot
    .venv/bin/pytest benchmarks/bench_growth.py -m benchmark    # the small sizes, counters asserted

Every size is the same experiment scaled with the node count: the 5,000-pod Deployment
`backend` rolled at 1m, beside N/10 - 1 Services of 20 pods each (2 pods a node at every
size, as at 100k), iptables and nftables variants sharing one cluster run. Each size runs
in a fresh process, so its peak memory (max RSS) is its own; the peak after each stage
says which stage grew it. Exact counters are asserted for every size that has them pinned
in EXPECTED, so a timing run doubles as a regression check; timings are printed, never
asserted.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "scale-100k.yaml"
SIZES = (1_000, 3_000, 10_000, 30_000, 100_000)
STAGES = ("load", "cluster", "watch", "proxy", "dataplane", "tables")

# Per size: (simulation events, Endpoints writes, EndpointSlice writes, watch events to
# kube-proxies, kube-proxy syncs iptables, kube-proxy syncs nftables).
EXPECTED: dict[int, tuple[int, ...]] = {
    1_000: (93_737, 10_218, 10_220, 10_230_220, 383_428, 453_626),
    3_000: (93_761, 10_218, 10_220, 30_670_220, 1_114_309, 1_234_939),
    10_000: (93_693, 10_218, 10_220, 102_210_220, 3_342_364, 2_664_155),
    30_000: (93_736, 10_218, 10_220, 99_442_750, 4_687_078, 1_808_000),
    100_000: (93_719, 10_218, 10_220, 24_133_572, 2_470_477, 952_826),
}


def overrides(nodes: int) -> list[str]:
    copies = nodes // 10 - 1
    return [f"cluster.nodes={nodes}", f"services.1.copies={copies}", f"workloads.1.copies={copies}"]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_size(nodes: int) -> dict:
    """One size in this process, stage by stage as simk8s.pipeline runs them (the cluster
    stage once, shared by both variants); wall seconds and peak RSS after each stage."""
    from simk8s.cluster.run import run_cluster
    from simk8s.dataplane.stage import run_dataplane_stage
    from simk8s.pipeline import fewer_gc_passes, run_watch, watch_key
    from simk8s.proxy.fleet_stage import run_proxy_stage
    from simk8s.results.summary import build_summary, build_tables
    from simk8s.results.variant import VariantResult
    from simk8s.scenario import load_scenario, load_variants
    from simk8s.small_pages import small_pages

    wall = dict.fromkeys(STAGES, 0.0)
    peak: dict[str, float] = {}

    def stage(name: str, t0: float) -> None:
        wall[name] += time.perf_counter() - t0
        peak[name] = peak_rss_mib()

    t0 = time.perf_counter()
    variants = load_variants(load_scenario(SCENARIO, overrides(nodes)))
    stage("load", t0)
    counts: dict[str, int] = {}
    fanouts: dict = {}  # shared by variants that watch alike, as simk8s.pipeline.run_group does
    with fewer_gc_passes(), small_pages():  # as simk8s.pipeline.run_variant runs every stage
        t0 = time.perf_counter()
        cluster = run_cluster(variants[0][1])
        stage("cluster", t0)
        for name, sc in variants:
            result = VariantResult(name=name, scenario=sc, summary={}, cluster=cluster, stage_wall_s={})
            t0 = time.perf_counter()
            result.fanout = fanouts.get(watch_key(sc)) or fanouts.setdefault(watch_key(sc), run_watch(sc, cluster))
            stage("watch", t0)
            t0 = time.perf_counter()
            result.fleet = run_proxy_stage(sc, cluster, result.fanout)
            stage("proxy", t0)
            t0 = time.perf_counter()
            result.traffic = run_dataplane_stage(sc, cluster, result.fleet)
            stage("dataplane", t0)
            t0 = time.perf_counter()
            result.summary = build_summary(result)
            result.tables = build_tables(result)
            stage("tables", t0)
            s = result.summary
            counts["events"] = s["sim"]["events"]
            counts["endpoints_writes"] = s["apiserver"]["writes"]["Endpoints"]
            counts["slice_writes"] = s["apiserver"]["writes"]["EndpointSlice"]
            counts["watch_events"] = s["apiserver"]["watch_events"]["EndpointSlice"]
            counts[f"syncs_{name}"] = s["kube_proxy"]["syncs"]
            counts[f"rollout_completed_{name}"] = s["rollout"]["completed"]
            del result
    return {"nodes": nodes, "wall_s": wall, "peak_mib": peak, "counts": counts}


def run_size_in_process(nodes: int) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(nodes)], check=True, capture_output=True, text=True
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["total_s"] = time.perf_counter() - t0
    return row


def check_counts(row: dict) -> None:
    c = row["counts"]
    assert c["rollout_completed_slices-iptables"] == c["rollout_completed_slices-nftables"] == 1
    expected = EXPECTED.get(row["nodes"])
    if expected is not None:
        got = (c["events"], c["endpoints_writes"], c["slice_writes"], c["watch_events"],
               c["syncs_slices-iptables"], c["syncs_slices-nftables"])  # fmt: skip
        assert got == expected, (row["nodes"], got)


@pytest.mark.benchmark
@pytest.mark.parametrize("nodes", [1_000, 3_000])
def test_growth_small_sizes(benchmark, nodes):
    row = benchmark.pedantic(run_size_in_process, args=(nodes,), rounds=1, iterations=1)
    check_counts(row)


def table(rows: list[dict]) -> str:
    head = "| nodes | pods | whole run | " + " | ".join(STAGES) + " | peak RSS | peak after cluster / proxy |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        n, w, p = r["nodes"], r["wall_s"], r["peak_mib"]
        pods = 5000 + (n // 10 - 1) * 20
        lines.append(
            f"| {n:,} | {pods:,} | {r['total_s']:.1f} s | "
            + " | ".join(f"{w[s]:.1f} s" for s in STAGES)
            + f" | {max(p.values()) / 1024:.2f} GiB | {p['cluster'] / 1024:.2f} / {p['proxy'] / 1024:.2f} GiB |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    nodes = [r["nodes"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    bottom = [0.0] * len(rows)
    for s in STAGES:
        vals = [r["wall_s"][s] for r in rows]
        left.bar([str(n) for n in nodes], vals, bottom=bottom, label=s)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    left.set_xlabel("nodes")
    left.set_ylabel("wall seconds (both variants)")
    left.legend(fontsize=8)
    right.loglog(nodes, [max(r["peak_mib"].values()) / 1024 for r in rows], "o-", label="peak RSS")
    right.loglog(nodes, [r["total_s"] for r in rows], "s-", label="wall s")
    right.loglog(nodes, [n / nodes[0] * rows[0]["total_s"] for n in nodes], ":", label="linear (wall)")
    right.set_xlabel("nodes")
    right.set_ylabel("GiB / seconds")
    right.legend(fontsize=8)
    fig.suptitle("scale-100k's rollout at 1k-100k nodes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(run_size(int(argv[1]))))
        return
    docs = "--docs" in argv
    sizes = [int(a) for a in argv if a.isdigit()] or list(SIZES)
    rows = []
    for n in sizes:
        row = run_size_in_process(n)
        check_counts(row)
        rows.append(row)
        print(f"{n:>7,} nodes: {row['total_s']:.1f} s, peak {max(row['peak_mib'].values()) / 1024:.2f} GiB, "
              f"counts {json.dumps(row['counts'])}", flush=True)  # fmt: skip
    print(table(rows))
    if docs:
        plot(rows, ROOT / "docs" / "performance-growth.png")


if __name__ == "__main__":
    main(sys.argv[1:])
