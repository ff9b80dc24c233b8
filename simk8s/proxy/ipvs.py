"""IPVS mode: one node's virtual servers, real servers and ipsets (`pkg/proxy/ipvs/proxier.go`).

`render_ipvs` builds the desired IPVS state; `IpvsState.listing()` prints it like
`ipvsadm -Ln` (sorted by protocol, address, port for determinism; the kernel lists in hash
order). iptables in IPVS mode is a small static rule set over ipsets (KEP-265); we count it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from simk8s.proxy.state import ProxyServicePort, ProxyState

IPVS_VERSION_LINE = "IP Virtual Server version 1.2.1 (size=4096)"
# Simplification (the IPVS deep-dive blog: "the number of iptables rules is static"): a fixed base of
# kube-proxy's own chains' rules, plus one match rule per non-empty optional ipset.
IPVS_STATIC_NAT_RULES = 12
IPVS_STATIC_FILTER_RULES = 8


@dataclass(frozen=True, slots=True)
class RealServer:
    ip: str
    port: int
    weight: int = 1  # 0 while gracefully terminating (pkg/proxy/ipvs/graceful_termination.go)


@dataclass(frozen=True, slots=True)
class VirtualServer:
    protocol: str  # TCP | UDP | SCTP
    ip: str
    port: int
    scheduler: str
    persistent_s: int | None  # ClientIP affinity timeout (sessionAffinityConfig, default 10800)
    real_servers: tuple[RealServer, ...]


@dataclass
class IpvsState:
    virtual_servers: list[VirtualServer] = field(default_factory=list)
    ipsets: dict[str, set[str]] = field(default_factory=dict)
    bound_addresses: set[str] = field(default_factory=set)  # on the kube-ipvs0 dummy interface

    @property
    def real_server_count(self) -> int:
        return sum(len(v.real_servers) for v in self.virtual_servers)

    @property
    def ipset_entry_count(self) -> int:
        return sum(len(s) for s in self.ipsets.values())

    @property
    def static_iptables_rules(self) -> int:
        optional = sum(1 for k, s in self.ipsets.items() if s and k not in ("KUBE-CLUSTER-IP", "KUBE-LOOP-BACK"))
        return IPVS_STATIC_NAT_RULES + IPVS_STATIC_FILTER_RULES + optional

    def listing(self) -> str:
        out = [IPVS_VERSION_LINE, "Prot LocalAddress:Port Scheduler Flags",
               "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"]
        for vs in sorted(self.virtual_servers, key=lambda v: (v.protocol, _ip_key(v.ip), v.port)):
            head = f"{vs.protocol:<4} {vs.ip}:{vs.port} {vs.scheduler}"
            if vs.persistent_s is not None:
                head += f" persistent {vs.persistent_s}"
            out.append(head)
            for rs in sorted(vs.real_servers, key=lambda r: (_ip_key(r.ip), r.port)):
                out.append(f"  -> {rs.ip + ':' + str(rs.port):<28} Masq    {rs.weight:<6} 0          0")
        return "\n".join(out) + "\n"

    def ipset_summary(self) -> str:
        lines = [f"{name}: {len(entries)} entries" for name, entries in sorted(self.ipsets.items())]
        lines.append(f"static iptables rules: {self.static_iptables_rules}")
        return "\n".join(lines) + "\n"


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(x) for x in ip.split(".")) if ip.count(".") == 3 else (0,)


def render_ipvs(
    state: ProxyState, scheduler: str = "rr", node_ips: Iterable[str] | None = None,
    draining: Iterable[str] = (),
) -> IpvsState:
    """Desired IPVS state. `draining` lists "ip:port" real servers removed from the endpoint
    set that still have connections; they stay at weight 0 (graceful_termination.go)."""
    nips = tuple(node_ips) if node_ips is not None else (state.node.ip,)
    drain = set(draining)
    st = IpvsState()
    sets = st.ipsets
    for name in ("KUBE-CLUSTER-IP", "KUBE-LOOP-BACK", "KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL",
                 "KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER-LOCAL", "KUBE-LOAD-BALANCER-FW",
                 "KUBE-LOAD-BALANCER-SOURCE-CIDR", "KUBE-NODE-PORT-TCP", "KUBE-NODE-PORT-LOCAL-TCP",
                 "KUBE-NODE-PORT-UDP", "KUBE-NODE-PORT-LOCAL-UDP", "KUBE-HEALTH-CHECK-NODE-PORT"):
        sets[name] = set()
    for sp in state.ports:
        _render_port(st, sp, state, scheduler, nips, drain)
    return st


def _render_port(st: IpvsState, sp: ProxyServicePort, state: ProxyState, scheduler: str,
                 nips: tuple[str, ...], drain: set[str]) -> None:
    sel = state.select(sp)
    proto, port = sp.port.protocol.upper(), sp.port.port
    pp = f"{sp.protocol}:{port}"
    internal = sel.local if sp.internal_local else sel.cluster
    external = sel.local if sp.external_local else sel.cluster
    persist = sp.affinity_timeout if sp.affinity else None

    def servers(eps) -> tuple[RealServer, ...]:
        rs = [RealServer(ep.ip, ep.port) for ep in eps]
        chosen = {ep.addr for ep in eps}
        rs += [RealServer(ep.ip, ep.port, 0) for ep in sp.endpoints if ep.addr in drain and ep.addr not in chosen]
        return tuple(rs)

    def add(ip: str, p: int, eps) -> None:
        st.virtual_servers.append(VirtualServer(proto, ip, p, scheduler, persist, servers(eps)))

    add(sp.cluster_ip, port, internal)
    st.bound_addresses.add(sp.cluster_ip)
    st.ipsets["KUBE-CLUSTER-IP"].add(f"{sp.cluster_ip},{pp}")
    for ep in sel.all_reachable:
        if ep.is_local:  # hairpin masquerade entries exist for local endpoints only
            st.ipsets["KUBE-LOOP-BACK"].add(f"{ep.ip},{sp.protocol}:{ep.port},{ep.ip}")
    local = "-LOCAL" if sp.external_local else ""
    for ip in sp.external_ips:
        add(ip, port, external)
        st.bound_addresses.add(ip)
        st.ipsets["KUBE-EXTERNAL-IP" + local].add(f"{ip},{pp}")
    for ip in sp.lb_ips:
        add(ip, port, external)
        st.bound_addresses.add(ip)
        st.ipsets["KUBE-LOAD-BALANCER" + local].add(f"{ip},{pp}")
        if sp.source_ranges:
            st.ipsets["KUBE-LOAD-BALANCER-FW"].add(f"{ip},{pp}")
            for cidr in sp.source_ranges:
                st.ipsets["KUBE-LOAD-BALANCER-SOURCE-CIDR"].add(f"{ip},{pp},{cidr}")
    if sp.node_port:
        for nip in nips:
            add(nip, sp.node_port, external)
        key = f"KUBE-NODE-PORT{local}-{proto}" if proto in ("TCP", "UDP") else f"KUBE-NODE-PORT{local}-TCP"
        st.ipsets.setdefault(key, set()).add(str(sp.node_port))
    if sp.health_check_node_port:
        st.ipsets["KUBE-HEALTH-CHECK-NODE-PORT"].add(str(sp.health_check_node_port))
