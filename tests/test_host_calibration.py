"""`simk8s calibrate --host` and machine profiles: the fit (exact, on synthetic timings), the
profile loading (published parameters untouched without one), `cluster.kubeProxy.machine`
(FILE:LINE errors), and a short real-tools run whose profile changes a scenario's figures.

The real-tools test needs root, `unshare`, iptables and nftables (scripts/netfilter-tools
installs them) and is skipped otherwise, naming what is missing.
"""

from __future__ import annotations

import copy
import textwrap

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT

from simk8s.calibration import host_timing
from simk8s.calibration.host import format_host_report, profile_document, profile_text
from simk8s.calibration.host_fit import fit, nonnegative_relative_ls
from simk8s.cli import main
from simk8s.pipeline import run_variant
from simk8s.proxy import cost
from simk8s.scenario import ScenarioError, load_scenario, load_variants

QUICK = ROOT / "scenarios" / "quick.yaml"
TRUE = {"iptables": {"t_restore_per_line": 3e-5, "t_restore_per_line_sq": 2e-9, "t_save_per_line": 8e-6},
        "nftables": {"c_service_sq": 1e-7, "c_service": 4e-5, "c_endpoint": 6e-5}}
INTERCEPTS = {"restore": 0.02, "save": 0.004, "nft": 0.03}


def synthetic_records() -> list[dict]:
    """Timings that follow the model exactly (two repeats, whose median is their mean)."""
    ipt, nft = TRUE["iptables"], TRUE["nftables"]
    out = []
    for s, eps in ((100, 2), (400, 2), (1500, 2), (100, 8), (700, 8)):
        e = s * eps
        full, part = 11 * s + 23, 1 + 3 * eps + 30  # any distinct line counts will do
        rows = [("ipt_full", full, INTERCEPTS["restore"] + ipt["t_restore_per_line"] * full
                 + ipt["t_restore_per_line_sq"] * full**2),
                ("ipt_partial", part, INTERCEPTS["restore"] + ipt["t_restore_per_line"] * part
                 + ipt["t_restore_per_line_sq"] * part**2),
                ("ipt_save", full - 6, INTERCEPTS["save"] + ipt["t_save_per_line"] * (full - 6)),
                ("nft_full", 14 * s, INTERCEPTS["nft"] + nft["c_service_sq"] * s * s + nft["c_service"] * s
                 + nft["c_endpoint"] * e),
                ("nft_partial", 8, 0.05)]
        for op, lines, t in rows:
            for jitter in (0.9, 1.1):
                out.append({"op": op, "services": s, "endpoints": e, "eps": eps, "lines": lines,
                            "wall": t * jitter, "cpu": 0.5 * t * jitter})
    return out


def test_fit_recovers_the_prices_of_synthetic_timings_exactly():
    result = fit(synthetic_records())
    for section, prices in TRUE.items():
        for name, value in prices.items():
            assert result["params"][section][name] == pytest.approx(value, rel=1e-9), name
    for op, value in INTERCEPTS.items():
        assert result["intercepts"][op] == pytest.approx(value, rel=1e-9)
    fitted = result["residuals"][result["residuals"]["status"] == "fitted"]
    assert np.abs(fitted["rel_error"]).max() < 1e-9
    assert result["tool_cpu_fraction"] == pytest.approx(0.5)


def test_fit_keeps_prices_nonnegative():
    # Linear data: the best fit with a negative L² price is refused; the quadratic price is 0.
    x = np.array([1e3, 1e4, 5e4, 1e5])
    y = 0.01 + 2e-5 * x
    coef = nonnegative_relative_ls([np.ones(4), x, x * x], y)
    assert coef[2] == 0.0
    assert coef[1] == pytest.approx(2e-5, rel=1e-9)
    y_bent = 0.01 + 2e-5 * x - 1e-11 * x * x
    assert (nonnegative_relative_ls([np.ones(4), x, x * x], y_bent) >= 0).all()


def _profile(tmp_path, params=None, name="profile.yaml"):
    doc = profile_document(fit(synthetic_records()), {"kernel": "k", "cpu": "c", "iptables": "i", "nft": "n"}, 1.0)
    if params is not None:
        doc["params"] = params
    path = tmp_path / name
    path.write_text(profile_text(doc))
    return path


def test_without_a_profile_the_published_parameters_are_used():
    assert cost.params_for_machine(None) is cost.load_params()
    assert "t_restore_per_line_sq" not in cost.load_params()["iptables"]
    assert "c_service" not in cost.load_params()["nftables"]


def test_a_profile_with_the_published_prices_changes_nothing(tmp_path):
    pub = cost.load_params()
    # The published nftables transaction (q_tx × W², simk8s/proxy/cost/nftables.py) has no
    # profile form: an nftables profile replaces it (test below), so only iptables here.
    same = {"iptables": {k: pub["iptables"][k] for k in ("t_restore_per_line", "t_save_per_line")}
            | {"t_restore_per_line_sq": 0.0}}
    params = cost.load_machine_profile(_profile(tmp_path, same))
    for kind in cost.KINDS:
        for mode in cost.MODES:
            args = (mode, kind, [10, 3000, 9000], [20, 40_000, 90_000], [1, 2, 3], [2, 5, 9])
            assert (cost.sync_seconds(*args, params=params) == cost.sync_seconds(*args)).all()


def test_a_profile_overrides_only_the_tool_prices(tmp_path):
    params = cost.load_machine_profile(_profile(tmp_path))
    pub = cost.load_params()
    assert params["iptables"]["t_restore_per_line_sq"] == pytest.approx(2e-9)
    assert params["nftables"]["c_service"] == pytest.approx(4e-5)
    assert params["iptables"]["t_fixed"] == pub["iptables"]["t_fixed"]
    assert params["ipvs"] == pub["ipvs"]
    assert params["nftables"]["q_tx"] == 0.0 and pub["nftables"]["q_tx"] > 0  # the host's shape replaces it
    assert "t_restore_per_line_sq" not in pub["iptables"]  # the cached published set is not modified
    # 100k lines: the L² price dominates on this synthetic host
    assert float(cost.iptables_sync_seconds("full", 10_000, 20_000, params=params)) > 20.0


@pytest.mark.parametrize(("text", "message"), [
    (None, "no such machine profile"),
    ("kind: Something\nparams: {}\n", "is not a machine profile"),
    ("kind: MachineProfile\nparams: {ipvs: {t_op0: 1}}\n", "params.ipvs"),
    ("kind: MachineProfile\nparams: {iptables: {t_fixed: 1}}\n", "params.iptables.t_fixed: not a measured price"),
    ("kind: MachineProfile\nparams: {nftables: {c_endpoint: -1}}\n", "expected a number >= 0"),
    ("kind: [\n", "is not YAML"),
])
def test_bad_profiles_are_named(tmp_path, text, message):
    path = tmp_path / "p.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(cost.MachineProfileError, match=message.replace("[", r"\[")):
        cost.load_machine_profile(path)


def test_scenario_machine_is_relative_to_the_scenario_file(tmp_path):
    (tmp_path / "profiles").mkdir()
    _profile(tmp_path / "profiles", name="host.yaml")
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ncluster:\n  kubeProxy:\n    machine: profiles/host.yaml\n")
    sc = load_scenario(path)
    assert sc.cluster.kube_proxy.machine == str(tmp_path / "profiles" / "host.yaml")


@pytest.mark.parametrize(("body", "message"), [
    ("machine: nope.yaml", "no such machine profile"),
    ("machine: bad.yaml", "is not a machine profile"),
])
def test_scenario_machine_errors_point_at_the_line(tmp_path, body, message):
    (tmp_path / "bad.yaml").write_text("kind: Other\n")
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: s
        cluster:
          kubeProxy:
            mode: nftables
            {body}
        """))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    (line,) = err.value.lines
    assert line.startswith(f"{path}:5: cluster.kubeProxy.machine: ")
    assert message in line


def _figures(profile) -> dict:
    overrides = ["duration=4m"] + ([f"cluster.kubeProxy.machine={profile}"] if profile else [])
    out = {}
    for name, sc in load_variants(load_scenario(QUICK, overrides)):
        if name in ("slices-iptables", "slices-nftables"):
            summary = run_variant(sc, name, stages=("cluster", "watch", "proxy")).summary
            out[name] = copy.deepcopy({k: summary[k] for k in ("kube_proxy", "network_programming_latency_s")})
    return out


def test_a_profile_gives_different_deterministic_figures(tmp_path):
    profile = _profile(tmp_path)
    first, again, published = _figures(profile), _figures(profile), _figures(None)
    assert first == again
    for variant in first:
        assert first[variant]["kube_proxy"] != published[variant]["kube_proxy"], variant


def test_calibrate_host_without_privileges_is_one_line_exit_2(monkeypatch):
    monkeypatch.setattr(host_timing, "missing_privileges", lambda: "needs root (test)")
    result = CliRunner().invoke(main, ["calibrate", "--host"])
    assert result.exit_code == 2
    assert result.output.strip() == "simk8s: calibrate --host needs root (test)"


def test_calibrate_host_refuses_a_file_it_did_not_write(monkeypatch, tmp_path):
    monkeypatch.setattr(host_timing, "missing_privileges", lambda: None)
    monkeypatch.setattr("simk8s.calibration.host.measure", lambda *a, **k: pytest.fail("timed before checking --machine-profile"))
    foreign = tmp_path / "notes.yaml"
    foreign.write_text("mine\n")
    result = CliRunner().invoke(main, ["calibrate", "--host", "--machine-profile", str(foreign)])
    assert result.exit_code == 2
    assert "was not written by simk8s" in result.output
    assert foreign.read_text() == "mine\n"


def test_a_stored_profile_is_shown_beside_the_published_prices(tmp_path):
    path = _profile(tmp_path)
    result = CliRunner().invoke(main, ["calibrate", "--machine-profile", str(path)])
    assert result.exit_code == 0, result.output
    assert "iptables.t_restore_per_line" in result.output
    assert result.output == format_host_report(yaml.safe_load(path.read_text())) + "\n"


_MISSING = host_timing.missing_privileges()


@pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))
def test_real_tools_write_a_profile_that_a_scenario_uses(tmp_path):
    target = tmp_path / "host.yaml"
    result = CliRunner().invoke(main, ["calibrate", "--host", "--sizes", "40x2,160x2,40x8",
                                       "--repeats", "1", "--machine-profile", str(target)])
    assert result.exit_code == 0, result.output
    assert "this host" in result.output
    doc = yaml.safe_load(target.read_text())
    assert set(doc["params"]) == {"iptables", "nftables"}
    assert {m["op"] for m in doc["medians"]} == {"ipt_full", "ipt_partial", "ipt_save", "nft_full", "nft_partial"}
    assert all(m["wall_s"] > 0 for m in doc["medians"])
    # A second run replaces the file it wrote.
    again = CliRunner().invoke(main, ["calibrate", "--host", "--sizes", "40x2,160x2,40x8",
                                      "--repeats", "1", "--machine-profile", str(target)])
    assert again.exit_code == 0, again.output
    figures = _figures(target)
    assert figures == _figures(target)
    assert figures != _figures(None)
