"""Loading the shipped scenarios, variants, --set overrides, the resolved dump, manifests."""

import pickle
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from simk8s.scenario import (
    IntOrPercent,
    Scenario,
    ScenarioError,
    load_scenario,
    load_variants,
    resolved_dict,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SHIPPED = ["quick.yaml", "rolling-2000.yaml", "manifests-demo.yaml"]


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def errors_of(path, overrides=()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return info.value.lines


# --- shipped scenarios ------------------------------------------------------------------


def test_rolling_2000():
    sc = load_scenario(SCENARIOS / "rolling-2000.yaml")
    assert sc.name == "rolling-2000"
    assert sc.description
    assert sc.duration == 1800.0
    assert sc.cluster.nodes == 3000
    assert sc.cluster.zones == ("a", "b", "c")
    assert sc.cluster.apiserver.replicas == 3
    assert sc.cluster.apiserver.egress_bandwidth == 1.25e9  # 10Gbps in bytes/s
    assert sc.cluster.etcd.max_request_bytes == 1572864
    assert sc.cluster.controller_manager.max_endpoints_per_slice == 100
    assert sc.cluster.kube_proxy.min_sync_period == 1.0
    assert (sc.background.services, sc.background.endpoints_per_service) == (2000, 10)
    svc = sc.service("backend")
    assert svc.selector == {"app": "backend"}
    assert (svc.ports[0].port, svc.ports[0].target_port) == (80, "http")
    backend = sc.workload("backend")
    assert backend.replicas == 2000
    assert backend.readiness_probe is not None
    assert (backend.readiness_probe.initial_delay_seconds, backend.readiness_probe.period_seconds) == (5, 10)
    assert backend.strategy.max_surge == IntOrPercent(25, percent=True)
    assert backend.strategy.max_unavailable == IntOrPercent(25, percent=True)
    assert [(e.at, e.action, e.target) for e in sc.events] == [(120.0, "rollout", "backend")]
    assert sc.traffic[0].rate == 2000.0
    assert sc.warnings == ()


def test_quick():
    sc = load_scenario(SCENARIOS / "quick.yaml")
    assert (sc.cluster.nodes, sc.duration) == (20, 600.0)
    assert len(sc.services) == 1 and sc.services[0].type == "ClusterIP"
    assert sc.workloads[0].replicas == 30
    assert sc.events[0].at == 60.0
    assert sc.traffic[0].rate == 50.0


def test_defaults_are_filled():
    sc = Scenario(name="x")
    kp = sc.cluster.kube_proxy
    assert (kp.mode, kp.watch, kp.sync_period, kp.full_sync_period, kp.runner) == (
        "iptables", "EndpointSlices", 30.0, 3600.0, "completion-gap")  # the newest release modelled (1.36)
    assert str(sc.cluster.cluster_cidr) == "10.64.0.0/10"
    assert sc.cluster.apiserver.max_request_body_bytes == 3 * 2**20
    assert sc.cluster.node_name(7) == "node-7" and sc.cluster.zone_of(4) == "b"


def test_workload_defaults():
    sc = Scenario(name="x", workloads=[{"name": "web"}])
    web = sc.workloads[0]
    assert web.labels == {"app": "web"}
    assert web.match_labels == {"app": "web"}
    assert web.readiness_probe is None
    assert (web.strategy.max_surge, web.strategy.max_unavailable) == (IntOrPercent(25, True), IntOrPercent(25, True))
    recreate = Scenario(name="x", workloads=[{"name": "w", "strategy": {"type": "Recreate"}}]).workloads[0]
    assert recreate.strategy.max_surge is None


def test_scenario_is_frozen_and_picklable():
    sc = load_scenario(SCENARIOS / "quick.yaml")
    with pytest.raises(ValidationError):
        sc.seed = 2  # type: ignore[misc]
    with pytest.raises(ValidationError):
        sc.cluster.nodes = 3  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(sc)) == sc


def test_snake_case_keys_are_accepted_and_located(tmp_path):
    path = write(tmp_path, "name: snake\ncluster:\n  kube_proxy:\n    min_sync_period: 10s\n    sync_perio: 1s\n")
    assert errors_of(path) == [f"{path}:5: cluster.kube_proxy.sync_perio: unknown field (did you mean 'syncPeriod'?)"]
    path = write(tmp_path, "name: snake\ncluster:\n  kube_proxy:\n    min_sync_period: 10s\n")
    assert load_scenario(path).cluster.kube_proxy.min_sync_period == 10.0


# --- variants ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quick.yaml", "rolling-2000.yaml"])
def test_variants(name):
    sc = load_scenario(SCENARIOS / name)
    variants = load_variants(sc)
    assert [(n, v.cluster.kube_proxy.watch, v.cluster.kube_proxy.mode) for n, v in variants] == [
        ("endpoints-iptables", "Endpoints", "iptables"),
        ("slices-iptables", "EndpointSlices", "iptables"),
        ("slices-ipvs", "EndpointSlices", "ipvs"),
        ("slices-nftables", "EndpointSlices", "nftables"),
    ]
    for _, variant in variants:
        assert variant.compare == ()
        assert variant.seed == sc.seed and variant.workloads == sc.workloads
    # the variant without `set` is the base minus its compare list
    assert variants[1][1] == sc.model_copy(update={"compare": ()})


def test_no_compare_gives_one_base_variant(tmp_path):
    sc = load_scenario(write(tmp_path, "name: solo\n"))
    assert load_variants(sc) == [("base", sc)]


def test_variants_see_overrides():
    sc = load_scenario(SCENARIOS / "quick.yaml", ["cluster.nodes=7"])
    assert {v.cluster.nodes for _, v in load_variants(sc)} == {7}


def test_variant_error_outside_its_path_points_at_the_entry(tmp_path):
    path = write(tmp_path, """\
name: v
cluster: {nodes: 10}
events:
  - {at: 1m, drain: node-5}
compare:
  - name: small
    set: {cluster.nodes: 2}
""")
    assert errors_of(path) == [
        f"{path}:6: compare.0: in variant 'small': events.0.drain: no node 'node-5' (nodes are node-0 .. node-1)",
    ]


def test_variant_setting_a_mapping_is_checked_inside_it(tmp_path):
    path = write(tmp_path, """\
name: v
compare:
  - name: proxy
    set:
      cluster.kubeProxy:
        mode: ipvs
        minSyncPerid: 2s
      compare: []
""")
    assert errors_of(path) == [
        f"{path}:7: compare.0.set.cluster.kubeProxy.minSyncPerid: unknown field (did you mean 'minSyncPeriod'?)",
        f"{path}:8: compare.0.set.compare: a variant cannot set compare",
    ]


# --- overrides --------------------------------------------------------------------------


def test_overrides_apply_in_order():
    sc = load_scenario(
        SCENARIOS / "quick.yaml",
        ["cluster.kubeProxy.mode=ipvs", "workloads.0.replicas=12", "cluster.zones=[x, y]",
         "duration=90s", "cluster.kubeProxy.mode=nftables", "description=''"],
    )
    assert sc.cluster.kube_proxy.mode == "nftables"
    assert sc.workloads[0].replicas == 12
    assert sc.cluster.zones == ("x", "y")
    assert sc.duration == 90.0
    assert sc.description == ""


def test_override_errors():
    lines = errors_of(
        SCENARIOS / "quick.yaml",
        ["cluster.nodez=5", "workloads.4.replicas=3", "nonsense", "seed.x=1", "duration=soon"],
    )
    assert lines == [
        "--set:1: cluster.nodez: unknown field (did you mean 'nodes'?)",
        "--set:2: workloads.4.replicas: workloads has no item 4 (it has 1)",
        "--set:3: expected PATH=VALUE, got 'nonsense'",
        "--set:4: seed.x: seed is a single value, not a mapping or a list",
        "--set:5: duration: expected a duration like 30s, 500ms or 1h, got 'soon'",
    ]


def test_override_cross_check_is_blamed_on_the_override():
    assert errors_of(SCENARIOS / "quick.yaml", ["cluster.nodes=20000"]) == [
        "--set:1: cluster.nodes: 20000 nodes do not fit in clusterCIDR 10.64.0.0/10: it holds 16384 node CIDRs of /24",
    ]


def test_file_error_is_not_blamed_on_an_unrelated_override(tmp_path):
    path = write(tmp_path, "name: x\ncluster:\n  nodes: 0\n")
    assert errors_of(path, ["cluster.kubeProxy.mode=ipvs"]) == [
        f"{path}:3: cluster.nodes: must be from 1 to 100000, got 0",
    ]


# --- resolved dump ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_resolved_dump_round_trips(name, tmp_path):
    sc = load_scenario(SCENARIOS / name)
    data = resolved_dict(sc)
    assert Scenario.model_validate(data) == sc
    # through a YAML file and the loader too (manifests are already merged in the dump)
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False), "resolved.yaml")
    assert load_scenario(path) == sc
    for variant_name, variant in load_variants(sc):
        assert Scenario.model_validate(resolved_dict(variant)) == variant, variant_name


def test_resolved_dump_uses_human_units():
    data = resolved_dict(load_scenario(SCENARIOS / "rolling-2000.yaml"))
    assert data["duration"] == "30m"
    assert data["cluster"]["apiserver"]["egressBandwidth"] == "10Gbps"
    assert data["cluster"]["etcd"]["maxRequestBytes"] == "1.5Mi"
    assert data["cluster"]["clusterCIDR"] == "10.64.0.0/10"
    assert data["cluster"]["kubeProxy"]["fullSyncPeriod"] == "1h"
    assert data["workloads"][0]["strategy"] == {"type": "RollingUpdate", "maxSurge": "25%", "maxUnavailable": "25%"}
    assert data["events"] == [{"at": "2m", "rollout": "backend"}]
    assert data["traffic"][0]["rate"] == "2000/s"
    assert data["traffic"][0]["from"] == "pods"
    assert "manifests" not in data


# --- manifests --------------------------------------------------------------------------


def test_manifests_are_imported():
    sc = load_scenario(SCENARIOS / "manifests-demo.yaml")
    svc = sc.service("shop")
    assert svc.type == "NodePort"
    assert svc.selector == {"app": "shop"}
    assert [(p.name, p.port, p.target_port, p.protocol, p.node_port) for p in svc.ports] == [
        ("http", 80, "http", "TCP", 30080)]
    assert (svc.session_affinity, svc.session_affinity_timeout) == ("ClientIP", 600.0)
    assert svc.external_traffic_policy == "Local"
    assert svc.annotations == {"example.com/owner": "team-shop"}
    shop = sc.workload("default/shop")
    assert shop.replicas == 6
    assert shop.labels == {"app": "shop", "tier": "web"}
    assert shop.selector == {"app": "shop"}
    assert [(p.name, p.container_port) for p in shop.container_ports] == [("http", 8080), ("metrics", 9090)]
    assert shop.readiness_probe is not None
    assert (shop.readiness_probe.initial_delay_seconds, shop.readiness_probe.period_seconds,
            shop.readiness_probe.failure_threshold) == (3, 5, 2)
    assert (shop.termination_grace_period_seconds, shop.min_ready_seconds) == (20, 5)
    assert (shop.strategy.max_surge, shop.strategy.max_unavailable) == (IntOrPercent(1), IntOrPercent(0))
    assert sc.warnings == (
        "ignored 1 manifest object(s) of kinds simk8s does not model: "
        f"ConfigMap/shop-config ({SCENARIOS / 'manifests/app.yaml'}:1)",
    )


def test_manifest_objects_follow_scenario_objects(tmp_path):
    (tmp_path / "m.yaml").write_text("""\
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  clusterIP: None
  selector: {app: api}
---
apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: old}
""")
    path = write(tmp_path, """\
name: m
services:
  - {name: web, selector: {app: web}, ports: [{port: 80}]}
manifests: [m.yaml]
""")
    sc = load_scenario(path)
    assert [s.key for s in sc.services] == ["default/web", "shop/api"]
    assert sc.services[1].headless and sc.services[1].ports == ()
    assert sc.warnings == (
        f"ignored 1 manifest object(s) of kinds simk8s does not model: Deployment/old ({tmp_path / 'm.yaml'}:8)",)
