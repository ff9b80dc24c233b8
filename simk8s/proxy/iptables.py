"""iptables mode: render one node's kube-proxy rules as `iptables-restore` input.

The renderer follows the rule emission of `syncProxyRules` in `pkg/proxy/iptables/proxier.go` and
returns an `IptablesRuleset`; `.text()` gives the listing sorted like upstream's test helper
`sortIPTablesRules` (`proxier_test.go`): tables by name, KUBE-NODEPORTS then KUBE-SERVICES then other
chains alphabetically, the KUBE-SERVICES / KUBE-NODEPORTS rules by comment (stable), the
"must be the last rule" rule last. Other chains keep emission order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from simk8s.proxy.names import ext_chain, fw_chain, sep_chain, svc_chain, svl_chain
from simk8s.proxy.state import ProxyEndpoint, ProxyServicePort, ProxyState

LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000  # largeClusterEndpointsThreshold
NODEPORTS_LAST_COMMENT = "kubernetes service nodeports; NOTE: this must be the last rule in this chain"
LOCALHOST_NODEPORTS_NFACCT = "localhost_nps_accepted_pkts"


@dataclass(frozen=True, slots=True)
class IptablesOptions:
    """Proxier settings and version switches that change the emitted rules."""

    cluster_cidr: str | None = "10.0.0.0/8"  # cluster-CIDR local detector; None = no detector
    masquerade_all: bool = False
    masquerade_bit: int = 14  # masqueradeBit default (config v1alpha1 defaults.go): mark 0x4000
    localhost_nodeports: bool = True  # KUBE-FIREWALL localnet rule + 127/8 NodePort rule (≈v1.26+)
    nfacct: bool = True  # the 127/8 NodePort rule needs its nfacct counter
    random_fully: bool = False
    fw_trailing_comment: bool = True  # KUBE-FW's final comment-only rule (newer than IPT_NUM_2022)
    large_cluster_threshold: int = LARGE_CLUSTER_ENDPOINTS_THRESHOLD

    @property
    def mark(self) -> str:
        return hex(1 << self.masquerade_bit)


#: Rule layout of the current proxier and its golden tests (`pkg/proxy/iptables/proxier_test.go`).
RECENT = IptablesOptions()
#: Layout counted by `pkg/proxy/iptables/number_generated_rules_test.go` as added in 2022
#: (kubernetes/kubernetes#110503): no localhost-NodePort rules, KUBE-FW without
#: its trailing comment rule (inferred from the LB rows: 8 + 3E nat rules, 1 filter rule).
IPT_NUM_2022 = IptablesOptions(localhost_nodeports=False, nfacct=False, fw_trailing_comment=False)


@lru_cache(maxsize=1024)
def probability(n: int) -> str:
    """printf %0.10f of 1/n (computeProbability); cached like upstream's precomputed strings."""
    return f"{1.0 / n:0.10f}"


def _q(text: str) -> str:
    return f'"{text}"'


@dataclass(slots=True)
class _Rule:
    chain: str
    comment: str | None  # unquoted value, the sort key of the upstream test helper
    line: str


@dataclass
class IptablesRuleset:
    """The restore input of one sync, plus what a partial sync skipped (for totals)."""

    filter_chains: list[str] = field(default_factory=list)
    filter_rules: list[_Rule] = field(default_factory=list)
    nat_chains: list[str] = field(default_factory=list)
    nat_rules: list[_Rule] = field(default_factory=list)
    skipped_nat_chains: int = 0
    skipped_nat_rules: int = 0
    large_cluster_mode: bool = False

    @property
    def filter_rule_count(self) -> int:
        return len(self.filter_rules)

    @property
    def nat_rule_count(self) -> int:
        """Rules owned in nat (written + skipped), like sync_proxy_rules_iptables_total."""
        return len(self.nat_rules) + self.skipped_nat_rules

    @property
    def nat_chain_count(self) -> int:
        return len(self.nat_chains) + self.skipped_nat_chains

    @property
    def lines_written(self) -> int:
        """Lines of restore input: 2 table headers, 2 COMMITs, chain and rule lines."""
        return 4 + len(self.filter_chains) + len(self.filter_rules) + len(self.nat_chains) + len(self.nat_rules)

    def restore_input(self, deleted_chains: Iterable[str] = ()) -> str:
        """What the proxier pipes into `iptables-restore --noflush --counters`: per table the
        chain lines, then the rules, in emission order (`syncProxyRules`). A partial sync
        declares only the chains it rewrites (declaring flushes them), so the others keep their
        rules. `deleted_chains` are stale nat chains: declared (emptied), then `-X` deleted.
        Simplification: Services in name order where the proxier follows Go map order."""
        stale = list(deleted_chains)
        out = ["*filter", *(f":{c} - [0:0]" for c in self.filter_chains), *(r.line for r in self.filter_rules),
               "COMMIT", "*nat", *(f":{c} - [0:0]" for c in (*self.nat_chains, *stale)),
               *(r.line for r in self.nat_rules), *(f"-X {c}" for c in stale), "COMMIT"]
        return "\n".join(out) + "\n"

    def text(self) -> str:
        out: list[str] = []
        for table, chains, rules in (
            ("filter", self.filter_chains, self.filter_rules),
            ("nat", self.nat_chains, self.nat_rules),
        ):
            order = sorted(chains, key=_chain_sort_key)
            by_chain: dict[str, list[_Rule]] = {c: [] for c in order}
            for r in rules:
                by_chain[r.chain].append(r)
            out.append(f"*{table}")
            out.extend(f":{c} - [0:0]" for c in order)
            for c in order:
                rs = by_chain[c]
                if c in ("KUBE-SERVICES", "KUBE-NODEPORTS"):
                    rs = sorted(rs, key=_rule_sort_key)
                out.extend(r.line for r in rs)
            out.append("COMMIT")
        return "\n".join(out) + "\n"


def _chain_sort_key(name: str) -> tuple[int, str]:
    if name == "KUBE-NODEPORTS":
        return (0, name)
    if name == "KUBE-SERVICES":
        return (1, name)
    return (2 if name.startswith("KUBE-") else 3, name)


def _rule_sort_key(r: _Rule) -> tuple[int, str]:
    if r.comment and "must be the last rule" in r.comment:
        return (1, "")
    return (0, r.comment or "")


class _Writer:
    """Collects rules; per-service nat output is diverted to counters when skipped."""

    def __init__(self, rs: IptablesRuleset) -> None:
        self.rs = rs
        self.skip = False

    def filt(self, chain: str, comment: str | None, *words: str) -> None:
        self.rs.filter_rules.append(_Rule(chain, comment, " ".join(("-A", chain, *words))))

    def nat(self, chain: str, comment: str | None, *words: str) -> None:
        self.rs.nat_rules.append(_Rule(chain, comment, " ".join(("-A", chain, *words))))

    def svc_nat(self, chain: str, comment: str | None, *words: str) -> None:
        if self.skip:
            self.rs.skipped_nat_rules += 1
        else:
            self.nat(chain, comment, *words)

    def svc_chain(self, name: str) -> None:
        if self.skip:
            self.rs.skipped_nat_chains += 1
        else:
            self.rs.nat_chains.append(name)


def render_iptables(
    state: ProxyState,
    options: IptablesOptions = RECENT,
    changed_services: Iterable[str] | None = None,
) -> IptablesRuleset:
    """Rules for one sync. `changed_services` (namespace/name) makes it a partial sync
    (KEP-3453): their SVC/SVL/EXT/FW/SEP chains are written, others only counted."""
    changed = None if changed_services is None else set(changed_services)
    rs = IptablesRuleset()
    w = _Writer(rs)
    o = options
    mark = o.mark
    rs.filter_chains += ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"]
    rs.nat_chains += ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    w.nat("KUBE-POSTROUTING", None, "-m", "mark", "!", "--mark", f"{mark}/{mark}", "-j", "RETURN")
    w.nat("KUBE-POSTROUTING", None, "-j", "MARK", "--xor-mark", mark)
    masq = ["-m", "comment", "--comment", _q("kubernetes service traffic requiring SNAT"), "-j", "MASQUERADE"]
    if o.random_fully:
        masq.append("--random-fully")
    w.nat("KUBE-POSTROUTING", "kubernetes service traffic requiring SNAT", *masq)
    w.nat("KUBE-MARK-MASQ", None, "-j", "MARK", "--or-mark", mark)
    if o.localhost_nodeports:
        rs.filter_chains.append("KUBE-FIREWALL")
        w.filt("KUBE-FIREWALL", "block incoming localnet connections", "-m", "comment", "--comment",
               _q("block incoming localnet connections"), "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8",
               "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")

    rs.large_cluster_mode = state.total_endpoints > o.large_cluster_threshold
    for sp in state.ports:
        w.skip = changed is not None and f"{sp.service.namespace}/{sp.service.name}" not in changed
        _render_service_port(w, sp, state, o, rs.large_cluster_mode)
    w.skip = False

    final = ["-m", "comment", "--comment", _q(NODEPORTS_LAST_COMMENT), "-m", "addrtype", "--dst-type", "LOCAL"]
    if not o.localhost_nodeports:
        final += ["!", "-d", "127.0.0.0/8"]
    w.nat("KUBE-SERVICES", NODEPORTS_LAST_COMMENT, *final, "-j", "KUBE-NODEPORTS")
    w.filt("KUBE-FORWARD", None, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
    w.filt("KUBE-FORWARD", "kubernetes forwarding rules", "-m", "comment", "--comment",
           _q("kubernetes forwarding rules"), "-m", "mark", "--mark", f"{mark}/{mark}", "-j", "ACCEPT")
    w.filt("KUBE-FORWARD", "kubernetes forwarding conntrack rule", "-m", "comment", "--comment",
           _q("kubernetes forwarding conntrack rule"), "-m", "conntrack", "--ctstate",
           "RELATED,ESTABLISHED", "-j", "ACCEPT")
    return rs


def _render_service_port(w: _Writer, sp: ProxyServicePort, state: ProxyState,
                         o: IptablesOptions, large: bool) -> None:
    name, proto = sp.name, sp.protocol
    sel = state.select(sp)
    svc_c, svl_c = svc_chain(name, proto), svl_chain(name, proto)
    ext_c, fw_c = ext_chain(name, proto), fw_chain(name, proto)
    has = sel.has_any
    uses_cluster = bool(sel.cluster) and sp.uses_cluster_endpoints
    uses_local = bool(sel.local) and sp.uses_local_endpoints
    internal_chain, has_internal = svc_c, has
    if sp.internal_local:
        internal_chain = svl_c
        has_internal = has and bool(sel.local)
    external_policy_chain, has_external = svc_c, has
    if sp.external_local:
        external_policy_chain = svl_c
        has_external = has and bool(sel.local)
    uses_ext = has and sp.externally_accessible
    uses_fw = has and bool(sp.lb_ips) and bool(sp.source_ranges)
    lb_chain = fw_c if uses_fw else ext_c

    # REJECT when nothing is usable anywhere, DROP when Local policy has no local endpoint.
    if not has:
        int_target = ext_target = "REJECT"
        int_comment = ext_comment = f"{name} has no endpoints"
    else:
        int_target = ext_target = "DROP"
        int_comment = ext_comment = f"{name} has no local endpoints"

    port = str(sp.port.port)
    match = ("-m", proto, "-p", proto)
    if has_internal:
        c = f"{name} cluster IP"
        w.nat("KUBE-SERVICES", c, "-m", "comment", "--comment", _q(c), *match, "-d", sp.cluster_ip,
              "--dport", port, "-j", internal_chain)
    else:
        w.filt("KUBE-SERVICES", int_comment, "-m", "comment", "--comment", _q(int_comment), *match,
               "-d", sp.cluster_ip, "--dport", port, "-j", int_target)
    for ip in sp.external_ips:
        if has:
            c = f"{name} external IP"
            w.nat("KUBE-SERVICES", c, "-m", "comment", "--comment", _q(c), *match, "-d", ip,
                  "--dport", port, "-j", ext_c)
        if not has_external:
            w.filt("KUBE-EXTERNAL-SERVICES", ext_comment, "-m", "comment", "--comment", _q(ext_comment),
                   *match, "-d", ip, "--dport", port, "-j", ext_target)
    for ip in sp.lb_ips:
        if has:
            c = f"{name} loadbalancer IP"
            w.nat("KUBE-SERVICES", c, "-m", "comment", "--comment", _q(c), *match, "-d", ip,
                  "--dport", port, "-j", lb_chain)
        if uses_fw:
            c = f"{name} traffic not accepted by {fw_c}"
            w.filt("KUBE-PROXY-FIREWALL", c, "-m", "comment", "--comment", _q(c), *match, "-d", ip,
                   "--dport", port, "-j", "DROP")
    if not has_external:
        for ip in sp.lb_ips:
            w.filt("KUBE-EXTERNAL-SERVICES", ext_comment, "-m", "comment", "--comment", _q(ext_comment),
                   *match, "-d", ip, "--dport", port, "-j", ext_target)
    if sp.node_port:
        np_ = str(sp.node_port)
        if has:
            if o.localhost_nodeports and o.nfacct:
                w.nat("KUBE-NODEPORTS", name, "-m", "comment", "--comment", name, *match,
                      "-d", "127.0.0.0/8", "--dport", np_, "-m", "nfacct", "--nfacct-name",
                      LOCALHOST_NODEPORTS_NFACCT, "-j", ext_c)
            w.nat("KUBE-NODEPORTS", name, "-m", "comment", "--comment", name, *match,
                  "--dport", np_, "-j", ext_c)
        if not has_external:
            w.filt("KUBE-EXTERNAL-SERVICES", ext_comment, "-m", "comment", "--comment", _q(ext_comment),
                   "-m", "addrtype", "--dst-type", "LOCAL", *match, "--dport", np_, "-j", ext_target)
    if sp.health_check_node_port:
        c = f"{name} health check node port"
        w.filt("KUBE-NODEPORTS", c, "-m", "comment", "--comment", _q(c), "-m", "tcp", "-p", "tcp",
               "--dport", str(sp.health_check_node_port), "-j", "ACCEPT")

    # Per-service nat chains; skipped (only counted) in a partial sync for unchanged services.
    if has_internal:
        c = f"{name} cluster IP"
        args = ("-m", "comment", "--comment", _q(c), *match, "-d", sp.cluster_ip, "--dport", port)
        if o.masquerade_all:
            w.svc_nat(internal_chain, c, *args, "-j", "KUBE-MARK-MASQ")
        elif o.cluster_cidr:
            w.svc_nat(internal_chain, c, *args, "!", "-s", o.cluster_cidr, "-j", "KUBE-MARK-MASQ")
    if uses_ext:
        w.svc_chain(ext_c)
        if not sp.external_local:
            c = f"masquerade traffic for {name} external destinations"
            w.svc_nat(ext_c, c, "-m", "comment", "--comment", _q(c), "-j", "KUBE-MARK-MASQ")
        else:
            if o.cluster_cidr:
                c = f"pod traffic for {name} external destinations"
                w.svc_nat(ext_c, c, "-m", "comment", "--comment", _q(c), "-s", o.cluster_cidr, "-j", svc_c)
            c = f"masquerade LOCAL traffic for {name} external destinations"
            w.svc_nat(ext_c, c, "-m", "comment", "--comment", _q(c), "-m", "addrtype", "--src-type",
                      "LOCAL", "-j", "KUBE-MARK-MASQ")
            c = f"route LOCAL traffic for {name} external destinations"
            w.svc_nat(ext_c, c, "-m", "comment", "--comment", _q(c), "-m", "addrtype", "--src-type",
                      "LOCAL", "-j", svc_c)
        if has_external:
            w.svc_nat(ext_c, None, "-j", external_policy_chain)
    if uses_fw:
        w.svc_chain(fw_c)
        c = f"{name} loadbalancer IP"
        allow_node = False
        for cidr in sp.source_ranges:
            w.svc_nat(fw_c, c, "-m", "comment", "--comment", _q(c), "-s", cidr, "-j", ext_c)
            allow_node = allow_node or _cidr_contains(cidr, state.node.ip)
        if allow_node:
            for ip in sp.lb_ips:
                w.svc_nat(fw_c, c, "-m", "comment", "--comment", _q(c), "-s", ip, "-j", ext_c)
        if o.fw_trailing_comment:
            c = f"other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL"
            w.svc_nat(fw_c, c, "-m", "comment", "--comment", _q(c))
    if uses_cluster:
        w.svc_chain(svc_c)
        _endpoint_dispatch(w, sp, svc_c, sel.cluster, large)
    if uses_local:
        w.svc_chain(svl_c)
        _endpoint_dispatch(w, sp, svl_c, sel.local, large)
    for ep in sel.all_reachable:
        sep = sep_chain(name, proto, ep.addr)
        w.svc_chain(sep)
        cm = () if large else ("-m", "comment", "--comment", name)  # large-cluster mode drops it
        w.svc_nat(sep, name, *cm, "-s", ep.ip, "-j", "KUBE-MARK-MASQ")
        aff = ("-m", "recent", "--name", sep, "--set") if sp.affinity else ()
        w.svc_nat(sep, name, *cm, *aff, *match, "-j", "DNAT", "--to-destination", ep.addr)


def _endpoint_dispatch(w: _Writer, sp: ProxyServicePort, chain: str,
                       eps: tuple[ProxyEndpoint, ...], large: bool) -> None:
    """`-m statistic` rules (writeServiceToEndpointRules), preceded by the `-m recent`
    ClientIP-affinity checks."""
    name, proto = sp.name, sp.protocol
    seps = [sep_chain(name, proto, ep.addr) for ep in eps]
    if sp.affinity:
        for ep, sep in zip(eps, seps, strict=True):
            c = f"{name} -> {ep.addr}"
            cm = () if large else ("-m", "comment", "--comment", _q(c))
            w.svc_nat(chain, c, *cm, "-m", "recent", "--name", sep, "--rcheck", "--seconds",
                      str(sp.affinity_timeout), "--reap", "-j", sep)
    n = len(eps)
    for i, (ep, sep) in enumerate(zip(eps, seps, strict=True)):
        c = f"{name} -> {ep.addr}"
        cm = () if large else ("-m", "comment", "--comment", _q(c))
        stat = ("-m", "statistic", "--mode", "random", "--probability", probability(n - i)) if i < n - 1 else ()
        w.svc_nat(chain, c, *cm, *stat, "-j", sep)


def _cidr_contains(cidr: str, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
