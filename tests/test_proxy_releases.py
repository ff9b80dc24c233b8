"""kube-proxy behaviours that changed between releases (cluster.kubernetesVersion fills the
settings; scenario/releases.py cites each): fleet == SimPy reference exactly, and each
behaviour on a hand-worked case that the previous model got wrong."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import ROOT
from test_fleet_vs_reference import (
    RUNNERS,
    assert_same,
    cleanup_cost,
    float_cost,
    make_case,
    make_config,
    tiny_stream,
    unit_cost,
)

from simk8s.api.objects import Endpoint, EndpointPort, EndpointSlice, ObjectReference
from simk8s.proxy.changetracker import next_drop, track_trigger_times
from simk8s.proxy.fleet import FleetConfig, run_fleet
from simk8s.proxy.reference import run_reference

QUICK = ROOT / "scenarios" / "quick.yaml"


def one_node(**kw) -> FleetConfig:
    base = {
        "n_nodes": 1, "mode": "iptables", "runner": "completion-gap", "min_sync_period": 0.0,
        "max_interval": 3600.0, "full_sync_period": 60.0, "end_time": 200.0,
        "static_services": 5, "static_endpoints": 0,
        "initial_service_endpoints": np.array([5], dtype=np.int32), "node_speed": np.ones(1),
    }  # fmt: skip
    base.update(kw)
    return FleetConfig(**base)


# --- MinimizeIPTablesRestore off (≤ 1.26) / nftables before #126013 (1.29–1.30) ----------


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_without_partial_syncs_every_sync_is_full(mode, runner, warm):
    stream, initial, speed = make_case(300 + 10 * RUNNERS.index(runner) + warm, dyadic=False)
    base = dataclasses.replace(make_config(mode, runner, 1.0, initial, speed), warm_start=warm)
    config = dataclasses.replace(base, partial_syncs=False)
    fleet = run_fleet(stream, config, float_cost)
    assert_same(fleet, run_reference(stream, config, float_cost))
    work = fleet.syncs.start > 0.0 if warm else np.ones(len(fleet.syncs), bool)  # warm t = 0: no work
    assert fleet.syncs.full[work].all() and not fleet.syncs.full[~work].any()
    # with partial syncs: full only at startup and every fullSyncPeriod (50 s here)
    partial = run_fleet(stream, base, float_cost)
    assert partial.counters.full_syncs < len(partial.syncs) // 4


# --- stale-chain cleanup on every sync before #110334 (≤ 1.24) --------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_without_cleanup_pacing_every_sync_saves_the_nat_table(runner):
    stream, initial, speed = make_case(410 + RUNNERS.index(runner), dyadic=False)
    phase = -np.random.default_rng(4).uniform(0.0, 7.0, len(speed))
    paced = dataclasses.replace(
        make_config("iptables", runner, 1.0, initial, speed), cleanup_period=7.0,
        large_cluster_endpoints=0, warm_start=True, initial_last_cleanup=phase,
    )  # fmt: skip
    config = dataclasses.replace(paced, large_cluster_cleanup_pacing=False)
    fleet = run_fleet(stream, config, cleanup_cost)
    assert_same(fleet, run_reference(stream, config, cleanup_cost))
    later = fleet.syncs.start > 0.0
    assert fleet.syncs.cleanup[later].all() and not fleet.syncs.cleanup[~later].any()
    assert run_fleet(stream, paced, cleanup_cost).counters.cleanup_syncs < later.sum() // 2


# --- no hourly full sync in large-cluster mode (#138571) --------------------------------


def test_large_cluster_mode_of_the_previous_sync_skips_the_periodic_full_sync():
    # One node, cold start, fullSyncPeriod 60 s, large above 10 endpoints. Writes set the
    # Service's endpoints: 20 at 10 (large), 5 at 70 (small), 5 at 80, 30 at 100 (large),
    # 30 at 150.
    arrivals = np.array([[10.0], [70.0], [80.0], [100.0], [150.0]])
    stream = tiny_stream(arrivals, [0] * 5, [20, 5, 5, 30, 30], [np.nan] * 5)
    config = one_node(large_cluster_endpoints=10, large_cluster_skips_full_sync=True)
    fleet = run_fleet(stream, config, unit_cost)
    assert_same(fleet, run_reference(stream, config, unit_cost))
    assert fleet.syncs.start.tolist() == [0.0, 10.0, 70.0, 80.0, 100.0, 150.0]
    # 70: due (70 − 0 ≥ 60) but the sync at 10 left the node in large-cluster mode;
    # 80: due, and the sync at 70 (5 endpoints) left it; 150: due, but 100 was large.
    assert fleet.syncs.full.tolist() == [True, False, False, True, False, False]
    before = dataclasses.replace(config, large_cluster_skips_full_sync=False)
    assert run_fleet(stream, before, unit_cost).syncs.full.tolist() == [True, False, True, False, False, True]
    # Only iptables has the rule.
    nft = dataclasses.replace(config, mode="nftables")
    assert run_fleet(stream, nft, unit_cost).syncs.full.tolist() == [True, False, True, False, False, True]


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_full_sync_skip_fleet_equals_reference(runner, warm):
    stream, initial, speed = make_case(520 + RUNNERS.index(runner) + 2 * warm, dyadic=True)
    phase = -np.random.default_rng(9).uniform(0.0, 20.0, len(speed))
    totals = [2400 + int(initial.sum())]  # total endpoints after writes [0, w)
    counts = dict(enumerate(initial.tolist()))
    for service, endpoints in zip(stream.service.tolist(), stream.service_endpoints.tolist(), strict=True):
        counts[service] = endpoints
        totals.append(2400 + sum(counts.values()))
    threshold = int(np.median(totals))  # the large-cluster mode switches on and off
    config = dataclasses.replace(
        make_config("iptables", runner, 1.0, initial, speed), full_sync_period=20.0,
        large_cluster_endpoints=threshold, large_cluster_skips_full_sync=True,
        warm_start=warm, initial_last_full=phase if warm else None,
    )  # fmt: skip
    fleet = run_fleet(stream, config, float_cost)
    assert_same(fleet, run_reference(stream, config, float_cost))
    # Brute force, node by node: due and the previous sync below the threshold.
    syncs, expected = fleet.syncs, []
    large = False
    for i in range(len(syncs)):
        node = int(syncs.node[i])
        if i == 0 or syncs.node[i - 1] != node:  # the node's startup sync
            last_full = float(phase[node]) if warm else -np.inf
            full = not warm
            skipped = False
        else:
            due = syncs.start[i] - last_full >= config.full_sync_period
            full, skipped = due and not large, due and large
        expected.append((full, skipped))
        last_full = float(syncs.start[i]) if full else last_full
        large = totals[syncs.last_write[i]] > threshold
    assert syncs.full.tolist() == [f for f, _ in expected]
    assert sum(skipped for _, skipped in expected) > 0


# --- ≤ v1.33 runner in the fleet: a refused Run() waits for minInterval after the END ----


def test_old_runner_defers_a_refused_request_in_the_fleet():
    # Syncs of 0.25 s, minSyncPeriod 1 s. Both nodes: 10.0 and 10.125 (at the first sync's
    # end) use the bucket's two tokens; 10.75 is refused, the timer goes to 10.5 + 1.
    # Node 0's last write (12.5) comes later; node 1's (11.25) finds the token (back at 11)
    # and starts the deferred run at once, taking 10.75 along.
    arrivals = np.array([[10.0, 10.0], [10.125, 10.125], [10.75, 10.75], [12.5, 11.25]])
    stream = tiny_stream(arrivals, [0] * 4, [1, 2, 3, 4], [np.nan] * 4)
    config = dataclasses.replace(one_node(), n_nodes=2, node_speed=np.ones(2), runner="token-bucket",
                                 min_sync_period=1.0, end_time=20.0)  # fmt: skip

    def quarter(full, periodic, cs, ce, ts, te, speed):
        return np.full(len(full), 0.25)

    fleet = run_fleet(stream, config, quarter)
    assert_same(fleet, run_reference(stream, config, quarter))
    rows = fleet.syncs_frame()[["node", "start", "first_write", "last_write", "periodic"]]
    assert [tuple(r) for r in rows.itertuples(index=False)] == [
        (0, 0.0, 0, 0, False), (0, 10.0, 0, 1, False), (0, 10.25, 1, 2, False),
        (0, 11.5, 2, 3, False), (0, 12.5, 3, 4, False),
        (1, 0.0, 0, 0, False), (1, 10.0, 0, 1, False), (1, 10.25, 1, 2, False),
        (1, 11.25, 2, 4, False),
    ]  # fmt: skip


# --- NPL: which trigger times become samples (pkg/proxy/endpointschangetracker.go) -------


def test_slice_removal_erases_the_services_queued_trigger_times():
    # Service 0: w0 queues 1.0; w2 removes one of its slices; w3 queues 1.75 again. Service 1:
    # w1 queues 1.5. Node 0 gets all four before its sync at 2: w2 erases w0's time, w3's
    # comes after it. Node 1 syncs w0 and w1 at 2 and gets w2, w3 at 5.
    arrivals = np.array([[2.0, 2.0], [2.0, 2.0], [2.0, 5.0], [2.0, 5.0]])
    stream = dataclasses.replace(
        tiny_stream(arrivals, [0, 1, 0, 0], [3, 4, 2, 3], [1.0, 1.5, np.nan, 1.75]),
        drops_triggers=np.array([False, False, True, False]),
    )
    config = dataclasses.replace(one_node(initial_service_endpoints=np.array([1, 1], np.int32)),
                                 n_nodes=2, node_speed=np.ones(2), end_time=10.0)  # fmt: skip
    fleet = run_fleet(stream, config, unit_cost)
    ref = run_reference(stream, config, unit_cost)
    assert_same(fleet, ref)
    ends = fleet.syncs.end.tolist()  # node 0: 0, 2; node 1: 0, 2, 5
    assert fleet.syncs.start.tolist() == [0.0, 2.0, 0.0, 2.0, 5.0]
    expected = sorted([ends[1] - 1.5, ends[1] - 1.75, ends[3] - 1.0, ends[3] - 1.5, ends[4] - 1.75])
    assert sorted(ref.npl_samples.tolist()) == expected
    # Before #95363 nothing was erased: w0 would also count on node 0.
    assert run_fleet(dataclasses.replace(stream, drops_triggers=None), config, unit_cost).npl.count == 6


def test_next_drop_finds_the_next_removal_of_the_same_service():
    service = np.array([0, 1, 0, 1, 0, 0])
    drops = np.array([False, False, True, False, False, True])
    assert next_drop(service, drops).tolist() == [2, 6, 5, 6, 5, 6]
    assert next_drop(service, np.zeros(6, bool)).tolist() == [6] * 6


def _slice(name, *eps, annotation="", address_type="IPv4"):
    return EndpointSlice(name=name, annotations=(("a", annotation),), address_type=address_type,
                         ports=(EndpointPort(port=80, name="http"),), endpoints=eps)  # fmt: skip


def test_tracker_samples_only_changes_kube_proxy_sees():
    a = Endpoint(("10.0.0.1",), node_name="n1")
    b = Endpoint(("10.0.0.2",), node_name="n2")
    writes = [
        ("update", _slice("s1", a, b, annotation="x")),  # only an annotation differs
        ("update", _slice("s1", b, dataclasses.replace(a, hostname="h", target_ref=ObjectReference(name="p")))),
        ("update", _slice("s1", dataclasses.replace(a, ready=False), b)),  # a condition: a change
        ("delete", _slice("s1")),  # never a sample; erases the Service's queue
        ("create", _slice("s1", a, b)),  # after a removal always a change
        ("update", _slice("s6", a, address_type="IPv6")),  # another family: ignored
        ("create", _slice("s2", a)),  # trigger time 0: not after the tracker started
    ]
    ops, objs = zip(*writes, strict=True)
    times = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0])
    initial = [_slice("s1", a, b)]
    got = track_trigger_times("EndpointSlice", ops, objs, times, initial, tracker_start=0.0)
    nan = np.nan
    np.testing.assert_array_equal(got.trigger_time, [nan, nan, 3.0, nan, 5.0, nan, nan])
    assert got.drops.tolist() == [False, False, False, True, False, False, False]
    running = track_trigger_times("EndpointSlice", ops, objs, times, initial)  # kube-proxies already up
    assert running.trigger_time[6] == 0.0


def test_tracker_compares_whole_views_when_the_changed_endpoints_trade_places():
    # The changed endpoints' views are the same multiset (a reorder), so the shortcut in
    # changetracker._slice_unchanged cannot decide: the sorted views do.
    a = Endpoint(("10.0.0.1",), node_name="n1")
    b = Endpoint(("10.0.0.2",), node_name="n2")
    twin = Endpoint(("10.0.0.1",), node_name="n2")  # same first address as a, another node
    writes = [
        ("update", _slice("s1", b, a)),  # reordered: kube-proxy keys endpoints by address
        ("update", _slice("s1", dataclasses.replace(b, hostname="h"), a)),  # a field it ignores
        ("update", _slice("s1", twin, a)),  # a new endpoint
        ("update", _slice("s1", a, twin)),  # equal addresses keep their order: a change
    ]
    ops, objs = zip(*writes, strict=True)
    got = track_trigger_times("EndpointSlice", ops, objs, np.array([1.0, 2.0, 3.0, 4.0]), [_slice("s1", a, b)])
    np.testing.assert_array_equal(got.trigger_time, [np.nan, np.nan, 3.0, 4.0])


def test_legacy_endpoints_deletions_are_no_samples_and_erase_nothing():
    from simk8s.api.objects import EndpointAddress, Endpoints, EndpointSubset

    sub = EndpointSubset(addresses=(EndpointAddress(ip="10.0.0.1"),), ports=(EndpointPort(port=80),))
    ep = Endpoints(name="svc", subsets=(sub,))
    ops = ["update", "update", "delete"]
    objs = [ep, dataclasses.replace(ep, annotations=(("a", "b"),)), ep]
    got = track_trigger_times("Endpoints", ops, objs, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(got.trigger_time, [1.0, np.nan, np.nan])
    assert not got.drops.any()


# --- settings from a release reach the fleet and the data path --------------------------


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """quick.yaml without its compare list (its nftables variant needs 1.29+)."""
    text = QUICK.read_text()
    path = tmp_path_factory.mktemp("scenario") / "single.yaml"
    path.write_text(text[: text.index("compare:")])
    return path


def _proxy_config(path, version: str, mode: str = "iptables"):
    from simk8s.proxy.fleet_stage import fleet_config
    from simk8s.scenario import load_scenario

    sc = load_scenario(path, [f'cluster.kubernetesVersion="{version}"', f"cluster.kubeProxy.mode={mode}"])
    return fleet_config(sc, np.zeros(1, np.int32), np.ones(sc.cluster.nodes), 1.0)


def test_releases_set_the_fleet(single):
    old = _proxy_config(single, "1.24")
    assert (old.runner, old.partial_syncs, old.large_cluster_cleanup_pacing, old.large_cluster_skips_full_sync) == (
        "token-bucket", False, False, False)
    c126 = _proxy_config(single, "1.26")
    assert (c126.partial_syncs, c126.large_cluster_cleanup_pacing) == (False, True)
    new = _proxy_config(single, "1.36")
    assert (new.runner, new.partial_syncs, new.large_cluster_cleanup_pacing, new.large_cluster_skips_full_sync) == (
        "completion-gap", True, True, True)
    assert _proxy_config(single, "1.29", "nftables").partial_syncs is False
    assert _proxy_config(single, "1.31", "nftables").partial_syncs is True
    assert _proxy_config(single, "1.36", "nftables").large_cluster_skips_full_sync is False  # iptables only


def test_release_1_24_restores_everything_and_saves_on_every_sync(single):
    from simk8s.experiment import run_scenario

    exp = run_scenario(single, overrides=['cluster.kubernetesVersion="1.24"'], write=False)
    kp = exp.variants[0].summary["kube_proxy"]
    assert kp["syncs"] == kp["full_syncs"] == kp["cleanup_syncs"] > 0
