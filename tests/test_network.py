"""The network between zones (simk8s/network/): topology, bytes by zone pair, price, path
RTT, zone outage. Small graphs; exact counters."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from simk8s.experiment import run_scenario
from simk8s.network import GB, build_network, cross_zone, usd, watch_matrix, watcher_bytes
from simk8s.network.accounting import client_matrix, proxy_replica
from simk8s.network.paths import with_path_rtt
from simk8s.pipeline import KIND_OF_WATCH
from simk8s.scenario import ScenarioError, load_scenario
from simk8s.watch.fanout import Watcher

BASE = """\
name: net
seed: 3
duration: 4m
cluster:
  nodes: {nodes}
  zones: [{zones}]
  apiserver: {{replicas: {replicas}}}
{network}
services:
  - name: web
    selector: {{app: web}}
    ports: [{{name: http, port: 80, targetPort: http}}]
{service_extra}
watchers:
  - {{name: ingress, kind: EndpointSlices, count: 4, encoding: json}}
  - {{name: dns, kind: Endpoints, count: 2, encoding: protobuf}}
workloads:
  - kind: Deployment
    name: web
    replicas: {replicas_web}
    labels: {{app: web}}
    containerPorts: [{{name: http, containerPort: 8080}}]
    readinessProbe: {{initialDelaySeconds: 2, periodSeconds: 5}}
events:
{events}
traffic:
  - {{service: web, rate: 40/s, requestsPerConnection: 3, requestBytes: 100, responseBytes: 1000}}
"""


def _scenario(tmp_path, *, nodes=7, zones="a, b, c", replicas=2, network="", service_extra="",
              events="  - {at: 1m, rollout: web}", replicas_web=9, name="s.yaml"):
    path = tmp_path / name
    path.write_text(BASE.format(nodes=nodes, zones=zones, replicas=replicas, network=network,
                                service_extra=service_extra, events=events, replicas_web=replicas_web))
    return path


def _run(path, *overrides):
    return run_scenario(path, overrides=list(overrides), write=False).variants[0]


def _watchers(sc):
    return [Watcher(w.name, KIND_OF_WATCH[w.kind], w.count, w.encoding) for w in sc.watchers]


# --- topology ---------------------------------------------------------------------------


def test_default_region_is_a_full_mesh_with_published_prices(tmp_path):
    sc = load_scenario(_scenario(tmp_path))
    net = build_network(sc.cluster)
    assert sorted(net.graph.edges) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert np.allclose(net.rtt_ms, 0.5 * (1 - np.eye(3)))  # 250 us each way
    assert np.allclose(net.usd_per_byte * GB, 0.02 * (1 - np.eye(3)))  # $0.01/GB out + $0.01/GB in
    assert net.replica_zone.tolist() == [0, 1]


def test_a_chain_of_zones_routes_through_the_middle(tmp_path):
    network = """\
  network:
    links:
      - {between: [a, b], latency: 1ms, pricePerGB: 0.01}
      - {between: [b, c], latency: 2ms, pricePerGB: 0.02}
    apiserverZones: [b]"""
    net = build_network(load_scenario(_scenario(tmp_path, network=network)).cluster)
    assert net.rtt_ms[0, 2] == pytest.approx(6.0)  # 2 × (1 + 2) ms
    assert net.usd_per_byte[0, 2] * GB == pytest.approx(2 * 0.01 + 2 * 0.02)
    assert net.replica_zone.tolist() == [1, 1]


@pytest.mark.parametrize(("network", "line", "message"), [
    ("  network:\n    links:\n      - {between: [a, b]}", 9,
     "cluster.network.links: the zones are not all connected: a, b | c"),
    ("  network:\n    links:\n      - {between: [a, x]}\n      - {between: [b, c]}", 10,
     "cluster.network.links.0.between.1: no zone 'x' in cluster.zones (a, b, c)"),
    ("  network:\n    links:\n      - {between: [a, a]}", 10,
     "cluster.network.links.0.between: a link joins two different zones, got a twice"),
    ("  network:\n    links:\n      - {between: [a, b]}\n      - {between: [c, a]}\n      - {between: [b, a]}", 12,
     "cluster.network.links.2.between: zones b and a are already linked by links[0]"),
    ("  network:\n    apiserverZones: [a, d]", 9,
     "cluster.network.apiserverZones.1: no zone 'd' in cluster.zones (a, b, c)"),
])
def test_an_inconsistent_graph_is_refused_at_its_line(tmp_path, network, line, message):
    path = _scenario(tmp_path, network=network)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.lines == [f"{path}:{line}: {message}"]


def test_a_zone_outage_must_name_a_zone(tmp_path):
    path = _scenario(tmp_path, events="  - {at: 1m, zoneOutage: d}")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.lines == [f"{path}:25: events.0.zoneOutage: no zone 'd' in cluster.zones (a, b, c)"]


# --- bytes by zone pair -----------------------------------------------------------------


def test_every_watch_byte_lands_in_one_zone_pair_and_totals_equal_egress(tmp_path):
    v = _run(_scenario(tmp_path))
    egress = sum(v.fanout.egress_bytes.values())
    table = watcher_bytes(v.fanout, _watchers(v.scenario))
    assert int(table["bytes"].sum()) == egress
    assert not table.duplicated(["replica", "watcher", "node"]).any()
    assert (table["node"] >= 0).sum() == 7  # one row per node's kube-proxy
    net = build_network(v.scenario.cluster)
    matrix, unsent = watch_matrix(v.fanout, _watchers(v.scenario), net, v.cluster.world.nodes.zone.astype(np.int64))
    assert unsent == 0 and int(matrix.sum()) == egress
    assert v.summary["network"]["watch"]["bytes"] == egress == v.summary["apiserver"]["egress_bytes"]["EndpointSlice"] + \
        v.summary["apiserver"]["egress_bytes"]["Endpoints"]
    zt = v.tables["zone_traffic"]
    assert int(zt.loc[zt.traffic == "watch", "bytes"].sum()) == egress
    assert not zt.duplicated(["traffic", "from_zone", "to_zone"]).any()
    cross = int(zt.loc[(zt.traffic == "watch") & (zt.from_zone != zt.to_zone), "bytes"].sum())
    assert v.summary["network"]["watch"]["cross_zone_bytes"] == cross
    assert v.summary["network"]["watch"]["cross_zone_usd"] == pytest.approx(round(cross * 0.02 / GB, 6))


def test_the_fanouts_own_table_is_used_when_it_has_one(tmp_path):
    v = _run(_scenario(tmp_path))
    own = pd.DataFrame({"replica": [0], "watcher": ["kube-proxy"], "node": [0], "bytes": np.array([5], np.int64)})

    class WithTable:
        watcher_bytes = own

    assert watcher_bytes(WithTable()) is own
    table = watcher_bytes(v.fanout, _watchers(v.scenario))
    # 7 nodes; 2 replicas × 2 watcher groups; the controller-manager's informer of each kind (simk8s/watch/)
    assert len(table) == 7 + 4 + 2 and (table["node"] == -1).sum() == 6


def test_kube_proxies_spread_over_replicas_whatever_their_zone():
    class Net:
        zones = ("a", "b", "c")
        replica_zone = np.array([0, 1, 2])

    node = np.arange(9)
    replica = proxy_replica(node, Net())  # type: ignore[arg-type]
    assert replica.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    same = Net.replica_zone[replica] == node % 3
    assert same.sum() == 3  # one in three watches stays in its zone


def test_client_bytes_follow_each_replied_connection(tmp_path):
    v = _run(_scenario(tmp_path))
    r = next(iter(v.traffic.values()))
    ok = int(((r.outcome == 0) & (r.backend >= 0)).sum())
    c = v.summary["network"]["client"]
    assert c["connections"] == ok
    assert c["bytes"] == ok * 3 * (100 + 1000)
    zt = v.tables["zone_traffic"]
    assert int(zt.loc[zt.traffic == "client", "bytes"].sum()) == c["bytes"]
    world = v.cluster.world
    node_zone = world.nodes.zone.astype(np.int64)
    pod_zone = node_zone[np.array([p.node for p in world.pods])]
    nbytes, conns = client_matrix(v.traffic, v.scenario, node_zone, pod_zone, 3)
    sel = (r.outcome == 0) & (r.backend >= 0)
    crossing = int((node_zone[r.node[sel]] != pod_zone[r.backend[sel]]).sum())
    assert cross_zone(conns, 3) == crossing == c["cross_zone_connections"]
    assert cross_zone(nbytes, 3) == crossing * 3 * 1100 == c["cross_zone_bytes"]
    net = build_network(v.scenario.cluster)
    assert usd(nbytes, net) == pytest.approx(crossing * 3 * 1100 * 0.02 / GB)


def test_prefer_close_keeps_client_traffic_in_its_zone(tmp_path):
    steady = _run(_scenario(tmp_path, service_extra="    trafficDistribution: PreferClose", events="  []"))
    assert steady.summary["network"]["client"]["cross_zone_bytes"] == 0
    assert steady.summary["network"]["client"]["connections"] > 0
    # During a rollout some versions leave a zone without hinted Ready endpoints: kube-proxy
    # then falls back to every endpoint (pkg/proxy/topology.go CategorizeEndpoints).
    rolled = _run(_scenario(tmp_path, service_extra="    trafficDistribution: PreferClose", name="r.yaml"))
    assert 0 < rolled.summary["network"]["client"]["cross_zone_share"] < 0.01


# --- path RTT ---------------------------------------------------------------------------


def test_cross_zone_connections_pay_the_path_round_trip():
    @dataclasses.dataclass(frozen=True)
    class R:
        node: np.ndarray
        backend: np.ndarray
        first_packet_ms: np.ndarray
        path_rtt_ms: np.ndarray | None = None

        @property
        def n(self):
            return len(self.node)

    r = R(node=np.array([0, 1, 2, 0]), backend=np.array([1, 1, -1, 9]), first_packet_ms=np.array([0.1, 0.1, np.nan, 0.1]))
    node_zone = np.array([0, 1, 0])
    pod_zone = np.array([0, 1])  # pod 9 is outside the cluster
    rtt = np.array([[0.0, 0.5], [0.5, 0.0]])
    out = with_path_rtt(r, node_zone, pod_zone, rtt)
    assert out.first_packet_ms[:2].tolist() == [0.6, 0.1]
    assert np.isnan(out.first_packet_ms[2]) and out.first_packet_ms[3] == 0.1
    assert out.path_rtt_ms.tolist() == [0.5, 0.0, 0.0, 0.0]  # kept apart for first_packet_rules_ms


def test_zero_latency_links_leave_first_packet_unchanged(tmp_path):
    path = _scenario(tmp_path)
    base = _run(path, "cluster.network.defaultLink.latency=0s")
    slow = _run(path)
    assert base.summary["dataplane"]["first_packet_ms"] != slow.summary["dataplane"]["first_packet_ms"]
    r0, r1 = (next(iter(v.traffic.values())) for v in (base, slow))
    assert np.array_equal(r0.outcome, r1.outcome) and np.array_equal(r0.backend, r1.backend)
    # what kube-proxy's rules add is the same with or without the path between zones
    assert base.summary["dataplane"]["first_packet_rules_ms"] == slow.summary["dataplane"]["first_packet_rules_ms"]
    assert base.summary["dataplane"]["first_packet_rules_ms"] == base.summary["dataplane"]["first_packet_ms"]


# --- zone outage ------------------------------------------------------------------------


def test_a_zone_outage_loses_its_nodes_and_the_survivors_converge(tmp_path):
    path = _scenario(tmp_path, nodes=9, replicas=3, replicas_web=12, events="  - {at: 1m, zoneOutage: c}")
    v = _run(path)
    out = v.summary["zone_outage"]
    assert (out["zone"], out["at_s"], out["nodes_lost"], out["apiserver_replicas_lost"]) == ("c", 60.0, 3, 1)
    assert out["pods_lost"] == 4
    assert not v.cluster.world.nodes.alive[2::3].any() and v.cluster.world.nodes.alive[0::3].all()
    conv = out["converged_s"]
    assert conv["nodes"] == 6 and conv["never"] == 0
    assert 40.0 <= conv["max_s"] < 60.0  # NotReady after the 40 s grace, then the next syncs
    net = v.summary["network"]["watch"]
    assert net["bytes"] + net["unsent_bytes"] == sum(v.fanout.egress_bytes.values())

    close = _run(_scenario(tmp_path, nodes=9, replicas=3, replicas_web=12, events="  - {at: 1m, zoneOutage: c}",
                           service_extra="    trafficDistribution: PreferClose", name="close.yaml"))
    # Surviving zones never routed to zone c: nothing to wait for, no failures.
    assert close.summary["zone_outage"]["converged_s"]["max_s"] == 0.0
    assert close.summary["zone_outage"]["connections_failed"] == 0
    assert out["connections_failed"] > 0
    # no connection starts on a node of the lost zone once it is gone; before, they do
    for run in (v, close):
        r = next(iter(run.traffic.values()))
        lost_client = (r.node % 3 == 2)
        assert not (lost_client & (r.t >= 60.0)).any() and (lost_client & (r.t < 60.0)).any()
        assert run.summary["dataplane"]["connections"] == r.n
    # PreferClose: every connection that got a reply stayed in its zone, so no path RTT at all
    assert close.summary["dataplane"]["first_packet_ms"] == close.summary["dataplane"]["first_packet_rules_ms"]


def test_variants_that_differ_only_in_the_network_share_one_cluster_run(tmp_path):
    from simk8s.pipeline import cluster_key

    sc = load_scenario(_scenario(tmp_path))
    pricier = load_scenario(_scenario(tmp_path), ["cluster.network.defaultLink.pricePerGB=0.02"])
    assert cluster_key(sc) == cluster_key(pricier)
    v = _run(_scenario(tmp_path), "cluster.network.defaultLink.pricePerGB=0.02")
    assert v.summary["network"]["watch"]["cross_zone_usd"] == pytest.approx(
        round(v.summary["network"]["watch"]["cross_zone_bytes"] * 0.04 / GB, 6))
