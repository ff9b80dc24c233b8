"""The `simk8s` command: clear answers to bad input (exit 2, no traceback), results on disk."""

import json
import shutil
import subprocess
import sys

from click.testing import CliRunner
from conftest import ROOT

from simk8s.cli import main

QUICK = str(ROOT / "scenarios" / "quick.yaml")
BAD = ROOT / "tests" / "bad_scenarios"


def test_validate_ok():
    result = CliRunner().invoke(main, ["validate", QUICK])
    assert result.exit_code == 0
    assert "ok (4 variants: endpoints-iptables, slices-iptables, slices-ipvs, slices-nftables)" in result.output


def test_validate_bad_file_exits_2_with_file_line_messages(tmp_path):
    src = BAD / "two-errors.yaml"
    shutil.copy(src, tmp_path / "two-errors.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "simk8s.cli", "validate", "two-errors.yaml"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("two-errors.yaml:") for line in lines)


def test_run_bad_override_exits_2_and_keeps_previous_results(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "summary.json").write_text('{"keep": true}')
    result = CliRunner().invoke(main, ["run", QUICK, "--set", "cluster.nodez=5", "--out", str(out)])
    assert result.exit_code == 2
    assert "--set:1: cluster.nodez: unknown field (did you mean 'nodes'?)" in result.output
    assert json.loads((out / "summary.json").read_text()) == {"keep": True}


def test_run_unknown_variant_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["run", QUICK, "--variant", "nope", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "no variant named nope" in result.output
    assert not (tmp_path / "r").exists()


def test_run_prints_comparison_and_writes_results(tmp_path):
    out = tmp_path / "quick"
    result = CliRunner().invoke(main, ["run", QUICK, "--variant", "slices-ipvs", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "programming latency p99" in result.output
    assert "slices-ipvs" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["variants"]) == ["slices-ipvs"]


def test_sizes_reports_the_etcd_crossing():
    result = CliRunner().invoke(main, ["sizes", "--pods", "5000"])
    assert result.exit_code == 0
    assert "exceeds etcd's 1,572,864 bytes at 12,444 pods" in result.output


def test_rules_renders_a_node_at_a_time(tmp_path):
    out = tmp_path / "quick"
    assert CliRunner().invoke(main, ["run", QUICK, "--variant", "slices-iptables", "--out", str(out)]).exit_code == 0
    result = CliRunner().invoke(main, ["rules", str(out), "--node", "node-3", "--at", "90s"])
    assert result.exit_code == 0, result.output
    assert "*nat" in result.output and "KUBE-SVC-" in result.output
    bad = CliRunner().invoke(main, ["rules", str(out), "--node", "node-99", "--at", "90s"])
    assert bad.exit_code == 2
    assert "no node 'node-99'" in bad.output
    late = CliRunner().invoke(main, ["rules", str(out), "--node", "node-3", "--at", "20m"])
    assert late.exit_code == 2
    assert late.output == "simk8s: --at 20m is after the end of the run (10m)\n"


def test_a_service_without_pods_refuses_every_connection(tmp_path):
    """replicas: 0 once crashed the data path (an index into an empty pod table)."""
    out = tmp_path / "zero"
    args = ["run", QUICK, "--variant", "slices-iptables", "--set", "workloads.0.replicas=0", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    dataplane = json.loads((out / "summary.json").read_text())["variants"]["slices-iptables"]["dataplane"]
    assert dataplane["connections"] > 0
    assert dataplane["failed"]["refused"] == dataplane["connections"] == dataplane["failed_total"]


def test_validate_applies_set_overrides():
    """`validate --set` checks the scenario as `run --set` would load it."""
    ok = CliRunner().invoke(main, ["validate", QUICK, "--set", "cluster.nodes=50"])
    assert ok.exit_code == 0 and ok.output.endswith("ok (4 variants: endpoints-iptables, slices-iptables, slices-ipvs, slices-nftables)\n")
    bad = CliRunner().invoke(main, ["validate", QUICK, "--set", "cluster.kubeProxy.mode=ebpf"])
    assert bad.exit_code == 2
    assert "--set:1: cluster.kubeProxy.mode:" in bad.output
