"""Candidate endpoints per node (CategorizeEndpoints, pkg/proxy/topology.go) and the uniform pick."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simk8s.dataplane.inputs import EndpointVersion, PodTable
from simk8s.dataplane.selection import (
    ROUTE_DROPPED,
    ROUTE_REFUSED,
    assign_pools,
    iptables_statistic_chain,
    reference_candidates,
    statistic_chain_probabilities,
    uniform_index,
)

# 6 pods: pod i on node i % 3, node n in zone n.
PODS = PodTable(
    node=np.array([0, 1, 2, 0, 1, 2], np.int32),
    zone=np.array([0, 1, 2, 0, 1, 2], np.int16),
    serving_from=np.zeros(6),
    serving_until=np.full(6, np.inf),
)
NODE_ZONE = np.array([0, 1, 2], np.int64)


def pools_for(version: EndpointVersion, nodes: list[int], **kw) -> list[tuple[int, list[int]]]:
    """Fast path, one connection per node: (route code or 0, candidate pods)."""
    node = np.asarray(nodes, np.int32)
    route, pools = assign_pools([version], np.zeros(len(nodes), np.int32), node, NODE_ZONE[node], 3, **kw)
    return [(int(r), []) if r < 0 else (0, pools.members(int(r)).tolist()) for r in route]


def test_statistic_chain_is_exactly_uniform():
    # computeProbability: p_i = 1/(E-i) then an unconditional rule gives every endpoint 1/E.
    for e in range(1, 12):
        assert statistic_chain_probabilities(e) == [Fraction(1, e)] * e


def test_iptables_frequencies_converge_to_one_over_e():
    rng = np.random.default_rng(1234)
    e, n = 7, 70_000
    for draw in (uniform_index, iptables_statistic_chain):
        counts = np.bincount(draw(np.full(n, e), rng), minlength=e)
        chi2 = float(np.sum((counts - n / e) ** 2 / (n / e)))
        assert counts.sum() == n
        assert chi2 < 22.46  # chi-square, 6 dof, p = 0.001


def test_chain_emulation_matches_uniform_pick_in_law():
    rng = np.random.default_rng(99)
    lengths = rng.integers(1, 9, size=40_000)
    a = iptables_statistic_chain(lengths, rng)
    b = uniform_index(lengths, rng)
    assert np.all((a >= 0) & (a < lengths)) and np.all((b >= 0) & (b < lengths))
    # Same mean relative position (uniform on {0..E-1} has mean (E-1)/2).
    assert abs(float(np.mean(a - (lengths - 1) / 2))) < 0.03
    assert abs(float(np.mean(b - (lengths - 1) / 2))) < 0.03
    # E = 1: the single unconditional rule.
    assert iptables_statistic_chain(np.array([1, 1]), rng).tolist() == [0, 0]


def test_no_endpoints_is_refused_and_empty_pool_never_chosen():
    empty = EndpointVersion.empty()
    assert pools_for(empty, [0, 1], use_local=False) == [(ROUTE_REFUSED, [])] * 2
    assert pools_for(empty, [0], use_local=True) == [(ROUTE_REFUSED, [])]
    not_ready = EndpointVersion.of_pods(PODS, [0, 1], ready=[False, False], serving=[False, False])
    assert pools_for(not_ready, [0], use_local=False) == [(ROUTE_REFUSED, [])]


def test_kep1669_terminating_fallback_only_when_nothing_ready():
    both = EndpointVersion.of_pods(
        PODS, [0, 1, 2], ready=[True, False, False], serving=[True, True, True], terminating=[False, True, True]
    )
    assert pools_for(both, [1], use_local=False) == [(0, [0])]
    all_term = EndpointVersion.of_pods(
        PODS, [0, 1, 2], ready=[False] * 3, serving=[True, True, False], terminating=[True] * 3
    )
    assert pools_for(all_term, [0, 2], use_local=False) == [(0, [0, 1]), (0, [0, 1])]


def test_local_policy_ready_then_terminating_then_drop():
    v = EndpointVersion.of_pods(
        PODS,
        [0, 3, 1, 4],  # node 0: pods 0, 3; node 1: pods 1, 4; node 2: none
        ready=[True, False, False, False],
        serving=[True, True, True, False],
        terminating=[False, True, True, True],
    )
    got = pools_for(v, [0, 1, 2], use_local=True)
    assert got[0] == (0, [0])  # local ready wins over local terminating
    assert got[1] == (0, [1])  # no local ready: local serving+terminating (pod 4 not serving)
    assert got[2] == (ROUTE_DROPPED, [])  # nothing local: DROP, not REJECT


def test_topology_hints_same_zone_and_fallbacks():
    hinted = EndpointVersion.of_pods(PODS, [0, 1, 3], hints=True)  # zones 0, 1, 0
    assert pools_for(hinted, [0, 1, 2], use_local=False) == [(0, [0, 3]), (0, [1]), (0, [0, 1, 3])]
    # One Ready endpoint without a hint disables hints everywhere.
    partial = EndpointVersion(**{**hinted.__dict__, "hint_zone": np.array([0, -1, 0], np.int16)})
    assert pools_for(partial, [0], use_local=False) == [(0, [0, 1, 3])]
    # Local policy takes precedence over hints.
    assert pools_for(hinted, [1], use_local=True) == [(0, [1])]
    # PreferSameNode: the node's own endpoints first, else zone hints.
    assert pools_for(hinted, [0, 2], use_local=False, traffic_distribution="PreferSameNode") == [
        (0, [0, 3]),
        (0, [0, 1, 3]),
    ]


@st.composite
def versions(draw):
    e = draw(st.integers(0, 6))
    pods = draw(st.lists(st.integers(0, 5), min_size=e, max_size=e, unique=True))
    state = draw(st.lists(st.sampled_from(["ready", "term-serving", "term", "unready"]), min_size=e, max_size=e))
    hints = draw(st.sampled_from(["none", "all", "some"]))
    v = EndpointVersion.of_pods(
        PODS,
        pods,
        ready=[s == "ready" for s in state],
        serving=[s in ("ready", "term-serving") for s in state],
        terminating=[s.startswith("term") for s in state],
        hints=hints != "none",
    )
    if hints == "some" and e:
        hz = v.hint_zone.copy()
        hz[draw(st.integers(0, e - 1))] = -1
        v = EndpointVersion(**{**v.__dict__, "hint_zone": hz})
    return v


@settings(max_examples=150, deadline=None)
@given(
    vs=st.lists(versions(), min_size=1, max_size=4),
    use_local=st.booleans(),
    dist=st.sampled_from([None, "PreferSameZone", "PreferSameNode"]),
    conns=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=30),
    fallback=st.booleans(),
)
def test_fast_pools_equal_reference(vs, use_local, dist, conns, fallback):
    vid = np.array([min(c[0], len(vs) - 1) for c in conns], np.int32)
    node = np.array([c[1] for c in conns], np.int32)
    route, pools = assign_pools(vs, vid, node, NODE_ZONE[node], 3, use_local=use_local, traffic_distribution=dist,
                                terminating_fallback=fallback)  # fmt: skip
    for i in range(len(conns)):
        code, cands = reference_candidates(
            vs[vid[i]], int(node[i]), int(NODE_ZONE[node[i]]), use_local=use_local, traffic_distribution=dist,
            terminating_fallback=fallback,
        )
        if code:
            assert route[i] == code
        else:
            assert route[i] >= 0
            assert pools.members(int(route[i])).tolist() == cands


def test_without_proxy_terminating_endpoints_terminating_pods_are_never_used():
    """ProxyTerminatingEndpoints off (≤ 1.25, KEP-1669 alpha): no Serving+Terminating fallback,
    and such endpoints do not count as "any endpoint" either: REJECT rather than DROP."""
    v = EndpointVersion.of_pods(PODS, [0, 1], ready=[False, False], serving=[True, True], terminating=[True, True])
    assert pools_for(v, [0, 2], use_local=False) == [(0, [0, 1]), (0, [0, 1])]
    assert pools_for(v, [0, 2], use_local=False, terminating_fallback=False) == [(ROUTE_REFUSED, [])] * 2
    assert pools_for(v, [0, 2], use_local=True) == [(0, [0]), (ROUTE_DROPPED, [])]
    assert pools_for(v, [0, 2], use_local=True, terminating_fallback=False) == [(ROUTE_REFUSED, [])] * 2
    # A Ready endpoint is used either way.
    mixed = EndpointVersion.of_pods(PODS, [0, 1], ready=[True, False], serving=[True, True], terminating=[False, True])
    assert pools_for(mixed, [1], use_local=False, terminating_fallback=False) == [(0, [0])]
