"""The renderers against the real tools: rulesets load into `iptables-restore` (nf_tables
backend) and `nft -f` in a throwaway network namespace (`unshare -n`), are read back with
`iptables-save` / `nft list table`, and must equal the renderer's own listing.

Checked with iptables v1.8.9 (nf_tables) and nftables v1.0.6 (Debian 12), kernel of the CI
runner. The nft input uses numeric base-chain priorities as knftables writes them
(sigs.k8s.io/knftables objects.go `Chain.writeOperation`, since v0.0.12): nft 1.0.6 refuses
`priority dstnat` in the output hook ("invalid priority expression value in this context";
accepted from nft 1.0.9 on). nft prints priorities back by name where the hook has one, and
which hooks have names differs between nft versions, so priorities are compared as numbers.

IPVS is not checked here: this kernel has no IPVS (`ipvsadm`: "Protocol not available"); its
rendering is covered by its golden tests (tests/test_proxy_renderers.py). Needs root,
`unshare` and the Debian packages iptables, nftables and nfacct (scripts/netfilter-tools installs them);
skipped otherwise, naming what is missing.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from simk8s.api.objects import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from simk8s.calibration.host_timing import missing_privileges
from simk8s.pipeline import run_variant
from simk8s.proxy.inspect import node_state
from simk8s.proxy.iptables import LOCALHOST_NODEPORTS_NFACCT, IptablesOptions, render_iptables
from simk8s.proxy.nftables import render_nftables
from simk8s.proxy.state import ProxyNode, ProxyState
from simk8s.scenario import load_scenario, load_variants

SCENARIOS = Path(__file__).parent.parent / "scenarios"
TOOLS = ("unshare", "iptables-restore", "iptables-save", "nft", "nfacct")


def _missing() -> str | None:
    return missing_privileges(TOOLS)


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _netns(tmp_path: Path, steps: list[tuple[str, str | None]]) -> str:
    """Run shell commands in one fresh network namespace; (command, stdin text) pairs; the
    last command's stdout is returned."""
    lines = ["set -e"]
    for i, (cmd, stdin) in enumerate(steps):
        if stdin is not None:
            (tmp_path / f"in{i}").write_text(stdin)
            cmd = f"{cmd} < {shlex.quote(str(tmp_path / f'in{i}'))}"
        lines.append(cmd)
    done = subprocess.run(["unshare", "-n", "sh", "-c", "\n".join(lines)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


# ---- states: the shipped scenarios, and the shapes no scenario has -------------------------


# Every scenario also gets a few background Services, so that `--all` and partial syncs have
# Services that do not change.
BACKGROUND = ("background.services=6", "background.endpointsPerService=3")


@functools.cache
def _run(path: str, variant: str):
    scenario = dict(load_variants(load_scenario(SCENARIOS / path, BACKGROUND)))[variant]
    result = run_variant(scenario, variant, stages=("cluster", "watch", "proxy"))
    return scenario, result


def scenario_state(path: str, variant: str, node: str, at: float, all_services: bool = True) -> tuple[str, ProxyState]:
    scenario, result = _run(path, variant)
    _, state = node_state(result.fleet, scenario, result.cluster.world, node, at, all_services)
    return str(scenario.cluster.cluster_cidr), state


NODE = ProxyNode("node1", ip="192.168.0.2")


def _slice(svc: str, ips, node=None, port=80, protocol="TCP", **cond) -> EndpointSlice:
    return EndpointSlice(name=f"{svc}-1", namespace="ns", labels=(("kubernetes.io/service-name", svc),),
                         ports=(EndpointPort(port=port, name="p", protocol=protocol),),
                         endpoints=tuple(Endpoint((ip,), node_name=node, **cond) for ip in ips))


def shapes_state() -> ProxyState:
    """ClientIP affinity, LoadBalancer source ranges, Local policies, no endpoints, UDP."""
    p = (ServicePort(port=80, name="p"),)
    np_ = (ServicePort(port=80, name="p", node_port=30080),)
    services = [
        Service(name="aff", namespace="ns", cluster_ip="172.30.0.10", ports=p, session_affinity="ClientIP"),
        Service(name="lb", namespace="ns", type="LoadBalancer", cluster_ip="172.30.0.11", ports=np_,
                load_balancer_ips=("1.2.3.4",), load_balancer_source_ranges=("203.0.113.0/25", "192.168.0.0/24")),
        Service(name="loc", namespace="ns", type="NodePort", cluster_ip="172.30.0.12", external_traffic_policy="Local",
                internal_traffic_policy="Local", ports=(ServicePort(port=80, name="p", node_port=30081),),
                external_ips=("192.168.99.1",)),
        Service(name="none", namespace="ns", type="NodePort", cluster_ip="172.30.0.13",
                ports=(ServicePort(port=80, name="p", node_port=30082),)),
        Service(name="dns", namespace="ns", cluster_ip="172.30.0.14", ports=(ServicePort(port=53, name="p", protocol="UDP"),)),
    ]
    slices = [
        _slice("aff", ["10.180.0.1", "10.180.0.2", "10.180.0.3"]),
        _slice("lb", ["10.180.1.1"], node="other"),
        _slice("loc", ["10.180.2.1", "10.180.2.2"], node="node1"),
        _slice("dns", ["10.180.3.1", "10.180.3.2"], port=53, protocol="UDP"),
    ]
    return ProxyState.from_slices(NODE, services, slices)


# ---- read-back normalisation ---------------------------------------------------------------

_BUILTIN = {"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"}
_BASE_OPTS = {"-s", "-d", "-p", "-i", "-o"}


def _canon_rule(line: str) -> tuple:
    """One `-A` rule as (chain, base options, [(module, options)], target): the forms
    iptables-save reorders (`-p`/`-s`/`-d` first) or spells differently."""
    words = shlex.split(line)
    chain, words = words[1], words[2:]
    base: set[tuple[str, ...]] = set()
    modules: list[tuple[str, tuple[str, ...]]] = []
    target: tuple[str, ...] = ()
    cur: list[str] | None = None
    i = 0
    while i < len(words):
        neg = words[i] == "!" and i + 1 < len(words) and words[i + 1] in _BASE_OPTS
        if neg or words[i] in _BASE_OPTS:
            opt, val = words[i + neg], words[i + neg + 1]
            if opt in ("-s", "-d"):
                val = str(ipaddress.ip_network(val, strict=False))
            base.add(("!",) * neg + (opt, val))
            i += 2 + neg
            continue
        if words[i] == "-m":
            if modules and modules[-1][0] == words[i + 1]:  # `-p tcp -m tcp` vs `-m tcp -p tcp`
                i += 2
                continue
            modules.append((words[i + 1], ()))
            cur = []
            modules[-1] = (words[i + 1], cur)  # type: ignore[assignment]
            i += 2
            continue
        if words[i] == "-j":
            target = tuple(words[i + 1:])
            break
        assert cur is not None, line
        cur.append(words[i])
        i += 1
    mods = tuple((m, _canon_opts(m, tuple(o))) for m, o in modules)
    return chain, frozenset(base), mods, _canon_target(target)


def _canon_opts(module: str, opts: tuple[str, ...]) -> tuple[str, ...]:
    if module == "statistic" and "--probability" in opts:
        # What the kernel stores: lround(p * 2^31) (libxt_statistic); save prints it back %.11f.
        k = opts.index("--probability")
        opts = (*opts[:k + 1], str(round(float(opts[k + 1]) * 0x80000000)), *opts[k + 2:])
    if module == "recent":  # save adds the defaults and puts --set/--rcheck first
        opts = tuple(sorted(" ".join(opts).replace("--mask 255.255.255.255", "").replace("--rsource", "").split()))
    return opts


def _canon_target(target: tuple[str, ...]) -> tuple[str, ...]:
    if target == ("REJECT",):
        return ("REJECT", "--reject-with", "icmp-port-unreachable")  # the default, printed
    if target[:2] == ("MARK", "--or-mark"):
        return ("MARK", "--set-xmark", f"{target[2]}/{target[2]}")
    if target[:2] == ("MARK", "--xor-mark"):
        return ("MARK", "--set-xmark", f"{target[2]}/0x0")
    return target


def iptables_chains(text: str) -> dict[tuple[str, str], list[tuple]]:
    """{(table, chain): [canonical rules]} of an iptables-save / restore text; built-in
    chains left out when empty (kube-proxy's jumps into them are not part of the restore)."""
    out: dict[tuple[str, str], list[tuple]] = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            out.setdefault((table, line[1:].split()[0]), [])
        elif line.startswith("-A "):
            rule = _canon_rule(line)
            out[(table, rule[0])].append(rule)
    return {k: v for k, v in out.items() if k[1] not in _BUILTIN or v}


def _sorted_like_upstream_test(chains: dict[tuple[str, str], list[tuple]], text: str) -> None:
    """KUBE-SERVICES / KUBE-NODEPORTS by comment, as `text()` (and upstream's test helper)."""
    for key, rules in chains.items():
        if key[1] in ("KUBE-SERVICES", "KUBE-NODEPORTS"):
            rules.sort(key=lambda r: (any("must be the last rule" in " ".join(o) for _, o in r[2]),
                                      next((o[1] for m, o in r[2] if m == "comment"), "")))


_PRIORITIES = {"dstnat - 10": "-110", "dstnat": "-100", "srcnat": "100"}


def nft_objects(text: str) -> dict[tuple[str, str], tuple[tuple[str, ...], frozenset[str]]]:
    """{(kind, name): (lines, elements)} of an `nft list table` text; elements as a set (nft
    keeps its own order), priorities as numbers."""
    out: dict[tuple[str, str], tuple[tuple[str, ...], frozenset[str]]] = {}
    body: list[str] = []
    key: tuple[str, str] | None = None
    for line in text.splitlines():
        m = re.fullmatch(r"\t(chain|set|map) (\S+) \{", line)
        if m:
            key, body = (m[1], m[2]), []
        elif line == "\t}" and key is not None:
            joined = "\n".join(body)
            elems: frozenset[str] = frozenset()
            em = re.search(r"elements = \{ (.*?) \}$", joined, re.S)
            if em:
                elems = frozenset(e.strip() for e in em[1].replace("\n", " ").split(","))
                joined = joined[:em.start()]
            lines = []
            for x in joined.splitlines():
                x = x.strip()
                pm = re.match(r"(type \w+ hook \w+ priority )([^;]+);", x)
                if pm:
                    x = pm[1] + _PRIORITIES.get(pm[2], pm[2]) + x[pm.end() - 1:]
                if x:
                    lines.append(x)
            out[key] = (tuple(lines), elems)
            key = None
        elif key is not None:
            body.append(line)
    return out


def _iptables_readback(tmp_path: Path, *restores: str) -> str:
    # The localhost-NodePort rule counts into an nfacct object that kube-proxy creates at
    # start-up (NewProxier, pkg/proxy/iptables/proxier.go); without it the rule is refused.
    steps: list[tuple[str, str | None]] = [(f"nfacct add {LOCALHOST_NODEPORTS_NFACCT}", None)]
    steps += [("iptables-restore --noflush", r) for r in restores]
    return _netns(tmp_path, [*steps, ("iptables-save", None)])


def _nft_readback(tmp_path: Path, *transactions: str) -> str:
    steps: list[tuple[str, str | None]] = [("nft -f -", t) for t in transactions]
    return _netns(tmp_path, [*steps, ("nft list table ip kube-proxy", None)])


def assert_iptables_equal(readback: str, listing: str) -> None:
    got, want = iptables_chains(readback), iptables_chains(listing)
    _sorted_like_upstream_test(got, readback)
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key


def assert_nft_equal(readback: str, listing: str) -> None:
    got, want = nft_objects(readback), nft_objects(listing)
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key
    assert readback.splitlines()[1] == listing.splitlines()[1]  # the table comment


# ---- the tests -------------------------------------------------------------------------------

CASES = [
    ("quick.yaml", "slices-iptables", "node-0", 90.0),
    ("quick.yaml", "endpoints-iptables", "node-3", 75.0),
    ("service-nodeport.yaml", None, "node-0", 70.0),
    ("service-loadbalancer.yaml", None, "node-1", 70.0),
    ("service-externalips.yaml", None, "node-0", 70.0),
    ("service-named-ports.yaml", None, "node-0", 70.0),
    ("service-protocols.yaml", None, "node-0", 70.0),
    ("service-headless.yaml", None, "node-0", 70.0),
    ("service-selectorless.yaml", None, "node-0", 70.0),
    ("service-externalname.yaml", None, "node-0", 70.0),
]


def _variants(path: str, variant: str | None) -> list[str]:
    if variant is not None:
        return [variant]
    return [name for name, _ in load_variants(load_scenario(SCENARIOS / path))]


@pytest.mark.parametrize("path,variant,node,at", CASES)
def test_iptables_full_sync_reads_back_as_rendered(tmp_path, path, variant, node, at):
    for name in _variants(path, variant):
        cidr, state = scenario_state(path, name, node, at)
        rs = render_iptables(state, IptablesOptions(cluster_cidr=cidr))
        readback = _iptables_readback(tmp_path, rs.restore_input())
        assert_iptables_equal(readback, rs.text())


@pytest.mark.parametrize("path,variant,node,at", CASES)
def test_nftables_full_sync_reads_back_as_rendered(tmp_path, path, variant, node, at):
    for name in _variants(path, variant):
        cidr, state = scenario_state(path, name, node, at)
        table = render_nftables(state, cluster_cidr=cidr)
        readback = _nft_readback(tmp_path, table.transaction())
        assert_nft_equal(readback, table.listing())


def test_shapes_no_scenario_has_read_back_as_rendered(tmp_path):
    state = shapes_state()
    rs = render_iptables(state)
    assert_iptables_equal(_iptables_readback(tmp_path, rs.restore_input()), rs.text())
    table = render_nftables(state)
    assert_nft_equal(_nft_readback(tmp_path, table.transaction()), table.listing())


def _rollout_states() -> tuple[str, ProxyState, ProxyState, set[str]]:
    """node-0 of quick.yaml before and during the rollout, and the Services that changed."""
    cidr, before = scenario_state("quick.yaml", "slices-iptables", "node-0", 30.0)
    _, during = scenario_state("quick.yaml", "slices-iptables", "node-0", 75.0)
    old = {sp.name: sp for sp in before.ports}
    changed = {f"{sp.service.namespace}/{sp.service.name}" for sp in during.ports if old.get(sp.name) != sp}
    assert changed == {"default/web"}  # the rollout moved endpoints; the background stayed
    assert len(during.ports) == 7
    return cidr, before, during, changed


def test_iptables_partial_sync_lands_on_the_full_ruleset(tmp_path):
    """KEP-3453: a full restore, then a --noflush restore declaring only the changed Service's
    chains (and deleting its stale ones) reads back as a full sync of the new state."""
    cidr, before, during, changed = _rollout_states()
    o = IptablesOptions(cluster_cidr=cidr)
    full_before, full_during = render_iptables(before, o), render_iptables(during, o)
    partial = render_iptables(during, o, changed_services=changed)
    assert partial.skipped_nat_chains > 0
    stale = set(full_before.nat_chains) - set(full_during.nat_chains)
    assert stale  # SEP chains of the replaced pods
    readback = _iptables_readback(tmp_path, full_before.restore_input(), partial.restore_input(sorted(stale)))
    assert_iptables_equal(readback, full_during.text())


def test_nftables_partial_sync_lands_on_the_full_table(tmp_path):
    _, before, during, _ = _rollout_states()
    t_before, t_during = render_nftables(before), render_nftables(during)
    delta = t_during.transaction(previous=t_before)
    assert "background/" not in delta and not delta.startswith("add table")  # only web's objects
    readback = _nft_readback(tmp_path, t_before.transaction(), delta)
    assert_nft_equal(readback, t_during.listing())


# ---- the base chains of each release ----------------------------------------------------------


@pytest.mark.parametrize("release", [(1, 29), (1, 30), (1, 36)])
def test_each_releases_base_chains_read_back_as_rendered(tmp_path, release):
    table = render_nftables(shapes_state(), release=release)
    assert_nft_equal(_nft_readback(tmp_path, table.transaction()), table.listing())


_CONNECT = """
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("10.180.0.1", 8080)); srv.listen(4)
for port in (80, 81):
    c = socket.socket(); c.settimeout(5)
    try:
        c.connect(("172.30.0.41", port)); print(port, "connected")
    except OSError as err:
        print(port, type(err).__name__)
"""


def test_a_node_connection_to_a_clusterip_is_dnated_before_cluster_ips_check(tmp_path):
    """The node itself connects to a ClusterIP: its live port reaches the endpoint (DNAT runs at
    -100, before filter-output-post-dnat's cluster-ips-check at -90); a port the Service lacks
    is rejected there (kubernetes/kubernetes#122692)."""
    svc = Service(name="svc", namespace="ns", cluster_ip="172.30.0.41", ports=(ServicePort(port=80, name="p"),))
    sl = EndpointSlice(name="svc-1", namespace="ns", labels=(("kubernetes.io/service-name", "svc"),),
                       ports=(EndpointPort(port=8080, name="p"),), endpoints=(Endpoint(("10.180.0.1",)),))
    table = render_nftables(ProxyState.from_slices(ProxyNode("node1", ip="10.180.0.2"), [svc], [sl]),
                            cluster_cidr="10.0.0.0/8")
    (tmp_path / "connect.py").write_text(_CONNECT)
    out = _netns(tmp_path, [
        ("ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up", None),
        ("ip addr add 10.180.0.1/32 dev v0 && ip addr add 10.180.0.2/32 dev v0", None),
        ("ip route add 172.30.0.0/16 dev v0 src 10.180.0.2", None),  # the node's route to the ClusterIPs
        ("nft -f -", table.transaction()),
        (f"{shlex.quote(sys.executable)} {shlex.quote(str(tmp_path / 'connect.py'))}", None),
    ])
    assert out.split("\n")[:2] == ["80 connected", "81 ConnectionRefusedError"]
