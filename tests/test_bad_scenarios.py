"""The corpus of malformed scenarios in tests/bad_scenarios/, each with the exact lines it
must produce (FILE:LINE: path: message), compared exactly and in order."""

from pathlib import Path

import pytest

from simk8s.scenario import ScenarioError, load_scenario

CORPUS = Path(__file__).parent / "bad_scenarios"

EXPECTED: dict[str, list[str]] = {
    "typo-key.yaml": [
        "typo-key.yaml:4: workloads.0.replicsa: unknown field (did you mean 'replicas'?)",
    ],
    "wrong-unit.yaml": [
        "wrong-unit.yaml:2: duration: expected a duration like 30s, 500ms or 1h, got '30 sec'",
    ],
    "bad-full-sync-period.yaml": [
        "bad-full-sync-period.yaml:4: cluster.kubeProxy.fullSyncPeriod: expected a duration like 30s or 1h, or never; got 'sometimes'",
    ],
    "negative-count.yaml": [
        "negative-count.yaml:3: cluster.nodes: must be from 1 to 50000, got -5",
    ],
    "unknown-variant-path.yaml": [
        "unknown-variant-path.yaml:5: compare.0.set.cluster.kubeProxy.mdoe: unknown field (did you mean 'mode'?)",
    ],
    "variant-bad-value.yaml": [
        "variant-bad-value.yaml:5: compare.1.set.workloads.3.replicas: workloads has no item 3 (it is empty)",
        "variant-bad-value.yaml:5: compare.1.set.cluster.kubeProxy.mode: Input should be 'iptables', 'ipvs' or 'nftables', got 'bogus'",
        "variant-bad-value.yaml:6: compare.2.name: duplicate name 'base' (also compare.0)",
    ],
    "bad-manifest.yaml": [
        "manifests/bad-deployment.yaml:3: metadata.name: missing required field",
        "manifests/bad-deployment.yaml:13: spec.replicas: Input should be a valid integer, unable to parse string as an integer, got 'three'",
        "manifests/bad-deployment.yaml:20: spec.template.spec.containers: expected a list, got a mapping",
    ],
    "bad-manifest-yaml.yaml": [
        "manifests/not-yaml.yaml:5: not valid YAML: expected <block end>, but found '<block mapping start>'",
    ],
    "manifest-bad-nodeport.yaml": [
        "manifests/bad-nodeport.yaml:8: spec.sessionAffinity: Input should be 'None' or 'ClientIP', got 'Sticky'",
        "manifests/bad-nodeport.yaml:20: spec.ports.0.nodePort: must be in the range 30000-32767, got 40000",
    ],
    "manifest-duplicate.yaml": [
        "manifests/web-service.yaml:4: metadata.name: duplicate Service default/web (also services.0)",
    ],
    "missing-manifest.yaml": [
        "missing-manifest.yaml:3: manifests.0: no such file: manifests/nope.yaml",
    ],
    "not-yaml.yaml": [
        "not-yaml.yaml:4: not valid YAML: expected ',' or ']', but got '<stream end>'",
    ],
    "empty.yaml": [
        "empty.yaml:1: empty file: expected a scenario mapping (at least `name:`)",
    ],
    "top-level-list.yaml": [
        "top-level-list.yaml:1: the top level must be a mapping of scenario keys, got a list",
    ],
    "two-documents.yaml": [
        "two-documents.yaml:3: expected one YAML document, found 2",
    ],
    "missing-name.yaml": [
        "missing-name.yaml:1: name: missing required field",
    ],
    "bad-name.yaml": [
        "bad-name.yaml:1: name: expected a lowercase name like 'backend' (a-z, 0-9 and '-', at most 63), got 'Rolling_2000'",
        "bad-name.yaml:4: cluster.apiserver.egressBandwidth: expected a bandwidth like 10Gbps, 800Mbps or 1.25GBps, got '10 gigabit'",
    ],
    "max-endpoints-per-slice.yaml": [
        "max-endpoints-per-slice.yaml:4: cluster.controllerManager.maxEndpointsPerSlice: must be from 1 to 1000, got 5000",
    ],
    "unknown-mode.yaml": [
        "unknown-mode.yaml:4: cluster.kubeProxy.mode: Input should be 'iptables', 'ipvs' or 'nftables', got 'userspace'",
    ],
    "event-missing-workload.yaml": [
        "event-missing-workload.yaml:5: events.0.rollout: no Deployment named 'frontend' (known: backend)",
    ],
    "event-two-actions.yaml": [
        "event-two-actions.yaml:5: events.0: an event needs exactly one of rollout, scale, drain, nodeLoss; got rollout, drain",
        "event-two-actions.yaml:6: events.1: scale needs replicas",
        "event-two-actions.yaml:7: events.2.replicas: only valid with scale",
    ],
    "event-bad-targets.yaml": [
        "event-bad-targets.yaml:7: events.0.at: 20m is after the end of the run (duration 10m)",
        "event-bad-targets.yaml:8: events.1.drain: no node 'node-10' (nodes are node-0 .. node-9)",
        "event-bad-targets.yaml:9: events.2.nodeLoss: cannot take 11 nodes out of 10",
    ],
    "duplicate-service.yaml": [
        "duplicate-service.yaml:6: services.1.name: duplicate Service default/web (also services.0)",
    ],
    "duplicate-nodeport.yaml": [
        "duplicate-nodeport.yaml:10: services.1.ports.0.nodePort: nodePort 30080 is used by both Service default/web and Service default/api",
    ],
    "nodeport-range.yaml": [
        "nodeport-range.yaml:5: services.0.ports.0.nodePort: only valid for type NodePort or LoadBalancer",
        "nodeport-range.yaml:9: services.1.ports.0.nodePort: must be in the range 30000-32767, got 80",
    ],
    "externalname-missing.yaml": [
        "externalname-missing.yaml:4: services.0.type: type ExternalName needs externalName",
    ],
    "selector-with-endpoints.yaml": [
        "selector-with-endpoints.yaml:6: services.0.endpoints: only a Service without selector may list endpoints",
        "selector-with-endpoints.yaml:11: services.1.endpoints.0.ip: expected an IP address like 10.0.0.1, got '192.168.1.300'",
    ],
    "bad-cidr.yaml": [
        "bad-cidr.yaml:3: cluster.clusterCIDR: expected a CIDR like 10.64.0.0/10, got '10.64.0.1/10' (host bits set)",
        "bad-cidr.yaml:4: cluster.serviceCIDR: expected a CIDR like 10.64.0.0/10, got '10.96.0.0'",
    ],
    "too-many-nodes.yaml": [
        "too-many-nodes.yaml:3: cluster.nodes: 5000 nodes do not fit in clusterCIDR 10.0.0.0/16: it holds 256 node CIDRs of /24",
    ],
    "bad-percentage.yaml": [
        "bad-percentage.yaml:5: workloads.0.strategy.maxSurge: expected an integer or a percentage like 25%, got '25 percent'",
        "bad-percentage.yaml:7: workloads.1.strategy.maxUnavailable: must not be more than 100%, got 150%",
    ],
    "bad-rate.yaml": [
        "bad-rate.yaml:7: traffic.0.rate: expected a rate like 2000/s, 120/m or 5/h, got 'lots'",
    ],
    "traffic-unknown-service.yaml": [
        "traffic-unknown-service.yaml:7: traffic.0.service: no Service named 'webb' (known: web)",
        "traffic-unknown-service.yaml:8: traffic.1.from: external traffic needs a NodePort or LoadBalancer Service (or externalIPs); default/web is ClusterIP",
    ],
    "duplicate-key.yaml": [
        "duplicate-key.yaml:5: cluster.nodes: duplicate key (first defined at line 3)",
    ],
    "two-errors.yaml": [
        "two-errors.yaml:4: cluster.nodez: unknown field (did you mean 'nodes'?)",
        "two-errors.yaml:6: cluster.kubeProxy.minSyncPeriod: expected a duration like 30s, 500ms or 1h, got '1 second'",
    ],
}


def test_every_corpus_file_has_expected_lines():
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 18


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_scenario_message(name, monkeypatch):
    monkeypatch.chdir(CORPUS)
    with pytest.raises(ScenarioError) as info:
        load_scenario(name)
    assert info.value.lines == EXPECTED[name]
    assert str(info.value) == "\n".join(EXPECTED[name])


def test_two_errors_in_one_file_are_both_reported(monkeypatch):
    monkeypatch.chdir(CORPUS)
    with pytest.raises(ScenarioError) as info:
        load_scenario("two-errors.yaml")
    assert len(info.value.lines) == 2
    assert {line.split(": ")[1] for line in info.value.lines} == {"cluster.nodez", "cluster.kubeProxy.minSyncPeriod"}


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "absent.yaml")
    assert info.value.lines == [f"{tmp_path / 'absent.yaml'}: no such file"]


def test_binary_file(tmp_path):
    path = tmp_path / "blob.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01name")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.lines == [f"{path}: not a text file (expected YAML)"]


def test_errors_carry_no_pydantic_noise(monkeypatch):
    monkeypatch.chdir(CORPUS)
    for name in EXPECTED:
        with pytest.raises(ScenarioError) as info:
            load_scenario(name)
        for line in info.value.lines:
            assert "https://" not in line
            assert "Value error" not in line
            assert "Extra inputs" not in line
