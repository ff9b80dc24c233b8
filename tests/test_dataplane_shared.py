"""Variants sharing a cluster run build the data path's endpoint versions and arrivals once
(simk8s.dataplane.shared), and route every connection exactly as a variant run alone."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np

from simk8s.dataplane import shared
from simk8s.pipeline import run_group, run_variant
from simk8s.scenario import load_scenario, load_variants

QUICK = Path(__file__).resolve().parent.parent / "scenarios" / "quick.yaml"
COLUMNS = ("t", "node", "client", "backend", "outcome", "first_packet_ms", "version", "rules_walked")


def _slices_variants():
    return [(name, sc) for name, sc in load_variants(load_scenario(QUICK)) if name.startswith("slices-")]


def test_a_group_builds_once_and_routes_like_variants_run_alone():
    group = _slices_variants()
    assert [name for name, _ in group] == ["slices-iptables", "slices-ipvs", "slices-nftables"]
    results = run_group(group)
    cluster = results[0].cluster
    assert all(r.cluster is cluster for r in results)
    memo = shared._BY_CLUSTER[id(cluster)]
    # one set of endpoint versions (same change stream) and one draw of arrivals for all three
    assert sorted(key[0] for key in memo) == ["arrivals", "endpoint versions"]
    traffic = [next(iter(r.traffic.values())) for r in results]
    assert traffic[0].t is traffic[1].t is traffic[2].t
    assert not traffic[0].t.flags.writeable
    for (name, sc), r in zip(group, results, strict=True):
        alone = next(iter(run_variant(sc, name).traffic.values()))
        mine = next(iter(r.traffic.values()))
        for column in COLUMNS:
            assert np.array_equal(getattr(alone, column), getattr(mine, column), equal_nan=True), (name, column)
        assert r.summary["dataplane"] == run_variant(sc, name).summary["dataplane"]


def test_what_a_cluster_run_shares_goes_with_it():
    name, sc = _slices_variants()[0]
    result = run_variant(sc, name)
    key = id(result.cluster)
    assert key in shared._BY_CLUSTER
    del result
    gc.collect()
    assert key not in shared._BY_CLUSTER


def test_a_stand_in_without_weak_references_builds_every_time():
    from types import SimpleNamespace

    calls = []
    stand_in = SimpleNamespace()
    for _ in range(2):
        assert shared.per_cluster(stand_in, "k", lambda: calls.append(1) or len(calls)) == len(calls)
    assert len(calls) == 2 and id(stand_in) not in shared._BY_CLUSTER
