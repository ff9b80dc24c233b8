"""Hypothesis properties of the controllers, and the workqueue helpers (client-go
``util/workqueue``)."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simk8s.api.naming import SequentialNames
from simk8s.api.objects import (
    FAILED,
    PENDING,
    RUNNING,
    ContainerPort,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    ObjectReference,
    Pod,
    Service,
    ServicePort,
)
from simk8s.controller.endpoints import MAX_CAPACITY, desired_subsets, sync_endpoints
from simk8s.controller.endpointslice import apply_plan, desired_endpoints, endpoint_key, reconcile
from simk8s.controller.mirroring import mirror
from simk8s.controller.workqueue import (
    MAX_RETRIES,
    ControllerRateLimiter,
    ItemExponentialBackoff,
    TokenBucket,
    WorkQueueState,
    endpoints_rate_limiter,
    endpointslice_rate_limiter,
)

SELECTOR = (("app", "web"),)
NODES = {"node-0": "zone-a", "node-1": "zone-b"}


def service(publish: bool = False, named: bool = False, dual: bool = False) -> Service:
    ports = (ServicePort(port=80, name="http", target_port="web" if named else None),)
    return Service(
        name="web",
        uid="svc-uid",
        selector=SELECTOR,
        ports=ports,
        cluster_ip="10.96.0.1",
        ip_families=("IPv4", "IPv6") if dual else ("IPv4",),
        publish_not_ready_addresses=publish,
    )


@st.composite
def pod_sets(draw, max_pods: int = 260) -> list[Pod]:
    # Pod attributes come from a drawn seed: drawing thousands of values one by one
    # through Hypothesis is slow; small cases still shrink through n and the seed.
    n = draw(st.integers(0, max_pods))
    rng = random.Random(draw(st.integers(0, 2**32)))
    ids = rng.sample(range(max(400, 2 * max_pods)), n)
    pods = []
    for i in ids:
        flags = rng.randrange(256)
        pods.append(
            Pod(
                name=f"p{i}",
                uid=f"u{i}",
                labels=SELECTOR,
                node_name=("node-0", "node-1", "node-x")[flags % 3],  # node-x is missing
                pod_ips=()
                if flags % 29 == 0
                else (f"10.{i // 40000}.{i // 200 % 200}.{i % 200 + 1}", f"fd00::{i:x}"),
                phase=(RUNNING, PENDING, FAILED)[(flags >> 2) % 3] if flags % 7 == 0 else RUNNING,
                ready=bool(flags & 16),
                terminating=bool(flags & 32) and flags % 5 == 0,
                container_ports=(ContainerPort(8080 + (flags >> 6), "web"),),
            )
        )
    return pods


def check_slices(slices, desired, max_eps) -> None:
    """No slice above max; every desired endpoint in exactly one slice; nothing else."""
    want = {
        (t, ports, key)
        for t, groups in desired.groups.items()
        for ports, eps in groups.items()
        for key in eps
    }
    seen = []
    for s in slices:
        assert len(s.endpoints) <= max_eps
        seen.extend((s.address_type, s.ports, endpoint_key(e)) for e in s.endpoints)
    assert len(seen) == len(set(seen))
    assert set(seen) == want


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(pod_sets(), min_size=1, max_size=4),
    max_eps=st.sampled_from([1, 7, 50, 100]),
    publish=st.booleans(),
    named=st.booleans(),
    dual=st.booleans(),
)
def test_reconcile_properties(steps, max_eps, publish, named, dual):
    svc = service(publish, named, dual)
    names = SequentialNames()
    slices: list = []
    for pods in steps:
        plan = reconcile(
            svc,
            pods,
            slices,
            max_endpoints_per_slice=max_eps,
            nodes=NODES,
            trigger_time=1.0,
            name_for=names,
        )
        slices = apply_plan(slices, plan)
        assert len({s.name for s in slices}) == len(slices)
        check_slices(slices, desired_endpoints(svc, pods, NODES), max_eps)
        again = reconcile(
            svc,
            pods,
            slices,
            max_endpoints_per_slice=max_eps,
            nodes=NODES,
            trigger_time=2.0,
            name_for=names,
        )
        assert again.writes == 0  # idempotence
        assert again.error == plan.error
        # At least one slice (placeholder) per address type.
        assert {s.address_type for s in slices} == set(svc.ip_families)


@settings(max_examples=25, deadline=None)
@given(pods=pod_sets(max_pods=2400), publish=st.booleans(), named=st.booleans())
def test_endpoints_never_over_capacity(pods, publish, named):
    svc = service(publish, named)
    r = sync_endpoints(svc, pods, None, trigger_time=None)
    total = r.ready + r.not_ready
    assert r.obj.address_count == min(total, MAX_CAPACITY)
    assert r.truncated == (total > MAX_CAPACITY)
    again = sync_endpoints(svc, pods, r.obj, trigger_time=None)
    if total > MAX_CAPACITY:
        assert again.action == "update" and again.obj == r.obj  # over capacity: rewritten every sync
    else:
        assert again.action == "none"
    untruncated = desired_subsets(svc, pods)
    assert sum(len(s.addresses) + len(s.not_ready_addresses) for s in untruncated) == total


@settings(max_examples=40, deadline=None)
@given(
    subsets=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 30), st.sampled_from([80, 443, 8080])),
        min_size=0,
        max_size=3,
    ),
    cap=st.sampled_from([1, 5, 1000]),
)
def test_mirroring_properties(subsets, cap):
    def a(i: int) -> EndpointAddress:
        return EndpointAddress(
            ip=f"192.168.0.{i + 1}", target_ref=ObjectReference("Pod", "default", f"p{i}", f"u{i}")
        )

    ep = Endpoints(
        name="ext",
        uid="ep-uid",
        subsets=tuple(
            EndpointSubset(
                tuple(a(i) for i in range(r)),
                tuple(a(100 + i) for i in range(nr)),
                (EndpointPort(port),),
            )
            for r, nr, port in subsets
        ),
    )
    svc = Service(name="ext", selector=None)
    plan = mirror(ep, svc, [], max_per_subset=cap, name_for=SequentialNames())
    slices = apply_plan([], plan)
    assert all(0 < len(s.endpoints) <= cap for s in slices)
    assert mirror(ep, svc, slices, max_per_subset=cap, name_for=SequentialNames()).writes == 0


def test_reconcile_hot_path_reuses_endpoint_objects():
    # Unchanged pods hand out the same Endpoint objects (cheap sizes and comparisons).
    svc = service()
    pods = [
        Pod(
            name=f"p{i}",
            uid=f"u{i}",
            node_name="node-0",
            pod_ips=(f"10.0.0.{i + 1}",),
            phase=RUNNING,
            ready=True,
        )
        for i in range(20)
    ]
    names = SequentialNames()
    first = apply_plan([], reconcile(svc, pods, [], nodes=NODES, trigger_time=None, name_for=names))
    changed = [dataclasses.replace(pods[0], ready=False), *pods[1:]]
    plan = reconcile(svc, changed, first, nodes=NODES, trigger_time=None, name_for=names)
    (upd,) = plan.updates
    assert all(a is b for a, b in zip(upd.endpoints[1:], first[0].endpoints[1:], strict=True))


# ---------------------------------------------------------------------------------------
# Workqueue helpers


def simulate_batching(event_times: list[float], period: float) -> list[float]:
    """Pod events for one Service key; an always-idle worker syncs as soon as ready."""
    q = WorkQueueState()
    syncs = []

    def drain(now: float) -> None:
        q.pop_ready(now)
        while (key := q.get()) is not None:
            syncs.append(now)
            q.done(key)

    for t in event_times:
        while (nxt := q.next_ready_time()) is not None and nxt <= t:
            drain(nxt)
        q.add_after("default/web", t, period)
        drain(t)
    while (nxt := q.next_ready_time()) is not None:
        drain(nxt)
    return syncs


def test_t19_batching():
    assert simulate_batching([0.2, 0.3, 0.4], 0.0) == [0.2, 0.3, 0.4]
    assert simulate_batching([0.2, 0.3, 0.4], 1.0) == [pytest.approx(1.2)]
    assert simulate_batching([0.2, 0.3, 1.3], 1.0) == [pytest.approx(1.2), pytest.approx(2.3)]


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0.001, 10)), min_size=1, max_size=20))
def test_add_after_only_moves_earlier(requests):
    q = WorkQueueState()
    for now, delay in requests:
        q.add_after("k", now, delay)
    assert q.next_ready_time() == min(now + delay for now, delay in requests)
    assert q.waiting == 1


def test_workqueue_dedupe_and_dirty_processing():
    q = WorkQueueState()
    assert q.add("a") and not q.add("a")
    assert len(q) == 1
    assert q.get() == "a" and q.is_processing("a")
    assert not q.add("a")  # marked dirty while processing, not handed out twice
    assert q.get() is None
    assert q.done("a")  # re-queued
    assert q.get() == "a"
    assert not q.done("a")
    assert q.get() is None


def test_backoff_sequences():
    ep = ItemExponentialBackoff(0.005, 1000.0)
    seq = [ep.when("k") for _ in range(MAX_RETRIES + 1)]
    assert seq[:4] == [0.005, 0.01, 0.02, 0.04]
    assert seq[13] == pytest.approx(40.96) and seq[14] == pytest.approx(81.92)
    eps = ItemExponentialBackoff(1.0, 1000.0)
    seq = [eps.when("k") for _ in range(12)]
    assert seq == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000]
    assert eps.num_requeues("k") == 12
    eps.forget("k")
    assert eps.when("k") == 1


def test_token_bucket_reserve():
    b = TokenBucket(qps=20, burst=30)
    starts = [b.reserve(0.0) for _ in range(32)]
    assert starts[:30] == [0.0] * 30
    assert starts[30] == pytest.approx(0.05) and starts[31] == pytest.approx(0.10)
    assert b.reserve(100.0) == 100.0  # refilled while idle
    assert b.tokens(100.0) == pytest.approx(29.0)


def test_controller_rate_limiters():
    rl = endpoints_rate_limiter()
    assert rl.when("k", 0.0) == 0.005
    slice_rl = endpointslice_rate_limiter()
    assert slice_rl.when("k", 0.0) == 1.0
    assert slice_rl.when("k", 0.0) == 2.0
    # The overall bucket dominates once 100 retries happen at the same instant.
    crowded = ControllerRateLimiter(0.005, 1000.0, qps=10, burst=100)
    delays = [crowded.when(f"k{i}", 0.0) for i in range(102)]
    assert (
        delays[99] == 0.005
        and delays[100] == pytest.approx(0.1)
        and delays[101] == pytest.approx(0.2)
    )
