"""ProxyState building and endpoint selection (CategorizeEndpoints), IPVS and nftables renderings."""

import dataclasses

from simk8s.api.objects import (
    Endpoint,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    EndpointSubset,
    Service,
    ServicePort,
)
from simk8s.proxy.ipvs import render_ipvs
from simk8s.proxy.nftables import render_nftables
from simk8s.proxy.state import ProxyNode, ProxyState, categorize_endpoints

NODE = ProxyNode("node-a", zone="z1", ip="192.168.0.2")
LBL = (("kubernetes.io/service-name", "svc1"),)


def svc(**kw):
    base = {"name": "svc1", "namespace": "ns1", "cluster_ip": "172.30.0.41", "ports": (ServicePort(port=80, name="p80"),)}
    base.update(kw)
    return Service(**base)


def sl(name, *eps):
    return EndpointSlice(name=name, namespace="ns1", labels=LBL, ports=(EndpointPort(port=80, name="p80"),),
                         endpoints=eps)


def select(service, *slices, node=NODE):
    st = ProxyState.from_slices(node, [service], slices)
    return categorize_endpoints(st.ports[0], node)


def addrs(eps):
    return [e.ip for e in eps]


def test_slices_merge_and_dedupe_by_address():
    st = ProxyState.from_slices(NODE, [svc()], [
        sl("a", Endpoint(("10.0.0.2",)), Endpoint(("10.0.0.10",), node_name="other")),
        sl("b", Endpoint(("10.0.0.10",), node_name="node-a"), Endpoint(("10.0.0.3",))),
    ])
    eps = st.ports[0].endpoints
    assert [e.addr for e in eps] == ["10.0.0.10:80", "10.0.0.2:80", "10.0.0.3:80"]  # string order
    assert eps[0].is_local  # the local copy wins the de-duplication


def test_headless_and_externalname_are_not_proxied():
    st = ProxyState.from_slices(NODE, [svc(cluster_ip="None"), svc(name="x", type="ExternalName", cluster_ip=None)], [])
    assert st.ports == ()


def test_ready_only_then_terminating_fallback():
    sel = select(svc(), sl("a", Endpoint(("10.0.0.1",)), Endpoint(("10.0.0.2",), ready=False, serving=True, terminating=True)))
    assert addrs(sel.cluster) == ["10.0.0.1"]
    sel = select(svc(), sl("a", Endpoint(("10.0.0.2",), ready=False, serving=True, terminating=True),
                            Endpoint(("10.0.0.3",), ready=False, serving=False, terminating=True)))
    assert addrs(sel.cluster) == ["10.0.0.2"] and sel.has_any
    sel = select(svc(), sl("a", Endpoint(("10.0.0.4",), ready=False, serving=False)))
    assert sel.cluster == () and not sel.has_any


def test_without_proxy_terminating_endpoints_no_fallback_and_no_endpoints():
    """ProxyTerminatingEndpoints off (≤ 1.25): the renderers see no usable endpoint."""
    term = sl("a", Endpoint(("10.0.0.2",), ready=False, serving=True, terminating=True, node_name="node-a"))
    for service in (svc(), svc(internal_traffic_policy="Local")):
        st = ProxyState.from_slices(NODE, [service], [term])
        on = categorize_endpoints(st.ports[0], NODE)
        off = categorize_endpoints(st.ports[0], NODE, terminating_fallback=False)
        assert on.has_any and addrs(on.all_reachable) == ["10.0.0.2"]
        assert not off.has_any and off.all_reachable == ()
        gated = dataclasses.replace(st, terminating_fallback=False)
        assert gated.select(gated.ports[0]) == off
    st = dataclasses.replace(ProxyState.from_slices(NODE, [svc()], [term]), terminating_fallback=False)
    assert "10.0.0.2" not in render_ipvs(st).listing()
    assert "10.0.0.2" in render_ipvs(dataclasses.replace(st, terminating_fallback=True)).listing()


def test_local_policy_prefers_local_ready_then_local_terminating():
    s = svc(internal_traffic_policy="Local")
    sel = select(s, sl("a", Endpoint(("10.0.0.1",), node_name="node-a"), Endpoint(("10.0.0.2",), node_name="b")))
    assert addrs(sel.local) == ["10.0.0.1"] and sel.cluster == ()
    sel = select(s, sl("a", Endpoint(("10.0.0.1",), ready=False, serving=True, terminating=True, node_name="node-a"),
                        Endpoint(("10.0.0.2",), node_name="b")))
    assert addrs(sel.local) == ["10.0.0.1"] and sel.has_any
    sel = select(s, sl("a", Endpoint(("10.0.0.2",), node_name="b")))
    assert sel.local == () and sel.has_any  # → DROP, not REJECT


def test_external_local_keeps_cluster_for_internal_traffic():
    s = svc(type="NodePort", external_traffic_policy="Local", ports=(ServicePort(port=80, name="p80", node_port=30080),))
    sel = select(s, sl("a", Endpoint(("10.0.0.1",), node_name="node-a"), Endpoint(("10.0.0.2",), node_name="b")))
    assert addrs(sel.cluster) == ["10.0.0.1", "10.0.0.2"] and addrs(sel.local) == ["10.0.0.1"]
    assert addrs(sel.all_reachable) == ["10.0.0.1", "10.0.0.2"]


def test_topology_hints_prefer_close_and_fallback():
    s = svc(traffic_distribution="PreferClose")
    hinted = sl("a", Endpoint(("10.0.0.1",), zone="z1", hints_for_zones=("z1",)),
                Endpoint(("10.0.0.2",), zone="z2", hints_for_zones=("z2",)))
    assert addrs(select(s, hinted).cluster) == ["10.0.0.1"]
    unhinted = sl("a", Endpoint(("10.0.0.1",), hints_for_zones=("z1",)), Endpoint(("10.0.0.2",)))
    assert addrs(select(s, unhinted).cluster) == ["10.0.0.1", "10.0.0.2"]  # one lacks hints → all
    other_zone = sl("a", Endpoint(("10.0.0.2",), hints_for_zones=("z2",)))
    assert addrs(select(s, other_zone).cluster) == ["10.0.0.2"]  # none for my zone → all
    assert addrs(select(svc(), hinted).cluster) == ["10.0.0.1", "10.0.0.2"]  # not requested


def test_topology_prefer_same_node():
    s = svc(traffic_distribution="PreferSameNode")
    eps = sl("a", Endpoint(("10.0.0.1",), hints_for_zones=("z1",), hints_for_nodes=("node-a",)),
             Endpoint(("10.0.0.2",), hints_for_zones=("z1",), hints_for_nodes=("node-b",)),
             Endpoint(("10.0.0.3",), hints_for_zones=("z2",), hints_for_nodes=("node-c",)))
    assert addrs(select(s, eps).cluster) == ["10.0.0.1"]
    assert addrs(select(s, eps, node=ProxyNode("node-z", zone="z1")).cluster) == ["10.0.0.1", "10.0.0.2"]


def test_legacy_endpoints_mode():
    e = Endpoints(name="svc1", namespace="ns1", subsets=(EndpointSubset(
        addresses=(EndpointAddress("10.0.0.1", node_name="node-a"),),
        not_ready_addresses=(EndpointAddress("10.0.0.2"),),
        ports=(EndpointPort(port=8080, name="p80"),)),))
    st = ProxyState.from_endpoints(NODE, [svc()], [e])
    eps = st.ports[0].endpoints
    assert [(x.addr, x.ready, x.is_local) for x in eps] == [("10.0.0.1:8080", True, True), ("10.0.0.2:8080", False, False)]
    assert addrs(categorize_endpoints(st.ports[0], NODE).cluster) == ["10.0.0.1"]


def test_ipvs_listing_affinity_and_weight_zero():
    s = svc(session_affinity="ClientIP")
    st = ProxyState.from_slices(NODE, [s], [sl("a", Endpoint(("10.0.0.1",)),
                                              Endpoint(("10.0.0.2",), ready=False, serving=False, terminating=True))])
    text = render_ipvs(st, draining=["10.0.0.2:80"]).listing().splitlines()
    assert text[0] == "IP Virtual Server version 1.2.1 (size=4096)"
    assert text[3] == "TCP  172.30.0.41:80 rr persistent 10800"
    assert text[4].split() == ["->", "10.0.0.1:80", "Masq", "1", "0", "0"]
    assert text[5].split() == ["->", "10.0.0.2:80", "Masq", "0", "0", "0"]


def test_nftables_listing():
    st = ProxyState.from_slices(NODE, [svc()], [sl("a", Endpoint(("10.180.0.1",)), Endpoint(("10.180.0.2",)))])
    t = render_nftables(st)
    text = t.listing()
    chain = "service-ULMVA6XW-ns1/svc1/tcp/p80"
    assert f"172.30.0.41 . tcp . 80 : goto {chain}" in text
    rules = t.chains[chain]
    assert rules[0] == "ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade"
    assert rules[1].startswith("numgen random mod 2 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80, 1 : ")
    assert t.chains["endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"] == [
        "ip saddr 10.180.0.1 jump mark-for-masquerade", "meta l4proto tcp dnat to 10.180.0.1:80"]
    empty = render_nftables(ProxyState.from_slices(NODE, [svc()], []))
    assert empty.maps["no-endpoint-services"][1] == ["172.30.0.41 . tcp . 80 : goto reject-chain"]


def test_nftables_affinity_sets():
    st = ProxyState.from_slices(NODE, [svc(session_affinity="ClientIP")], [sl("a", Endpoint(("10.180.0.1",)))])
    t = render_nftables(st)
    aset = "affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    assert aset in t.sets and "timeout 10800s" in t.sets[aset][0]
    assert t.chains["service-ULMVA6XW-ns1/svc1/tcp/p80"][1] == f"ip saddr @{aset} goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"


def test_nftables_cluster_ips_is_a_set_with_each_ip_once():
    two_ports = svc(ports=(ServicePort(port=80, name="p80"), ServicePort(port=443, name="p443")))
    t = render_nftables(ProxyState.from_slices(NODE, [two_ports], []))
    assert t.sets["cluster-ips"][1] == ["172.30.0.41"]
    assert len(t.maps["no-endpoint-services"][1]) == 2  # but a verdict per port


def test_nftables_transaction_writes_numeric_priorities_and_lists_names():
    """knftables writes numbers (nft < 1.0.9 refuses `dstnat` in the output hook); nft lists names."""
    t = render_nftables(ProxyState.from_slices(NODE, [svc()], [sl("a", Endpoint(("10.180.0.1",)))]))
    tx = t.transaction()
    assert "add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }" in tx
    assert "dstnat" not in tx and "srcnat" not in tx
    assert "type nat hook prerouting priority dstnat; policy accept;" in t.listing()
    assert "meta mark set meta mark | 0x00004000" in t.listing()
    assert t.transaction(previous=t) == "\n"  # nothing changed, nothing written


def test_nftables_partial_transaction_touches_only_the_changed_service():
    one = ProxyState.from_slices(NODE, [svc()], [sl("a", Endpoint(("10.180.0.1",)))])
    two = ProxyState.from_slices(NODE, [svc()], [sl("a", Endpoint(("10.180.0.2",)))])
    delta = render_nftables(two).transaction(previous=render_nftables(one)).splitlines()
    assert delta[0] == "flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80"
    assert delta[-1] == "delete chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    assert not any("add element" in x or "service-ips" in x for x in delta)
