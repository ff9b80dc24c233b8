"""The watch path on small cases whose every event and byte is counted: per-watcher channel
limits, termination after the dispatch budget, re-watch from the watch cache, 410 → relist,
an apiserver restart, and fair sharing of a replica's egress."""

import math

import numpy as np
import pytest

from simk8s.cluster.apiserver import WriteRecord
from simk8s.watch import CacheSettings, InitialObject, Watcher, fan_out
from simk8s.watch.bandwidth import drain
from simk8s.watch.reflector import BACKOFF_INITIAL
from simk8s.watch.watchcache import window

SIZE = 100  # bytes of every event (protobuf)


def _write(seq: int, t: float) -> WriteRecord:
    return WriteRecord(seq=seq, time=t, kind="EndpointSlice", namespace="default", name="web-abc", op="update",
                       resource_version=seq + 1, bytes_json=2 * SIZE, bytes_proto=SIZE, endpoints=1, service="web",
                       trigger_time=math.nan, writer="test", rejected="")


def _run(burst: int, *, capacity: int = 100, nodes: int = 2, restarts=(), watchers=(), duration=math.inf):
    """One event at t = 0, then `burst` at t = 2: two kube-proxies on one replica at
    1000 B/s (500 B/s each while both are busy), chanSize 2 → 5 events held per watcher."""
    writes = [_write(0, 0.0)] + [_write(i, 2.0) for i in range(1, burst + 1)]
    initial = [InitialObject("EndpointSlice", "default", "web-abc", "web", SIZE, 2 * SIZE)]
    cache = {"EndpointSlice": CacheSettings(capacity=capacity, chan_size=2, restarts=tuple(restarts))}
    return fan_out(writes, n_nodes=nodes, proxy_kind="EndpointSlice", watchers=list(watchers), replicas=1,
                   bandwidth=1000.0, initial=initial, cache=cache, seed=1, duration=duration)


def _consistent(f):
    total = sum(f.egress_bytes.values())
    assert f.watcher_bytes["bytes"].sum() == total
    assert f.egress_series["bytes"].sum() == pytest.approx(total)


def test_buffer_just_large_enough_delivers_everything_in_order():
    f = _run(5)
    _consistent(f)
    st = f.stats
    assert st.terminated == {"kube-proxy": 0} and st.relists == {"kube-proxy": 0}
    assert f.events == {"EndpointSlice": 12}
    assert f.egress_bytes == {"EndpointSlice": 12 * SIZE}
    # Both streams share the link: each event reaches both nodes 0.2 s after the one before.
    want = [0.2, 2.2, 2.4, 2.6, 2.8, 3.0]
    np.testing.assert_allclose(f.arrival, np.array([want, want]).T)
    assert st.queued_max == 5 and st.blocked_s == 0.0
    assert list(st.node_gap_s) == [0.0, 0.0]


def test_buffer_one_event_too_small_cuts_both_watchers_off_and_they_rewatch():
    """The sixth event finds both channels full; the budget (0.1 s after 2 s of refill) runs
    out before either sends its head event (0.2 s): both are closed, re-watch at once from
    the first event's RV, and get events 1..6 replayed from the watch cache."""
    f = _run(6)
    _consistent(f)
    st = f.stats
    assert st.terminated == {"kube-proxy": 2} and st.relists == {"kube-proxy": 0}
    assert f.events == {"EndpointSlice": 14}
    assert f.egress_bytes == {"EndpointSlice": 14 * SIZE}
    want = [0.2, 2.2, 2.4, 2.6, 2.8, 3.0, 3.2]
    np.testing.assert_allclose(f.arrival, np.array([want, want]).T)
    assert st.blocked_s == pytest.approx(0.1)
    assert list(st.node_gap_s) == [0.0, 0.0]  # the re-watch is immediate


def test_resource_version_too_old_relists_after_a_backoff():
    """A cache of 3 events no longer holds event 1: 410, then a LIST (one object of 100 B)
    after the reflector's first backoff; the missed events arrive with the LIST."""
    f = _run(6, capacity=3)
    _consistent(f)
    st = f.stats
    assert st.terminated == {"kube-proxy": 2} and st.relists == {"kube-proxy": 2}
    assert st.relist_bytes == 2 * SIZE
    assert f.events == {"EndpointSlice": 2}
    assert f.egress_bytes == {"EndpointSlice": 4 * SIZE}
    gap = st.node_gap_s
    assert np.all((gap >= BACKOFF_INITIAL) & (gap <= 2 * BACKOFF_INITIAL + 0.2))
    for n in range(2):
        assert np.all(f.arrival[1:, n] == 2.0 + gap[n])  # together, at the LIST's end


def test_apiserver_restart_makes_every_watcher_relist():
    f = _run(0, nodes=3, restarts=[(1.0, 2.0)])
    _consistent(f)
    st = f.stats
    assert st.terminated == {"kube-proxy": 0}  # a restart is not an unresponsive watcher
    assert st.relists == {"kube-proxy": 3}
    assert st.relist_bytes == 3 * SIZE
    assert f.egress_bytes == {"EndpointSlice": 6 * SIZE}
    assert np.all(st.node_gap_s >= 2.0)


def test_time_without_a_watch_ends_with_the_run():
    """The apiserver is down from 1 s to 3 s; a run that ends at 2 s counts 1 s of each gap,
    one that outlasts the outage counts the whole of it (and the fan-out is the same)."""
    whole = _run(0, nodes=3, restarts=[(1.0, 2.0)])
    cut = _run(0, nodes=3, restarts=[(1.0, 2.0)], duration=2.0)
    assert np.all(whole.stats.node_gap_s >= 2.0)
    assert np.all(cut.stats.node_gap_s == 1.0)
    assert cut.egress_bytes == whole.egress_bytes and np.array_equal(cut.arrival, whole.arrival)


def test_other_watchers_share_the_link_and_are_counted_per_group():
    f = _run(5, watchers=[Watcher("ingress", "EndpointSlice", 1, "json")])
    _consistent(f)
    wb = f.watcher_bytes.set_index(["watcher", "node"])["bytes"]
    assert wb[("ingress", -1)] == 6 * 2 * SIZE
    assert wb[("kube-proxy", 0)] == wb[("kube-proxy", 1)] == 6 * SIZE


def test_drain_shares_equally_and_finishes_in_order_of_remaining_bytes():
    d = drain(0.0, np.array([100.0, 300.0]), np.ones(2), 100.0)
    # both at 50 B/s until the first is done at 2 s; then the second alone at 100 B/s
    assert d.busy_until == pytest.approx(4.0)
    np.testing.assert_allclose(d.time_of(np.array([100.0, 300.0])), [2.0, 4.0])


def test_drain_knots_are_bit_identical_to_the_plain_formula():
    """The drain's fast path (in-place steps, `busy` passed in) must give the same floats."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        rem = np.where(rng.random(40) < 0.3, 0.0, rng.random(40) * 1e5)
        w = rng.integers(1, 50, 40)
        busy = rem > 0
        r, ww = rem[busy], w[busy].astype(np.float64)
        order = np.argsort(r, kind="stable")
        r, ww = r[order], ww[order]
        t_ref = np.concatenate(([0.0], np.cumsum(np.diff(r, prepend=0.0) * np.cumsum(ww[::-1])[::-1] / 1e6)))
        for d in (drain(3.0, rem, w, 1e6), drain(3.0, rem, w, 1e6, np.flatnonzero(busy))):
            assert np.array_equal(d.t_knots, t_ref) and np.array_equal(d.v_knots, np.concatenate(([0.0], r)))


def test_adaptive_window_doubles_while_history_is_younger_than_75s():
    times = np.arange(300) * 0.1  # 10 events per second: 100 events are 10 s of history
    w = window(times, None)
    assert w.max_capacity() == 400
    fixed = window(times, 100)
    assert not fixed.can_resume(150, 30.0) and fixed.can_resume(205, 30.0)


def _cluster(make_scenario, release: str):
    return make_scenario(f'name: x\ncluster:\n  kubernetesVersion: "{release}"\n').cluster.apiserver


def test_watch_cache_and_channel_defaults_follow_the_release(make_scenario):
    assert (_cluster(make_scenario, "1.18").watch_cache_capacity, _cluster(make_scenario, "1.18").watch_chan_size) == (100, 10)
    assert (_cluster(make_scenario, "1.19").watch_cache_capacity, _cluster(make_scenario, "1.24").watch_chan_size) == (0, 10)
    assert _cluster(make_scenario, "1.25").watch_chan_size == 0


def test_apiserver_restart_is_an_event(make_scenario):
    sc = make_scenario("name: x\nduration: 5m\nevents:\n  - {at: 1m, apiserverRestart: 15s}\n")
    (ev,) = sc.events
    assert (ev.action, ev.at, ev.apiserver_restart) == ("apiserverRestart", 60.0, 15.0)


def test_a_restart_shows_in_the_pipeline_as_relists_and_node_gaps(make_scenario):
    from simk8s.pipeline import run_variant

    sc = make_scenario("""
        name: x
        duration: 3m
        cluster: {nodes: 6}
        services: [{name: web, selector: {app: web}, ports: [{port: 80}]}]
        workloads: [{kind: Deployment, name: web, replicas: 4, labels: {app: web}}]
        events:
          - {at: 1m, apiserverRestart: 10s}
          - {at: 70s, scale: web, replicas: 6}
        """)
    r = run_variant(sc, stages=("cluster", "watch", "proxy"))
    w = r.summary["watch"]
    assert w["relists"] == {"kube-proxy": 6, "kube-controller-manager": 2}
    assert w["apiserver_terminated_watchers_total"] == {"kube-proxy": 0, "kube-controller-manager": 0}
    assert w["node_watch_gap_s"]["nodes"] == 6 and w["node_watch_gap_s"]["p50"] >= 10.0
    # the scale-up's writes reach each node only once its relist is done
    f = r.fanout
    later = f.writes["time"].to_numpy()[f.to_proxy] > 60.0
    assert np.all(f.arrival[later] >= 70.0)
