"""The project guards its own figures: results/baselines/quick-guard.yaml holds the quick
scenario's figures as the model gives them, and a change that moves any of them fails here
until the baseline is refreshed on purpose:

    simk8s check results/baselines/quick-guard.yaml --update
"""

from pathlib import Path

import yaml
from click.testing import CliRunner
from conftest import ROOT

import simk8s.proxy.cost as cost
from simk8s.cli import main
from simk8s.results.check import run_checks

GUARD = ROOT / "results" / "baselines" / "quick-guard.yaml"
LIMITS = ROOT / "results" / "baselines" / "quick-checks.yaml"


def test_the_models_figures_match_the_committed_baseline():
    failed = [r for r in run_checks(GUARD) if not r.ok]
    assert not failed, (
        "figures moved from results/baselines/quick-guard.yaml:\n"
        + "\n".join(f"  {r.variant}: {r.problem()}" for r in failed)
        + "\nIf the change is intended, refresh it: simk8s check results/baselines/quick-guard.yaml --update"
    )


def test_the_limits_a_platform_team_would_commit_hold():
    assert all(r.ok for r in run_checks(LIMITS))


def test_a_20_percent_cost_change_fails_naming_the_figures_that_moved(tmp_path, monkeypatch):
    params = yaml.safe_load(Path(cost.PARAMS_PATH).read_text())
    params["iptables"]["t_fixed"] *= 1.2
    changed = tmp_path / "cost_params.yaml"
    changed.write_text(yaml.safe_dump(params))
    monkeypatch.setattr(cost, "PARAMS_PATH", str(changed))
    cost.load_params.cache_clear()  # it caches the file it read
    try:
        moved = {(r.variant, r.figure) for r in run_checks(GUARD) if not r.ok}
    finally:
        monkeypatch.undo()
        cost.load_params.cache_clear()
    assert {
        ("slices-iptables", "kube_proxy.cpu_seconds_total"),
        ("slices-iptables", "kube_proxy.sync_seconds.p50"),
        ("slices-iptables", "kubeproxy_sync_proxy_rules_duration_seconds_sum"),
    } <= moved
    assert not any(v == "slices-ipvs" for v, _ in moved)  # an iptables parameter


def test_check_writes_reports_for_ci(tmp_path):
    """What docs/ci-example.yml runs: JUnit, PerfData and Markdown from one check."""
    out = CliRunner().invoke(main, ["check", str(GUARD), "--junit-xml", str(tmp_path / "j.xml"),
                                    "--perfdata", str(tmp_path / "p"), "--markdown", str(tmp_path / "summary.markdown")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "j.xml").is_file() and (tmp_path / "summary.markdown").is_file()
    assert len(list((tmp_path / "p").glob("*.json"))) == 2


def test_the_ci_example_runs_check_and_publishes_its_reports():
    workflow = yaml.safe_load((ROOT / "docs" / "ci-example.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    run = next(s["run"] for s in steps if s.get("name") == "Run the checks")
    assert "simk8s check" in run and "--junit-xml" in run and "--markdown" in run and "--perfdata" in run
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") for s in steps)
    assert (ROOT / workflow["env"]["CHECKS"]).is_file()
