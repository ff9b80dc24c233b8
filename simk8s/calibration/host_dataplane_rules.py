"""Node rulesets for the first-packet latency run (`simk8s calibrate --dataplane`).

N ClusterIP Services of one TCP port (172.16.0.0/12, as host_rulesets), one endpoint each at
10.0.0.1 + i, all served by one listener in the server namespace (which owns 10.0.0.0/8 as
local addresses). The rules are the renderers' own (simk8s.proxy.iptables / nftables).

Loading: one 30k-Service restore takes minutes on iptables-nft 1.8.9 and nft 1.0.6 (both grow
faster than linearly in what one run writes; docs/host-calibration.md), so the ruleset is
rendered and loaded in chunks of Services: the first chunk is the whole ruleset of its
Services, later chunks only add their Services' chains, rules and map elements, and the rule
kube-proxy keeps last in KUBE-SERVICES is appended at the end. The kernel then holds the rules
one full restore would write, in the same order (tests/test_host_dataplane.py reads both back).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from simk8s.api.objects import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from simk8s.proxy.iptables import render_iptables
from simk8s.proxy.nftables import render_nftables
from simk8s.proxy.state import ProxyNode, ProxyState

CLIENT_IP = "192.168.0.2"  # the node: the client namespace's end of the veth
SERVER_IP = "192.168.0.3"  # the other end; 10.0.0.0/8 is routed to it
NET_PREFIX = 24
CLUSTER_CIDR = "10.0.0.0/8"  # pod addresses: every endpoint, all local to the server namespace
SERVICE_PORT = 80
TARGET_PORT = 8080
NODE = ProxyNode("dataplane-node", ip=CLIENT_IP)
CHUNK = 2000  # Services per restore / transaction
_SERVICE_BASE = int(ipaddress.ip_address("172.16.0.0"))
_POD_BASE = int(ipaddress.ip_address("10.0.0.1"))

# The jumps kube-proxy keeps in the built-in chains on the client's path (pkg/proxy/iptables/
# proxier.go `iptablesJumpChains`, ensured by `syncProxyRules`). Simplification: the jumps on
# other paths (PREROUTING, INPUT, FORWARD) are not installed; this traffic never meets them.
IPTABLES_JUMPS = (
    ("filter", "OUTPUT", "-m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"),
    ("nat", "OUTPUT", "-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"),
    ("nat", "POSTROUTING", "-m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"),
)


def service_ip(i: int) -> str:
    return str(ipaddress.ip_address(_SERVICE_BASE + i))


def endpoint_ip(i: int) -> str:
    return str(ipaddress.ip_address(_POD_BASE + i))


def state(first: int, count: int) -> ProxyState:
    """Services first .. first+count-1 (names sort in index order)."""
    services, slices = [], []
    port = (ServicePort(port=SERVICE_PORT, name="p"),)
    for s in range(first, first + count):
        name = f"svc-{s:06d}"
        services.append(Service(name=name, namespace="dp", cluster_ip=service_ip(s), ports=port))
        slices.append(EndpointSlice(
            name=f"{name}-1", namespace="dp", labels=(("kubernetes.io/service-name", name),),
            ports=(EndpointPort(port=TARGET_PORT, name="p", protocol="TCP"),),
            endpoints=(Endpoint((endpoint_ip(s),), node_name="other-node"),)))
    return ProxyState.from_slices(NODE, services, slices)


def _ranges(services: int, chunk: int) -> Iterator[tuple[int, int]]:
    for first in range(0, services, chunk):
        yield first, min(chunk, services - first)


_IPT_OWN = re.compile(r"^(:KUBE-(SVC|SEP|SVL|EXT|FW)-|-A KUBE-(SVC|SEP|SVL|EXT|FW)-)")
_NODEPORTS_LAST = re.compile(r"^-A KUBE-SERVICES .*-j KUBE-NODEPORTS$")


def iptables_chunks(services: int, chunk: int = CHUNK) -> list[str]:
    """iptables-restore --noflush inputs; together they write one full sync's rules."""
    out: list[str] = []
    last_rule = ""
    for first, count in _ranges(services, chunk):
        text = render_iptables(state(first, count)).restore_input()
        kept = []
        for line in text.splitlines():
            if _NODEPORTS_LAST.match(line):
                last_rule = line
            elif not out or line.startswith(("*", "COMMIT")) or _IPT_OWN.match(line) or (
                    line.startswith("-A KUBE-SERVICES ") and "-j KUBE-SVC-" in line):
                kept.append(line)
        out.append("\n".join(kept) + "\n")
    jumps = "".join(f"*{table}\n-I {chain} {rule}\nCOMMIT\n" for table, chain, rule in IPTABLES_JUMPS)
    out.append(f"*nat\n{last_rule}\nCOMMIT\n" + jumps)
    return out


def _nft_own(line: str) -> bool:
    words = line.split()
    if line.startswith("add element "):
        return True
    # per-Service chains are named service-HASH-ns/name/proto/port and endpoint-HASH-...
    return len(words) > 4 and words[0] in ("add", "flush") and words[1] in ("chain", "rule") and "/" in words[4]


def nftables_chunks(services: int, chunk: int = CHUNK) -> list[str]:
    """nft -f inputs; together they write one full transaction's table."""
    out: list[str] = []
    for first, count in _ranges(services, chunk):
        text = render_nftables(state(first, count), CLUSTER_CIDR).transaction()
        out.append(text if not out else "".join(ln + "\n" for ln in text.splitlines() if _nft_own(ln)))
    return out


@dataclass(frozen=True)
class Target:
    """A Service connected to: its place in iptables' KUBE-SERVICES (1-based) and addresses."""

    label: str  # first, middle, last
    index: int  # Service index
    rank: int  # position of its rule in KUBE-SERVICES
    vip: str
    endpoint: str


def targets(services: int) -> tuple[Target, ...]:
    """First, middle and last Service of the chain. The renderer writes KUBE-SERVICES in
    Service order, so the rank is the index + 1 (checked against the rendered text by the tests).
    Simplification: kube-proxy writes them in Go map order (a new order every sync); a fixed
    rank is what lets the run time a known position."""
    picks = (("first", 0), ("middle", (services - 1) // 2), ("last", services - 1))
    return tuple(Target(label, i, i + 1, service_ip(i), endpoint_ip(i)) for label, i in picks)
