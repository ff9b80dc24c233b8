"""kube-controller-manager's endpoint controllers as SimPy workers.

The reconcile rules are pure functions in simk8s.controller.{endpoints,endpointslice,mirroring};
this module adds what makes them behave in time: the work queue (batch period, dedupe,
backoff), N concurrent workers, and the controller's client QPS/burst limit on writes.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING, Any

from simk8s.api import objects as api
from simk8s.api.naming import parse_rfc3339
from simk8s.cluster.apiserver import WriteRejected
from simk8s.cluster.names import NameSuffixes
from simk8s.cluster.workqueue import WorkQueue
from simk8s.controller import endpoints as ep_rules
from simk8s.controller import endpointslice as eps_rules
from simk8s.controller import mirroring as mirror_rules
from simk8s.controller.workqueue import (
    TokenBucket,
    endpoints_rate_limiter,
    endpointslice_rate_limiter,
)
from simk8s.rng import component_rng

if TYPE_CHECKING:
    from simk8s.cluster.pods import PodState
    from simk8s.cluster.world import World
    from simk8s.controller.podutil import PodChange


class PodChangeLog:
    """Which pods of each Service changed since that Service's previous sync (one per
    controller), so a sync reads only those pods (HOT PATH).

    A pod counts as changed when the world notifies about it (every change of its API
    record comes with a notification; all of them are recorded, also those that do not
    queue a sync, since a sync reads the latest record), and when it becomes visible: a
    pod exists for the controllers from its ``created`` time on, whether or not its
    creation has been notified yet at that instant. ``take`` hands over and clears a
    Service's changes at the start of its sync, so changes that arrive while that sync
    waits for the rate limiter go to the next one.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._dirty: dict[tuple[str, str], set[int]] = {}
        self._unseen: dict[tuple[str, str], list[tuple[float, int]]] = {}  # (created, id) heaps
        self._scanned = 0  # world.pods[:_scanned] are in _unseen or were taken

    def mark(self, pod: PodState) -> None:
        for key in self.world.pod_services[pod.id]:
            dirty = self._dirty.get(key)
            if dirty is None:
                dirty = self._dirty[key] = set()
            dirty.add(pod.id)

    def take(self, key: tuple[str, str]) -> list[PodChange]:
        """(pod id, its current record, or None if it is not among the Service's pods) for
        every pod changed since the previous ``take`` of ``key``, by pod id."""
        world = self.world
        pods = world.pods
        now = world.env.now
        for pid in range(self._scanned, len(pods)):
            created = pods[pid].created
            if created <= now:  # visible already: a change for each Service's next take
                for k in world.pod_services[pid]:
                    dirty = self._dirty.get(k)
                    if dirty is None:
                        dirty = self._dirty[k] = set()
                    dirty.add(pid)
                continue
            for k in world.pod_services[pid]:
                heapq.heappush(self._unseen.setdefault(k, []), (created, pid))
        self._scanned = len(pods)
        changed = self._dirty.pop(key, set())
        unseen = self._unseen.get(key)
        while unseen and unseen[0][0] <= now:
            changed.add(heapq.heappop(unseen)[1])
        members = world.service_pods[key]
        # snapshot() only for pods the reference pod list would hold (it is memoised lazily).
        return [
            (pid, pods[pid].snapshot() if pid in members and pods[pid].created <= now else None)
            for pid in sorted(changed)
        ]

    def current(self, key: tuple[str, str]) -> list[PodChange]:
        """Every current pod of the Service, as changes (to fill a new state)."""
        now = self.world.env.now
        pods = self.world.pods
        return [
            (pid, pods[pid].snapshot())
            for pid in sorted(self.world.service_pods[key])
            if pods[pid].created <= now
        ]


def _projection(pod: PodState) -> tuple:
    """The pod fields whose change makes endpoint controllers resync (podEndpointsChanged in
    staging/src/k8s.io/endpointslice/util/controller_utils.go)."""
    return (pod.ip, pod.ready, pod.terminating, pod.gone == math.inf, pod.created)


class _EndpointControllerBase:
    kind = ""
    name = ""

    def __init__(self, world: World, *, workers: int, batch_period: float, rate_limiter):
        self.world = world
        self.env = world.env
        self.queue = WorkQueue(self.env, rate_limiter)
        self.batch_period = batch_period
        kcm = world.sc.cluster.controller_manager
        self.client = TokenBucket(kcm.kube_api_qps, kcm.kube_api_burst)
        self.syncs = 0
        self._last_projection: dict[int, tuple] = {}
        self.changes = PodChangeLog(world)
        self.tracker = ep_rules.TriggerTimeTracker()
        world.pod_listeners.append(self.on_pod)
        for _ in range(workers):
            self.env.process(self._worker())

    def on_pod(self, pod: PodState) -> None:
        self.changes.mark(pod)
        proj = _projection(pod)
        if self._last_projection.get(pod.id) == proj:
            return
        self._last_projection[pod.id] = proj
        for key in self.world.pod_services[pod.id]:
            self.queue.add_after(key, self.batch_period)

    def _feed(self, key: tuple[str, str], state: Any, fresh: bool) -> float | None:
        """Bring ``state`` up to date with the Service's pods; returns the trigger time.
        A fresh state (first sync, or the Service object was replaced) takes every current
        pod; the trigger-time tracker always takes the changes since the previous sync
        (on a Service's first sync those are all its pods)."""
        changes = self.changes.take(key)
        state.apply(self.changes.current(key) if fresh else changes)
        return self.tracker.compute_changes(state.service, changes)

    def current_pods(self, key: tuple[str, str]) -> list[api.Pod]:
        """Reference path (``incremental = False``): every pod snapshot, per sync."""
        now = self.env.now
        pods = self.world.pods
        return [
            pods[i].snapshot()
            for i in sorted(self.world.service_pods[key])
            if pods[i].created <= now
        ]

    def _worker(self):
        while True:
            key = yield from self.queue.get()
            self.syncs += 1
            try:
                ok = yield from self.sync(key)
            finally:
                self.queue.done(key)
            if ok:
                self.queue.forget(key)
            else:
                self.queue.add_rate_limited(key)

    def _write(self, kind: str, op: str, obj: Any, service: str, trigger_time: float):
        """Wait for the client rate limiter, then write. Returns False when the apiserver refused."""
        start = self.client.reserve(self.env.now)
        if start > self.env.now:
            yield self.env.timeout(start - self.env.now)
        try:
            yield from self.world.apiserver.write(
                kind, op, obj, writer=self.name, service=service, trigger_time=trigger_time
            )
        except WriteRejected:
            return False
        return True


class EndpointsController(_EndpointControllerBase):
    """pkg/controller/endpoint/endpoints_controller.go."""

    kind = "Endpoints"
    name = "endpoint-controller"
    incremental = True  # False: recompute from every pod per sync (the reference path)

    def __init__(self, world: World):
        kcm = world.sc.cluster.controller_manager
        super().__init__(
            world,
            workers=kcm.concurrent_endpoint_syncs,
            batch_period=kcm.endpoint_updates_batch_period,
            rate_limiter=endpoints_rate_limiter(),  # client-go DefaultControllerRateLimiter: 5 ms·2^n, 10 qps / burst 100
        )
        self.trackers: dict[tuple[str, str], ep_rules.TriggerTimeTracker] = {}
        self.states: dict[tuple[str, str], ep_rules.EndpointsState] = {}
        # maxCapacity (endpoints_controller.go): 1000 addresses since v1.22; 0 in the scenario
        # means the pre-1.22 "no cap".
        self.max_capacity = kcm.endpoints_max_capacity or None

    def initial(self) -> None:
        for key, svc in self.world.services.items():
            result = self._compute(key, svc)
            if result is not None and result.obj is not None:
                self.world.apiserver.seed("Endpoints", result.obj)

    def _compute(self, key, svc: api.Service):
        if svc.selector is None or svc.type == "ExternalName":
            return None  # user-managed Endpoints / nothing to do (endpoints_controller.go syncService)
        existing = self.world.apiserver.get("Endpoints", svc.namespace, svc.name)
        if not self.incremental:
            pods = self.current_pods(key)
            tracker = self.trackers.setdefault(key, ep_rules.TriggerTimeTracker())
            trigger = tracker.compute(svc, pods)
            return ep_rules.sync_endpoints(svc, pods, existing, trigger_time=trigger, max_capacity=self.max_capacity)
        state = self.states.get(key)
        fresh = state is None or state.service is not svc
        if state is None or fresh:
            state = self.states[key] = ep_rules.EndpointsState(svc)
        trigger = self._feed(key, state, fresh)
        return ep_rules.sync_endpoints_state(state, existing, trigger_time=trigger, max_capacity=self.max_capacity)

    def sync(self, key):
        svc = self.world.services.get(key)
        if svc is None:
            return True
        result = self._compute(key, svc)
        if result is None or result.action == "none":
            return True
        trigger = _trigger_of(result.obj)
        ok = yield from self._write("Endpoints", result.action, result.obj, svc.name, trigger)
        return ok


class EndpointSliceController(_EndpointControllerBase):
    """pkg/controller/endpointslice/endpointslice_controller.go."""

    kind = "EndpointSlice"
    name = "endpointslice-controller"
    incremental = True  # False: recompute from every pod per sync (the reference path)

    def __init__(self, world: World):
        kcm = world.sc.cluster.controller_manager
        super().__init__(
            world,
            workers=kcm.concurrent_service_endpoint_syncs,
            batch_period=kcm.endpoint_slice_updates_batch_period,
            # defaultSyncBackOff 1 s·2^n up to maxSyncBackOff 1000 s, max-of a 10 qps / burst 100 bucket
            rate_limiter=endpointslice_rate_limiter(),
        )
        self.max_per_slice = kcm.max_endpoints_per_slice
        self.rng = component_rng(world.seed, "apiserver/generateName/endpointslices")
        self._suffixes = NameSuffixes(self.rng)  # the only draws from self.rng (HOT PATH at setup)
        self.trackers: dict[tuple[str, str], ep_rules.TriggerTimeTracker] = {}
        self.slices: dict[tuple[str, str], dict[str, api.EndpointSlice]] = {
            k: {} for k in world.services
        }
        self.node_zones = {name: world.nodes.zone_of(i) for i, name in enumerate(world.nodes.names)}
        self.states: dict[tuple[str, str], eps_rules.EndpointSliceState] = {}
        self.gates = eps_rules.SliceGates.from_feature_gates(world.sc.cluster.feature_gates)

    def name_for(self, prefix: str) -> str:
        return prefix + self._suffixes.next()  # = prefix + "".join(self.rng.choice(alphabet, 5))

    def _plan(self, key, svc: api.Service):
        existing = list(self.slices[key].values())
        if self.incremental:
            state = self.states.get(key)
            fresh = state is None or state.service is not svc
            if state is None or fresh:
                state = self.states[key] = eps_rules.EndpointSliceState(svc, self.node_zones, self.gates)
            trigger = self._feed(key, state, fresh)
            return state.reconcile(
                existing,
                max_endpoints_per_slice=self.max_per_slice,
                trigger_time=trigger,
                name_for=self.name_for,
            )
        pods = self.current_pods(key)
        tracker = self.trackers.setdefault(key, ep_rules.TriggerTimeTracker())
        trigger = tracker.compute(svc, pods)
        return eps_rules.reconcile(
            svc,
            pods,
            existing,
            max_endpoints_per_slice=self.max_per_slice,
            nodes=self.node_zones,
            trigger_time=trigger,
            name_for=self.name_for,
            gates=self.gates,
        )

    def initial(self) -> None:
        for key, svc in self.world.services.items():
            if svc.type == "ExternalName":
                continue
            if svc.selector is None:
                self._initial_mirror(key, svc)
                continue
            plan = self._plan(key, svc)
            for s in plan.creates + plan.updates:
                self.slices[key][s.name] = s
                self.world.apiserver.seed("EndpointSlice", s)

    def _initial_mirror(self, key, svc: api.Service) -> None:
        """EndpointSliceMirroring (pkg/controller/endpointslicemirroring): user-written Endpoints
        of selector-less Services."""
        user_ep = self.world.apiserver.get("Endpoints", svc.namespace, svc.name)
        if user_ep is None:
            return
        plan = mirror_rules.mirror(user_ep, svc, [], name_for=self.name_for)
        for s in plan.creates + plan.updates:
            self.slices[key][s.name] = s
            self.world.apiserver.seed("EndpointSlice", s)

    def sync(self, key):
        svc = self.world.services.get(key)
        if svc is None or svc.selector is None or svc.type == "ExternalName":
            return True
        plan = self._plan(key, svc)
        ok = True
        for op, objs in (
            ("create", plan.creates),
            ("update", plan.updates),
            ("delete", plan.deletes),
        ):
            for s in objs:
                written = yield from self._write("EndpointSlice", op, s, svc.name, _trigger_of(s))
                if not written:
                    ok = False
                    continue
                if op == "delete":
                    self.slices[key].pop(s.name, None)
                else:
                    self.slices[key][s.name] = s
        return ok and not plan.error


def _trigger_of(obj: Any) -> float:
    for k, v in obj.annotations:
        if k == api.ANNOTATION_TRIGGER_TIME:
            return parse_rfc3339(v)
    return math.nan
