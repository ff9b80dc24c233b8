"""Every Service shape through the whole pipeline, one shipped scenario each
(scenarios/service-*.yaml): what the controllers write, what kube-proxy programs (rendered
with simk8s.proxy.inspect), and what happens to connections."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT

from simk8s.cluster.services import build_services
from simk8s.dataplane.endpoint_table import EndpointIndex
from simk8s.dataplane.inputs import NodeProgramming, TrafficSpec
from simk8s.dataplane.outcomes import DNS_ANSWER, DROPPED_NO_LOCAL
from simk8s.dataplane.selection import ROUTE_DROPPED, reference_candidates
from simk8s.dataplane.stage import _proxy_history, dataplane_section, pod_table
from simk8s.dataplane.traffic import simulate_traffic
from simk8s.experiment import run_scenario
from simk8s.proxy.inspect import programmed_objects, render_node_rules
from simk8s.rng import component_rng
from simk8s.scenario import ScenarioError, load_scenario

SCENARIOS = ROOT / "scenarios"
MODES = ("iptables", "ipvs", "nftables")
_cache: dict[str, object] = {}


def experiment(name: str):
    """Run a shipped scenario once per test session (each takes well under a second)."""
    if name not in _cache:
        _cache[name] = run_scenario(SCENARIOS / f"service-{name}.yaml", write=False)
    return _cache[name]


def render(v, node: str, at: float, mode: str) -> str:
    return render_node_rules(v.fleet, v.scenario, v.cluster.world, node, at, mode)


def traffic_frame(v, i: int, key: str):
    return v.traffic[f"{i}:default/{key}"].to_frame()


def slices_of(objects, service: str):
    return [o for o in objects if getattr(o, "service_name", None) == service]


def pod_nodes(v) -> np.ndarray:
    return np.array([p.node for p in v.cluster.world.pods], dtype=np.int64)


def test_every_service_scenario_validates_and_runs_clean():
    for name in (
        "nodeport",
        "loadbalancer",
        "externalname",
        "headless",
        "externalips",
        "selectorless",
        "protocols",
        "named-ports",
    ):
        for v in experiment(name).variants:
            assert v.summary["sim"]["exception"] is None, (name, v.name)
            assert v.summary["apiserver"]["rejected_writes"] == {
                "Endpoints": 0,
                "EndpointSlice": 0,
                "Service": 0,
            }


# --------------------------------------------------------------------------- NodePort


def test_nodeport_allocated_lowest_free_port_skipping_explicit_ones():
    exp = experiment("nodeport")
    for v in exp.variants:
        svcs = v.cluster.world.services
        # admin asked for 30000, so web (listed first) gets the next free port.
        assert svcs["default", "admin"].ports[0].node_port == 30000
        assert svcs["default", "web"].ports[0].node_port == 30001
    sc = load_scenario(SCENARIOS / "service-nodeport.yaml")
    a = build_services(sc.services, str(sc.cluster.service_cidr))
    b = build_services(sc.services, str(sc.cluster.service_cidr))
    assert a == b  # deterministic allocation
    assert all(30000 <= p.node_port <= 32767 for s in a for p in s.ports)


def test_nodeport_collision_is_rejected_with_exact_message():
    path = SCENARIOS / "service-nodeport.yaml"
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, ["services.0.ports.0.nodePort=30000"])
    assert err.value.lines == [
        f"{path}:18: services.1.ports.0.nodePort: nodePort 30000 is used by both Service "
        "default/web and Service default/admin"
    ]


def test_nodeport_rules_and_external_traffic():
    exp = experiment("nodeport")
    v = exp.variant("iptables")
    text = render(v, "node-3", 30.0, "iptables")
    assert (
        "-A KUBE-NODEPORTS -m comment --comment default/web:http -m tcp -p tcp --dport 30001 -j KUBE-EXT-"
        in text
    )
    assert (
        "-A KUBE-NODEPORTS -m comment --comment default/admin:http -m tcp -p tcp --dport 30000 -j KUBE-EXT-"
        in text
    )
    node_ip = v.cluster.world.nodes.node_ips[3]
    ipvs = render(v, "node-3", 30.0, "ipvs")
    assert f"TCP  {node_ip}:30001 rr" in ipvs and f"TCP  {node_ip}:30000 rr" in ipvs
    services = v.summary["dataplane"]["services"]
    # Arrivals depend only on the seed: identical in both modes (exact regression counters).
    for other in exp.variants:
        got = {k: s["connections"] for k, s in other.summary["dataplane"]["services"].items()}
        assert got == {"0:default/web": 4932, "1:default/web": 4832, "2:default/admin": 1202}
    # External clients enter on every node; nothing is refused or dropped (policy Cluster).
    ext = traffic_frame(v, 0, "web")
    assert set(ext["node"]) == set(range(12))
    assert services["0:default/web"]["failed"]["refused"] == 0
    assert services["0:default/web"]["failed"]["dropped-no-local-endpoints"] == 0


# --------------------------------------------------------------------------- LoadBalancer


def test_loadbalancer_is_a_nodeport_plus_lb_ip():
    exp = experiment("loadbalancer")
    cluster, local, np_local = (
        exp.variant(n) for n in ("lb-cluster", "lb-local", "nodeport-local")
    )
    svc = cluster.cluster.world.services["default", "shop"]
    assert svc.ports[0].node_port == 30000 and svc.load_balancer_ips == ("203.0.113.10",)
    assert svc.health_check_node_port is None  # only for externalTrafficPolicy Local
    text = render(cluster, "node-7", 30.0, "iptables")
    assert (
        '--comment "default/shop:http loadbalancer IP" -m tcp -p tcp -d 203.0.113.10 --dport 80 -j KUBE-EXT-'
        in text
    )
    assert "--dport 30000 -j KUBE-EXT-" in text
    # Local: a healthCheckNodePort is allocated after the Service's nodePort and opened.
    lsvc = local.cluster.world.services["default", "shop"]
    assert lsvc.health_check_node_port == 30001
    assert "--dport 30001 -j ACCEPT" in render(local, "node-7", 30.0, "iptables")
    assert np_local.cluster.world.services["default", "shop"].load_balancer_ips == ()


def _local_routes(v, traffic: int) -> tuple[np.ndarray, list[list[int]]]:
    """Per external connection, the plain CategorizeEndpoints answer for its entry node under
    Local policy, from the endpoint version that node had programmed (route code, candidates)."""
    world = v.cluster.world
    history, _ = _proxy_history(("default", "shop"), v.fleet, world, v.scenario, EndpointIndex(world))
    versions = history.all_versions
    r = v.traffic[f"{traffic}:default/shop"]
    cache: dict[tuple[int, int], tuple[int, list[int]]] = {}
    routes, candidates = [], []
    for node, vid in zip(r.node.tolist(), r.version.tolist(), strict=True):
        if (node, vid) not in cache:
            zone = int(world.nodes.zone[node])
            cache[node, vid] = reference_candidates(versions[vid], node, zone, use_local=True)
        code, pods = cache[node, vid]
        routes.append(code)
        candidates.append(pods)
    return np.asarray(routes), candidates


def test_loadbalancer_local_sends_only_to_nodes_with_local_endpoints():
    exp = experiment("loadbalancer")
    v = exp.variant("lb-local")
    nodes = pod_nodes(v)
    r = v.traffic["0:default/shop"]
    failed = v.summary["dataplane"]["services"]["0:default/shop"]["failed"]
    assert failed["dropped-no-local-endpoints"] == 0 and failed["refused"] == 0
    # The LB health-checks every node and sends only where the node's own rules have a
    # local endpoint (the rollout moves pods, so the set of entry nodes changes).
    routes, candidates = _local_routes(v, 0)
    assert (routes == 0).all()
    assert len(set(r.node.tolist())) > 4  # old and new pods' nodes
    # Local policy: a pod on the entry node serves (no second hop, client IP kept).
    assert (nodes[r.backend] == r.node).all()
    assert all(b in c for b, c in zip(r.backend.tolist(), candidates, strict=True))
    # A node without endpoints drops external traffic in its rules.
    idle = min(set(range(16)) - set(nodes.tolist()))
    assert "has no local endpoints" in render(v, f"node-{idle}", 30.0, "iptables")


def test_nodeport_local_drops_on_nodes_without_local_endpoints():
    exp = experiment("loadbalancer")
    v = exp.variant("nodeport-local")
    nodes = pod_nodes(v)
    r = v.traffic["0:default/shop"]
    routes, candidates = _local_routes(v, 0)
    dropped = r.outcome == DROPPED_NO_LOCAL
    # Exactly the connections entering a node with no local endpoint are dropped.
    assert (dropped == (routes == ROUTE_DROPPED)).all()
    assert dropped.sum() > r.n // 2  # 4 pods on 16 nodes
    routed = ~dropped
    assert (nodes[r.backend[routed]] == r.node[routed]).all()
    assert all(
        b in c for b, c, ok in zip(r.backend.tolist(), candidates, routed, strict=True) if ok
    )
    failed = v.summary["dataplane"]["services"]["0:default/shop"]["failed"]
    assert failed["dropped-no-local-endpoints"] == int(dropped.sum())
    # In-cluster clients use the ClusterIP (internalTrafficPolicy Cluster): nothing dropped.
    internal = v.summary["dataplane"]["services"]["1:default/shop"]["failed"]
    assert internal["dropped-no-local-endpoints"] == 0
    # Same arrivals under Cluster policy, where nothing is dropped.
    cl = exp.variant("lb-cluster").summary["dataplane"]
    assert cl["failed"]["dropped-no-local-endpoints"] == 0
    assert cl["connections"] == v.summary["dataplane"]["connections"] == 9034


# --------------------------------------------------------------------------- ExternalName


def test_externalname_has_no_endpoints_no_rules_and_answers_dns():
    v = experiment("externalname").variants[0]
    svc = v.cluster.world.services["default", "db"]
    assert (svc.cluster_ip, svc.ports, svc.external_name) == (None, (), "db.example.com")
    # Nothing is ever written or exists for db; the rolled api Service gets its writes.
    writes = v.tables["writes"]
    assert len(writes[writes["service"] == "db"]) == 0
    assert (
        (writes["service"] == "api").sum()
        == v.summary["apiserver"]["writes"]["Endpoints"]
        + v.summary["apiserver"]["writes"]["EndpointSlice"]
        > 0
    )
    for kind in ("Endpoints", "EndpointSlice"):
        names = [getattr(o, "service_name", o.name) for o in v.cluster.initial_objects[kind]]
        assert names == ["api"]
    api_ip = v.cluster.world.services["default", "api"].cluster_ip
    end = v.scenario.duration
    for node in ("node-0", "node-5"):
        for mode in MODES:
            text = render(v, node, end, mode)
            assert "default/db" not in text and "db.example.com" not in text
            assert api_ip in text  # the ordinary Service next to it is programmed
    # The schema refuses `traffic` to an ExternalName Service, so drive the data path directly:
    # every lookup is a DNS answer (CNAME), nothing is proxied.
    world = v.cluster.world
    index = EndpointIndex(world)
    history, _ = _proxy_history(("default", "db"), v.fleet, world, v.scenario, index)
    assert history.kind == "ExternalName"
    programming = NodeProgramming(len(world.nodes), world.nodes.zone, v.fleet.fleet.applied_at)
    spec = TrafficSpec(rate=10.0, start=0.0, end=end)
    result = simulate_traffic(
        history,
        programming,
        pod_table(world, index),
        spec,
        mode="iptables",
        rng=component_rng(1, "test/externalname"),
    )
    assert result.n > 1000
    assert (result.outcome == DNS_ANSWER).all() and (result.backend == -1).all()
    section = dataplane_section({"0:default/db": result})
    assert (section["dns_answers"], section["connections"], section["failed_total"]) == (
        result.n,
        0,
        0,
    )


# --------------------------------------------------------------------------- headless


def test_headless_publishes_endpoints_but_gets_no_proxy_rules():
    v = experiment("headless").variants[0]
    assert v.cluster.world.services["default", "db"].cluster_ip == "None"
    slices = v.cluster.initial_objects["EndpointSlice"]
    db, peers = slices_of(slices, "db"), slices_of(slices, "db-peers")
    assert all(dict(s.labels).get("service.kubernetes.io/headless") == "" for s in db + peers)
    assert [(p.name, p.port) for p in db[0].ports] == [("sql", 5432)]
    # Headless without ports: its endpoints in the empty-port-list group
    # (staging/src/k8s.io/endpointslice/reconciler.go).
    assert peers[0].ports == () and len(peers[0].endpoints) == 5
    assert v.summary["apiserver"]["writes"]["EndpointSlice"] > 0  # the rollout is published
    for node in ("node-0", "node-9"):
        for at in (30.0, 100.0, v.scenario.duration):
            for mode in MODES:
                text = render(v, node, at, mode)
                assert "default/db" not in text
            assert "KUBE-SVC-" not in render(v, node, at, "iptables")
            assert "rr" not in render(v, node, at, "ipvs").split("InActConn", 1)[1]


def test_headless_clients_connect_to_pods_directly():
    v = experiment("headless").variants[0]
    r = v.traffic["0:default/db"]
    s = v.summary["dataplane"]["services"]["0:default/db"]
    assert s["dns_answers"] == 0 and s["connections"] == r.n > 3000
    assert (r.rules_walked == 0).all()  # no VIP, no rule walk
    db_pods = {p.id for p in v.cluster.world.pods if p.name.startswith("db-")}
    assert set(r.backend.tolist()) <= db_pods
    assert s["failed"]["refused"] == 0 and s["failed"]["dropped-no-local-endpoints"] == 0


# --------------------------------------------------------------------------- externalIPs


def test_external_ips_are_programmed_in_every_mode_and_take_external_traffic():
    exp = experiment("externalips")
    for v in exp.variants:
        assert v.cluster.world.services["default", "gateway"].external_ips == (
            "192.0.2.10",
            "192.0.2.11",
        )
        ipt, ipvs, nft = (render(v, "node-2", 30.0, m) for m in MODES)
        for ip in ("192.0.2.10", "192.0.2.11"):
            assert (
                f'"default/gateway:http external IP" -m tcp -p tcp -d {ip} --dport 80 -j KUBE-EXT-'
                in ipt
            )
            assert f"TCP  {ip}:80 rr" in ipvs
            assert f"{ip} . tcp . 80 : goto" in nft
        d = v.summary["dataplane"]
        assert d["failed_total"] == 0
        assert {k: s["connections"] for k, s in d["services"].items()} == {
            "0:default/gateway": 2441,
            "1:default/gateway": 1195,
        }
        ext = traffic_frame(v, 0, "gateway")
        assert set(ext["node"]) == set(range(8))  # external clients arrive on any node


# --------------------------------------------------------------------------- selector-less


def test_selectorless_endpoints_are_mirrored_and_connections_succeed():
    exp = experiment("selectorless")
    for v in exp.variants:
        assert v.summary["apiserver"]["writes"]["Endpoints"] == 0  # no controller touches them
        assert v.summary["apiserver"]["writes"]["EndpointSlice"] == 0
        (mirrored,) = slices_of(v.cluster.initial_objects["EndpointSlice"], "legacy-db")
        labels = dict(mirrored.labels)
        assert (
            labels["endpointslice.kubernetes.io/managed-by"]
            == "endpointslicemirroring-controller.k8s.io"
        )
        assert mirrored.owner_kind == "Endpoints"
        assert [(e.addresses, e.ready) for e in mirrored.endpoints] == [
            (("192.168.10.21",), True),
            (("192.168.10.22",), True),
            (("192.168.10.23",), False),
        ]
        assert [(p.name, p.port, p.protocol) for p in mirrored.ports] == [("sql", 5432, "TCP")]
        text = render(v, "node-1", 60.0, "iptables")
        dnat = [line for line in text.splitlines() if "-j DNAT" in line]
        assert sorted(line.rsplit(" ", 1)[1] for line in dnat) == [
            "192.168.10.21:5432",
            "192.168.10.22:5432",
        ]
        s = v.summary["dataplane"]["services"]["0:default/legacy-db"]
        assert s["failed"] == {
            "refused": 0,
            "failed-pod-gone": 0,
            "failed-not-serving": 0,
            "dropped-no-local-endpoints": 0,
        }
        assert s["connections"] == 2395
        assert s["imbalance"]["backends"] == 2  # the not-ready address gets nothing
        assert len(set(v.traffic["0:default/legacy-db"].backend.tolist())) == 2
    # Endpoints (legacy watch) and mirrored slices route the same connections.
    a, b = (exp.variant(n).traffic["0:default/legacy-db"] for n in ("slices", "endpoints"))
    assert (a.outcome == b.outcome).all()


# --------------------------------------------------------------------------- protocols


def test_slices_and_rules_carry_udp_and_sctp_ports():
    exp = experiment("protocols")
    v = exp.variant("iptables")
    slices = v.cluster.initial_objects["EndpointSlice"]
    (dns,) = slices_of(slices, "dns")
    (syslog,) = slices_of(slices, "syslog")
    assert {(p.name, p.port, p.protocol) for p in dns.ports} == {
        ("dns-udp", 5353, "UDP"),
        ("dns-tcp", 5353, "TCP"),
        ("sigtran", 2905, "SCTP"),
    }
    assert [(p.name, p.port, p.protocol) for p in syslog.ports] == [("", 514, "UDP")]
    ipt, ipvs, nft = (render(v, "node-0", 30.0, m) for m in MODES)
    assert "-m udp -p udp -d 10.96.0.11 --dport 53 -j KUBE-SVC-" in ipt
    assert "-m tcp -p tcp -d 10.96.0.11 --dport 53 -j KUBE-SVC-" in ipt
    assert "-m sctp -p sctp -d 10.96.0.11 --dport 2905 -j KUBE-SVC-" in ipt
    assert "-m udp -p udp -d 10.96.0.12 --dport 514 -j KUBE-SVC-" in ipt
    for line in (
        "UDP  10.96.0.11:53 rr",
        "TCP  10.96.0.11:53 rr",
        "SCTP 10.96.0.11:2905 rr",
        "UDP  10.96.0.12:514 rr",
    ):
        assert line in ipvs
    assert ipvs.count("-> 10.64.0.2:5353") == 2  # UDP and TCP virtual servers, same backend port
    for elem in (
        "10.96.0.11 . udp . 53",
        "10.96.0.11 . tcp . 53",
        "10.96.0.11 . sctp . 2905",
        "10.96.0.12 . udp . 514",
    ):
        assert elem in nft
    for other in exp.variants:
        d = other.summary["dataplane"]
        assert d["failed_total"] == 0
        assert {k: s["connections"] for k, s in d["services"].items()} == {
            "0:default/dns": 2437,
            "1:default/syslog": 617,
        }


# --------------------------------------------------------------------------- named ports


def _port_groups(objects) -> dict[int, set[str]]:
    """Resolved port → names of the pods in slices with that port."""
    groups: dict[int, set[str]] = {}
    for s in slices_of(objects, "web"):
        (port,) = s.ports
        groups.setdefault(port.port, set()).update(e.target_ref.name for e in s.endpoints)
    return groups


def test_named_target_port_resolves_per_pod_into_separate_port_groups():
    v = experiment("named-ports").variants[0]
    initial = _port_groups(v.cluster.initial_objects["EndpointSlice"])
    assert sorted(initial) == [8080, 9090]
    assert len(initial[8080]) == 4 and all(n.startswith("web-v1-") for n in initial[8080])
    assert len(initial[9090]) == 3 and all(n.startswith("web-v2-") for n in initial[9090])
    (ep,) = [e for e in v.cluster.initial_objects["Endpoints"] if e.name == "web"]
    assert sorted((s.ports[0].port, len(s.addresses)) for s in ep.subsets) == [(8080, 4), (9090, 3)]
    # After web-v2's rollout every node has programmed its new pods, still on 9090.
    end = v.scenario.duration
    _, objs = programmed_objects(v.fleet, 4, end)
    final = _port_groups(objs)
    assert final[8080] == initial[8080]
    assert len(final[9090]) == 3 and final[9090].isdisjoint(initial[9090])
    assert all(n.startswith("web-v2-") for n in final[9090])
    dnat = [line for line in render(v, "node-4", end, "iptables").splitlines() if "-j DNAT" in line]
    assert sorted(line.rsplit(":", 1)[1] for line in dnat) == ["8080"] * 4 + ["9090"] * 3
    # Connections reach both Deployments.
    pods = v.cluster.world.pods
    names = {
        pods[b].name.split("-")[1]
        for b in set(v.traffic["0:default/web"].backend.tolist())
        if b >= 0
    }
    assert names == {"v1", "v2"}


def test_externalname_summary_counts_dns_answers_not_connections():
    v = experiment("externalname").variants[0]
    db = v.summary["dataplane"]["services"]["1:default/db"]
    arrivals = v.traffic["1:default/db"].n
    assert db["dns_answers"] == arrivals > 0
    assert db["connections"] == 0
    assert v.summary["dataplane"]["dns_answers"] == arrivals
    assert sum(db["failed"].values()) == 0


def test_rules_max_equals_the_rendered_ruleset_of_a_node(tmp_path):
    """The summary's closed-form rule count (proxied ports, endpoint-port pairs, fixed rules)
    against `simk8s rules`' iptables-save of a node holding every endpoint (multi-port,
    TCP/UDP/SCTP Services)."""
    from click.testing import CliRunner

    from simk8s.cli import main

    out = tmp_path / "protocols"
    assert CliRunner().invoke(main, ["run", str(ROOT / "scenarios" / "service-protocols.yaml"), "--variant", "iptables", "--out", str(out)]).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    rendered = CliRunner().invoke(main, ["rules", str(out), "--node", "node-0", "--at", "1m"]).output
    rules = [line for line in rendered.splitlines() if line.startswith("-A ")]
    assert summary["variants"]["iptables"]["kube_proxy"]["rules_max"] == len(rules) == 50
