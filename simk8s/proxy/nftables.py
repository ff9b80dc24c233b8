"""nftables mode: one node's `kube-proxy` table (`pkg/proxy/nftables/proxier.go`, KEP-3866).

`render_nftables` builds the table. `.transaction()` is the `nft -f` input the proxier's
knftables transaction writes (a full sync, or the delta from a previous table for a partial
sync); `.listing()` is what `nft list table ip kube-proxy` prints back (nft 1.0.6; objects
sorted by name where nft keeps creation order). The base chains and their jump rules follow the
modelled release (`base_chains`); the service-dispatch part is the same in every release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from simk8s.proxy.names import (
    nft_affinity_set,
    nft_endpoint_chain,
    nft_service_base,
    nft_service_chain,
)
from simk8s.proxy.state import ProxyServicePort, ProxyState

Release = tuple[int, int]
NEWEST: Release = (1, 36)

# Base chains as the proxier declares them (`nftablesBaseChains`, pkg/proxy/nftables/proxier.go).
# knftables (since v0.0.12) writes priorities as numbers (`Chain.writeOperation` in
# sigs.k8s.io/knftables objects.go): nft before 1.0.9 refuses `dstnat` in the output hook.
# dstnat-10 / dstnat+10 / dstnat / srcnat are -110 / -90 / -100 / 100.
_HOOKS = {
    "filter-prerouting": "type filter hook prerouting priority -110; policy accept;",
    "filter-input": "type filter hook input priority -110; policy accept;",
    "filter-forward": "type filter hook forward priority -110; policy accept;",
    "filter-output": "type filter hook output priority -110; policy accept;",
    # After DNAT: a node's connection to a live ClusterIP is already rewritten to an endpoint
    # when it meets cluster-ips-check (kubernetes/kubernetes#122692, 1.30).
    "filter-output-post-dnat": "type filter hook output priority -90; policy accept;",
    "nat-prerouting": "type nat hook prerouting priority -100; policy accept;",
    "nat-output": "type nat hook output priority -100; policy accept;",
    "nat-postrouting": "type nat hook postrouting priority 100; policy accept;",
}
_CT_NEW = "ct state new "

# Jump rules (target, base chain) in `nftablesJumpChains` order. cluster-ips-check, the
# cluster-ips set and filter-output-post-dnat arrive together in 1.30 (kubernetes/kubernetes#122692).
# firewall-check is checked pre-DNAT from filter-prerouting and filter-output since
# kubernetes/kubernetes#122614 (1.30).
_JUMPS = (
    ("nodeport-endpoints-check", "filter-input", _CT_NEW),
    ("service-endpoints-check", "filter-input", _CT_NEW),
    ("service-endpoints-check", "filter-forward", _CT_NEW),
    ("service-endpoints-check", "filter-output", _CT_NEW),
    ("firewall-check", "filter-prerouting", _CT_NEW),
    ("firewall-check", "filter-output", _CT_NEW),
    ("services", "nat-output", ""),
    ("services", "nat-prerouting", ""),
    ("masquerading", "nat-postrouting", ""),
    ("cluster-ips-check", "filter-forward", _CT_NEW),
    ("cluster-ips-check", "filter-output-post-dnat", _CT_NEW),
)
CLUSTER_IPS_CHECK_SINCE: Release = (1, 30)  # kubernetes/kubernetes#122692
_SINCE_1_30 = {"cluster-ips-check", "filter-output-post-dnat"}


def base_chains(release: Release = NEWEST) -> dict[str, list[str]]:
    """The base chains and their jump rules in `release`. Simplification for 1.29 (nftables
    alpha): only the absence of cluster-ips-check is modelled; its single `endpoints-check`
    chain and its hooks and priorities (dstnat-1) from before kubernetes/kubernetes#122614 are
    rendered as in 1.30."""
    new = release >= CLUSTER_IPS_CHECK_SINCE
    chains = {name: [hook] for name, hook in _HOOKS.items() if new or name not in _SINCE_1_30}
    for target, base, match in _JUMPS:
        if new or target not in _SINCE_1_30:
            chains[base].append(f"{match}jump {target}")
    return chains


# How nft 1.0.6 prints back what the proxier wrote (`nft list`): standard priorities by name
# where that hook has one, mark expressions in their canonical form.
_LISTED = {
    "type filter hook prerouting priority -110;": "type filter hook prerouting priority dstnat - 10;",
    "type nat hook prerouting priority -100;": "type nat hook prerouting priority dstnat;",
    "type nat hook postrouting priority 100;": "type nat hook postrouting priority srcnat;",
}

# Comments the proxier sets on its table objects (`setupNFTables`, pkg/proxy/nftables/proxier.go).
TABLE_COMMENT = "rules for kube-proxy"
_COMMENTS = {
    "cluster-ips": "Active ClusterIPs",
    "service-ips": "ClusterIP, ExternalIP and LoadBalancer IP traffic",
    "service-nodeports": "NodePort traffic",
    "no-endpoint-services": "vmap to drop or reject packets to services with no endpoints",
    "no-endpoint-nodeports": "vmap to drop or reject packets to service nodeports with no endpoints",
    "firewall-ips": "destinations that are subject to LoadBalancerSourceRanges",
    "reject-chain": "helper for @no-endpoint-services / @no-endpoint-nodeports",
}


def _listed_props(typ: str) -> list[str]:
    """A set's type/flags/timeout lines as nft prints them: dynamic sets get the kernel's
    default `size 65535`, timeouts in d/h/m/s."""
    out = []
    for line in typ.split("\n\t\t"):
        m = re.fullmatch(r"timeout (\d+)s", line)
        out.append(f"timeout {_nft_duration(int(m[1]))}" if m else line)
        if line.startswith("type ") and "flags dynamic" in typ:
            out.append("size 65535")
    return out


def _nft_duration(seconds: int) -> str:
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _listed_rule(rule: str) -> str:
    for head, printed in _LISTED.items():
        if rule.startswith(head):
            return printed + rule[len(head):]
    m = re.fullmatch(r"mark set mark (or|xor) (0x[0-9a-f]+)", rule)
    if m:
        return f"meta mark set meta mark {'|' if m[1] == 'or' else '^'} {int(m[2], 16):#010x}"
    m = re.fullmatch(r"mark and (0x[0-9a-f]+) == 0 return", rule)
    if m:
        return f"meta mark & {int(m[1], 16):#010x} == 0x00000000 return"
    return rule


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
        out = ["table ip kube-proxy {", f'\tcomment "{TABLE_COMMENT}"']
        blocks: list[list[str]] = []
        for kind, coll in (("set", self.sets), ("map", self.maps)):
            for name in sorted(coll):
                typ, elems = coll[name]
                block = [f"\t{kind} {name} {{", *(f"\t\t{x}" for x in _listed_props(typ))]
                if name in _COMMENTS:
                    block.append(f'\t\tcomment "{_COMMENTS[name]}"')
                if elems:
                    block.append("\t\telements = { " + ",\n\t\t\t     ".join(elems) + " }")
                blocks.append([*block, "\t}"])
        for name in sorted(self.chains):
            block = [f"\tchain {name} {{"]
            if name in _COMMENTS:
                block.append(f'\t\tcomment "{_COMMENTS[name]}"')
            block.extend(f"\t\t{_listed_rule(r)}" for r in self.chains[name])
            blocks.append([*block, "\t}"])
        for i, block in enumerate(blocks):
            out.extend(([""] if i else []) + block)
        out.append("}")
        return "\n".join(out) + "\n"

    def transaction(self, previous: NftTable | None = None) -> str:
        """`nft -f` input as the proxier's knftables transaction writes it. Without `previous`
        a full sync (every object added and flushed, then refilled); with it a partial sync:
        only chains whose rules changed are flushed and rewritten, elements added or deleted
        one by one, stale chains and sets deleted last. Simplification: the delta comes from
        comparing the two tables; the proxier derives it from its change trackers
        (`syncProxyRules`, pkg/proxy/nftables/proxier.go)."""
        tx: list[str] = []
        base = [n for n in self.chains if _is_base(self.chains[n])]
        regular = [n for n in self.chains if n not in base]
        old = previous
        if old is None:
            tx.append(f'add table {_T} {{ comment "{TABLE_COMMENT}" ; }}')
            for name in base:
                # The proxier sets no policy (accept, the default, is what nft lists).
                head = self.chains[name][0].replace(" policy accept;", "").replace(";", " ;")
                tx += [f"add chain {_T} {name} {{ {head} }}", f"flush chain {_T} {name}"]
        for name in regular:
            if old is not None and old.chains.get(name) == self.chains[name]:
                continue
            if old is None or name not in old.chains:
                tx.append(f"add chain {_T} {name}" + _comment(name))
            tx.append(f"flush chain {_T} {name}")
        old_sets = None if old is None else old.sets
        old_maps = None if old is None else old.maps
        for kind, coll, old_coll in (("set", self.sets, old_sets), ("map", self.maps, old_maps)):
            for name, (typ, _) in coll.items():
                if old_coll is None or name not in old_coll:
                    tx.append(f"add {kind} {_T} {name} {{ {_object_props(typ)}{_comment(name, ';')} }}")
                    if old_coll is None and not name.startswith("affinity-"):
                        tx.append(f"flush {kind} {_T} {name}")  # affinity sets keep their entries
        if old is not None:
            for coll, old_coll in ((self.sets, old.sets), (self.maps, old.maps)):
                for name, (_, elems) in old_coll.items():
                    keep = set(coll[name][1]) if name in coll else set()
                    for e in elems:
                        if e not in keep and name in coll:
                            tx.append(f"delete element {_T} {name} {{ {e.split(' : ')[0]} }}")
        for name in (*base, *regular) if old is None else regular:
            if old is not None and old.chains.get(name) == self.chains[name]:
                continue
            tx.extend(f"add rule {_T} {name} {r}" for r in self.chains[name] if not r.startswith("type "))
        for coll, old_coll in ((self.sets, old_sets), (self.maps, old_maps)):
            for name, (_, elems) in coll.items():
                had = set(old_coll[name][1]) if old_coll and name in old_coll else set()
                tx.extend(f"add element {_T} {name} {{ {e} }}" for e in elems if e not in had)
        if old is not None:
            tx.extend(f"delete chain {_T} {n}" for n in old.chains if n not in self.chains)
            for kind, coll, old_coll in (("set", self.sets, old.sets), ("map", self.maps, old.maps)):
                tx.extend(f"delete {kind} {_T} {n}" for n in old_coll if n not in coll)
        return "\n".join(tx) + "\n"


_T = "ip kube-proxy"


def _is_base(rules: list[str]) -> bool:
    return bool(rules) and rules[0].startswith("type ")


def _comment(name: str, sep: str = "") -> str:
    if name not in _COMMENTS:
        return ""
    text = f'comment "{_COMMENTS[name]}" ;'
    return f" {text}" if sep else f" {{ {text} }}"


def _object_props(typ: str) -> str:
    """The listing's `type …`, `flags …`, `timeout …` lines as knftables' `{ … ; … ; }` body."""
    return " ".join(f"{line.strip()} ;" for line in typ.split("\n\t\t"))


def render_nftables(state: ProxyState, cluster_cidr: str | None = "10.0.0.0/8",
                    masquerade_bit: int = 14, release: Release = NEWEST) -> NftTable:
    """`release` (cluster.kubernetesVersion) picks the base chains and their jumps."""
    t = NftTable()
    mark = hex(1 << masquerade_bit)
    t.chains.update(base_chains(release))
    t.chains["mark-for-masquerade"] = [f"mark set mark or {mark}"]
    t.chains["masquerading"] = [f"mark and {mark} == 0 return", f"mark set mark xor {mark}",
                                "masquerade fully-random"]
    t.chains["services"] = ["ip daddr . meta l4proto . th dport vmap @service-ips",
                            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"]
    t.chains["service-endpoints-check"] = ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"]
    t.chains["nodeport-endpoints-check"] = ["fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports"]
    t.chains["reject-chain"] = ["reject"]
    t.chains["firewall-check"] = ["ip daddr . meta l4proto . th dport vmap @firewall-ips"]
    if release >= CLUSTER_IPS_CHECK_SINCE:
        # Simplification: the rule that drops unallocated ClusterIPs of known ServiceCIDRs
        # (same PR) is not rendered: the model has no ServiceCIDR objects.
        t.chains["cluster-ips-check"] = ["ip daddr @cluster-ips reject"]
    vtype = "type ipv4_addr . inet_proto . inet_service : verdict"
    for m in ("service-ips", "no-endpoint-services", "firewall-ips"):
        t.maps[m] = (vtype, [])
    t.maps["service-nodeports"] = ("type inet_proto . inet_service : verdict", [])
    t.maps["no-endpoint-nodeports"] = ("type inet_proto . inet_service : verdict", [])
    if release >= CLUSTER_IPS_CHECK_SINCE:
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
    if "cluster-ips" in t.sets:
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
