"""IPVS schedulers: exact choice sequences on small fixed cases (kernel ip_vs_* schedulers)."""

from __future__ import annotations

import numpy as np
import pytest

from simk8s.dataplane import TrafficSpec, simulate_traffic
from simk8s.dataplane import ipvs_schedulers as ipvs
from simk8s.dataplane.synthetic import rolling_update

POOL = (10, 11, 12)
POS = {p: k for k, p in enumerate(POOL)}


def test_round_robin_sequence_and_restart_after_removal():
    rr = ipvs.RoundRobin()
    assert [rr.pick(POOL, POS, rot=1) for _ in range(4)] == [11, 12, 10, 11]
    shrunk = (10, 12, 13)  # 11 left the list
    pos = {p: k for k, p in enumerate(shrunk)}
    assert [rr.pick(shrunk, pos, rot=1) for _ in range(3)] == [12, 13, 10]


def test_least_connection_sequence_with_closing_connections():
    lc = ipvs.LeastConnection()
    picks = []
    for t in (0.0, 1.0, 2.0, 3.0, 4.0, 5.5):
        lc.expire(t)
        p = lc.pick(POOL, rot=0)
        lc.opened(p, t + 5.0)
        picks.append(p)
    # idle servers first in list order, then the first with fewest; 10's first conn closes at 5
    assert picks == [10, 11, 12, 10, 11, 10]
    assert lc.active == {10: 2, 11: 2, 12: 1}


def test_least_connection_rotated_list_starts_elsewhere():
    lc = ipvs.LeastConnection()
    assert lc.pick(POOL, rot=2) == 12


def test_source_hash_exact_buckets():
    ips = np.array([(10 << 24) | (244 << 16) | k for k in range(8)])
    assert ipvs.hash_32(ips, 8).tolist() == [193, 35, 133, 231, 72, 170, 12, 110]
    # bucket b -> server b mod E in list order; a rotated list shifts the owner
    assert ipvs.source_hash_index(ips, np.full(8, 3), np.zeros(8, int)).tolist() == [1, 2, 1, 0, 0, 2, 0, 2]
    assert ipvs.source_hash_index(ips, np.full(8, 3), np.ones(8, int)).tolist() == [2, 0, 2, 1, 1, 0, 1, 0]
    # more than 256 servers: only 256 can ever be chosen
    many = ipvs.source_hash_index(np.arange(100_000), np.full(100_000, 400), np.zeros(100_000, int))
    assert len(np.unique(many)) <= 256


def test_dest_hash_sends_a_node_to_one_server():
    vip = ipvs.service_vip("backend")
    assert vip == 174115185
    assert ipvs.dest_hash_index(vip, np.array([3, 5]), np.array([0, 0])).tolist() == [1, 2]


def test_maglev_table_balanced_and_minimally_disrupted():
    t3 = ipvs.maglev_table((1, 2, 3))
    assert len(t3) == 251
    assert t3[:12].tolist() == [2, 0, 2, 2, 0, 2, 1, 2, 1, 1, 0, 0]
    assert np.bincount(t3).tolist() == [84, 84, 83]
    t2 = ipvs.maglev_table((1, 3))
    kept = t3 != 1  # slots not owned by the removed server 2
    assert np.mean(t2[kept] == np.where(t3[kept] == 2, 1, 0)) > 0.95


def _run(scheduler: str, duration: float = 1.0, seed: int = 3):
    ro = rolling_update(n_nodes=4, replicas=5, rng=np.random.default_rng(seed), rollout_start=1e9)
    spec = TrafficSpec(rate=200, start=0, end=5, clients=50, connection_duration=duration)
    res = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode="ipvs", ipvs_scheduler=scheduler,
                           rng=np.random.default_rng(seed))  # fmt: skip
    return ro, res


def test_rr_cycles_per_node_in_list_order():
    ro, res = _run("rr")
    pool = ro.history.initial.pod.tolist()
    for n in range(4):
        seq = res.backend[res.node == n].tolist()  # arrival order = time order
        k0 = pool.index(seq[0])
        assert seq == [pool[(k0 + j) % len(pool)] for j in range(len(seq))]


def test_unit_weight_equivalences_are_exact():
    # wrr == rr and wlc == sed == nq == lc when every weight is 1 (module docstring)
    assert np.array_equal(_run("wrr")[1].backend, _run("rr")[1].backend)
    lc = _run("lc", duration=0.3)[1].backend
    for name in ("wlc", "sed", "nq"):
        assert np.array_equal(_run(name, duration=0.3)[1].backend, lc)


def test_lc_with_light_load_prefers_the_nodes_first_server():
    # 1 ms connections: a connection leaves the node's first server only while it is busy.
    _, res = _run("lc", duration=0.001)
    for n in range(4):
        t, seq = res.t[res.node == n], res.backend[res.node == n]
        first = seq[0]
        assert np.mean(seq == first) > 0.9
        for i in np.flatnonzero(seq != first):
            busy = (seq[:i] == first) & (t[:i] > t[i] - 0.001)
            assert busy.any()


def test_sh_keeps_a_client_on_one_server_and_dh_a_node():
    _, sh = _run("sh")
    pairs = {(c, n): set() for c, n in zip(sh.client.tolist(), sh.node.tolist(), strict=True)}
    for c, n, b in zip(sh.client.tolist(), sh.node.tolist(), sh.backend.tolist(), strict=True):
        pairs[(c, n)].add(b)
    assert all(len(s) == 1 for s in pairs.values())
    _, dh = _run("dh")
    for n in range(4):
        assert len(np.unique(dh.backend[dh.node == n])) == 1


def test_unknown_scheduler_rejected():
    ro = rolling_update(n_nodes=2, replicas=2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown IPVS scheduler"):
        simulate_traffic(ro.history, ro.programming, ro.pods, TrafficSpec(rate=1, start=0, end=1),
                         mode="ipvs", ipvs_scheduler="lblc", rng=np.random.default_rng(0))  # fmt: skip


def _rr_reference(node, t, route, pools, rot_base):
    """One RoundRobin per node, connections in time order (the sequential definition)."""
    out = np.full(len(t), -1, dtype=np.int64)
    state: dict[int, ipvs.RoundRobin] = {}
    for i in np.lexsort((t, node)).tolist():
        r = int(route[i])
        if r < 0:
            continue
        pool = pools[r]
        pos = {p: k for k, p in enumerate(pool)}
        rr = state.setdefault(int(node[i]), ipvs.RoundRobin())
        out[i] = pos[rr.pick(pool, pos, int(rot_base[node[i]]) % len(pool))]
    return out


@pytest.mark.parametrize("seed", range(40))
def test_vectorized_round_robin_equals_one_scheduler_per_node(seed):
    rng = np.random.default_rng(seed)
    n_pools = int(rng.integers(1, 6))
    pools = [tuple(rng.choice(12, size=int(rng.integers(1, 8)), replace=False).tolist()) for _ in range(n_pools)]
    n = int(rng.integers(0, 300))
    node = rng.integers(0, 4, size=n).astype(np.int32)
    t = np.round(rng.random(n) * 10, 1)  # ties in time keep arrival order
    route = rng.integers(-2, n_pools, size=n)
    rot_base = rng.integers(0, 1 << 31, size=4)
    length = np.array([len(p) for p in pools], np.int64)
    start = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
    flat = np.array([p for pool in pools for p in pool], np.int32)
    got = ipvs.round_robin_indices(node, t, route, flat, start, length, rot_base)
    assert np.array_equal(got, _rr_reference(node, t, route, pools, rot_base))


def test_vectorized_round_robin_declines_pools_listing_a_pod_twice():
    got = ipvs.round_robin_indices(np.zeros(3, np.int32), np.arange(3.0), np.zeros(3, np.int64),
                                   np.array([5, 6, 5], np.int32), np.array([0]), np.array([3]), np.array([0]))  # fmt: skip
    assert got is None
