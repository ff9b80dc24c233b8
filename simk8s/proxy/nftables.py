"""nftables mode: one node's `kube-proxy` table (`pkg/proxy/nftables/proxier.go`, KEP-3866).

`render_nftables` builds the table; `.listing()` prints it in the style of
`nft list table ip kube-proxy` (chains and maps sorted by name for determinism).
Simplification: only the service-dispatch part is rendered in detail; base chains and
hooks (filter-prerouting, nat-output, …) are listed with one line each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simk8s.proxy.names import (
    nft_affinity_set,
    nft_endpoint_chain,
    nft_service_base,
    nft_service_chain,
)
from simk8s.proxy.state import ProxyServicePort, ProxyState

_BASE_CHAINS = {
    "filter-prerouting": ["type filter hook prerouting priority dstnat - 10; policy accept;",
                          "ct state new jump firewall-check"],
    "filter-forward": ["type filter hook forward priority -110; policy accept;",
                       "ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"],
    "filter-input": ["type filter hook input priority -110; policy accept;",
                     "ct state new jump nodeport-endpoints-check", "ct state new jump service-endpoints-check"],
    "filter-output": ["type filter hook output priority -110; policy accept;",
                      "ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"],
    "nat-prerouting": ["type nat hook prerouting priority dstnat; policy accept;", "jump services"],
    "nat-output": ["type nat hook output priority dstnat; policy accept;", "jump services"],
    "nat-postrouting": ["type nat hook postrouting priority srcnat; policy accept;", "jump masquerading"],
}


@dataclass
class NftTable:
    chains: dict[str, list[str]] = field(default_factory=dict)
    maps: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # name → (type, elements)
    sets: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    @property
    def rule_count(self) -> int:
        return sum(sum(1 for r in rules if not r.startswith("type ")) for rules in self.chains.values())

    @property
    def element_count(self) -> int:
        return sum(len(e) for _, e in self.maps.values()) + sum(len(e) for _, e in self.sets.values())

    def listing(self) -> str:
        out = ["table ip kube-proxy {", '\tcomment "rules for kube-proxy"']
        for kind, coll in (("set", self.sets), ("map", self.maps)):
            for name in sorted(coll):
                typ, elems = coll[name]
                out.append(f"\n\t{kind} {name} {{")
                out.append(f"\t\t{typ}")
                if elems:
                    out.append("\t\telements = { " + ",\n\t\t\t     ".join(elems) + " }")
                out.append("\t}")
        for name in sorted(self.chains):
            out.append(f"\n\tchain {name} {{")
            out.extend(f"\t\t{r}" for r in self.chains[name])
            out.append("\t}")
        out.append("}")
        return "\n".join(out) + "\n"


def render_nftables(state: ProxyState, cluster_cidr: str | None = "10.0.0.0/8",
                    masquerade_bit: int = 14) -> NftTable:
    t = NftTable()
    mark = hex(1 << masquerade_bit)
    for name, rules in _BASE_CHAINS.items():
        t.chains[name] = list(rules)
    t.chains["mark-for-masquerade"] = [f"mark set mark or {mark}"]
    t.chains["masquerading"] = [f"mark and {mark} == 0 return", f"mark set mark xor {mark}",
                                "masquerade fully-random"]
    t.chains["services"] = ["ip daddr . meta l4proto . th dport vmap @service-ips",
                            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"]
    t.chains["service-endpoints-check"] = ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"]
    t.chains["nodeport-endpoints-check"] = ["fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports"]
    t.chains["reject-chain"] = ["reject"]
    t.chains["firewall-check"] = ["ip daddr . meta l4proto . th dport vmap @firewall-ips"]
    t.chains["cluster-ips-check"] = ["ip daddr @cluster-ips reject"]
    vtype = "type ipv4_addr . inet_proto . inet_service : verdict"
    for m in ("service-ips", "no-endpoint-services", "firewall-ips"):
        t.maps[m] = (vtype, [])
    t.maps["service-nodeports"] = ("type inet_proto . inet_service : verdict", [])
    t.maps["no-endpoint-nodeports"] = ("type inet_proto . inet_service : verdict", [])
    t.sets["cluster-ips"] = ("type ipv4_addr", [])
    for sp in state.ports:
        _render_port(t, sp, state, cluster_cidr, mark)
    for _, elems in list(t.maps.values()) + list(t.sets.values()):
        elems.sort()
    return t


def _render_port(t: NftTable, sp: ProxyServicePort, state: ProxyState, cidr: str | None, mark: str) -> None:
    sel = state.select(sp)
    base = nft_service_base(sp.service.namespace, sp.service.name, sp.protocol, sp.port.name)
    proto, port = sp.protocol, sp.port.port
    cluster_ips = t.sets["cluster-ips"][1]
    if sp.cluster_ip not in cluster_ips:  # a set: a multi-port Service's IP once
        cluster_ips.append(sp.cluster_ip)
    if not sel.has_any:  # no-endpoint verdict maps, checked on ct state new (filter hooks)
        t.maps["no-endpoint-services"][1].append(f"{sp.cluster_ip} . {proto} . {port} : goto reject-chain")
        for ip in sp.external_ips + sp.lb_ips:
            t.maps["no-endpoint-services"][1].append(f"{ip} . {proto} . {port} : goto reject-chain")
        if sp.node_port:
            t.maps["no-endpoint-nodeports"][1].append(f"{proto} . {sp.node_port} : goto reject-chain")
        return
    svc = nft_service_chain(base, "service")
    loc = nft_service_chain(base, "local")
    ext = nft_service_chain(base, "external")
    internal = loc if sp.internal_local else svc
    t.maps["service-ips"][1].append(f"{sp.cluster_ip} . {proto} . {port} : goto {internal}")
    if sp.externally_accessible:
        for ip in sp.external_ips + sp.lb_ips:
            t.maps["service-ips"][1].append(f"{ip} . {proto} . {port} : goto {ext}")
        if sp.node_port:
            t.maps["service-nodeports"][1].append(f"{proto} . {sp.node_port} : goto {ext}")
        policy = loc if sp.external_local else svc
        t.chains[ext] = (["jump mark-for-masquerade"] if not sp.external_local else
                         [f"ip saddr {cidr} goto {svc}", "fib saddr type local jump mark-for-masquerade",
                          f"fib saddr type local goto {svc}"]) + [f"goto {policy}"]
    for chain, eps, used in ((svc, sel.cluster, sp.uses_cluster_endpoints),
                             (loc, sel.local, sp.uses_local_endpoints)):
        if not (eps and used):
            continue
        rules = []
        if chain == svc and cidr:
            rules.append(f"ip daddr {sp.cluster_ip} {proto} dport {port} ip saddr != {cidr} jump mark-for-masquerade")
        if sp.affinity:
            for ep in eps:
                aset = nft_affinity_set(base, ep.ip, ep.port)
                rules.append(f"ip saddr @{aset} goto {nft_endpoint_chain(base, ep.ip, ep.port)}")
        targets = ", ".join(f"{i} : goto {nft_endpoint_chain(base, ep.ip, ep.port)}" for i, ep in enumerate(eps))
        rules.append(f"numgen random mod {len(eps)} vmap {{ {targets} }}")
        t.chains[chain] = rules
    for ep in sel.all_reachable:
        chain = nft_endpoint_chain(base, ep.ip, ep.port)
        rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]
        if sp.affinity:
            aset = nft_affinity_set(base, ep.ip, ep.port)
            t.sets[aset] = (f"type ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout {sp.affinity_timeout}s", [])
            rules.append(f"update @{aset} {{ ip saddr }}")
        rules.append(f"meta l4proto {proto} dnat to {ep.addr}")
        t.chains[chain] = rules
