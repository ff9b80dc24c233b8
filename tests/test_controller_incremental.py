"""The controllers' incremental paths against their full-recompute references (Endpoints and
EndpointSlice controllers).

``EndpointsState``, ``EndpointSliceState`` and ``TriggerTimeTracker.compute_changes`` are
fed only the pods that changed; after every step of random change sequences (adds,
readiness flips, terminations, removals, IP / node / port changes, duplicate identities)
they must give exactly what ``desired_subsets`` / ``sync_endpoints`` / ``reconcile`` /
``compute`` give from the whole pod list. The last tests run whole small clusters with the
SimPy workers on either path and require identical apiserver write logs.
"""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simk8s.api.naming import SequentialNames
from simk8s.api.objects import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    ContainerPort,
    EndpointSlice,
    Pod,
    Service,
    ServicePort,
)
from simk8s.api.sizes import SizedEntries, entry_size, wire_sizes
from simk8s.cluster.kcm import EndpointsController, EndpointSliceController
from simk8s.cluster.run import run_cluster
from simk8s.controller.endpoints import (
    EndpointsState,
    TriggerTimeTracker,
    desired_subsets,
    sync_endpoints,
    sync_endpoints_state,
)
from simk8s.controller.endpointslice import (
    EndpointSliceState,
    SliceGates,
    desired_endpoints,
    reconcile,
)

SELECTOR = (("app", "web"),)
NODES = {"node-0": "zone-a", "node-1": "zone-b", "node-2": "zone-c"}

SERVICES = {
    "plain": Service(
        name="web",
        uid="svc-uid",
        selector=SELECTOR,
        ports=(ServicePort(port=80, name="http", target_port="web"),),
        cluster_ip="10.96.0.1",
    ),
    "two-ports": Service(  # a pod may resolve one, both or neither named port
        name="web",
        uid="svc-uid",
        selector=SELECTOR,
        ports=(
            ServicePort(port=80, name="http", target_port="web"),
            ServicePort(port=9090, name="metrics", target_port="metrics"),
        ),
        cluster_ip="10.96.0.1",
    ),
    "publish": Service(
        name="web",
        uid="svc-uid",
        selector=SELECTOR,
        ports=(ServicePort(port=80, name="http", target_port="web"),),
        cluster_ip="10.96.0.1",
        publish_not_ready_addresses=True,
    ),
    "headless-dual": Service(  # no ports; both address types for slices
        name="web",
        uid="svc-uid",
        selector=SELECTOR,
        cluster_ip="None",
        ip_families=(),
    ),
    "dual-close": Service(
        name="web",
        uid="svc-uid",
        selector=SELECTOR,
        ports=(ServicePort(port=80, name="http", target_port="web"),),
        cluster_ip="10.96.0.1",
        ip_families=("IPv4", "IPv6"),
        traffic_distribution="PreferClose",
    ),
    "auto-hints": Service(
        name="web",
        uid="svc-uid",
        selector=SELECTOR,
        ports=(ServicePort(port=80, name="http", target_port="web"),),
        cluster_ip="10.96.0.1",
        annotations=(("service.kubernetes.io/topology-mode", "Auto"),),
    ),
}


class PodWorld:
    """Random pod changes; ``pods`` maps order key → current record."""

    def __init__(self, rng: random.Random, service: Service, crowded: bool = False):
        self.rng = rng
        self.service = service
        self.crowded = crowded  # few names and IPs: identities collide often
        self.pods: dict[int, Pod] = {}
        self.next_id = 0
        self.clock = 1.0

    def _ips(self) -> tuple[str, ...]:
        a = self.rng.randrange(1, 4 if self.crowded else 60)  # IPs get reused and shared
        choice = self.rng.randrange(6)
        if choice == 0:
            return ()
        if choice == 1:
            return (f"fd00::{a:x}",)
        if choice == 2:
            return (f"10.0.0.{a}", f"fd00::{a:x}")
        return (f"10.0.0.{a}",)

    def _ports(self) -> tuple[ContainerPort, ...]:
        ports = []
        if self.rng.random() < 0.9:
            ports.append(ContainerPort(self.rng.choice((8080, 8080, 8081)), "web"))
        if self.rng.random() < 0.5:
            ports.append(ContainerPort(9100, "metrics"))
        return tuple(ports)

    def new_pod(self) -> Pod:
        i = self.next_id
        self.next_id += 1
        rng = self.rng
        # Names and UIDs now and then repeat, so identities collide (dedupe paths).
        n = i if rng.random() < 0.85 else rng.randrange(max(i, 1))
        if self.crowded:
            n = u = rng.randrange(3)
        u = i if rng.random() < 0.9 else n
        return Pod(
            name=f"p{n}",
            uid=f"u{u}",
            labels=SELECTOR,
            node_name=rng.choice(("node-0", "node-1", "node-2", "node-x", "")),
            pod_ips=self._ips(),
            phase=rng.choice((RUNNING, RUNNING, RUNNING, PENDING)),
            ready=rng.random() < 0.7,
            ready_transition_time=rng.choice((None, self.clock)),
            container_ports=self._ports(),
            hostname=rng.choice(("", "", "h")),
            subdomain=rng.choice(("web", "other")),
        )

    def mutate(self, pod: Pod) -> Pod:
        rng = self.rng
        self.clock += rng.choice((0.0, 0.5, 1.0))
        kind = rng.randrange(8)
        if kind == 0:
            return dataclasses.replace(pod, ready=not pod.ready, ready_transition_time=self.clock)
        if kind == 1:
            return dataclasses.replace(pod, terminating=True)
        if kind == 2:
            return dataclasses.replace(pod, phase=rng.choice((SUCCEEDED, FAILED)))
        if kind == 3:
            return dataclasses.replace(pod, pod_ips=self._ips())
        if kind == 4:
            return dataclasses.replace(pod, node_name=rng.choice(("node-0", "node-1", "node-x")))
        if kind == 5:
            return dataclasses.replace(pod, container_ports=self._ports())
        if kind == 6:
            return dataclasses.replace(pod)  # a new record with the same content
        return dataclasses.replace(pod, ready_transition_time=rng.choice((None, self.clock)))

    def step(self, max_changes: int) -> list[tuple[int, Pod | None]]:
        """Change a few pods; returns the changes (possibly repeating a pod)."""
        changes: list[tuple[int, Pod | None]] = []
        for _ in range(self.rng.randrange(max_changes + 1)):
            r = self.rng.random()
            if r < 0.35 or not self.pods:
                order = self.next_id
                pod = self.new_pod()
                self.pods[order] = pod
                changes.append((order, pod))
            elif r < 0.5:
                order = self.rng.choice(list(self.pods))
                del self.pods[order]
                changes.append((order, None))
            else:
                order = self.rng.choice(list(self.pods))
                self.pods[order] = self.mutate(self.pods[order])
                changes.append((order, self.pods[order]))
        if self.rng.random() < 0.1:  # a pod that was never seen leaves: a no-op change
            changes.append((10**6 + self.next_id, None))
        return changes

    def ordered(self) -> list[Pod]:
        return [self.pods[k] for k in sorted(self.pods)]


# ---------------------------------------------------------------------------------------
# Endpoints


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    variant=st.sampled_from(["plain", "two-ports", "publish", "headless-dual"]),
    steps=st.integers(1, 25),
    max_changes=st.sampled_from([1, 4, 30]),
    crowded=st.booleans(),
    max_capacity=st.sampled_from([1000, 3]),
)
def test_endpoints_state_matches_full_recompute(seed, variant, steps, max_changes, crowded, max_capacity):
    svc = SERVICES[variant]
    world = PodWorld(random.Random(seed), svc, crowded)
    state = EndpointsState(svc)
    stored_ref = stored_inc = None
    for step in range(steps):
        state.apply(world.step(max_changes))
        pods = world.ordered()
        assert state.subsets() == desired_subsets(svc, pods)
        trigger = None if step % 3 else float(step)
        ref = sync_endpoints(svc, pods, stored_ref, trigger_time=trigger, max_capacity=max_capacity)
        inc = sync_endpoints_state(state, stored_inc, trigger_time=trigger, max_capacity=max_capacity)
        assert inc == ref
        if ref.obj is not None:
            # The incremental path's objects carry their entries' sizes (SizedEntries, also
            # through truncation); the reference path's are walked: same bytes.
            assert wire_sizes(inc.obj) == wire_sizes(ref.obj)
            stored_ref = stored_inc = ref.obj


def test_endpoints_state_keeps_first_address_of_a_shared_identity():
    # Two pods with the same IP and UID: one address, the first pod's (RepackSubsets dedupe);
    # readiness per port is not-ready-wins across both.
    svc = SERVICES["plain"]
    port = (ContainerPort(8080, "web"),)
    a = Pod(
        name="a",
        uid="u",
        pod_ips=("10.0.0.1",),
        phase=RUNNING,
        ready=False,
        node_name="node-0",
        container_ports=port,
    )
    b = dataclasses.replace(a, name="b", node_name="node-1", ready=True)
    state = EndpointsState(svc)
    state.apply([(2, b), (1, a)])
    (subset,) = state.subsets()
    assert subset.addresses == ()
    assert [x.target_ref.name for x in subset.not_ready_addresses] == ["a"]
    assert state.subsets() == desired_subsets(svc, [a, b])
    state.apply([(1, dataclasses.replace(a, ready=True))])
    (subset,) = state.subsets()
    assert [x.target_ref.name for x in subset.addresses] == ["a"]
    state.apply([(1, None)])
    (subset,) = state.subsets()
    assert [x.node_name for x in subset.addresses] == ["node-1"]


def test_endpoints_state_hands_out_same_address_objects_for_unchanged_pods():
    svc = SERVICES["plain"]
    port = (ContainerPort(8080, "web"),)
    pods = [
        Pod(
            name=f"p{i}",
            uid=f"u{i}",
            pod_ips=(f"10.0.1.{i}",),
            phase=RUNNING,
            ready=True,
            container_ports=port,
        )
        for i in range(1, 30)
    ]
    state = EndpointsState(svc)
    state.apply(enumerate(pods))
    before = state.subsets()
    assert state.subsets() is before  # nothing changed: nothing rebuilt
    state.apply([(3, dataclasses.replace(pods[3], ready=False))])
    (after,) = state.subsets()
    assert len(after.addresses) == 28 and len(after.not_ready_addresses) == 1
    old = {a.target_ref.name: a for a in before[0].addresses}
    assert all(a is old[a.target_ref.name] for a in after.addresses)


# ---------------------------------------------------------------------------------------
# Trigger time


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(1, 30), crowded=st.booleans())
@example(seed=7321, steps=2, crowded=True)  # a pod created and deleted within the first sync's batch
def test_trigger_time_changes_match_full_compute(seed, steps, crowded):
    svc = SERVICES["plain"]
    world = PodWorld(random.Random(seed), svc, crowded)
    full, incremental = TriggerTimeTracker(), TriggerTimeTracker()
    for _ in range(steps):
        changes = world.step(6)
        assert incremental.compute_changes(svc, changes) == full.compute(svc, world.ordered())


def test_trigger_time_changes_rechecks_pods_sharing_a_name():
    svc = Service(name="web", selector=SELECTOR, creation_time=1.0)
    a = Pod(name="same", ready_transition_time=5.0)
    b = Pod(name="same", ready_transition_time=3.0)
    full, incremental = TriggerTimeTracker(), TriggerTimeTracker()
    assert incremental.compute_changes(svc, [(1, a), (2, b)]) == full.compute(svc, [a, b]) == 1.0
    # Nothing changed, yet the full pass sees a (5.0) newer than the name's last time (3.0).
    assert incremental.compute_changes(svc, []) == full.compute(svc, [a, b]) == 5.0
    assert incremental.compute_changes(svc, []) == full.compute(svc, [a, b]) == 5.0  # again
    assert incremental.compute_changes(svc, [(2, None)]) == full.compute(svc, [a]) == 5.0
    assert incremental.compute_changes(svc, []) == full.compute(svc, [a]) is None


# ---------------------------------------------------------------------------------------
# EndpointSlices


class Informer:
    """The EndpointSlice controller's view of its slices: writes land by name, some fail."""

    def __init__(self, rng: random.Random, fail_rate: float):
        self.rng = rng
        self.fail_rate = fail_rate
        self.slices: dict[str, EndpointSlice] = {}

    def write(self, plan) -> None:
        for op, objs in (
            ("create", plan.creates),
            ("update", plan.updates),
            ("delete", plan.deletes),
        ):
            for s in objs:
                if self.rng.random() < self.fail_rate:
                    continue  # rejected: the informer keeps what it had
                if op == "delete":
                    self.slices.pop(s.name, None)
                else:
                    self.slices[s.name] = s

    def meddle(self, svc: Service) -> None:
        """Now and then a foreign or damaged slice appears (others' writes)."""
        r = self.rng.random()
        if r < 0.03 and self.slices:
            victim = self.rng.choice(list(self.slices.values()))
            if victim.endpoints:  # an endpoint copied into another slice: held twice
                other = self.rng.choice(list(self.slices.values()))
                self.slices[other.name] = dataclasses.replace(
                    other, endpoints=(*other.endpoints, victim.endpoints[0])
                )
        elif r < 0.05 and self.slices:  # someone added a label: the controller resets it
            victim = self.rng.choice(list(self.slices.values()))
            labels = tuple(sorted((*victim.labels, ("team", "x"))))
            self.slices[victim.name] = dataclasses.replace(victim, labels=labels)
        elif r < 0.07:
            name = f"foreign-{len(self.slices)}"
            self.slices[name] = EndpointSlice(
                name=name, owner_name=svc.name, owner_uid="older-uid", address_type="IPv4"
            )

    def listing(self) -> list[EndpointSlice]:
        out = list(self.slices.values())
        if out and self.rng.random() < 0.02:
            out.append(out[0])  # the same object twice
        return out


def _plan_fields(plan):
    return (
        plan.creates,
        plan.updates,
        plan.deletes,
        plan.unchanged,
        plan.error,
        plan.endpoints_added,
        plan.endpoints_removed,
    )


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    variant=st.sampled_from(list(SERVICES)),
    steps=st.integers(1, 25),
    max_changes=st.sampled_from([1, 5, 40]),
    max_eps=st.sampled_from([1, 3, 7, 100]),
    fail_rate=st.sampled_from([0.0, 0.2]),
    crowded=st.booleans(),
    gates=st.sampled_from([SliceGates(), SliceGates(terminating_condition=False, topology_aware_hints=False)]),
)
def test_slice_state_matches_full_reconcile(
    seed, variant, steps, max_changes, max_eps, fail_rate, crowded, gates
):
    svc = SERVICES[variant]
    rng = random.Random(seed)
    world = PodWorld(rng, svc, crowded)
    informer = Informer(random.Random(seed + 1), fail_rate)
    state = EndpointSliceState(svc, NODES, gates)
    names_ref, names_inc = SequentialNames(), SequentialNames()
    for step in range(steps):
        state.apply(world.step(max_changes))
        pods = world.ordered()
        assert state.desired() == desired_endpoints(svc, pods, NODES, gates)
        existing = informer.listing()
        trigger = None if step % 2 else float(step)
        ref = reconcile(
            svc,
            pods,
            existing,
            max_endpoints_per_slice=max_eps,
            nodes=NODES,
            trigger_time=trigger,
            name_for=names_ref,
            gates=gates,
        )
        inc = state.reconcile(
            existing, max_endpoints_per_slice=max_eps, trigger_time=trigger, name_for=names_inc
        )
        assert _plan_fields(inc) == _plan_fields(ref)
        for s in inc.creates + inc.updates + ref.creates + ref.updates:
            _assert_carried_size_exact(s.endpoints)
        informer.write(inc)
        informer.meddle(svc)


def _assert_carried_size_exact(endpoints) -> None:
    """A slice's endpoints that carry their packed size carry the size a walk gives."""
    if type(endpoints) is SizedEntries:
        assert endpoints.total == sum(entry_size(ep) for ep in endpoints)


def test_slice_state_takes_the_last_pod_of_a_shared_identity():
    # Two pods with the same name and IP are one endpoint identity (hashEndpoint); the later pod's
    # version is the desired one, at the earlier pod's place.
    svc = SERVICES["plain"]
    port = (ContainerPort(8080, "web"),)
    a = Pod(
        name="a",
        uid="u1",
        pod_ips=("10.0.0.1",),
        phase=RUNNING,
        ready=True,
        node_name="node-0",
        container_ports=port,
    )
    b = dataclasses.replace(a, uid="u2", node_name="node-1", ready=False)
    c = dataclasses.replace(a, name="c", pod_ips=("10.0.0.3",))
    state = EndpointSliceState(svc, NODES)
    state.apply([(1, a), (2, c), (3, b)])
    assert state.desired() == desired_endpoints(svc, [a, c, b], NODES)
    plan = state.reconcile([], trigger_time=None, name_for=SequentialNames())
    (created,) = plan.creates
    assert [(e.target_ref.name, e.node_name) for e in created.endpoints] == [
        ("a", "node-1"),
        ("c", "node-0"),
    ]
    state.apply([(3, None)])
    plan = state.reconcile([created], trigger_time=None, name_for=SequentialNames())
    (updated,) = plan.updates
    assert [e.node_name for e in updated.endpoints] == ["node-0", "node-0"]


def test_slice_state_walks_only_slices_with_changed_endpoints():
    # 250 pods in 3 slices; one pod flips: one update, and the two other slices are
    # passed over as clean (checked through the plan, which must equal the reference).
    svc = SERVICES["plain"]
    port = (ContainerPort(8080, "web"),)
    pods = {
        i: Pod(
            name=f"p{i}",
            uid=f"u{i}",
            node_name="node-0",
            pod_ips=(f"10.0.{i // 200}.{i % 200}",),
            phase=RUNNING,
            ready=True,
            container_ports=port,
        )
        for i in range(250)
    }
    state = EndpointSliceState(svc, NODES)
    state.apply(pods.items())
    names = SequentialNames()
    first = state.reconcile([], trigger_time=None, name_for=names)
    assert sorted(len(s.endpoints) for s in first.creates) == [50, 100, 100]
    existing = list(first.creates)
    assert state.reconcile(existing, trigger_time=None, name_for=names).writes == 0
    assert len(state._clean) == 3  # written by the state itself: known clean
    pods[120] = dataclasses.replace(pods[120], ready=False)
    state.apply([(120, pods[120])])
    plan = state.reconcile(existing, trigger_time=None, name_for=names)
    ref = reconcile(
        svc,
        [pods[i] for i in sorted(pods)],
        existing,
        nodes=NODES,
        trigger_time=None,
        name_for=SequentialNames(),
    )
    assert _plan_fields(plan) == _plan_fields(ref)
    (upd,) = plan.updates
    assert len(plan.unchanged) == 2 and not plan.creates and not plan.deletes
    assert [ep.ready for ep in upd.endpoints].count(False) == 1


def test_slice_state_rejects_no_change_in_service():
    svc = SERVICES["plain"]
    ext = dataclasses.replace(svc, type="ExternalName")
    assert EndpointSliceState(ext, NODES).reconcile([], trigger_time=None, name_for=str).writes == 0
    with pytest.raises(ValueError):
        EndpointSliceState(svc, NODES).reconcile(
            [], max_endpoints_per_slice=0, trigger_time=None, name_for=str
        )


# ---------------------------------------------------------------------------------------
# Whole clusters: the SimPy workers on either path write exactly the same objects


def _run(scenario, incremental: bool, monkeypatch):
    monkeypatch.setattr(EndpointsController, "incremental", incremental)
    monkeypatch.setattr(EndpointSliceController, "incremental", incremental)
    run = run_cluster(scenario)
    api = run.world.apiserver
    rows = [
        tuple(
            "nan" if isinstance(v, float) and math.isnan(v) else v for v in dataclasses.astuple(r)
        )
        for r in api.log
    ]
    syncs = [c.syncs for c in run.world.controllers]
    return rows, list(api.objects), run.events, syncs, run.exception


CLUSTER = """
    name: incremental-check
    seed: 7
    duration: 6m
    cluster:
      kubernetesVersion: "{version}"
      nodes: 12
      zones: [a, b, c]
      controllerManager: {{kubeApiQps: 5, kubeApiBurst: 3, maxEndpointsPerSlice: {max_eps}}}
    services:
      - name: web
        selector: {{app: web}}
        ports: [{{name: http, port: 80, targetPort: http}}]
        publishNotReadyAddresses: {publish}
        trafficDistribution: {td}
      - name: web-headless
        selector: {{app: web}}
        clusterIP: None
        ports: []
    workloads:
      - kind: Deployment
        name: web
        replicas: 40
        labels: {{app: web}}
        containerPorts: [{{name: http, containerPort: 8080}}]
        readinessProbe: {{initialDelaySeconds: 2, periodSeconds: 5}}
        strategy: {{type: RollingUpdate, maxSurge: 25%, maxUnavailable: 25%}}
        readinessFlaps: {{rate: 6/h, duration: 20s}}
    events:
      - {{at: 30s, rollout: web}}
      - {{at: 2m, scale: web, replicas: 70}}
      - {{at: 3m, drain: node-3}}
      - {{at: 4m, nodeLoss: node-5}}
      - {{at: 4m30s, rollout: web}}
"""


@pytest.mark.parametrize(
    ("max_eps", "publish", "td", "version"),
    [(100, "false", "null", "1.36"), (7, "true", "PreferClose", "1.36"), (7, "false", "null", "1.21")],
)
def test_cluster_writes_identical_on_both_paths(make_scenario, monkeypatch, max_eps, publish, td, version):
    scenario = make_scenario(CLUSTER.format(max_eps=max_eps, publish=publish, td=td, version=version))
    inc = _run(scenario, True, monkeypatch)
    ref = _run(scenario, False, monkeypatch)
    assert inc[4] is None and ref[4] is None
    assert len(inc[0]) > 100  # the scenario does exercise the controllers
    assert inc[0] == ref[0]  # every write: time, kind, name, op, sizes, trigger time, ...
    assert inc[1] == ref[1]  # the objects written
    assert inc[2] == ref[2]  # SimPy events
    assert inc[3] == ref[3]  # syncs per controller


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 6))
def test_sorted_addresses_head_size_follows_changes(seed, n):
    """The kept sum of the first n sizes equals a fresh sum after any insert/remove/replace."""
    from simk8s.api.objects import EndpointAddress
    from simk8s.controller.endpoints.incremental import _SortedAddresses

    rng = random.Random(seed)
    sorted_addresses = _SortedAddresses()
    for _ in range(60):
        keys = sorted_addresses.keys
        op = rng.randrange(3)
        if op == 0 or not keys:
            key = f"{rng.randrange(40):02d}"
            if key not in keys:
                sorted_addresses.insert(key, EndpointAddress(ip="10.0.0." + key, node_name="n" * rng.randrange(5)))
        elif op == 1:
            sorted_addresses.remove(rng.choice(keys))
        else:
            key = rng.choice(keys)
            sorted_addresses.replace(key, EndpointAddress(ip="10.0.0." + key, node_name="m" * rng.randrange(9)))
        assert sorted_addresses.head_size(n) == sum(entry_size(a) for a in sorted_addresses.addrs[:n])
