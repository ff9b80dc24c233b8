"""Releases as profiles: cluster.kubernetesVersion chooses what the scenario leaves out."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from conftest import ROOT

from simk8s.cli import main
from simk8s.scenario import ScenarioError, load_scenario, load_variants
from simk8s.scenario.releases import NEWEST, RULES, defaults_for, format_release, parse_release

QUICK = ROOT / "scenarios" / "quick.yaml"


def _cluster(make_scenario, cluster: str, overrides=()):
    return make_scenario(f"name: x\ncluster:\n{cluster}", overrides).cluster


def test_the_newest_release_is_the_default(make_scenario):
    cl = make_scenario("name: x\n").cluster
    assert cl.kubernetes_version == format_release(NEWEST) == "1.36"
    kp = cl.kube_proxy
    assert (kp.watch, kp.runner, kp.min_sync_period, kp.full_sync_period) == ("EndpointSlices", "completion-gap", 1.0, 3600.0)
    assert kp.large_cluster_skips_full_sync and kp.large_cluster_cleanup_pacing
    assert cl.controller_manager.endpoints_max_capacity == 1000


def test_an_old_release_chooses_its_own_defaults(make_scenario):
    cl = _cluster(make_scenario, '  kubernetesVersion: "1.18"\n')
    kp, gates = cl.kube_proxy, cl.feature_gates
    assert (kp.watch, kp.runner, kp.min_sync_period) == ("Endpoints", "token-bucket", 0.0)
    assert cl.controller_manager.endpoints_max_capacity == 0
    assert not gates.minimize_iptables_restore and not kp.large_cluster_cleanup_pacing
    assert not gates.proxy_terminating_endpoints and not gates.endpoint_slice_terminating_condition


def test_v1_26_to_v1_32_iptables_has_no_periodic_full_restore(make_scenario):
    for version, expected in (("1.26", 3600.0), ("1.27", math.inf), ("1.32", math.inf), ("1.33", 3600.0)):
        assert _cluster(make_scenario, f'  kubernetesVersion: "{version}"\n').kube_proxy.full_sync_period == expected


def test_a_setting_written_in_the_scenario_wins(make_scenario):
    cl = _cluster(make_scenario, '  kubernetesVersion: "1.18"\n  kubeProxy: {watch: EndpointSlices, minSyncPeriod: 2s}\n'
                  '  featureGates: {MinimizeIPTablesRestore: true}\n')
    assert (cl.kube_proxy.watch, cl.kube_proxy.min_sync_period) == ("EndpointSlices", 2.0)
    assert cl.feature_gates.minimize_iptables_restore
    assert "kubeProxy.watch" not in cl._chosen_by_release
    assert "kubeProxy.runner" in cl._chosen_by_release


def test_ipvs_gets_the_v1alpha1_min_sync_period_of_zero(make_scenario):
    assert _cluster(make_scenario, "  kubeProxy: {mode: ipvs}\n").kube_proxy.min_sync_period == 0.0
    # the snake_case spelling the schema also accepts chooses the same defaults
    assert _cluster(make_scenario, "  kube_proxy: {mode: ipvs}\n").kube_proxy.min_sync_period == 0.0
    assert load_scenario(QUICK, ["cluster.kube_proxy.mode=ipvs"]).cluster.kube_proxy.min_sync_period == 0.0


def test_variants_resolve_defaults_under_their_own_release_and_mode(make_scenario, tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text(
        "name: v\ncompare:\n"
        "  - {name: new}\n"
        "  - {name: old, set: {cluster.kubernetesVersion: '1.18'}}\n"
        "  - {name: ipvs, set: {cluster.kubeProxy.mode: ipvs}}\n"
    )
    got = {n: sc.cluster for n, sc in load_variants(load_scenario(path))}
    assert got["new"].kube_proxy.watch == "EndpointSlices" and got["new"].kube_proxy.min_sync_period == 1.0
    assert got["old"].kube_proxy.watch == "Endpoints" and got["old"].kube_proxy.runner == "token-bucket"
    assert got["ipvs"].kube_proxy.min_sync_period == 0.0


@pytest.mark.parametrize(("written", "message"), [
    ('"1.17"', "cluster.kubernetesVersion: releases 1.18 to 1.36 are modelled, got '1.17'"),
    ('"1.99"', "cluster.kubernetesVersion: releases 1.18 to 1.36 are modelled, got '1.99'"),
    ("1.30", "cluster.kubernetesVersion: releases 1.18 to 1.36 are modelled, got '1.3' (quote it: YAML reads 1.30 as the number 1.3)"),
    ('"latest"', "cluster.kubernetesVersion: expected a release like \"1.33\", got 'latest'"),
])
def test_a_bad_release_is_a_clear_error_at_its_line(make_scenario, written, message):
    with pytest.raises(ScenarioError) as err:
        make_scenario(f"name: x\ncluster:\n  nodes: 3\n  kubernetesVersion: {written}\n")
    assert [line.split(": ", 1)[1] for line in err.value.lines] == [message]
    assert err.value.lines[0].split(":")[1] == "4"


def test_set_takes_an_unquoted_release(tmp_path):
    sc = load_scenario(QUICK, ["cluster.kubernetesVersion=1.26"])
    assert sc.cluster.kubernetes_version == "1.26" and sc.cluster.kube_proxy.runner == "token-bucket"
    assert not sc.cluster.feature_gates.minimize_iptables_restore


def test_a_variant_its_release_lacks_is_skipped_with_a_warning(tmp_path):
    """`--set cluster.kubernetesVersion=1.26` on a scenario that compares modes: nftables
    mode did not exist before 1.29, so that variant is left out (and said so), not an error."""
    sc = load_scenario(ROOT / "scenarios" / "rolling-2000.yaml", ["cluster.kubernetesVersion=1.26"])
    assert [n for n, _ in load_variants(sc)] == ["endpoints-iptables", "slices-iptables", "slices-ipvs"]
    assert sc.warnings == ("variant slices-nftables skipped: cluster.kubeProxy.mode: kube-proxy nftables mode needs "
                           "Kubernetes 1.29 or later; cluster.kubernetesVersion is 1.26 (KEP-3866: NFTablesProxyMode "
                           "alpha 1.29, beta (on) 1.31, GA 1.33)",)
    only = tmp_path / "only.yaml"
    only.write_text('name: o\ncluster: {kubernetesVersion: "1.20"}\ncompare:\n'
                    "  - {name: nft, set: {cluster.kubeProxy.mode: nftables}}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(only)
    assert err.value.lines[0].startswith(f"{only}:3: compare: no variant exists in this release: cluster.kubeProxy.mode")


def test_nftables_and_traffic_distribution_need_their_release(make_scenario):
    with pytest.raises(ScenarioError) as err:
        make_scenario('name: x\ncluster:\n  kubernetesVersion: "1.28"\n  kubeProxy: {mode: nftables}\n')
    assert "cluster.kubeProxy.mode: kube-proxy nftables mode needs Kubernetes 1.29 or later" in err.value.lines[0]
    with pytest.raises(ScenarioError) as err:
        make_scenario('name: x\ncluster: {kubernetesVersion: "1.29"}\n'
                      "services: [{name: s, selector: {app: s}, ports: [{port: 80}], trafficDistribution: PreferClose}]\n")
    assert "services.0.trafficDistribution: Service trafficDistribution needs Kubernetes 1.30" in err.value.lines[0]


def test_parse_release_forms():
    assert parse_release("1.33") == parse_release("v1.33") == parse_release("1.33.7") == parse_release(1.33) == (1, 33)
    for bad in (True, 1, None, "1", "1.33.x"):
        with pytest.raises(ValueError):
            parse_release(bad)


def test_every_rule_cites_its_source_and_orders_its_releases():
    for rule in RULES:
        firsts = [first for first, _ in rule.values]
        assert firsts == sorted(firsts) and len(set(firsts)) == len(firsts), rule.path
        assert rule.source
    # one value per setting and mode in every release
    for mode in ("iptables", "ipvs", "nftables"):
        paths = [r.path for r in RULES if mode in r.modes]
        assert len(paths) == len(set(paths)) == len(defaults_for(NEWEST, mode))


def test_docs_versions_is_what_the_code_renders():
    from simk8s.results.versions_report import versions_markdown

    assert (ROOT / "docs" / "versions.md").read_text() == versions_markdown(), "run: simk8s versions --write docs/versions.md"


def test_the_resolved_scenario_lists_what_the_release_chose(tmp_path):
    import yaml

    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["run", str(QUICK), "--variant", "slices-ipvs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load((out / "scenario.resolved.yaml").read_text())
    chosen = doc["releaseDefaults"]["slices-ipvs"]
    assert "kubeProxy.minSyncPeriod" in chosen and "kubeProxy.mode" not in chosen
    resolved = doc["resolvedVariants"]["slices-ipvs"]["cluster"]
    assert resolved["kubernetesVersion"] == "1.36" and resolved["kubeProxy"]["minSyncPeriod"] == "0s"


def test_versions_write_replaces_only_what_it_generated(tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("# my notes\n")
    result = CliRunner().invoke(main, ["versions", "--write", str(mine)])
    assert result.exit_code == 2 and mine.read_text() == "# my notes\n"
    out = tmp_path / "versions.md"
    assert CliRunner().invoke(main, ["versions", "--write", str(out)]).exit_code == 0
    assert CliRunner().invoke(main, ["versions", "--write", str(out)]).exit_code == 0  # its own file: replaced
