"""Frontier search: exact breaking points, per variant, on the sweep's executor and store."""

import textwrap
from concurrent.futures import Executor, Future

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ROOT

import simk8s.sweep
from simk8s.cli import main
from simk8s.experiment import run_scenario
from simk8s.frontier import format_value, frontier, parse_limit

QUICK = ROOT / "scenarios" / "quick.yaml"


class InProcess(Executor):
    """Runs each point here, at once (so a patched point function is seen)."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def synthetic_rows(job):
    """Figures that are exact functions of the grown value, one per variant."""
    value = job.point["workloads.0.replicas"]
    figures = {
        "endpoints-iptables": {"network_programming_latency_s.p99": value / 100},  # 2 s at 200
        "slices-iptables": {"network_programming_latency_s.p99": value / 10},  # 2 s at 20 (below the start, 30)
        "slices-ipvs": {"network_programming_latency_s.p99": 0.5},  # never breaks
        "slices-nftables": {"dataplane.failed_total": max(0, value - 100), "dataplane.connections": 1000},  # 1 % at 110
    }
    return [{**job.point, "variant": name, **figures[name], "exception": None} for name, _ in job.variants]


@pytest.fixture
def synthetic(monkeypatch):
    monkeypatch.setattr(simk8s.sweep, "_run_job", synthetic_rows)


def test_exact_breaking_points_per_variant(synthetic, tmp_path):
    store = tmp_path / "points.parquet"
    result = frontier(QUICK, "workloads.0.replicas", ["npl.p99=2s", "failed.ratio=1%"], highest=2000,
                      executor=InProcess(), points_store=store)
    table = result.table.set_index("variant")
    assert table.loc["endpoints-iptables", "largest ok"] == 200
    assert table.loc["endpoints-iptables", "first broken"] == 201
    assert table.loc["endpoints-iptables", "broken by"] == "npl.p99"
    assert table.loc["slices-iptables", "largest ok"] == 20
    assert table.loc["slices-iptables", "first broken"] == 21
    assert table.loc["slices-nftables", "largest ok"] == 110
    assert table.loc["slices-nftables", "broken by"] == "failed.ratio"
    assert table.loc["slices-ipvs", "largest ok"] == 2000
    assert pd.isna(table.loc["slices-ipvs", "first broken"])
    assert "none broke up to 2,000" in result.format()
    # A rerun asks for the same probes and reads every one back from the store.
    again = frontier(QUICK, "workloads.0.replicas", ["npl.p99=2s", "failed.ratio=1%"], highest=2000,
                     executor=(counting := InProcess()), points_store=store)
    assert counting.submitted == 0
    assert again.reused == again.points == result.points
    assert again.table.equals(result.table)


def test_probes_are_deterministic(synthetic):
    one = frontier(QUICK, "workloads.0.replicas", ["npl.p99=2s"], highest=400, executor=InProcess())
    two = frontier(QUICK, "workloads.0.replicas", ["npl.p99=2s"], highest=400, executor=InProcess())
    assert one.probes.equals(two.probes)
    # bracketing doubles from the scenario's 30, then bisects: endpoints-iptables' probes
    mine = one.probes[one.probes["variant"] == "endpoints-iptables"]["workloads.0.replicas"].tolist()
    assert mine == [30, 60, 120, 240, 180, 210, 195, 202, 198, 200, 201]


ETCD_SMALL = """\
    name: etcd-small
    seed: 1
    duration: 1m
    cluster:
      nodes: 20
      etcd: {maxRequestBytes: 4Ki}
      controllerManager: {endpointsMaxCapacity: 0}
      kubeProxy: {watch: Endpoints}
    services:
      - {name: web, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
    workloads:
      - {name: web, replicas: 10, containerPorts: [{name: http, containerPort: 8080}]}
    events:
      - {at: 5s, scale: web, replicas: 20}
    """


def test_etcd_rejection_crossing_is_exact(tmp_path):
    """The largest scale that etcd accepts: the object at the found value fits in 4 KiB,
    the object one pod larger does not (sizes computed from the objects' content)."""
    path = tmp_path / "etcd.yaml"
    path.write_text(textwrap.dedent(ETCD_SMALL))
    result = frontier(path, "events.0.replicas", ["etcd.rejections=0"], workers=1)
    row = result.table.iloc[0]
    ok, broken = int(row["largest ok"]), int(row["first broken"])
    assert broken == ok + 1
    assert row["broken by"] == "etcd.rejections"

    def largest_write(n):
        api = run_scenario(path, overrides=[f"events.0.replicas={n}"], write=False).variants[0].summary["apiserver"]
        return max(api["max_object_bytes"].values()), sum(api["rejected_writes"].values())

    assert largest_write(ok) <= (4096, 0)
    size, rejected = largest_write(broken)
    assert size > 4096 and rejected > 0
    assert (ok, broken) == (28, 29)  # 28 endpoints in one EndpointSlice fit in 4 KiB, 29 do not


def test_limits_parse_with_units():
    assert parse_limit("npl.p99=500ms").max == 0.5
    assert parse_limit("failed.ratio=1%").max == 0.01
    assert parse_limit("egress=20GB").max == 20e9
    assert parse_limit("egress=2Gi").max == 2 * 2**30
    assert parse_limit("proxy.cpu_per_node=1m").max == 60
    assert parse_limit("kube_proxy.syncs=5000").max == 5000
    assert str(parse_limit("egress=1.5GB")) == "egress <= 1.5 GB"
    assert format_value(0.25, "s") == "250 ms"
    for bad in ("npl.p99", "=3", "npl.p99=soon"):
        with pytest.raises(ValueError):
            parse_limit(bad)


def test_proxy_cpu_is_per_node():
    row = {"kube_proxy.cpu_seconds_total": 300.0}
    assert parse_limit("proxy.cpu_per_node=15s").value(row, 20) == 15.0
    assert parse_limit("proxy.cpu_per_node=15s").keeps(row, 20)
    assert not parse_limit("proxy.cpu_per_node=14s").keeps(row, 20)


def test_cli_prints_the_table_and_draws_the_plot(synthetic, tmp_path, monkeypatch):
    monkeypatch.setattr(simk8s.sweep, "_local_pool", lambda workers: InProcess())
    out = tmp_path / "f.parquet"
    args = ["frontier", str(QUICK), "--grow", "workloads.0.replicas", "--limit", "npl.p99=2s", "--max", "400",
            "--out", str(out), "--quiet"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "endpoints-iptables" in res.output and "200" in res.output
    assert out.is_file() and out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    again = CliRunner().invoke(main, args)  # its own outputs are replaced; every probe is reused
    assert again.exit_code == 0, again.output
    assert "reused from an earlier run" in again.output


def test_cli_refuses_bad_limits_and_paths(tmp_path):
    res = CliRunner().invoke(main, ["frontier", str(QUICK), "--grow", "workloads.0.replicas", "--limit", "npl.p99"])
    assert res.exit_code == 2 and "expected NAME=MAX" in res.output
    res = CliRunner().invoke(main, ["frontier", str(QUICK), "--grow", "cluster.zones", "--limit", "npl.p99=1s",
                                    "--out", str(tmp_path / "f.parquet")])
    assert res.exit_code == 2 and "not a number to grow" in res.output
    (tmp_path / "mine.png").write_text("my picture")
    res = CliRunner().invoke(main, ["frontier", str(QUICK), "--grow", "workloads.0.replicas", "--limit", "npl.p99=1s",
                                    "--out", str(tmp_path / "mine.parquet")])
    assert res.exit_code == 2 and "not written by simk8s" in res.output


def test_a_rate_is_searched_to_one_percent_of_its_start(monkeypatch):
    """A non-integer dimension (traffic.0.rate, 50/s in quick) bisects to 1 % of the start."""

    def rows(job):
        rate = job.point["traffic.0.rate"]
        return [{**job.point, "variant": n, "dataplane.failed_total": rate, "exception": None} for n, _ in job.variants]

    monkeypatch.setattr(simk8s.sweep, "_run_job", rows)
    result = frontier(QUICK, "traffic.0.rate", ["failed=333"], variants=["slices-ipvs"], executor=InProcess())
    row = result.table.iloc[0]
    assert row["largest ok"] <= 333 < row["first broken"]
    assert row["first broken"] - row["largest ok"] <= 0.5


def test_a_figure_falling_as_the_dimension_grows_is_noted(monkeypatch):
    """NPL p99 that dips at a larger size (noise) makes the answer approximate: the note names
    the variant, the figure and both probes; figures that only grow get no note."""

    def rows(job):
        value = job.point["workloads.0.replicas"]
        dip = 0.5 if value == 120 else value / 100  # 0.6 s at 60, 0.5 s at 120: falls by 17 %
        return [{**job.point, "variant": name, "network_programming_latency_s.p99": dip if name == "slices-ipvs"
                 else value / 100, "exception": None} for name, _ in job.variants]

    monkeypatch.setattr(simk8s.sweep, "_run_job", rows)
    result = frontier(QUICK, "workloads.0.replicas", ["npl.p99=2s"], highest=400, executor=InProcess())
    falling = [n for n in result.notes if "fell" in n]
    assert len(falling) == 1
    assert falling[0].startswith("(slices-ipvs: npl.p99 fell from 600 ms at 60 to 500 ms at 120")
    assert falling[0] in result.format()
