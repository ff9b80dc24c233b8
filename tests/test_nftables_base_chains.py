"""The nftables proxier's base chains and jumps per release (`nftablesBaseChains` /
`nftablesJumpChains` in pkg/proxy/nftables/proxier.go), and a listing against tests/golden."""

import re
from pathlib import Path

import pytest

from simk8s.api.objects import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from simk8s.proxy.nftables import base_chains, render_nftables
from simk8s.proxy.state import ProxyNode, ProxyState

GOLDEN = Path(__file__).parent / "golden"
NODE = ProxyNode("node1", ip="192.168.0.2")
RELEASES_WITH_CHECK = [(1, minor) for minor in range(30, 37)]


def _hooked(chains):
    """{name: (hook, priority, jump targets)} of the base chains."""
    out = {}
    for name, rules in chains.items():
        m = re.match(r"type \w+ hook (\w+) priority (-?\d+);", rules[0])
        if m:
            out[name] = (m[1], int(m[2]), [r.split("jump ")[1] for r in rules[1:]])
    return out


@pytest.mark.parametrize("release", RELEASES_WITH_CHECK)
def test_a_node_connection_meets_cluster_ips_check_only_after_dnat(release):
    """A node-local connection runs the output hook's chains in priority order; DNAT is
    nat-output's. cluster-ips-check rejects ClusterIP traffic that was not DNATed, so on the
    output hook it may only run after nat-output (kubernetes/kubernetes#122692)."""
    hooked = _hooked(base_chains(release))
    dnat = hooked["nat-output"][1]
    output = {n: (prio, jumps) for n, (hook, prio, jumps) in hooked.items() if hook == "output"}
    checks = [n for n, (_, jumps) in output.items() if "cluster-ips-check" in jumps]
    assert checks == ["filter-output-post-dnat"]
    assert output["filter-output-post-dnat"][0] == dnat + 10 > dnat  # dstnat+10 = -90
    assert all(prio < dnat for n, (prio, _) in output.items() if n.startswith("filter-") and n not in checks)
    # forwarded traffic: prerouting's DNAT has run before the forward hook
    assert [n for n, (hook, _, j) in hooked.items() if hook != "output" and "cluster-ips-check" in j] == ["filter-forward"]


@pytest.mark.parametrize("release", RELEASES_WITH_CHECK)
def test_jump_rules_of_the_releases_with_cluster_ips_check(release):
    assert {n: j for n, (_, _, j) in _hooked(base_chains(release)).items()} == {
        "filter-prerouting": ["firewall-check"],
        "filter-input": ["nodeport-endpoints-check", "service-endpoints-check"],
        "filter-forward": ["service-endpoints-check", "cluster-ips-check"],
        "filter-output": ["service-endpoints-check", "firewall-check"],
        "filter-output-post-dnat": ["cluster-ips-check"],
        "nat-prerouting": ["services"],
        "nat-output": ["services"],
        "nat-postrouting": ["masquerading"],
    }


def test_1_29_has_no_cluster_ips_check():
    svc = Service(name="svc", namespace="ns", cluster_ip="172.30.0.41", ports=(ServicePort(port=80),))
    t = render_nftables(ProxyState.from_slices(NODE, [svc], []), release=(1, 29))
    assert "filter-output-post-dnat" not in t.chains and "cluster-ips-check" not in t.chains
    assert "cluster-ips" not in t.sets and "cluster-ips" not in t.transaction()
    newest = render_nftables(ProxyState.from_slices(NODE, [svc], []))
    assert (newest.rule_count - t.rule_count, len(newest.chains) - len(t.chains)) == (3, 2)


def test_clusterip_three_endpoints_matches_golden_line_for_line():
    """The state of tests/golden/iptables_clusterip_three_endpoints.txt, as `nft list table`."""
    svc = Service(name="svc1", namespace="ns1", cluster_ip="172.30.1.1", ports=(ServicePort(port=80),))
    sl = EndpointSlice(
        name="svc1-1", namespace="ns1", labels=(("kubernetes.io/service-name", "svc1"),),
        ports=(EndpointPort(port=80),),
        endpoints=tuple(Endpoint(addresses=(ip,), node_name=n) for ip, n in
                        [("10.0.1.1", "node1"), ("10.0.1.2", "host1"), ("10.0.1.3", "host2")]),
    )
    t = render_nftables(ProxyState.from_slices(NODE, [svc], [sl]))
    expected = (GOLDEN / "nftables_clusterip_three_endpoints.txt").read_text()
    assert t.listing().splitlines() == expected.splitlines()
    assert (t.rule_count, len(t.chains)) == (22 + 2 + 3 * 2, 16 + 1 + 3)  # fixed + service + endpoints
