"""Deployment controller arithmetic against the Kubernetes rules (rolling.go, deployment util)."""

from simk8s.controller.deployment import (
    ReplicaSetCounts,
    deletion_rank,
    new_rs_replicas,
    resolve_fenceposts,
    scale_down_old,
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


def test_max_surge_zero_max_unavailable_one_replaces_one_at_a_time():
    surge, unavailable = resolve_fenceposts(0, 1, 2000)
    old = ReplicaSetCounts(1, 2000, 2000)
    new = ReplicaSetCounts(2, 0, 0)
    assert new_rs_replicas(2000, [old, new], new, surge) == 0
    assert scale_down_old(2000, [old], new, unavailable) == {1: 1999}
    new = ReplicaSetCounts(2, 0, 0)
    old = ReplicaSetCounts(1, 1999, 1999)
    assert new_rs_replicas(2000, [old, new], new, surge) == 1


def test_deletion_order_prefers_unready_then_newest():
    pods = {
        "unscheduled": deletion_rank(False, "Pending", False, 0.0, 5.0, 1),
        "pending": deletion_rank(True, "Pending", False, 0.0, 5.0, 2),
        "running-unready": deletion_rank(True, "Running", False, 0.0, 5.0, 3),
        "ready-recently": deletion_rank(True, "Running", True, 100.0, 5.0, 4),
        "ready-long": deletion_rank(True, "Running", True, 10.0, 5.0, 5),
    }
    order = sorted(pods, key=pods.get)
    assert order == ["unscheduled", "pending", "running-unready", "ready-recently", "ready-long"]
    newer = deletion_rank(True, "Running", True, 10.0, 9.0, 6)
    assert newer < pods["ready-long"]
