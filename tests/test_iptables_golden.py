"""Worked examples after upstream `pkg/proxy/iptables/proxier_test.go` (TestOverallIPTablesRules and the
internalTrafficPolicy test): (a) line for line against tests/golden, (b)–(e) by their rules."""

from pathlib import Path

from simk8s.api.objects import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from simk8s.proxy.iptables import RECENT, probability, render_iptables
from simk8s.proxy.state import ProxyNode, ProxyState

GOLDEN = Path(__file__).parent / "golden"
NODE = ProxyNode("node1", ip="192.168.0.2")


def _slice(ns, svc, ips, port=80, port_name="", node=None, **cond):
    return EndpointSlice(
        name=f"{svc}-1", namespace=ns, labels=(("kubernetes.io/service-name", svc),),
        ports=(EndpointPort(port=port, name=port_name),),
        endpoints=tuple(Endpoint(addresses=(ip,), node_name=node, **cond) for ip in ips),
    )


def _render(services, slices):
    return render_iptables(ProxyState.from_slices(NODE, services, slices), RECENT).text().splitlines()


def test_clusterip_three_endpoints_matches_golden_line_for_line():
    svc = Service(name="svc1", namespace="ns1", cluster_ip="172.30.1.1", ports=(ServicePort(port=80),))
    sl = EndpointSlice(
        name="svc1-1", namespace="ns1", labels=(("kubernetes.io/service-name", "svc1"),),
        ports=(EndpointPort(port=80),),
        endpoints=tuple(Endpoint(addresses=(ip,), node_name=n) for ip, n in
                        [("10.0.1.1", "node1"), ("10.0.1.2", "host1"), ("10.0.1.3", "host2")]),
    )
    state = ProxyState.from_slices(NODE, [svc], [sl])
    rs = render_iptables(state, RECENT)
    expected = (GOLDEN / "iptables_clusterip_three_endpoints.txt").read_text()
    assert rs.text().splitlines() == expected.splitlines()
    assert rs.nat_rule_count == 16  # (a) count check: 5 fixed + 2 + 3×3


def test_external_ip():
    svc = Service(name="svc4", namespace="ns4", type="NodePort", cluster_ip="172.30.0.44",
                  external_ips=("192.168.99.33",), ports=(ServicePort(port=80, name="p80"),))
    lines = _render([svc], [_slice("ns4", "svc4", ["10.180.0.4", "10.180.0.5"], port_name="p80")])
    assert ('-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44'
            " --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK") in lines
    assert ('-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.33'
            " --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK") in lines
    ext = [x for x in lines if x.startswith("-A KUBE-EXT-4SW47YFZTEDKD3PK")]
    assert ext == [
        '-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ',
        "-A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK",
    ]
    svc_rules = [x for x in lines if x.startswith("-A KUBE-SVC-4SW47YFZTEDKD3PK")]
    assert svc_rules[1].endswith("--probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC")
    assert svc_rules[2] == '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ'
    assert "-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ" in lines


def test_affinity_lb_source_range():
    svc = Service(name="svc5", namespace="ns5", type="LoadBalancer", cluster_ip="172.30.0.45",
                  load_balancer_ips=("5.6.7.8",), load_balancer_source_ranges=("203.0.113.0/25",),
                  session_affinity="ClientIP", ports=(ServicePort(port=80, name="p80", node_port=3002),))
    lines = _render([svc], [_slice("ns5", "svc5", ["10.180.0.3"], port_name="p80")])
    fw, sep = "KUBE-FW-NUKIZ6OKUXPJNT4C", "KUBE-SEP-I77PXRDZVX7PMWMN"
    assert ('-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8'
            f" --dport 80 -j {fw}") in lines
    assert [x for x in lines if x.startswith(f"-A {fw}")] == [
        f'-A {fw} -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C',
        f'-A {fw} -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"',
    ]
    assert (f'-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by {fw}"'
            " -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP") in lines
    assert [x for x in lines if x.startswith("-A KUBE-NODEPORTS")] == [
        "-A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3002 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-NUKIZ6OKUXPJNT4C",
        "-A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C",
    ]
    svc_rules = [x for x in lines if x.startswith("-A KUBE-SVC-NUKIZ6OKUXPJNT4C")]
    assert svc_rules[1] == (f'-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80"'
                            f" -m recent --name {sep} --rcheck --seconds 10800 --reap -j {sep}")
    assert svc_rules[2] == f'-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j {sep}'
    assert (f"-A {sep} -m comment --comment ns5/svc5:p80 -m recent --name {sep} --set -m tcp -p tcp"
            " -j DNAT --to-destination 10.180.0.3:80") in lines


def test_no_endpoints_rejects():
    svc = Service(name="svc6", namespace="ns6", cluster_ip="172.30.0.46", ports=(ServicePort(port=80, name="p80"),))
    lines = _render([svc], [])
    assert ('-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp'
            " -d 172.30.0.46 --dport 80 -j REJECT") in lines
    assert not any("KUBE-SVC-" in x or "KUBE-SEP-" in x for x in lines)


def test_local_policy_without_local_endpoints_drops():
    svc = Service(name="svc2", namespace="ns2", type="LoadBalancer", cluster_ip="172.30.0.42",
                  external_ips=("192.168.99.22",), load_balancer_ips=("1.2.3.4",),
                  external_traffic_policy="Local", health_check_node_port=30000,
                  ports=(ServicePort(port=80, name="p80", node_port=3001),))
    lines = _render([svc], [_slice("ns2", "svc2", ["10.180.0.2"], port_name="p80", node="host2")])
    drops = [x for x in lines if x.startswith("-A KUBE-EXTERNAL-SERVICES")]
    assert len(drops) == 3 and all('"ns2/svc2:p80 has no local endpoints"' in x and x.endswith("-j DROP") for x in drops)
    assert any("-m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP" in x for x in drops)
    assert ('-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp'
            " --dport 30000 -j ACCEPT") in lines
    ext = [x for x in lines if x.startswith("-A KUBE-EXT-GNZBNJ2PO5MGZ6GT")]
    assert ext == [
        '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
        '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
        '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
    ]
    assert not any("KUBE-SVL-" in x for x in lines)


def test_probability_strings():
    assert [probability(n) for n in (3, 2, 7, 1)] == ["0.3333333333", "0.5000000000", "0.1428571429", "1.0000000000"]


def test_large_cluster_mode_drops_endpoint_comments():
    svcs = [Service(name=f"s{i}", namespace="ns", cluster_ip=f"172.30.{i}.1", ports=(ServicePort(port=80),))
            for i in range(2)]
    slices = [_slice("ns", f"s{i}", [f"10.{i}.{j // 250}.{j % 250 + 1}" for j in range(501)]) for i in range(2)]
    rs = render_iptables(ProxyState.from_slices(NODE, svcs, slices), RECENT)
    assert rs.large_cluster_mode  # 1002 endpoints > largeClusterEndpointsThreshold (1000)
    sep_lines = [r.line for r in rs.nat_rules if r.chain.startswith(("KUBE-SEP-", "KUBE-SVC-"))]
    assert not any("-> " in x or "--comment ns/" in x for x in sep_lines)
    assert any("cluster IP" in x for x in sep_lines)  # the masquerade rule keeps its comment
