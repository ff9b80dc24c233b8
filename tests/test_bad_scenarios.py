"""The corpus of malformed scenarios in tests/bad_scenarios/, each with the exact lines it
must produce (FILE:LINE: path: message), compared exactly and in order."""

from pathlib import Path

import pytest

from simk8s.scenario import ScenarioError, load_scenario, memory
from simk8s.scenario.yamlbounds import MAX_TEXT_CHARS

CORPUS = Path(__file__).parent / "bad_scenarios"
QUICK = Path(__file__).parent.parent / "scenarios" / "quick.yaml"
EIGHT_GIB = 8 * 2**30


@pytest.fixture(autouse=True)
def eight_gib_available(monkeypatch):
    """The memory check compares with this machine's memory: pin it, so messages are exact."""
    monkeypatch.setattr(memory, "available_memory", lambda: EIGHT_GIB)

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
        "negative-count.yaml:3: cluster.nodes: must be from 1 to 100000, got -5",
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
        "event-two-actions.yaml:5: events.0: an event needs exactly one of rollout, scale, drain, nodeLoss, zoneOutage, apiserverRestart; got rollout, drain",
        "event-two-actions.yaml:6: events.1: scale needs replicas",
        "event-two-actions.yaml:7: events.2.replicas: only valid with scale",
    ],
    "event-zone-outages.yaml": [
        "event-zone-outages.yaml:8: events.1.zoneOutage: zone 'a' is already lost by another zoneOutage event",
        "event-zone-outages.yaml:9: events.2.zoneOutage: zone 'b' is the last zone left; at least one zone must survive",
        "event-zone-outages.yaml:10: events.3.zoneOutage: no zone 'z' in cluster.zones (a, b)",
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
    # --- limits checked at load ---------------------------------------------------------
    # YAML the parser would choke on
    "limit-nul-byte.yaml": [
        "limit-nul-byte.yaml:2: control character U+0000 at column 20 (YAML allows tab, line breaks and printable characters only)",
    ],
    "limit-escape-character.yaml": [
        "limit-escape-character.yaml:4: control character U+001B at column 14 (YAML allows tab, line breaks and printable characters only)",
    ],
    "limit-deep-flow.yaml": [
        "limit-deep-flow.yaml:2: nested more than 100 levels deep",
    ],
    "limit-deep-block.yaml": [
        "limit-deep-block.yaml:102: nested more than 100 levels deep",
    ],
    "limit-alias-bomb-variant.yaml": [
        "limit-alias-bomb-variant.yaml:10: aliases here stand for more than 50,000 values (an alias bomb?); write the values out instead",
    ],
    "limit-alias-merge-bomb.yaml": [
        "limit-alias-merge-bomb.yaml:8: aliases here stand for more than 50,000 values (an alias bomb?); write the values out instead",
    ],
    "limit-long-integer.yaml": [
        "limit-long-integer.yaml:3: a number of 5000 characters: numbers are limited to 50",
    ],
    "limit-long-float.yaml": [
        "limit-long-float.yaml:2: a number of 202 characters: numbers are limited to 50",
    ],
    "limit-bad-int-tag.yaml": [
        "limit-bad-int-tag.yaml:2: not valid YAML: cannot read 'twelve' as a value of type int",
    ],
    "limit-bad-timestamp.yaml": [
        "limit-bad-timestamp.yaml:2: not valid YAML: cannot read 'yesterday' as a value of type timestamp",
    ],
    # values no run can hold: not finite, too large, a bool for a count, out of range
    "limit-infinite-duration.yaml": [
        "limit-infinite-duration.yaml:2: duration: expected a duration like 30s, 500ms or 1h, got inf (not a finite number)",
    ],
    "limit-duration-digits.yaml": [
        "limit-duration-digits.yaml:2: duration: expected a duration like 30s, 500ms or 1h, got '9999999999999999999999999999999999999999'... (401 characters) (too large)",
    ],
    "limit-duration-range.yaml": [
        "limit-duration-range.yaml:2: duration: must be more than 0s and at most 168h, got 200h",
    ],
    "limit-nan-qps.yaml": [
        "limit-nan-qps.yaml:4: cluster.controllerManager.kubeApiQps: must be more than 0 and at most 100000, got nan",
    ],
    "limit-infinite-rate.yaml": [
        "limit-infinite-rate.yaml:7: traffic.0.rate: expected a rate like 2000/s, 120/m or 5/h, got inf (not a finite number)",
    ],
    "limit-bool-nodes.yaml": [
        "limit-bool-nodes.yaml:3: cluster.nodes: expected a whole number, got the boolean true (YAML reads true, yes and on as booleans)",
    ],
    "limit-bool-replicas.yaml": [
        "limit-bool-replicas.yaml:4: workloads.0.replicas: expected a whole number, got the boolean true (YAML reads true, yes and on as booleans)",
    ],
    "limit-negative-replicas.yaml": [
        "limit-negative-replicas.yaml:4: workloads.0.replicas: must be from 0 to 1000000, got -3",
    ],
    "limit-too-many-nodes.yaml": [
        "limit-too-many-nodes.yaml:3: cluster.nodes: must be from 1 to 100000, got 150000",
    ],
    "limit-huge-quantity.yaml": [
        "limit-huge-quantity.yaml:4: cluster.etcd.maxRequestBytes: expected a quantity like 1.5Mi, 10Gi, 100k or 2M, got '1e999' (too large)",
    ],
    "limit-huge-percentage.yaml": [
        "limit-huge-percentage.yaml:4: workloads.0.strategy.maxSurge: expected an integer or a percentage like 25%, got '99999999%' (at most 1,000,000%)",
    ],
    "limit-huge-node-port.yaml": [
        "limit-huge-node-port.yaml:5: services.0.ports.0.nodePort: must be from 1 to 65535, got 99999999999",
    ],
    "limit-huge-seed.yaml": [
        "limit-huge-seed.yaml:2: seed: must be from 0 to 18446744073709551615, got 18446744073709551616",
    ],
    "limit-flap-rate.yaml": [
        "limit-flap-rate.yaml:5: workloads.0.readinessFlaps.rate: must be from 0/s to 1/s, got 10/s",
    ],
    "limit-periods.yaml": [
        "limit-periods.yaml:4: cluster.kubelet.podStartLatency.median: must be more than 0s and at most 1h, got 0s",
        "limit-periods.yaml:6: cluster.kubeProxy.syncPeriod: must be from 1s to 24h, got 0s",
        "limit-periods.yaml:7: cluster.kubeProxy.fullSyncPeriod: must be from 1m to 168h, or never; got 1s",
    ],
    # more pods than the nodes hold
    "limit-replicas-capacity.yaml": [
        "limit-replicas-capacity.yaml:7: workloads.1.replicas: the Deployments' replicas add up to 600 here, more than the cluster's room for 500 pods (10 nodes × maxPodsPerNode 50)",
    ],
    "limit-scale-capacity.yaml": [
        "limit-scale-capacity.yaml:7: events.0.replicas: scaling to 400 makes 1200 replicas in all, more than the cluster's room for 1100 pods (10 nodes × maxPodsPerNode 110)",
    ],
    "limit-pods-per-node-cidr.yaml": [
        "limit-pods-per-node-cidr.yaml:3: cluster.nodeCIDRMaskSize: a /25 node CIDR has 125 pod addresses, fewer than maxPodsPerNode (126)",
    ],
    # more memory than this machine has (available memory pinned to 8 GiB below)
    "limit-traffic-memory.yaml": [
        "limit-traffic-memory.yaml:9: traffic.1.rate: the run needs at least 70.4 TiB of memory (mostly 604,860 million connections at ~128 B), more than the 8.0 GiB available",
    ],
    "limit-pods-memory.yaml": [
        "limit-pods-memory.yaml:10: workloads.1.replicas: the run needs at least 114.6 GiB of memory (mostly 40 million pods at ~3 KiB), more than the 8.0 GiB available",
    ],
    "limit-watch-memory.yaml": [
        "limit-watch-memory.yaml:4: cluster.nodes: the run needs at least 234.9 GiB of memory (mostly 60,000 writes to 1 million watchers at ~4 B), more than the 8.0 GiB available",
    ],
}


def test_every_corpus_file_has_expected_lines():
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 18
    assert len([name for name in EXPECTED if name.startswith("limit-")]) >= 25


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


# `--set PATH=VALUE` values go through the same limits as files.
_BOMB = "[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], " \
        "&d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], *e, *e, *e, *e, *e, *e]"
OVERRIDES_EXPECTED = {
    "cluster.zones=" + _BOMB: "--set:1: value '[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c'... "
    "(180 characters): aliases here stand for more than 50,000 values (an alias bomb?); write the values out instead",
    "cluster.nodes=" + "[" * 300: "--set:1: value '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['... "
    "(300 characters): nested more than 100 levels deep",
    "description=a\x00b": "--set:1: value 'a\\x00b': control character U+0000 at column 2 "
    "(YAML allows tab, line breaks and printable characters only)",
    "cluster.nodes=" + "9" * 5000: "--set:1: value '999999999999999999999999999999999999999999999999999999999999'... "
    "(5,000 characters): a number of 5000 characters: numbers are limited to 50",
    "seed=!!int abc": "--set:1: value '!!int abc': not valid YAML: cannot read 'abc' as a value of type int",
    "cluster.nodes=yes": "--set:1: cluster.nodes: expected a whole number, got the boolean true "
    "(YAML reads true, yes and on as booleans)",
    "duration=.inf": "--set:1: duration: expected a duration like 30s, 500ms or 1h, got inf (not a finite number)",
    "cluster.controllerManager.kubeApiQps=-.inf": "--set:1: cluster.controllerManager.kubeApiQps: "
    "must be more than 0 and at most 100000, got -inf",
    "traffic.0.rate=1000000/s": "--set:1: traffic.0.rate: the run needs at least 71.7 GiB of memory "
    "(mostly 600 million connections at ~128 B), more than the 8.0 GiB available",
}


@pytest.mark.parametrize("override", sorted(OVERRIDES_EXPECTED))
def test_override_limits(override):
    with pytest.raises(ScenarioError) as info:
        load_scenario(QUICK, [override])
    assert info.value.lines[0] == OVERRIDES_EXPECTED[override]


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\ndescription: " + "x" * MAX_TEXT_CHARS + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.lines == [f"{path}: 8.0 Mi characters of text: a file is limited to 8 Mi"]


def test_a_manifest_with_a_bomb_is_refused_at_its_line(tmp_path):
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
        + "".join(f"  k{i}: &k{i} [{', '.join([f'*k{i - 1}'] * 9) if i else 'x'}]\n" for i in range(7))
    )
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nmanifests: [app.yaml]\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert info.value.lines == [
        f"{tmp_path / 'app.yaml'}:10: aliases here stand for more than 50,000 values (an alias bomb?); "
        "write the values out instead",
    ]
