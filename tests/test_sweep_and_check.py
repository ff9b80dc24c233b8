"""Sweeps give the same rows whatever the executor; checks fail when a limit is broken."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pandas as pd
from click.testing import CliRunner
from conftest import ROOT

from simk8s.cli import main
from simk8s.results.check import run_checks
from simk8s.sweep import grid_points, sweep

QUICK = ROOT / "scenarios" / "quick.yaml"
GRID = {"cluster.kubeProxy.minSyncPeriod": ["0s", "10s"], "seed": [1, 2]}


def test_grid_points_are_the_cartesian_product():
    assert grid_points(GRID) == [
        {"cluster.kubeProxy.minSyncPeriod": "0s", "seed": 1},
        {"cluster.kubeProxy.minSyncPeriod": "0s", "seed": 2},
        {"cluster.kubeProxy.minSyncPeriod": "10s", "seed": 1},
        {"cluster.kubeProxy.minSyncPeriod": "10s", "seed": 2},
    ]


def test_sweep_is_deterministic_across_executors():
    with ThreadPoolExecutor(1) as serial:
        a = sweep(QUICK, GRID, variants=["slices-iptables"], executor=serial)
    with ProcessPoolExecutor(2) as pool:
        b = sweep(QUICK, GRID, variants=["slices-iptables"], executor=pool)
    drop = [c for c in a.columns if c.endswith("wall_s")]
    pd.testing.assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop))
    assert len(a) == 4
    # a larger minSyncPeriod means fewer syncs and later programming
    by = a.set_index(["cluster.kubeProxy.minSyncPeriod", "seed"])
    assert by.loc[("10s", 1), "kube_proxy.syncs"] < by.loc[("0s", 1), "kube_proxy.syncs"]
    assert by.loc[("10s", 1), "network_programming_latency_s.p99"] > by.loc[("0s", 1), "network_programming_latency_s.p99"]


def test_a_failing_point_is_a_row_not_a_crash():
    with ThreadPoolExecutor(1) as serial:
        frame = sweep(QUICK, {"cluster.nodes": [0]}, executor=serial)
    assert len(frame) == 1
    assert "cluster.nodes" in frame.exception[0]


def test_checks_pass_and_fail(tmp_path):
    results = run_checks(ROOT / "results" / "baselines" / "quick-checks.yaml")
    assert all(r.ok for r in results), results
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        f"scenario: {QUICK}\nchecks:\n  - {{variant: slices-iptables, figure: kube_proxy.syncs, max: 10}}\n"
    )
    out = CliRunner().invoke(main, ["check", str(strict)])
    assert out.exit_code == 1
    assert out.output.startswith("FAIL slices-iptables: kube_proxy.syncs = 300.0")


def test_check_file_naming_an_unknown_variant_or_figure_is_a_clear_error(tmp_path):
    bad_variant = tmp_path / "bad-variant.yaml"
    bad_variant.write_text(f"scenario: {QUICK}\nchecks:\n  - {{variant: slices-ipvx, figure: kube_proxy.syncs, max: 1}}\n")
    out = CliRunner().invoke(main, ["check", str(bad_variant)])
    assert out.exit_code == 2
    assert out.output == (
        f"{bad_variant}:3: checks.0.variant: no variant 'slices-ipvx' (did you mean 'slices-ipvs'?) "
        "(have endpoints-iptables, slices-iptables, slices-ipvs, slices-nftables)\n"
    )
    bad_figure = tmp_path / "bad-figure.yaml"
    bad_figure.write_text(f"scenario: {QUICK}\nchecks:\n  - {{variant: slices-ipvs, figure: kube_proxy.cpu_secs, max: 1}}\n")
    out = CliRunner().invoke(main, ["check", str(bad_figure)])
    assert out.exit_code == 2
    assert out.output == (
        f"{bad_figure}:3: checks.0.figure: no figure 'kube_proxy.cpu_secs' in the summary "
        "(did you mean 'kube_proxy.cpu_seconds_total'?) (figures are summary.json's dotted keys)\n"
    )


def test_sweep_blames_the_bad_param_value():
    out = CliRunner().invoke(main, ["sweep", str(QUICK), "--param", "cluster.kubeProxy.minSyncPeriod=1s,soon"])
    assert out.exit_code == 2
    assert out.output == (
        "--param cluster.kubeProxy.minSyncPeriod=soon: cluster.kubeProxy.minSyncPeriod: "
        "expected a duration like 30s, 500ms or 1h, got 'soon'\n"
    )
