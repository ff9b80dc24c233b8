"""Exact rule and chain counts, from a ProxyState or from aggregate counts.

`iptables_rule_counts` is the closed form for the service profiles of upstream
`pkg/proxy/iptables/number_generated_rules_test.go` (kubernetes/kubernetes#110503),
`iptables_totals` the vectorized form the cost model uses over nodes (numpy arrays in,
arrays out). `count_state` renders and counts, the reference both are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike

from simk8s.proxy.iptables import IPT_NUM_2022, IptablesOptions, render_iptables
from simk8s.proxy.ipvs import render_ipvs
from simk8s.proxy.nftables import CLUSTER_IPS_CHECK_SINCE, NEWEST, Release, render_nftables
from simk8s.proxy.state import ProxyNode, ProxyState

FIXED_NAT_RULES = 5  # KUBE-POSTROUTING 3 + KUBE-MARK-MASQ 1 + final KUBE-SERVICES rule
FIXED_NAT_CHAINS = 4
FIXED_FILTER_RULES = 3  # KUBE-FORWARD
FIXED_FILTER_CHAINS = 5


@dataclass(frozen=True)
class RuleCounts:
    filter_rules: np.ndarray | int
    filter_chains: np.ndarray | int
    nat_rules: np.ndarray | int
    nat_chains: np.ndarray | int

    @property
    def restore_lines(self):
        """Lines of a full iptables-restore input (2 headers + 2 COMMITs + chains + rules)."""
        return 4 + self.filter_chains + self.filter_rules + self.nat_chains + self.nat_rules


def _fixed(localhost_nodeports: bool) -> tuple[int, int]:
    return FIXED_FILTER_RULES + int(localhost_nodeports), FIXED_FILTER_CHAINS + int(localhost_nodeports)


def iptables_rule_counts(
    n_services: int,
    endpoints_per_service: ArrayLike,
    *,
    load_balancer: bool = False,
    affinity: bool = False,
    options: IptablesOptions = IPT_NUM_2022,
) -> RuleCounts:
    """Counts for n_services single-port services (Cluster policies).

    Per port with E ≥ 1 endpoints: 2 + 3E nat rules (KUBE-SERVICES jump, SVC masquerade
    rule, E jumps, 2 per SEP chain) and 1 + E chains; E = 0: one filter REJECT.

    load_balancer=True is the upstream test's LB profile: 1 externalIP, 1 LB IP, 1 source range,
    a NodePort (and a health-check NodePort, which only matters with Local policy).
    """
    e = np.broadcast_to(np.asarray(endpoints_per_service, dtype=np.int64), (n_services,))
    has = e > 0
    aff = int(affinity)
    f_rules, f_chains = _fixed(options.localhost_nodeports)
    per_nat = 2 + (3 + aff) * e  # KUBE-SERVICES 1 + SVC masq 1 + E jumps + 2 per SEP (+E recent)
    per_chain = 1 + e
    empty_filter = 1
    full_filter = 0
    if load_balancer:
        nodeport_rules = 1 + int(options.localhost_nodeports and options.nfacct)
        fw_rules = 1 + int(options.fw_trailing_comment)
        per_nat = per_nat + 2 + nodeport_rules + 2 + fw_rules  # ext+LB jumps, NODEPORTS, EXT 2, FW
        per_chain = per_chain + 2  # EXT, FW
        empty_filter = 4  # REJECT for cluster IP, external IP, LB IP, NodePort
        full_filter = 1  # KUBE-PROXY-FIREWALL DROP for the LB IP
    return RuleCounts(
        filter_rules=int(f_rules + np.where(has, full_filter, empty_filter).sum()),
        filter_chains=f_chains,
        nat_rules=int(FIXED_NAT_RULES + np.where(has, per_nat, 0).sum()),
        nat_chains=int(FIXED_NAT_CHAINS + np.where(has, per_chain, 0).sum()),
    )


def iptables_totals(
    n_ports: ArrayLike,
    n_endpoints: ArrayLike,
    n_empty_ports: ArrayLike = 0,
    n_affinity_endpoints: ArrayLike = 0,
    *,
    localhost_nodeports: bool = False,
) -> RuleCounts:
    """Vectorized counts for ClusterIP/Cluster-policy service ports from per-node totals.

    n_ports: proxied service ports; n_endpoints: programmed endpoints summed over ports;
    n_empty_ports: ports without any usable endpoint (REJECT in filter, nothing in nat).
    Hot path: pure numpy arithmetic.
    """
    p = np.asarray(n_ports, dtype=np.int64) - np.asarray(n_empty_ports, dtype=np.int64)
    e = np.asarray(n_endpoints, dtype=np.int64)
    f_rules, f_chains = _fixed(localhost_nodeports)
    return RuleCounts(
        filter_rules=f_rules + np.asarray(n_empty_ports, dtype=np.int64),
        filter_chains=np.full_like(p, f_chains),
        nat_rules=FIXED_NAT_RULES + 2 * p + 3 * e + np.asarray(n_affinity_endpoints, dtype=np.int64),
        nat_chains=FIXED_NAT_CHAINS + p + e,
    )


def count_state(state: ProxyState, options: IptablesOptions = IPT_NUM_2022) -> RuleCounts:
    """Exact counts by rendering (reference for the closed forms)."""
    rs = render_iptables(state, options)
    return RuleCounts(rs.filter_rule_count, len(rs.filter_chains), rs.nat_rule_count, rs.nat_chain_count)


@dataclass(frozen=True)
class IpvsCounts:
    virtual_servers: int
    real_servers: int
    ipset_entries: int
    bound_addresses: int
    static_iptables_rules: int


def ipvs_counts(state: ProxyState, node_ips: tuple[str, ...] | None = None) -> IpvsCounts:
    st = render_ipvs(state, node_ips=node_ips)
    return IpvsCounts(len(st.virtual_servers), st.real_server_count, st.ipset_entry_count,
                      len(st.bound_addresses), st.static_iptables_rules)


def ipvs_totals(n_ports: ArrayLike, n_endpoints: ArrayLike, n_local_endpoints: ArrayLike = 0,
                n_external_vips: ArrayLike = 0, n_nodeport_vs: ArrayLike = 0) -> dict[str, np.ndarray]:
    """Vectorized IPVS object counts: one VS per ClusterIP port, externalIP/LB IP and
    NodePort×node IP; one real server per endpoint per ClusterIP VS (external VSs are
    counted by the caller through n_external_vips × their endpoints, if needed)."""
    p = np.asarray(n_ports, dtype=np.int64)
    return {
        "virtual_servers": p + np.asarray(n_external_vips) + np.asarray(n_nodeport_vs),
        "real_servers": np.asarray(n_endpoints, dtype=np.int64),
        "ipset_entries": p + np.asarray(n_local_endpoints, dtype=np.int64) + np.asarray(n_external_vips),
    }


@dataclass(frozen=True)
class NftCounts:
    chains: int
    rules: int
    elements: int
    sets_and_maps: int


def nftables_counts(state: ProxyState, release: Release = NEWEST) -> NftCounts:
    t = render_nftables(state, release=release)
    return NftCounts(len(t.chains), t.rule_count, t.element_count, len(t.maps) + len(t.sets))


def nftables_totals(n_ports: ArrayLike, n_endpoints: ArrayLike, n_empty_ports: ArrayLike = 0,
                    release: Release = NEWEST) -> dict[str, np.ndarray]:
    """Vectorized nftables counts for ClusterIP/Cluster-policy ports (matches `nftables_counts`
    in `release`): per port with endpoints 1 service chain (masq rule + numgen vmap), 1
    service-ips element; per endpoint 1 chain with 2 rules; per empty port 1
    no-endpoint-services element; from 1.30 every port adds its ClusterIP to the cluster-ips
    set (kubernetes/kubernetes#122692). The fixed chains and rules are the release's own
    (`nft_fixed`)."""
    p_all = np.asarray(n_ports, dtype=np.int64)
    empty = np.asarray(n_empty_ports, dtype=np.int64)
    p = p_all - empty
    e = np.asarray(n_endpoints, dtype=np.int64)
    fixed_chains, fixed_rules = nft_fixed(release)
    cluster_ips = p_all if release >= CLUSTER_IPS_CHECK_SINCE else 0
    return {
        "chains": fixed_chains + p + e,
        "rules": fixed_rules + 2 * p + 2 * e,
        "elements": p + empty + cluster_ips,
    }


@cache
def nft_fixed(release: Release = NEWEST) -> tuple[int, int]:
    """(chains, rules) of kube-proxy's table with no Service in `release`: the base chains and
    their jumps (simk8s/proxy/nftables.py `base_chains`) and the shared helper chains."""
    table = render_nftables(ProxyState(ProxyNode("node-0")), release=release)
    return len(table.chains), table.rule_count
