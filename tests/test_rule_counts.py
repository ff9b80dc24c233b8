"""Upstream number_generated_rules_test.go row by row; the closed forms equal counts of the renderer's own output."""

import numpy as np
import pytest

from simk8s.api.objects import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from simk8s.proxy.cost import iptables_lines, iptables_save_lines
from simk8s.proxy.iptables import IPT_NUM_2022, RECENT, render_iptables
from simk8s.proxy.rulecount import (
    count_state,
    iptables_rule_counts,
    iptables_totals,
    ipvs_counts,
    nftables_counts,
    nftables_totals,
)
from simk8s.proxy.state import ProxyNode, ProxyState

NODE = ProxyNode("node-x", ip="192.168.0.2")

# (services, endpoints per service, LB profile, filter rules, nat rules) — pkg/proxy/iptables/
# number_generated_rules_test.go (kubernetes/kubernetes#110503)
TABLE = [
    (0, 0, False, 3, 5), (1, 0, False, 4, 5), (1, 1, False, 3, 10), (1, 2, False, 3, 13),
    (1, 10, False, 3, 37), (10, 0, False, 13, 5), (10, 1, False, 3, 55), (10, 2, False, 3, 85),
    (10, 10, False, 3, 325),
    (0, 0, True, 3, 5), (1, 0, True, 7, 5), (1, 1, True, 4, 16), (1, 2, True, 4, 19), (1, 10, True, 4, 43),
    (10, 0, True, 43, 5), (10, 1, True, 13, 115), (10, 2, True, 13, 145), (10, 10, True, 13, 385),
]


def ipt_num_state(n_services: int, eps: int, lb: bool) -> ProxyState:
    """The upstream test's generator: svc<i> on 10.0.0.1+i, port 80+i named "8080", endpoints
    172.16.0.1.. on port 8080; LB profile adds externalIP, LB IP, source range, NodePorts."""
    services, slices = [], []
    for i in range(n_services):
        kw = {}
        if lb:
            kw = {"type": "LoadBalancer", "external_ips": ("1.2.3.4",), "load_balancer_ips": ("1.2.3.4",),
                      "load_balancer_source_ranges": (" 1.2.3.4/28",), "health_check_node_port": 32000 + n_services + i}
        services.append(Service(name=f"svc{i}", namespace="namespace", cluster_ip=f"10.0.0.{1 + i}",
                                ports=(ServicePort(port=80 + i, name="8080", target_port=8080,
                                                   node_port=30000 + i if lb else None),), **kw))
        slices.append(EndpointSlice(
            name=f"svc{i}", namespace="namespace", labels=(("kubernetes.io/service-name", f"svc{i}"),),
            ports=(EndpointPort(port=8080, name="8080"),),
            endpoints=tuple(Endpoint(addresses=(f"172.16.0.{1 + j}",)) for j in range(eps))))
    return ProxyState.from_slices(NODE, services, slices)


@pytest.mark.parametrize(("n", "e", "lb", "filt", "nat"), TABLE)
def test_section_1_5_row(n, e, lb, filt, nat):
    formula = iptables_rule_counts(n, e, load_balancer=lb, options=IPT_NUM_2022)
    rendered = count_state(ipt_num_state(n, e, lb), IPT_NUM_2022)
    assert (formula.filter_rules, formula.nat_rules) == (filt, nat)
    assert (rendered.filter_rules, rendered.nat_rules) == (filt, nat)
    assert rendered.nat_chains == formula.nat_chains


def test_recent_layout_counts_match_formula():
    for n, e, lb, _, _ in TABLE:
        st = ipt_num_state(n, e, lb)
        assert count_state(st, RECENT) == iptables_rule_counts(n, e, load_balancer=lb, options=RECENT)


def test_mixed_endpoint_counts_and_affinity():
    eps = np.array([0, 1, 3, 7])
    c = iptables_rule_counts(4, eps)
    assert c.nat_rules == 5 + 3 * 2 + 3 * 11 and c.filter_rules == 4 and c.nat_chains == 4 + 3 + 11
    assert iptables_rule_counts(1, 3, affinity=True).nat_rules == 5 + 2 + 4 * 3


def test_vectorized_totals_match_per_service_form():
    t = iptables_totals(np.array([10, 10, 4]), np.array([100, 20, 11]), np.array([0, 0, 1]))
    assert t.nat_rules.tolist() == [325, 85, iptables_rule_counts(4, [0, 1, 3, 7]).nat_rules]
    assert t.filter_rules.tolist() == [3, 3, 4]
    assert t.nat_chains.tolist() == [114, 34, 18]


def test_full_restore_lines_equal_rendered_output():
    for n, e in ((0, 0), (1, 1), (10, 2), (10, 10)):
        rs = render_iptables(ipt_num_state(n, e, False), IPT_NUM_2022)
        assert rs.lines_written == len(rs.text().splitlines())
        assert float(iptables_lines("full", n, n * e)) == rs.lines_written
        assert float(iptables_save_lines(n, n * e)) == 2 + rs.nat_chain_count + rs.nat_rule_count


def test_partial_restore_lines_equal_rendered_output():
    st = ipt_num_state(10, 10, False)
    rs = render_iptables(st, IPT_NUM_2022, changed_services={"namespace/svc3"})
    assert rs.nat_rule_count == 325  # totals still count skipped chains
    assert rs.lines_written == len(rs.text().splitlines())
    assert float(iptables_lines("partial", 10, 100, changed_ports=1, changed_endpoints=10)) == rs.lines_written
    assert sum(c.startswith("KUBE-SVC-") for c in rs.nat_chains) == 1


def test_ipvs_object_counts():
    st = ipt_num_state(3, 2, True)
    c = ipvs_counts(st, node_ips=("192.168.0.2", "10.1.1.1"))
    assert c.virtual_servers == 3 * (1 + 1 + 1 + 2)  # ClusterIP, externalIP, LB IP, NodePort × 2 node IPs
    assert c.real_servers == 3 * 5 * 2
    assert c.ipset_entries == 3 * 6  # cluster-ip, external-ip, LB, LB-FW, source-CIDR, NodePort
    assert c.bound_addresses == 3 + 1  # 3 ClusterIPs + the shared 1.2.3.4


@pytest.mark.parametrize("release", [(1, 29), (1, 30), (1, 36)])
def test_nftables_counts_match_vectorized_form(release):
    """The summary's vectorized counts equal the rendered table's in each release (1.29 has
    no cluster-ips-check chain, jumps or set: kubernetes/kubernetes#122692)."""
    for n, e in ((0, 0), (1, 3), (10, 2), (4, 0)):
        c = nftables_counts(ipt_num_state(n, e, False), release)
        t = nftables_totals(n, n * e, n if e == 0 else 0, release=release)
        assert (c.chains, c.rules, c.elements) == (int(t["chains"]), int(t["rules"]), int(t["elements"]))
