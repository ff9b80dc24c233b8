"""The SimPy world: nodes, scheduler, kubelets, Deployments, the apiserver and the controllers.

Per-pod lifecycle transitions are timer callbacks (grouped per instant), not processes.
Readiness comes from the probe schedule (kubelet prober worker ticks), not probe by probe.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import simpy

from simk8s.api import objects as api
from simk8s.cluster.apiserver import APIServer
from simk8s.cluster.names import NameSuffixes, pod_template_hash, stable_uid
from simk8s.cluster.nodes import NodeTable, PodIPAllocator
from simk8s.cluster.placement import ZonePlacement
from simk8s.cluster.pods import INF, PodState
from simk8s.cluster.services import build_services
from simk8s.cluster.timers import Timers
from simk8s.cluster.workloads import Deployment
from simk8s.controller.replicaset import RankedPod
from simk8s.controller.workqueue import TokenBucket
from simk8s.rng import component_rng

# Kubelet: time from container exit until the pod object is removed (status sync + delete call).
KUBELET_DELETE_DELAY = 1.0
# Node lifecycle controller: NotReady after node-monitor-grace-period, eviction after the
# default not-ready toleration (300 s, taint-based eviction).
NODE_MONITOR_GRACE = 40.0
NODE_EVICTION_TIMEOUT = 300.0
# Approximate stored (protobuf) size of a Pod object; Pods are counted, not fanned out.
POD_PROTO_BYTES = 2600


@dataclass(frozen=True, slots=True)
class _PodTemplate:
    name_prefix: str  # <deployment>-<pod-template-hash>-
    labels: tuple[tuple[str, str], ...]  # template labels + pod-template-hash
    container_ports: tuple[api.ContainerPort, ...]


class Controller(Protocol):
    """A kube-controller-manager controller working on this world (simk8s/cluster/kcm.py)."""

    name: str
    syncs: int

    def initial(self) -> None: ...


class _SelectorIndex:
    """Services by the first pair of their selector, so finding the Services that select
    a pod template looks at a few candidates instead of every Service (HOT PATH at setup:
    10,000 Services × 10,000 Deployments). Candidates come back in Service order."""

    def __init__(self, services: dict[tuple[str, str], api.Service]):
        self._by_pair: dict[tuple[str, str, str], list[tuple[int, tuple[str, str], api.Service]]] = {}
        for order, (key, svc) in enumerate(services.items()):
            if svc.selector:  # an empty or missing selector selects nothing
                k, v = svc.selector[0]
                self._by_pair.setdefault((svc.namespace, k, v), []).append((order, key, svc))

    def for_labels(self, namespace: str, labels: tuple[tuple[str, str], ...]) -> list[tuple[tuple[str, str], api.Service]]:
        found = [c for k, v in labels for c in self._by_pair.get((namespace, k, v), ())]
        found.sort(key=lambda c: c[0])
        return [(key, svc) for _, key, svc in found]


class World:
    def __init__(self, scenario: Any):
        self.sc = scenario
        cl = scenario.cluster
        self.env = simpy.Environment()
        self.timers = Timers(self.env)
        self.seed = scenario.seed
        self.nodes = NodeTable.build(cl.nodes, list(cl.zones), cl.node_name_prefix, cl.cluster_cidr, cl.node_cidr_mask_size)
        self.ipam = PodIPAllocator(self.nodes)
        self.apiserver = APIServer(
            self.env,
            write_latency=cl.apiserver.write_latency,
            max_request_bytes=cl.etcd.max_request_bytes,
            max_request_body_bytes=cl.apiserver.max_request_body_bytes,
        )
        self.rng_names = component_rng(self.seed, "apiserver/generateName")
        self.name_suffixes = NameSuffixes(self.rng_names)
        self.rng_sched = component_rng(self.seed, "kube-scheduler")
        self.rng_kubelet = component_rng(self.seed, "kubelet")
        self.pods: list[PodState] = []
        self.pod_services: list[tuple[tuple[str, str], ...]] = []  # Services selecting each pod
        self.pods_on_node: list[set[int]] = [set() for _ in range(len(self.nodes))]
        self.node_pod_count = np.zeros(len(self.nodes), dtype=np.int32)
        self.placement = ZonePlacement(self.nodes, self.node_pod_count, cl.max_pods_per_node)
        self.pod_listeners: list[Callable[[PodState], None]] = []
        self.service_listeners: list[Callable[[api.Service], None]] = []

        self.services: dict[tuple[str, str], api.Service] = {}
        gates = cl.feature_gates
        for svc in build_services(scenario.services, cl.service_cidr, gates.service_traffic_distribution):
            self.services[(svc.namespace, svc.name)] = svc
            self.apiserver.seed("Service", svc)
        self.service_pods: dict[tuple[str, str], set[int]] = {k: set() for k in self.services}

        self.deployments: dict[str, Deployment] = {}
        self.workload_by_name: dict[str, Deployment] = {}
        candidates = _SelectorIndex(self.services)
        for w in scenario.workloads:
            d = Deployment(self, w, len(self.nodes.zone_names), cl.feature_gates.logarithmic_scale_down)
            template = api.Pod(name="", namespace=w.namespace, labels=tuple(sorted(w.labels.items())))
            # (the Deployment's own selector is w.match_labels; its ReplicaSets own exactly its pods)
            # Pod labels never change here, so Service membership is fixed per Deployment.
            d.service_keys = tuple(k for k, svc in candidates.for_labels(w.namespace, template.labels) if svc.selects(template))
            self.deployments[f"{w.namespace}/{w.name}"] = d
            self.workload_by_name[w.name] = d
            self.workload_by_name[f"{w.namespace}/{w.name}"] = d

        kcm = cl.controller_manager
        self.rs_client = TokenBucket(kcm.kube_api_qps, kcm.kube_api_burst)
        self.scheduler_bucket = TokenBucket(cl.scheduler.throughput, max(1, int(cl.scheduler.throughput)))
        self.node_events: list[dict] = []
        self.controllers: list[Controller] = []  # set by run_cluster, once they exist

    # -- pods --------------------------------------------------------------------------------
    def _template(self, d: Deployment, revision: int) -> _PodTemplate:
        """What every pod of one ReplicaSet shares (HOT PATH: computed once per revision)."""
        template = d.templates.get(revision)
        if template is None:
            spec = d.spec
            labels = dict(spec.labels)
            labels["pod-template-hash"] = str(revision)
            # <deployment>-<pod-template-hash (10)>-<5 random>, as the ReplicaSet controller names pods.
            template = d.templates[revision] = _PodTemplate(
                name_prefix=f"{d.name}-{pod_template_hash(d.name, revision)}-",
                labels=tuple(sorted(labels.items())),
                container_ports=tuple(
                    api.ContainerPort(container_port=p.container_port, name=p.name or "", protocol=p.protocol)
                    for p in spec.container_ports
                ),
            )
        return template

    def _pod_name(self, d: Deployment, revision: int) -> str:
        return self._template(d, revision).name_prefix + self.name_suffixes.next()

    def create_pod(self, d: Deployment, revision: int, *, at: float | None = None, via_client: bool = True) -> int:
        now = self.env.now
        if at is not None:
            when = at
        elif via_client:
            when = self.rs_client.reserve(now)
        else:
            when = now
        template = self._template(d, revision)
        name = self._pod_name(d, revision)
        pod = PodState(
            id=len(self.pods),
            name=name,
            namespace=d.namespace,
            uid=stable_uid("Pod", d.namespace, name, str(len(self.pods))),
            workload=d.name,
            revision=revision,
            labels=template.labels,
            container_ports=template.container_ports,
            created=when,
        )
        self.pods.append(pod)
        d.sets[revision].active += 1
        d.sets[revision].active_ids.add(pod.id)
        self.pod_services.append(d.service_keys)
        for key in d.service_keys:
            self.service_pods[key].add(pod.id)
        if at is None:
            self.timers.at(when, self._pod_created, pod)
        return pod.id

    def _pod_created(self, pod: PodState) -> None:
        self.apiserver.pod_write("create", POD_PROTO_BYTES)
        self._notify(pod)
        if pod.terminating:
            return
        self.timers.at(self.scheduler_bucket.reserve(self.env.now), self._schedule, pod)

    def _schedule(self, pod: PodState) -> None:
        """kube-scheduler: spread over zones, then least-loaded node, random among equals."""
        if pod.terminating:
            return
        zones_ok = self.placement.zones_with_room()
        if not zones_ok:
            self.timers.after(1.0, self._schedule, pod)  # unschedulable: retried from the backoff queue
            return
        d = self.workload_by_name[pod.workload]
        zone = min(zones_ok, key=d.zone_load.__getitem__)  # the first least-loaded zone
        best = self.placement.least_loaded(zone)
        node = best[self.rng_sched.integers(len(best))]
        now = self.env.now
        pod.node, pod.node_name, pod.scheduled = node, self.nodes.names[node], now
        d.zone_load[self.nodes.zone[node]] += 1
        self.node_pod_count[node] += 1
        self.placement.count_changed(node, before=int(self.node_pod_count[node]) - 1)
        self.pods_on_node[node].add(pod.id)
        self.apiserver.pod_write("bind", POD_PROTO_BYTES)
        self._touch(pod)
        self._notify(pod)
        self._kubelet_start(pod, worker_start=now)

    def _start_latency(self) -> float:
        lat = self.sc.cluster.kubelet.pod_start_latency
        # lognormal with the given median and p99: sigma = ln(p99/median) / z(0.99)
        sigma = math.log(max(lat.p99, lat.median * 1.0001) / lat.median) / 2.3263478740408408
        return float(lat.median * math.exp(sigma * self.rng_kubelet.standard_normal()))

    def _kubelet_start(self, pod: PodState, worker_start: float) -> None:
        started = worker_start + self._start_latency()
        self.timers.at(started, self._container_started, pod, worker_start)

    def probe_tick_at_or_after(self, pod: PodState, t: float) -> float:
        """Prober worker ticks every periodSeconds from worker start (kubelet prober/worker.go)."""
        probe = self._workload_spec(pod).readiness_probe
        period = probe.period_seconds if probe is not None else 10
        base = pod.scheduled
        k = math.ceil((t - base) / period - 1e-9)
        return base + max(k, 0) * period

    def _workload_spec(self, pod: PodState) -> Any:
        return self.workload_by_name[pod.workload].spec

    def _container_started(self, pod: PodState, worker_start: float) -> None:
        if pod.terminating or not self.nodes.alive[pod.node]:
            return
        now = self.env.now
        pod.started = now
        pod.phase = api.RUNNING
        pod.ip = self.ipam.allocate(pod.node)
        pod.serving_from = now
        self._touch(pod)
        self.apiserver.pod_write("status", POD_PROTO_BYTES)
        self._notify(pod)
        probe = self._workload_spec(pod).readiness_probe
        if probe is None:
            ready_at = now  # no readiness probe: Ready once the container runs
        else:
            # First probe that counts: the first tick at least initialDelaySeconds after start.
            first = self.probe_tick_at_or_after(pod, now + probe.initial_delay_seconds)
            ready_at = first + (probe.success_threshold - 1) * probe.period_seconds
        self.timers.at(ready_at, self._set_ready, pod, True)
        self._schedule_flaps(pod, ready_at)

    def _schedule_flaps(self, pod: PodState, ready_at: float) -> None:
        flaps = self._workload_spec(pod).readiness_flaps
        probe = self._workload_spec(pod).readiness_probe
        if flaps is None or flaps.rate <= 0 or probe is None:
            return
        t = ready_at
        end = self.sc.duration
        while True:
            t += float(self.rng_kubelet.exponential(1.0 / flaps.rate))
            if t >= end:
                return
            # NotReady after failureThreshold failing probes; Ready after successThreshold passing ones.
            down = self.probe_tick_at_or_after(pod, t) + (probe.failure_threshold - 1) * probe.period_seconds
            up = self.probe_tick_at_or_after(pod, t + flaps.duration) + (probe.success_threshold - 1) * probe.period_seconds
            if up <= down:
                continue
            self.timers.at(down, self._set_ready, pod, False)
            self.timers.at(up, self._set_ready, pod, True)
            t = up

    def _set_ready(self, pod: PodState, ready: bool) -> None:
        if pod.gone != INF or pod.ready == ready:
            return
        if ready and (pod.serving_until <= self.env.now):
            return
        now = self.env.now
        pod.ready = ready
        pod.ready_transition = now
        if ready:
            pod.ready_since = now
            pod.first_ready = min(pod.first_ready, now)
            min_ready = self._workload_spec(pod).min_ready_seconds
            pod.available_since = now + min_ready
            if min_ready > 0:
                self.timers.at(pod.available_since, self._became_available, pod)
        else:
            pod.ready_since = INF
            pod.available_since = INF
        self._recount(pod)
        self._touch(pod)
        self.apiserver.pod_write("status", POD_PROTO_BYTES)
        self._notify(pod)

    def _became_available(self, pod: PodState) -> None:
        self._recount(pod)
        self._notify_workload(pod)

    def _recount(self, pod: PodState) -> None:
        """Keep the ReplicaSet's active/available counters in step with this pod."""
        available = pod.active and pod.available_since <= self.env.now
        if available != pod.counted_available:
            pod.counted_available = available
            self.workload_by_name[pod.workload].sets[pod.revision].available += 1 if available else -1

    def _touch(self, pod: PodState) -> None:
        """The pod's record changed: drop its cached snapshot and ranking view."""
        pod.touch()

    def rank_view(self, pod: PodState) -> RankedPod:
        """What the ReplicaSet controller ranks of the pod (cached until it changes)."""
        if pod.rank is None:
            pod.rank = RankedPod.of(pod.id, pod.node, pod.phase, pod.ready, pod.ready_since, pod.created, pod.uid)
        return pod.rank

    def delete_pod(self, pod: PodState, *, reason: str, via_client: bool, grace: float | None = None) -> None:
        """Set the deletionTimestamp (through the controller's client when a controller deletes)."""
        if pod.terminating:
            return
        when = self.rs_client.reserve(self.env.now) if via_client else self.env.now
        pod.deletion = when  # reserved now so the ReplicaSet does not pick it twice
        pod.deleted_reason = reason
        d = self.workload_by_name[pod.workload]
        d.sets[pod.revision].active -= 1
        d.sets[pod.revision].active_ids.discard(pod.id)
        d.terminating += 1
        if pod.node >= 0:
            d.zone_load[self.nodes.zone[pod.node]] -= 1
        self._recount(pod)
        self.timers.at(when, self._pod_deleting, pod, grace)

    def _pod_deleting(self, pod: PodState, grace: float | None) -> None:
        now = self.env.now
        spec = self._workload_spec(pod)
        grace = spec.termination_grace_period_seconds if grace is None else grace
        self._touch(pod)
        self.apiserver.pod_write("delete", POD_PROTO_BYTES)
        self._notify(pod)
        if pod.node < 0 or pod.started == INF:
            # Never started: the kubelet (or the apiserver, if unscheduled) removes it at once.
            self.timers.at(now + (KUBELET_DELETE_DELAY if pod.node >= 0 else 0.0), self._pod_gone, pod)
            return
        if not self.nodes.alive[pod.node]:
            return  # nobody confirms the deletion; node-loss handling force-deletes it
        # SIGTERM after the preStop hook; the app keeps serving for shutdownDelay (a preStop
        # sleep), then exits. Simplification: the app exits right after shutdownDelay.
        exit_at = now + min(spec.shutdown_delay, grace)
        pod.serving_until = min(pod.serving_until, exit_at)
        self.timers.at(exit_at, self._container_exited, pod)

    def _container_exited(self, pod: PodState) -> None:
        if pod.ready:
            self._set_ready(pod, False)  # containers not running → Ready=False
        self.timers.at(self.env.now + KUBELET_DELETE_DELAY, self._pod_gone, pod)

    def _pod_gone(self, pod: PodState) -> None:
        if pod.gone != INF:
            return
        pod.gone = self.env.now
        pod.phase = api.SUCCEEDED
        d = self.workload_by_name[pod.workload]
        d.terminating -= 1
        d.sets[pod.revision].pods.discard(pod.id)
        if pod.node >= 0:
            self.node_pod_count[pod.node] -= 1
            self.placement.count_changed(pod.node, before=int(self.node_pod_count[pod.node]) + 1)
            self.pods_on_node[pod.node].discard(pod.id)
            if pod.ip:
                self.ipam.release(pod.node, pod.ip)
        for key in self.pod_services[pod.id]:  # the only Services it was added to
            self.service_pods[key].discard(pod.id)
        self._touch(pod)
        self.apiserver.pod_write("remove", POD_PROTO_BYTES)
        self._notify(pod)

    def _notify(self, pod: PodState) -> None:
        for listener in self.pod_listeners:
            listener(pod)
        self._notify_workload(pod)

    def _notify_workload(self, pod: PodState) -> None:
        self.workload_by_name[pod.workload].request_sync()

    # -- nodes ------------------------------------------------------------------------------
    def drain(self, node: int) -> None:
        """kubectl drain: cordon, then evict every pod (graceful deletion)."""
        self.nodes.schedulable[node] = False
        self.placement.unschedulable(node)
        self.node_events.append({"time_s": self.env.now, "node": self.nodes.names[node], "event": "drain"})
        for pid in sorted(self.pods_on_node[node]):
            self.delete_pod(self.pods[pid], reason="drain", via_client=False)

    def lose_node(self, node: int) -> None:
        """The node dies: its pods stop serving at once; the control plane notices later."""
        now = self.env.now
        self.nodes.alive[node] = False
        self.nodes.schedulable[node] = False
        self.placement.unschedulable(node)
        self.node_events.append({"time_s": now, "node": self.nodes.names[node], "event": "lost"})
        pods = [self.pods[p] for p in sorted(self.pods_on_node[node])]
        for pod in pods:
            pod.serving_until = min(pod.serving_until, now)
        self.timers.at(now + NODE_MONITOR_GRACE, self._node_not_ready, pods)
        self.timers.at(now + NODE_EVICTION_TIMEOUT, self._evict_lost, pods)

    def _node_not_ready(self, pods: list[PodState]) -> None:
        for pod in pods:  # node lifecycle controller: MarkPodsNotReady
            self._set_ready(pod, False)

    def _evict_lost(self, pods: list[PodState]) -> None:
        for pod in pods:
            self.delete_pod(pod, reason="node-lost", via_client=False, grace=0.0)
            # Simplification: the pod garbage collector force-deletes pods of the dead node at once.
            self.timers.at(self.env.now, self._pod_gone, pod)

    # -- setup and events -------------------------------------------------------------------
    def start_steady_state(self) -> None:
        """Every Deployment starts fully rolled out and Ready at t=0 (objects exist before the run).

        HOT PATH at setup (150,000 pods in the scale scenario): per pod only what differs
        (name, uid, node, IP); per-node and per-zone counters are added up per Deployment.
        """
        now = self.env.now
        n_nodes = len(self.nodes)
        names, zone = self.nodes.names, self.nodes.zone
        pods_on_node, allocate = self.pods_on_node, self.ipam.allocate
        for d in self.deployments.values():
            rs = d.sets[1]
            first = len(self.pods)
            spec = d.spec
            flaps = spec.readiness_flaps is not None and spec.readiness_flaps.rate > 0 and spec.readiness_probe is not None
            for _ in range(d.desired):
                pod = self.pods[self.create_pod(d, 1, at=0.0)]
                rs.pods.add(pod.id)
                # Zone-then-node spread, deterministic: round robin over nodes in index order.
                node = pod.id % n_nodes
                pod.node, pod.node_name = node, names[node]
                pods_on_node[node].add(pod.id)
                pod.scheduled = pod.started = pod.serving_from = 0.0
                pod.phase = api.RUNNING
                pod.ip = allocate(node)
                pod.ready, pod.ready_since, pod.first_ready, pod.available_since = True, 0.0, 0.0, 0.0
                pod.ready_transition = 0.0
                if pod.available_since <= now:  # what _recount does for a fresh, active pod
                    pod.counted_available = True
                    rs.available += 1
                if flaps:
                    self._schedule_flaps(pod, 0.0)
            placed = np.arange(first, len(self.pods)) % n_nodes
            np.add.at(self.node_pod_count, placed, 1)
            d.zone_load += np.bincount(zone[placed], minlength=len(d.zone_load))
        self.placement.rebuild()

    def schedule_events(self) -> None:
        for ev in self.sc.events:
            self.timers.at(ev.at, self._apply_event, ev)

    def _apply_event(self, ev: Any) -> None:
        if ev.rollout:
            for w in self.sc.workloads_matching(ev.rollout):  # one name, or every match of a glob
                self.deployments[w.key].rollout()
        elif ev.scale:
            for w in self.sc.workloads_matching(ev.scale):
                self.deployments[w.key].scale(ev.replicas)
        elif ev.drain is not None:
            for node in self._node_targets(ev.drain):
                self.drain(node)
        elif ev.node_loss is not None:
            for node in self._node_targets(ev.node_loss):
                self.lose_node(node)
        elif ev.zone_outage is not None:
            from simk8s.cluster.zone_outage import lose_zone

            lose_zone(self, ev.zone_outage, monitor_grace=NODE_MONITOR_GRACE)

    def _node_targets(self, target: str | int) -> list[int]:
        if isinstance(target, int):
            return [int(i) for i in np.flatnonzero(self.nodes.alive)[:target]]
        return [self.nodes.index(target)]
