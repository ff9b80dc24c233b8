"""Deployment controller arithmetic against the Kubernetes rules (rolling.go, deployment util),
and the ReplicaSet's scale-down order (replica_set.go getPodsToDelete, controller_utils.go
ActivePodsWithRanks.Less)."""

from simk8s.controller.deployment import (
    ReplicaSetCounts,
    new_rs_replicas,
    resolve_fenceposts,
    scale_down_old,
)
from simk8s.controller.replicaset import (
    UNASSIGNED,
    RankedPod,
    deletion_key,
    log2_rank,
    pods_to_delete,
)


def test_fenceposts_round_surge_up_and_unavailable_down():
    assert resolve_fenceposts("25%", "25%", 10) == (3, 2)
    assert resolve_fenceposts("25%", "25%", 2000) == (500, 500)
    assert resolve_fenceposts("1%", "1%", 10) == (1, 0)
    assert resolve_fenceposts(0, 1, 2000) == (0, 1)


def test_both_zero_means_one_unavailable():
    assert resolve_fenceposts("0%", "0%", 10) == (0, 1)
    assert resolve_fenceposts("10%", "10%", 5) == (1, 0)


def test_new_replica_set_scales_up_to_surge_limit():
    old = ReplicaSetCounts(1, 10, 10)
    new = ReplicaSetCounts(2, 0, 0)
    assert new_rs_replicas(10, [old, new], new, max_surge=3) == 3
    # already at desired + surge: no further scale-up
    assert new_rs_replicas(10, [ReplicaSetCounts(1, 10, 10), ReplicaSetCounts(2, 3, 0)], ReplicaSetCounts(2, 3, 0), 3) == 3


def test_old_replica_set_scales_down_keeping_min_available():
    old = ReplicaSetCounts(1, 10, 10)
    new = ReplicaSetCounts(2, 3, 0)
    # 13 pods, min available 8, 3 new unavailable → may scale down 13 - 8 - 3 = 2
    assert scale_down_old(10, [old], new, max_unavailable=2) == {1: 8}


def test_unhealthy_old_replicas_go_first():
    old = ReplicaSetCounts(1, 10, 7)  # 3 unavailable old pods
    new = ReplicaSetCounts(2, 3, 3)
    # max scaled down = 13 - 8 - 0 = 5: cleanup takes the 3 unhealthy, then available 10 - 8 = 2 more
    assert scale_down_old(10, [old], new, max_unavailable=2) == {1: 5}


def test_old_set_still_holding_pods_of_an_earlier_scale_down_blocks_the_scale_down():
    # Old set told to go to 1497 but its 1498 pods are still available (deletes pending);
    # 4 new pods available. Counting those 1498 would scale down 1498 + 4 - 1500 = 2 more
    # and leave 1495 + 4 < 1500 once the deletes land. Upstream cleanupUnhealthyReplicas
    # errors on the negative count and reconcileOldReplicaSets scales nothing.
    old = ReplicaSetCounts(1, 1497, 1498)
    new = ReplicaSetCounts(2, 1003, 4)
    assert scale_down_old(2000, [old], new, max_unavailable=500) == {1: 1497}
    # once the set has caught up, the scale-down resumes
    old = ReplicaSetCounts(1, 1497, 1497)
    assert scale_down_old(2000, [old], new, max_unavailable=500) == {1: 1496}


def test_cleanup_written_for_older_sets_stands_when_a_newer_one_errors():
    older = ReplicaSetCounts(1, 10, 6)  # 4 unhealthy
    newer = ReplicaSetCounts(2, 5, 7)  # still holds 2 pods of an earlier scale-down
    new = ReplicaSetCounts(3, 5, 5)
    assert scale_down_old(20, [older, newer], new, max_unavailable=5) == {1: 6, 2: 5}


def test_max_surge_zero_max_unavailable_one_replaces_one_at_a_time():
    surge, unavailable = resolve_fenceposts(0, 1, 2000)
    old = ReplicaSetCounts(1, 2000, 2000)
    new = ReplicaSetCounts(2, 0, 0)
    assert new_rs_replicas(2000, [old, new], new, surge) == 0
    assert scale_down_old(2000, [old], new, unavailable) == {1: 1999}
    new = ReplicaSetCounts(2, 0, 0)
    old = ReplicaSetCounts(1, 1999, 1999)
    assert new_rs_replicas(2000, [old, new], new, surge) == 1


def ranked(pod_id, node=0, phase="Running", ready=True, ready_since=10.0, created=5.0, uid=None):
    return RankedPod.of(pod_id, node, phase, ready, ready_since, created, uid or f"uid-{pod_id:02d}")


def order(pods, now=1000.0, logarithmic=False, related=None):
    related = [p.node for p in pods] if related is None else related
    return pods_to_delete(pods, related, len(pods) - 1, now, logarithmic)


def test_deletion_order_prefers_unassigned_pending_unready_then_newest():
    pods = [
        ranked(1, node=UNASSIGNED, phase="Pending", ready=False),
        ranked(2, node=1, phase="Pending", ready=False),
        ranked(3, node=2, ready=False),
        ranked(4, node=3, ready_since=100.0),
        ranked(5, node=4, ready_since=10.0),
        ranked(6, node=5, ready_since=10.0, created=9.0),  # same ready time, newer
        ranked(7, node=6, ready_since=10.0),  # ties with 5: the newer pod index first
    ]
    assert order(pods) == [1, 2, 3, 4, 6, 7]


def test_pods_doubled_up_on_a_node_go_before_older_ready_times():
    # getPodsRankedByRelatedPodsOnSameNode: node 1 holds two of the ReplicaSet's pods and one
    # of the new ReplicaSet's, node 2 one pod.
    lone = ranked(1, node=2, ready_since=500.0)
    a, b = ranked(2, node=1, ready_since=10.0), ranked(3, node=1, ready_since=20.0)
    assert pods_to_delete([lone, a, b], [2, 1, 1, 1], 2, 1000.0, False) == [3, 2]
    # Without the new ReplicaSet's pod, node 1 still holds two.
    assert pods_to_delete([lone, a, b], [2, 1, 1], 1, 1000.0, False) == [3]
    # The rank comes after readiness: a not-ready lone pod still goes first.
    unready = ranked(1, node=2, ready=False)
    assert pods_to_delete([unready, a, b], [2, 1, 1], 1, 1000.0, False) == [1]


def test_whole_second_ready_times_tie():
    # 10.2 and 10.9 are the same second in the API: the newer pod goes first, not the one
    # that became ready later.
    early_new = ranked(1, ready_since=10.2, created=8.0)
    late_old = ranked(2, ready_since=10.9, created=3.0)
    assert pods_to_delete([early_new, late_old], [0, 0], 1, 100.0, False) == [1]


def test_logarithmic_scale_down_buckets_ready_times_and_breaks_ties_by_uid():
    now = 1000.0
    # Ready 100 s and 110 s ago: 2^36 ns ≈ 68.7 s, 2^37 ≈ 137 s, one bucket.
    assert log2_rank(900.0, now) == log2_rank(890.0, now) == 36
    assert log2_rank(now, now) == -1
    younger = ranked(1, node=1, ready_since=900.0, uid="b")
    older = ranked(2, node=2, ready_since=890.0, uid="a")
    fresh = ranked(3, node=3, ready_since=990.0, uid="z")  # 10 s: bucket 33
    pods = [younger, older, fresh]
    assert order(pods, now, logarithmic=False) == [3, 1]  # plain timestamps: newest ready first
    assert order(pods, now, logarithmic=True) == [3, 2]  # then same bucket → lower UID first
    assert pods_to_delete(pods, [1, 2, 3], 3, now, True) == [1, 2, 3]  # all go: no sort
    # Not-ready pods compare creation times the same way.
    a = ranked(1, node=1, ready=False, created=900.0, uid="b")
    b = ranked(2, node=2, ready=False, created=890.0, uid="a")
    assert order([a, b], now, logarithmic=False) == [1]
    assert order([a, b], now, logarithmic=True) == [2]


def test_deletion_keys_sort_groups_before_times():
    k = [deletion_key(ranked(i, ready_since=t), 1, 1000.0, True) for i, t in ((1, 999.0), (2, 0.0))]
    assert k[0] < k[1]
