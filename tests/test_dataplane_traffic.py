"""simulate_traffic end to end: routing by the node's programmed state, outcomes, summary."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simk8s.dataplane import (
    OUTCOME_NAMES,
    EndpointVersion,
    PodTable,
    ServiceHistory,
    TrafficSpec,
    simulate_traffic,
    step_programming,
)
from simk8s.dataplane.outcomes import (
    DROPPED_NO_LOCAL,
    FAILED_NOT_SERVING,
    FAILED_POD_GONE,
    OK,
    REFUSED,
)
from simk8s.dataplane.selection import reference_candidates
from simk8s.dataplane.synthetic import rolling_update

N_NODES, N_PODS = 4, 8
ZONE = np.array([0, 1, 0, 1], np.int16)
SCHEDULERS = ["rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "dh", "mh"]


@st.composite
def scenarios(draw):
    pods = PodTable(
        node=np.array(draw(st.lists(st.integers(0, N_NODES - 1), min_size=N_PODS, max_size=N_PODS)), np.int32),
        zone=np.zeros(N_PODS, np.int16),
        serving_from=np.array(draw(st.lists(st.sampled_from([0.0, 3.0, 8.0, np.inf]), min_size=N_PODS, max_size=N_PODS))),
        serving_until=np.array(draw(st.lists(st.sampled_from([2.0, 6.0, np.inf]), min_size=N_PODS, max_size=N_PODS))),
    )
    pods = PodTable(node=pods.node, zone=ZONE[pods.node], serving_from=pods.serving_from, serving_until=pods.serving_until)

    def version():
        e = draw(st.integers(0, 5))
        ids = draw(st.lists(st.integers(0, N_PODS - 1), min_size=e, max_size=e, unique=True))
        state = draw(st.lists(st.sampled_from(["r", "ts", "t", "u"]), min_size=e, max_size=e))
        return EndpointVersion.of_pods(
            pods, ids, ready=[s == "r" for s in state], serving=[s in "r ts" for s in state],
            terminating=[s.startswith("t") for s in state], hints=draw(st.booleans()),
        )  # fmt: skip

    k = draw(st.integers(0, 4))
    write_index = np.cumsum(draw(st.lists(st.integers(1, 3), min_size=k, max_size=k))).astype(np.int64) - 1
    n_writes = int(write_index[-1]) + 1 if k else 0
    times = np.sort(np.array(draw(st.lists(st.lists(st.floats(0, 10), min_size=n_writes, max_size=n_writes),
                                          min_size=N_NODES, max_size=N_NODES))).reshape(N_NODES, n_writes), axis=1)  # fmt: skip
    source = draw(st.sampled_from(["pods", "external"]))
    history = ServiceHistory(
        name="svc",
        write_index=write_index,
        versions=[version() for _ in range(k)],
        initial=version(),
        kind="LoadBalancer" if source == "external" else draw(st.sampled_from(["ClusterIP", "NodePort"])),
        session_affinity_timeout=draw(st.sampled_from([None, 0.5, 100.0])),
        internal_local=draw(st.booleans()),
        external_local=draw(st.booleans()),
        traffic_distribution=draw(st.sampled_from([None, "PreferSameZone", "PreferSameNode"])),
        service_ports_total=draw(st.integers(1, 50)),
    )
    spec = TrafficSpec(rate=8.0, start=0.0, end=10.0, source=source, clients=draw(st.integers(1, 6)),
                       connection_duration=draw(st.sampled_from([0.01, 2.0])))  # fmt: skip
    mode = draw(st.sampled_from(["iptables", "nftables", "ipvs"]))
    return pods, history, times, spec, mode, draw(st.sampled_from(SCHEDULERS)), draw(st.integers(0, 2**32))


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_never_routed_to_an_endpoint_the_node_had_not_programmed(sc):
    pods, history, times, spec, mode, scheduler, seed = sc
    programming = step_programming(ZONE, times)
    res = simulate_traffic(history, programming, pods, spec, mode=mode, ipvs_scheduler=scheduler,
                           rng=np.random.default_rng(seed))  # fmt: skip
    versions = history.all_versions
    use_local = history.internal_local if spec.source == "pods" else history.external_local
    for i in range(res.n):
        n, t = int(res.node[i]), float(res.t[i])
        applied = int(np.sum(times[n] <= t))  # plain reference of the version lookup
        vid = sum(1 for w in history.write_index if w < applied)
        assert res.version[i] == vid
        code, cands = reference_candidates(versions[vid], n, int(ZONE[n]), use_local=use_local,
                                           traffic_distribution=history.traffic_distribution)  # fmt: skip
        b = int(res.backend[i])
        if code == -1:
            assert res.outcome[i] == REFUSED and b == -1
        elif code == -2:
            assert res.outcome[i] == DROPPED_NO_LOCAL and b == -1
        else:
            assert b in cands and b in versions[vid].pod.tolist()
            expected = (FAILED_POD_GONE if pods.serving_until[b] <= t
                        else FAILED_NOT_SERVING if pods.serving_from[b] > t else OK)  # fmt: skip
            assert res.outcome[i] == expected


def _rollout(**kw):
    return rolling_update(n_nodes=30, replicas=20, rng=np.random.default_rng(5), surge=5, step_interval=4.0,
                          sync_period=2.0, **kw)  # fmt: skip


def test_rollout_stale_rules_fail_and_summary_is_complete():
    ro = _rollout()
    spec = TrafficSpec(rate=500, start=0, end=40, clients=200, requests_per_connection=10)
    res = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode="iptables", rng=np.random.default_rng(1))
    s = res.summary()
    assert s["connections"] == res.n and s["dns_answers"] == 0
    assert set(s["failed"]) == {"refused", "failed-pod-gone", "failed-not-serving", "dropped-no-local-endpoints"}
    assert s["failed"]["failed-pod-gone"] > 0  # SIGTERM stops the app before nodes drop the endpoint
    assert s["failed"]["refused"] == 0 and s["failed"]["failed-not-serving"] == 0
    assert sum(s["outcomes"].values()) == res.n
    ts = s["timeseries"]
    assert list(ts.columns) == list(OUTCOME_NAMES) and int(ts.to_numpy().sum()) == res.n
    # failures only happen while some node still routes to a stopped pod: never before the rollout
    assert ts.loc[: 12.0, "failed-pod-gone"].sum() == 0
    assert s["first_packet_ms_per_request"] == pytest.approx(s["first_packet_ms"]["mean"] / 10)
    imb = s["imbalance"]
    assert imb["backends"] == 20 and imb["max_over_mean"] >= 1.0 and imb["cv"] > 0
    assert int(s["per_backend"].sum()) == int(np.sum(res.backend >= 0))


def test_graceful_shutdown_delay_removes_failures():
    ro = _rollout(shutdown_delay=10.0)  # app keeps serving until every node reprogrammed
    spec = TrafficSpec(rate=500, start=0, end=40, clients=200)
    res = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode="nftables", rng=np.random.default_rng(1))
    assert res.summary()["failed_total"] == 0


def test_same_seed_same_result_and_arrivals_shared_across_modes():
    ro = _rollout()
    spec = TrafficSpec(rate=300, start=0, end=30, clients=100)
    a = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode="iptables", rng=np.random.default_rng(4))
    b = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode="iptables", rng=np.random.default_rng(4))
    c = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode="ipvs", ipvs_scheduler="lc",
                         rng=np.random.default_rng(4))  # fmt: skip
    assert np.array_equal(a.backend, b.backend) and np.array_equal(a.first_packet_ms, b.first_packet_ms, equal_nan=True)
    assert np.array_equal(a.t, c.t) and np.array_equal(a.client, c.client)


def test_external_name_counts_dns_answers():
    ro = rolling_update(n_nodes=3, replicas=2, rng=np.random.default_rng(0), kind="ExternalName")
    res = simulate_traffic(ro.history, ro.programming, ro.pods, TrafficSpec(rate=50, start=0, end=10),
                           mode="iptables", rng=np.random.default_rng(0))  # fmt: skip
    s = res.summary()
    assert s["connections"] == 0 and s["dns_answers"] == res.n > 0
    assert np.all(res.backend == -1) and s["failed_total"] == 0


def test_no_endpoints_refused_with_full_chain_walk():
    pods = PodTable(np.zeros(1, np.int32), np.zeros(1, np.int16), np.zeros(1), np.full(1, np.inf))
    history = ServiceHistory(name="empty", write_index=np.zeros(0, np.int64), versions=[],
                             initial=EndpointVersion.empty(), service_ports_total=700)  # fmt: skip
    res = simulate_traffic(history, step_programming(np.zeros(2, np.int16), np.zeros((2, 0))), pods,
                           TrafficSpec(rate=20, start=0, end=5), mode="iptables", rng=np.random.default_rng(0))  # fmt: skip
    assert res.n > 0 and np.all(res.outcome == REFUSED)
    assert np.all(res.rules_walked == 700)  # no nat rule: the whole KUBE-SERVICES, then REJECT


def test_external_local_lb_sends_only_to_nodes_with_local_endpoints():
    ro = rolling_update(n_nodes=20, replicas=3, rng=np.random.default_rng(2), rollout_start=1e9,
                        kind="LoadBalancer", external_local=True)  # fmt: skip
    spec = TrafficSpec(rate=200, start=0, end=5, source="external", clients=1000)
    res = simulate_traffic(ro.history, ro.programming, ro.pods, spec, mode="nftables", rng=np.random.default_rng(2))
    assert set(res.node.tolist()) <= set(ro.history.initial.node.tolist())
    assert np.all(ro.pods.node[res.backend] == res.node)  # Local: never leaves the node
    np_ro = rolling_update(n_nodes=20, replicas=3, rng=np.random.default_rng(2), rollout_start=1e9,
                           kind="NodePort", external_local=True)  # fmt: skip
    np_res = simulate_traffic(np_ro.history, np_ro.programming, np_ro.pods, spec, mode="iptables",
                              rng=np.random.default_rng(2))  # fmt: skip
    assert np.sum(np_res.outcome == DROPPED_NO_LOCAL) > 0  # no LB health check for NodePort
    assert np.all(np_res.rules_walked[np_res.outcome == OK] > np_ro.history.service_ports_total)


def test_internal_local_drops_on_nodes_without_endpoints():
    ro = rolling_update(n_nodes=10, replicas=2, rng=np.random.default_rng(3), rollout_start=1e9, internal_local=True)
    res = simulate_traffic(ro.history, ro.programming, ro.pods, TrafficSpec(rate=100, start=0, end=5, clients=10),
                           mode="iptables", rng=np.random.default_rng(3))  # fmt: skip
    has_ep = np.isin(res.node, ro.history.initial.node)
    assert np.all(res.outcome[~has_ep] == DROPPED_NO_LOCAL) and np.all(res.outcome[has_ep] == OK)


def test_topology_hints_keep_traffic_in_zone():
    ro = rolling_update(n_nodes=12, replicas=12, rng=np.random.default_rng(4), rollout_start=1e9, hints=True)
    res = simulate_traffic(ro.history, ro.programming, ro.pods, TrafficSpec(rate=300, start=0, end=5, clients=12),
                           mode="nftables", rng=np.random.default_rng(4))  # fmt: skip
    node_zone = ro.programming.zone[res.node]
    zones_with_eps = set(ro.history.initial.zone.tolist())
    inz = np.isin(node_zone, list(zones_with_eps))
    assert np.all(ro.pods.zone[res.backend[inz]] == node_zone[inz])


def test_external_traffic_rejected_for_cluster_ip():
    ro = rolling_update(n_nodes=2, replicas=1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="takes no external traffic"):
        simulate_traffic(ro.history, ro.programming, ro.pods, TrafficSpec(rate=1, start=0, end=1, source="external"),
                         mode="iptables", rng=np.random.default_rng(0))  # fmt: skip
