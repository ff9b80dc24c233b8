"""`simk8s calibrate --dataplane`: first-packet latency through real rules between two network
namespaces. The fit (exact on synthetic medians), the chunked rulesets (the same rules as one
full render), the profile's `dataplane` section (round trip, errors, the data path reading it),
the command's refusals, and a real run at 200 Services.

The real tests need root, `unshare`, `ip` (iproute2), iptables and nftables
(scripts/netfilter-tools installs them) and are skipped otherwise, naming what is missing.
"""

from __future__ import annotations

import copy
import re
import subprocess

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT

from simk8s.calibration import host_dataplane, host_timing
from simk8s.calibration import host_dataplane_rules as rules
from simk8s.calibration.host import profile_text, sync_free_profile
from simk8s.calibration.host_dataplane_fit import (
    CHAIN_RULES,
    fit_dataplane,
    format_dataplane_report,
)
from simk8s.cli import main
from simk8s.dataplane import latency
from simk8s.pipeline import run_variant
from simk8s.proxy import cost
from simk8s.proxy.iptables import render_iptables
from simk8s.proxy.nftables import render_nftables
from simk8s.scenario import ScenarioError, load_scenario, load_variants

QUICK = ROOT / "scenarios" / "quick.yaml"
BASE_MS, RULE_NS, TABLE_FRACTION = 0.03, 25.0, 0.2
SIZES = (1000, 5000, 30_000)


def synthetic_records(nft_slope_ms: float = 0.0) -> list[dict]:
    """Medians that follow the model exactly."""
    out = []
    for mode in host_dataplane.MODES:
        for n in SIZES:
            for t in rules.targets(n):
                ms = BASE_MS + (RULE_NS * 1e-6 * (t.rank + CHAIN_RULES + TABLE_FRACTION * n) if mode == "iptables"
                                else nft_slope_ms * n)
                out.append({"mode": mode, "services": n, "target": t.label, "rank": t.rank, "endpoint": t.endpoint,
                            "repeats": 5, "median_ms": ms, "p10_ms": ms * 0.9, "p90_ms": ms * 1.2, "load_s": 1.0})
    return out


def test_fit_recovers_the_model_of_synthetic_medians_exactly():
    section = fit_dataplane(synthetic_records())
    p = section["params"]
    pub = latency.load_params()
    assert p["base"]["shift"] + p["base"]["median"] == pytest.approx(BASE_MS, rel=1e-5)
    assert p["base"]["shift"] / p["base"]["median"] == pytest.approx(pub.shift / pub.median, rel=1e-4)
    assert p["iptables"] == {"rule_ns": pytest.approx(RULE_NS), "table_fraction": pytest.approx(TABLE_FRACTION)}
    assert section["fit"]["nftables_ns_per_service"] == 0.0
    assert all(m["model_ms"] == pytest.approx(m["median_ms"], rel=1e-5) for m in section["medians"])
    assert CHAIN_RULES == 4  # masquerade rule, one statistic-free jump, the SEP chain's 2 rules


def test_nftables_slope_is_reported_not_fitted_into_the_model():
    section = fit_dataplane(synthetic_records(nft_slope_ms=1e-7))
    assert section["fit"]["nftables_ns_per_service"] == pytest.approx(0.1, rel=1e-3)
    assert set(section["params"]) == {"base", "iptables"}


def test_the_report_shows_the_curve_beside_the_published_parameters():
    text = format_dataplane_report(fit_dataplane(synthetic_records()))
    assert re.search(r"iptables\s+30000(\s+\d\.\d{4} \(\d\.\d{4}\)){3}\n", text)
    assert "iptables.rule_ns" in text and "16.21" in text and "25" in text


def _rule_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(("-A ", ":", "add rule", "add element", "add chain"))]


def test_chunks_write_the_rules_of_one_full_render_in_the_same_order():
    full_ipt = render_iptables(rules.state(0, 25)).restore_input()
    chunked = "".join(rules.iptables_chunks(25, chunk=7))
    jumps = [f"-I {chain} {rule}" for _, chain, rule in rules.IPTABLES_JUMPS]
    got = [ln for ln in _rule_lines(chunked) if not ln.startswith("-I ")]
    want = _rule_lines(full_ipt)
    for chain in ("KUBE-SERVICES", "KUBE-SVC-", "KUBE-SEP-"):
        assert [ln for ln in got if ln.startswith(f"-A {chain}")] == [ln for ln in want if ln.startswith(f"-A {chain}")]
    assert sorted(got) == sorted(want)
    assert [ln for ln in chunked.splitlines() if ln.startswith("-I ")] == jumps
    full_nft = render_nftables(rules.state(0, 25), rules.CLUSTER_CIDR).transaction()
    got_nft = _rule_lines("".join(rules.nftables_chunks(25, chunk=7)))
    assert sorted(got_nft) == sorted(_rule_lines(full_nft))  # the renderer's own jumps, none moved


def test_targets_are_first_middle_and_last_of_kube_services():
    text = render_iptables(rules.state(0, 9)).restore_input()
    order = re.findall(r"^-A KUBE-SERVICES .* -d (\S+) .*-j KUBE-SVC-", text, flags=re.M)
    for t in rules.targets(9):
        assert order[t.rank - 1] == t.vip
        assert t.endpoint == rules.endpoint_ip(t.index)
    assert [t.rank for t in rules.targets(30_000)] == [1, 15_000, 30_000]


# --- the profile -------------------------------------------------------------------------------


def _profile(tmp_path, section=None, name="host.yaml"):
    doc = sync_free_profile({"kernel": "test", "cpu": "test", "iptables": "test", "nft": "test"})
    if section is not False:
        doc["dataplane"] = section or fit_dataplane(synthetic_records())
    path = tmp_path / name
    path.write_text(profile_text(doc))
    return path


def test_profile_round_trip(tmp_path):
    section = fit_dataplane(synthetic_records())
    params = latency.params_for_machine(str(_profile(tmp_path, section)))
    pub = latency.load_params()
    assert params.rule_ns == section["params"]["iptables"]["rule_ns"]
    assert params.table_fraction == section["params"]["iptables"]["table_fraction"]
    assert params.shift + params.median == pytest.approx(BASE_MS, rel=1e-5)
    assert (params.sigma, params.jitter, params.ipvs_scale) == (pub.sigma, pub.jitter, pub.ipvs_scale)
    assert cost.load_machine_profile(_profile(tmp_path, section)) is not None  # the sync loader accepts it


def test_without_a_profile_or_its_section_the_published_parameters_are_used(tmp_path):
    assert latency.params_for_machine(None) is latency.load_params()
    assert latency.params_for_machine(str(_profile(tmp_path, False))) == latency.load_params()


@pytest.mark.parametrize(("section", "message"), [
    ({"params": {"ipvs": {"scale": 1}}}, "dataplane.params.ipvs"),
    ({"params": {"iptables": {"jitter": 1}}}, "dataplane.params.iptables.jitter: not a fitted parameter"),
    ({"params": {"base": {"shift": -1}}}, "expected a number >= 0"),
    ({"fit": {}}, "expected a mapping with `params`"),
])
def test_bad_dataplane_sections_are_named(tmp_path, section, message):
    with pytest.raises(cost.MachineProfileError, match=re.escape(message)):
        latency.params_for_machine(str(_profile(tmp_path, section)))


def test_a_bad_dataplane_section_points_at_the_scenario_line(tmp_path):
    _profile(tmp_path, {"params": {"base": {"shift": "x"}}}, name="bad.yaml")
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ncluster:\n  kubeProxy:\n    machine: bad.yaml\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    (line,) = err.value.lines
    assert line.startswith(f"{path}:4: cluster.kubeProxy.machine: ") and "dataplane.params.base.shift" in line


def _first_packet(profile) -> dict:
    overrides = ["duration=4m"] + ([f"cluster.kubeProxy.machine={profile}"] if profile else [])
    out = {}
    for name, sc in load_variants(load_scenario(QUICK, overrides)):
        if name in ("slices-iptables", "slices-nftables"):
            out[name] = copy.deepcopy(run_variant(sc, name).summary["dataplane"]["first_packet_ms"])
    return out


def test_the_data_path_uses_the_profile(tmp_path):
    with_dp, published = _first_packet(_profile(tmp_path)), _first_packet(None)
    assert with_dp == _first_packet(_profile(tmp_path))
    sync_only = _first_packet(_profile(tmp_path, False, name="sync-only.yaml"))
    assert sync_only == published  # no dataplane section: the published latency model
    for variant in with_dp:
        assert with_dp[variant]["p50"] > published[variant]["p50"], variant  # base 0.03 ms > 0.014 ms


# --- the command -------------------------------------------------------------------------------


def test_calibrate_dataplane_without_privileges_is_one_line_exit_2(monkeypatch):
    monkeypatch.setattr(host_timing, "missing_privileges", lambda tools=None: "needs root (test)")
    result = CliRunner().invoke(main, ["calibrate", "--dataplane"])
    assert result.exit_code == 2
    assert result.output.strip() == "simk8s: calibrate --dataplane needs root (test)"


def test_services_needs_dataplane():
    result = CliRunner().invoke(main, ["calibrate", "--services", "1000"])
    assert result.exit_code == 2 and "--services needs --dataplane" in result.output
    bad = CliRunner().invoke(main, ["calibrate", "--dataplane", "--services", "10,x"])
    assert bad.exit_code == 2 and "--services" in bad.output


def test_dataplane_alone_keeps_the_profiles_sync_prices(monkeypatch, tmp_path):
    monkeypatch.setattr(host_timing, "missing_privileges", lambda tools=None: None)
    section = fit_dataplane(synthetic_records())
    monkeypatch.setattr(host_dataplane, "calibrate_dataplane", lambda services, progress: copy.deepcopy(section))
    path = _profile(tmp_path, False)
    doc = yaml.safe_load(path.read_text())
    doc["params"] = {"iptables": {"t_save_per_line": 9e-6}}
    path.write_text(profile_text(doc))
    result = CliRunner().invoke(main, ["calibrate", "--dataplane", "--machine-profile", str(path)])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(path.read_text())
    assert written["params"] == {"iptables": {"t_save_per_line": 9e-6}}
    assert written["dataplane"] == section
    assert result.output == format_dataplane_report(section) + "\n" + (
        f"wrote {path} (name it in a scenario: cluster.kubeProxy.machine: {path})\n")
    shown = CliRunner().invoke(main, ["calibrate", "--machine-profile", str(path)])
    assert shown.exit_code == 0 and shown.output == format_dataplane_report(section) + "\n"


def test_host_alone_keeps_the_profiles_dataplane_section(monkeypatch, tmp_path):
    monkeypatch.setattr(host_timing, "missing_privileges", lambda tools=None: None)
    fresh = sync_free_profile({"kernel": "new"}) | {"params": {"iptables": {"t_save_per_line": 7e-6}}}
    monkeypatch.setattr("simk8s.calibration.host.calibrate_host", lambda *a, **k: copy.deepcopy(fresh))
    monkeypatch.setattr("simk8s.calibration.host.format_host_report", lambda doc: "host report")
    path = _profile(tmp_path)
    section = yaml.safe_load(path.read_text())["dataplane"]
    result = CliRunner().invoke(main, ["calibrate", "--host", "--machine-profile", str(path)])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(path.read_text())
    assert written["params"] == fresh["params"] and written["dataplane"] == section


# --- real namespaces ---------------------------------------------------------------------------

_MISSING = host_timing.missing_privileges(tuple(dict.fromkeys(host_timing.TOOLS + host_dataplane.TOOLS)))
real = pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))


@real
def test_connections_reach_the_server_through_the_dnat_rules():
    rows = host_dataplane.measure_dataplane([200], repeats=3)
    assert [(r["mode"], r["target"], r["rank"]) for r in rows] == [
        (mode, label, rank) for mode in host_dataplane.MODES
        for label, rank in (("first", 1), ("middle", 100), ("last", 200))]
    for r in rows:  # the worker checked that each Service's connection arrived at its endpoint
        assert r["endpoint"] == rules.endpoint_ip(r["rank"] - 1)
        assert r["repeats"] == 3 * host_dataplane.ROUNDS and len(r["round_medians_ms"]) == host_dataplane.ROUNDS
        assert r["median_ms"] == pytest.approx(min(r["round_medians_ms"]), abs=1e-6)
        assert 0 < r["p10_ms"] <= r["median_ms"] <= r["p90_ms"] < 1000 * host_dataplane.CONNECT_TIMEOUT_S
        assert r["load_s"] >= 0


@real
def test_chunked_iptables_rules_read_back_as_one_full_restore(tmp_path):
    def saved(tag: str, inputs: list[str]) -> list[str]:
        for i, text in enumerate(inputs):
            (tmp_path / f"{tag}{i}").write_text(text)
        script = "set -e\n" + "".join(
            f"iptables-restore -w 5 --noflush < {tmp_path / f'{tag}{i}'}\n" for i in range(len(inputs))
        ) + "iptables-save -t nat\n"
        done = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return [ln for ln in done.stdout.splitlines() if ln.startswith("-A KUBE-")]

    assert saved("chunk", rules.iptables_chunks(30, chunk=8)) == saved(
        "full", [render_iptables(rules.state(0, 30)).restore_input()])
