"""ClientIP session affinity per mode (iptables `-m recent`, nftables affinity sets, IPVS persistence)."""

from __future__ import annotations

import numpy as np
import pytest

from simk8s.dataplane import TrafficSpec, simulate_traffic
from simk8s.dataplane.affinity import XT_RECENT_LIST_SIZE, Persistence, RecentLists
from simk8s.dataplane.synthetic import rolling_update

POS = {10: 0, 11: 1, 12: 2}


def test_recent_lists_stick_until_timeout_then_release():
    lists = RecentLists(timeout=10.0, capacity=XT_RECENT_LIST_SIZE)
    assert lists.lookup(1, POS, 0.0) is None
    lists.record(1, 11, 0.0, 1.0)
    assert lists.lookup(1, POS, 9.9) == 11
    lists.record(1, 11, 9.9, 1.0)  # --set refreshes the stamp
    assert lists.lookup(1, POS, 19.0) == 11
    assert lists.lookup(1, POS, 20.0) is None  # 10 s after the last connection
    assert lists.lookup(1, {10: 0, 12: 1}, 15.0) is None  # endpoint left the programmed set


def test_recent_lists_first_matching_endpoint_in_rule_order_wins():
    lists = RecentLists(timeout=100.0, capacity=None)
    lists.record(7, 12, 0.0, 1.0)
    lists.record(7, 10, 1.0, 1.0)
    assert lists.lookup(7, POS, 2.0) == 10


def test_xt_recent_capacity_evicts_least_recently_seen():
    lists = RecentLists(timeout=1e9, capacity=XT_RECENT_LIST_SIZE)
    for c in range(XT_RECENT_LIST_SIZE):
        lists.record(c, 10, float(c), 1.0)
    lists.record(0, 10, 200.0, 1.0)  # client 0 refreshed: client 1 is now the oldest
    lists.record(999, 10, 201.0, 1.0)
    assert lists.lookup(1, POS, 202.0) is None
    assert lists.lookup(0, POS, 202.0) == 10
    assert lists.lookup(999, POS, 202.0) == 10
    assert len(lists.by_pod[10]) == XT_RECENT_LIST_SIZE


def test_ipvs_persistence_expires_and_ignores_quiescent_servers():
    per = Persistence(timeout=10.0)
    per.record(3, 12, 0.0, 30.0)  # a 30 s connection keeps the template alive past the timeout
    assert per.lookup(3, POS, 25.0) == 12
    assert per.lookup(3, POS, 30.0) is None
    per.record(3, 12, 40.0, 1.0)
    assert per.lookup(3, {10: 0, 11: 1}, 41.0) is None  # weight 0: expire_quiescent_template


def _sticky(mode: str, timeout: float, *, replicas: int = 6, rollout_start: float = 1e9, seed: int = 11):
    ro = rolling_update(n_nodes=3, replicas=replicas, rng=np.random.default_rng(seed), rollout_start=rollout_start,
                        session_affinity_timeout=timeout)  # fmt: skip
    spec = TrafficSpec(rate=300, start=0, end=20, clients=30, connection_duration=0.01)
    res = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode=mode, rng=np.random.default_rng(seed))
    return ro, res


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_client_stays_on_one_backend_within_timeout(mode):
    _, res = _sticky(mode, timeout=1000.0)
    seen: dict[tuple[int, int], set[int]] = {}
    for c, n, b in zip(res.client.tolist(), res.node.tolist(), res.backend.tolist(), strict=True):
        seen.setdefault((c, n), set()).add(b)
    assert len(seen) == 30
    assert all(len(s) == 1 for s in seen.values())
    # ...while without affinity the same clients are spread
    ro = rolling_update(n_nodes=3, replicas=6, rng=np.random.default_rng(11), rollout_start=1e9)
    free = simulate_traffic(ro.history, ro.programming, ro.pods, TrafficSpec(rate=300, start=0, end=20, clients=30),
                            mode=mode, rng=np.random.default_rng(11))  # fmt: skip
    assert max(len(set(free.backend[free.client == c].tolist())) for c in range(30)) > 1


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_after_timeout_client_may_change_backend(mode):
    _, res = _sticky(mode, timeout=0.05)
    changes = gaps_ok = 0
    for c in range(30):
        t, b = res.t[res.client == c], res.backend[res.client == c]
        gap = np.diff(t)
        moved = b[1:] != b[:-1]
        gaps_ok += int(np.sum(moved & (gap >= 0.05)))
        changes += int(np.sum(moved))
        assert not np.any(moved & (gap < 0.05))  # never inside the timeout
    assert changes == gaps_ok and changes > 50


def test_affinity_follows_endpoint_out_of_programmed_set():
    # During a full rollout every original backend leaves; sticky clients must move with it.
    ro, res = _sticky("iptables", timeout=1e6, replicas=4, rollout_start=2.0)
    final = set(ro.history.versions[-1].pod.tolist())
    late = res.t > 2.0 + 4 * 2.0 + 3.0 + 5.0 + 2.0  # after the last removal reached every node
    assert set(res.backend[late].tolist()) <= final
