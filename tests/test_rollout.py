"""Rolling updates in the simulated cluster follow the Deployment controller's rules."""

import math

import pytest

from simk8s.cluster.run import run_cluster

BASE = """
name: roll
duration: 20m
cluster: {{nodes: 12}}
services:
  - {{name: web, selector: {{app: web}}, ports: [{{name: http, port: 80, targetPort: http}}]}}
workloads:
  - name: web
    replicas: {replicas}
    containerPorts: [{{name: http, containerPort: 8080}}]
    readinessProbe: {{initialDelaySeconds: 3, periodSeconds: 5}}
    strategy: {{type: RollingUpdate, maxSurge: {surge}, maxUnavailable: {unavailable}}}
events:
  - {{at: 1m, rollout: web}}
"""


def _run(make_scenario, replicas, surge, unavailable):
    sc = make_scenario(BASE.format(replicas=replicas, surge=surge, unavailable=unavailable))
    run = run_cluster(sc)
    assert run.exception is None
    d = run.world.workload_by_name["web"]
    during = [h for h in d.history if h[0] >= 60.0]
    return run, d, during


def test_ten_replicas_25_percent_never_exceeds_13_or_drops_below_8(make_scenario):
    run, _d, during = _run(make_scenario, 10, "25%", "25%")
    assert max(active for _t, active, _a, _term in during) == 13
    assert min(avail for _t, _act, avail, _term in during) == 8
    rollout = run.rollouts.iloc[0]
    assert math.isfinite(rollout.end_s)
    # every pod of the old revision was replaced
    assert set(run.pods[run.pods.gone_s == math.inf].revision) == {2}
    assert (run.pods.revision == 2).sum() == 10


def test_max_surge_zero_replaces_one_pod_at_a_time(make_scenario):
    run, _d, during = _run(make_scenario, 40, 0, 1)
    assert max(active for _t, active, _a, _term in during) == 40
    assert min(avail for _t, _act, avail, _term in during) == 39
    new_pods = run.pods[run.pods.revision == 2].sort_values("created_s")
    old_pods = run.pods[run.pods.revision == 1]
    assert len(new_pods) == 40
    # one at a time: each new pod is created only after the previous new one became ready
    created = new_pods.created_s.to_numpy()
    ready = new_pods.first_ready_s.to_numpy()
    assert (created[1:] >= ready[:-1]).all()
    # and old pods are deleted one by one, each after the previous new pod was ready
    deletions = sorted(old_pods.deletion_s)
    assert len(set(deletions)) == 40


@pytest.mark.parametrize("replicas", [2000])
def test_2000_replicas_max_surge_zero_max_unavailable_one(make_scenario, replicas):
    sc = make_scenario(
        BASE.format(replicas=replicas, surge=0, unavailable=1).replace("duration: 20m", "duration: 2m")
        .replace("nodes: 12", "nodes: 100")
    )
    run = run_cluster(sc)
    d = run.world.workload_by_name["web"]
    during = [h for h in d.history if h[0] >= 60.0]
    assert max(a for _t, a, _av, _te in during) == replicas
    assert min(av for _t, _a, av, _te in during) == replicas - 1
    new = run.pods[run.pods.revision == 2]
    # 60 s of rollout with ~5-10 s per replacement: a handful of pods, strictly sequential
    assert 3 <= len(new) <= 12
    created = new.sort_values("created_s")
    assert (created.created_s.to_numpy()[1:] >= created.first_ready_s.to_numpy()[:-1]).all()


def test_500_replicas_25_percent_keep_375_available(make_scenario):
    # 500 deletes and creates queue behind the controller manager's client (QPS 20): the old
    # ReplicaSet waits minutes on its deletion expectations while new pods become ready. It
    # must not be scaled down again meanwhile (rolling.go cleanupUnhealthyReplicas errors on
    # an old set whose available pods exceed its replicas); before, availability fell to 347.
    sc = make_scenario(BASE.format(replicas=500, surge="25%", unavailable="25%").replace("nodes: 12", "nodes: 100"))
    run = run_cluster(sc)
    d = run.world.workload_by_name["web"]
    during = [h for h in d.history if h[0] >= 60.0]
    assert min(avail for _t, _act, avail, _term in during) == 375
    assert max(active for _t, active, _a, _term in during) == 600
    rollout = run.rollouts.iloc[0]
    assert (rollout.min_available, rollout.max_pods) == (375, 600)
    assert (run.pods.revision == 2).sum() == 500
