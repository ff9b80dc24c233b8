"""Controller behaviours that follow the Kubernetes release (its feature gates) and the
control-plane details they rest on: whole-second API times, the Deployment's one scaling
step per sync, the ReplicaSet's slow-start creates and scale-down order. Small clusters,
exact counters."""

from __future__ import annotations

import itertools
import math

import pytest

from simk8s.api.objects import Pod, Service
from simk8s.cluster.run import run_cluster
from simk8s.cluster.workloads import Deployment
from simk8s.controller.triggertime import TriggerTimeTracker

BASE = """
name: releases
seed: 3
duration: {duration}
cluster:
  kubernetesVersion: "{version}"
  nodes: {nodes}
  zones: [a, b, c]
  controllerManager: {{kubeApiQps: {qps}, kubeApiBurst: {burst}}}
  featureGates: {gates}
services:
  - name: web
    selector: {{app: web}}
    ports: [{{name: http, port: 80, targetPort: http}}]
    annotations: {annotations}
    trafficDistribution: {td}
workloads:
  - name: web
    replicas: {replicas}
    labels: {{app: web}}
    containerPorts: [{{name: http, containerPort: 8080}}]
    readinessProbe: {{initialDelaySeconds: 2, periodSeconds: 5}}
    shutdownDelay: 10s
    strategy: {{type: RollingUpdate, maxSurge: {surge}, maxUnavailable: {unavailable}}}
events: {events}
"""


def scenario(make_scenario, **kw):
    values = {
        "duration": "4m", "version": "1.36", "nodes": 6, "qps": 3, "burst": 3, "gates": "{}",
        "annotations": "{}", "td": "null", "replicas": 6, "surge": 1, "unavailable": 0,
        "events": "[{at: 1m, rollout: web}]",
    }  # fmt: skip
    values.update(kw)
    return make_scenario(BASE.format(**values))


def slice_writes(run):
    api = run.world.apiserver
    return [(r, obj) for r, obj in zip(api.log, api.objects, strict=True) if r.kind == "EndpointSlice"]


# ---------------------------------------------------------------------------------------
# Feature gates


@pytest.mark.parametrize(("gate", "writes", "terminating_writes"), [("true", 27, 24), ("false", 18, 0)])
def test_terminating_condition_gate(make_scenario, gate, writes, terminating_writes):
    """KEP-1672: with the gate, a terminating pod stays in its slice (serving while its app
    drains, then not); without it, it leaves the slice when its deletion starts."""
    run = run_cluster(scenario(make_scenario, gates=f"{{EndpointSliceTerminatingCondition: {gate}}}"))
    assert run.exception is None
    written = slice_writes(run)
    assert len(written) == writes
    with_terminating = [obj for _r, obj in written if any(e.terminating for e in obj.endpoints)]
    assert len(with_terminating) == terminating_writes
    if gate == "false":
        assert all(e.serving is None and e.terminating is None for _r, obj in written for e in obj.endpoints)


@pytest.mark.parametrize(("gate", "hinted"), [("false", 0), ("true", 6)])
def test_traffic_distribution_is_dropped_without_its_gate(make_scenario, gate, hinted):
    """KEP-4444: with ServiceTrafficDistribution off (1.30) the apiserver drops the field,
    so no hints are written and kube-proxy sees no preference."""
    run = run_cluster(scenario(
        make_scenario, gates=f"{{ServiceTrafficDistribution: {gate}}}", td="PreferClose", events="[]", duration="1m",
    ))  # fmt: skip
    svc = run.world.services[("default", "web")]
    assert svc.traffic_distribution == (None if gate == "false" else "PreferClose")
    (placed,) = run.world.apiserver.list("EndpointSlice")
    assert sum(bool(e.hints_for_zones) for e in placed.endpoints) == hinted


@pytest.mark.parametrize(("gate", "hinted"), [("true", 6), ("false", 0)])
def test_topology_mode_needs_the_topology_aware_hints_gate(make_scenario, gate, hinted):
    run = run_cluster(scenario(
        make_scenario, gates=f"{{TopologyAwareHints: {gate}}}", events="[]", duration="1m",
        annotations="{service.kubernetes.io/topology-mode: Auto}",
    ))  # fmt: skip
    (placed,) = run.world.apiserver.list("EndpointSlice")
    assert sum(bool(e.hints_for_zones) for e in placed.endpoints) == hinted


def _scaled_down(run, after: float):
    pods = run.pods
    gone = pods[(pods.deleted_reason == "scale-down") & (pods.deletion_s >= after)]
    return sorted(gone.pod.str.rsplit("-", n=1).str[-1])


def test_scale_down_takes_doubled_up_pods_first(make_scenario):
    """getPodsRankedByRelatedPodsOnSameNode: 5 pods on 3 nodes (two on node-0 and node-1);
    scaling to 2 keeps the lone pod of node-2, whatever its age."""
    run = run_cluster(scenario(
        make_scenario, nodes=3, replicas=5, events="[{at: 1m, scale: web, replicas: 2}]", duration="2m",
    ))  # fmt: skip
    pods = run.pods
    kept = pods[pods.deletion_s == math.inf]
    assert len(kept) == 2 and "node-2" in set(kept.node)


@pytest.mark.parametrize(
    ("gate", "deleted"),
    [("true", ["4sbwb", "g898p", "hmckl"]), ("false", ["9kq5z", "hmckl", "nbrxx"])],
)
def test_logarithmic_scale_down(make_scenario, gate, deleted):
    """KEP-2185: after a rollout the new pods became ready at different times; scaling down
    deletes the most recently ready ones (gate off) or, within one log2 age bucket, the
    lowest UIDs (gate on). Ready at 65-70.3 s, they are all 110-115 s old at 3m: one bucket.
    """
    run = run_cluster(scenario(
        make_scenario, gates=f"{{LogarithmicScaleDown: {gate}}}", nodes=12, surge="100%",
        events="[{at: 1m, rollout: web}, {at: 3m, scale: web, replicas: 3}]",
    ))  # fmt: skip
    assert run.exception is None
    assert _scaled_down(run, 180.0) == deleted


# ---------------------------------------------------------------------------------------
# API times in whole seconds


def test_trigger_tracker_reads_whole_seconds():
    svc = Service(name="web", creation_time=2.6)
    tracker = TriggerTimeTracker()
    assert tracker.compute(svc, [Pod(name="a", ready_transition_time=1.2)]) == 2.0  # creation
    # Ready again 0.7 s later, within the same second: no change seen.
    assert tracker.compute(svc, [Pod(name="a", ready_transition_time=1.9)]) is None
    assert tracker.compute(svc, [Pod(name="a", ready_transition_time=7.8)]) == 7.0
    changes = TriggerTimeTracker()
    assert changes.compute_changes(svc, [(1, Pod(name="a", ready_transition_time=1.2))]) == 2.0
    assert changes.compute_changes(svc, [(1, Pod(name="a", ready_transition_time=7.8))]) == 7.0


def test_trigger_times_on_the_wire_are_whole_seconds(make_scenario):
    run = run_cluster(scenario(make_scenario, events="[{at: 60.4s, rollout: web}]"))
    ready = run.pods.first_ready_s[run.pods.first_ready_s.between(60, math.inf, inclusive="neither")]
    assert (ready % 1 != 0).any()  # pods do become ready within seconds
    times = [r.trigger_time for r in run.world.apiserver.log if not math.isnan(r.trigger_time)]
    assert len(times) == 15
    assert all(t == math.floor(t) for t in times)


# ---------------------------------------------------------------------------------------
# Deployment and ReplicaSet controllers


def test_a_sync_scales_the_new_replica_set_or_the_old_ones_never_both(make_scenario, monkeypatch):
    """rolling.go rolloutRolling: 10 replicas, 25 %/25 %: the first sync surges the new
    ReplicaSet to 3; the old one goes to 8 only in the next sync."""
    steps: list[tuple[float, int, int]] = []
    sync = Deployment._sync

    def recorded(self):
        sync(self)
        new = self.sets[self.revision].replicas
        old = sum(rs.replicas for rev, rs in self.sets.items() if rev != self.revision)
        if not steps or steps[-1][1:] != (new, old):
            steps.append((self.world.env.now, new, old))

    monkeypatch.setattr(Deployment, "_sync", recorded)
    run = run_cluster(scenario(make_scenario, replicas=10, surge="25%", unavailable="25%", qps=20, burst=30))
    assert run.exception is None
    changes = [(new, old) for _t, new, old in steps]
    assert changes[:5] == [(3, 10), (3, 8), (5, 8), (5, 6), (7, 6)]
    for (_, n0, o0), (_, n1, o1) in itertools.pairwise(steps):
        assert not (n1 != n0 and o1 != o0)


def test_slow_start_creates_let_the_old_replica_set_delete_in_between(make_scenario):
    """replica_set.go slowStartBatch: the new ReplicaSet creates 1 pod, then waits for it;
    the old ReplicaSet's deletes take the client's next tokens (1 per second here)."""
    run = run_cluster(scenario(make_scenario, replicas=10, surge="25%", unavailable="25%", qps=1, burst=1))
    pods = run.pods
    calls = sorted(
        [(t, "create") for t in pods[pods.revision == 2].created_s]
        + [(t, "delete") for t in pods[pods.deleted_reason == "scale-down"].deletion_s]
    )
    assert [op for _t, op in calls[:5]] == ["create", "delete", "delete", "create", "create"]
    assert [t for t, _op in calls[:5]] == [60.0, 61.0, 62.0, 63.0, 64.0]
