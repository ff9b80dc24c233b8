"""The last-change-trigger-time of a sync, shared by the Endpoints and EndpointSlice
controllers.

Upstream: ``staging/src/k8s.io/endpointslice/util/trigger_time_tracker.go``
(``TriggerTimeTracker.ComputeEndpointLastChangeTriggerTime``). The times it reads, the
pod Ready condition's lastTransitionTime and the Service's creationTimestamp, are
``metav1.Time`` values that reached the controller through the API: whole seconds
(``simk8s.api.naming.metav1_time``). Two transitions within one second therefore look
unchanged to it, and the annotation (so kube-proxy's network programming latency) starts
up to a second before the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from simk8s.api.naming import metav1_time
from simk8s.api.objects import Pod, Service
from simk8s.controller.podutil import PodChange


@dataclass(slots=True)
class _TriggerState:
    pod_times: dict[str, float] = field(default_factory=dict)
    service_time: float | None = None


@dataclass(slots=True)
class _ChangeTriggerState:
    """``compute_changes``' memory of the pods it was fed (pod name → trigger time)."""

    pod_times: dict[str, float] = field(default_factory=dict)  # as _TriggerState's
    service_time: float | None = None
    times_by_name: dict[str, dict[int, float]] = field(default_factory=dict)  # name → order → t
    name_of: dict[int, str] = field(default_factory=dict)  # order → name (pods with a time)
    shared_names: set[str] = field(default_factory=set)  # names held by several pods


class TriggerTimeTracker:
    """``TriggerTimeTracker``: the last-change-trigger-time of one sync.

    First sync of a Service → its creation time; later syncs → the minimum of the trigger
    times that changed since the previous sync (pod: Ready lastTransitionTime; Service:
    creation time), None when nothing changed. Call it on every sync, also when the write
    is skipped, so the state advances. Shared by the Endpoints and EndpointSlice
    controllers (one instance each).
    """

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], _TriggerState] = {}
        self._change_states: dict[tuple[str, str], _ChangeTriggerState] = {}

    def compute(self, service: Service, pods: Iterable[Pod]) -> float | None:
        key = (service.namespace, service.name)
        state = self._states.get(key)
        was_known = state is not None
        if state is None:
            state = self._states[key] = _TriggerState()
        previous = state.pod_times
        min_changed: float | None = None
        pod_times: dict[str, float] = {}
        for pod in pods:
            if pod.ready_transition_time is None:
                continue
            t = metav1_time(pod.ready_transition_time)
            pod_times[pod.name] = t
            before = previous.get(pod.name)
            if (before is None or t > before) and (min_changed is None or t < min_changed):
                min_changed = t
        svc_t = metav1_time(service.creation_time)
        if (state.service_time is None or svc_t > state.service_time) and (
            min_changed is None or svc_t < min_changed
        ):
            min_changed = svc_t
        state.pod_times = pod_times
        state.service_time = svc_t
        return svc_t if not was_known else min_changed

    def compute_changes(self, service: Service, changes: Iterable[PodChange]) -> float | None:
        """``compute`` fed only the pods that changed since the previous call (HOT PATH).

        Same result as ``compute(service, pods)`` with ``pods`` the current pod list in key
        order. Pods are still matched by name, as upstream: when several pods share a
        name, every one of them is re-checked on each call, as the full pass would.
        Use either this or ``compute`` for a given Service, not both.
        """
        key = (service.namespace, service.name)
        state = self._change_states.get(key)
        was_known = state is not None
        if state is None:
            state = self._change_states[key] = _ChangeTriggerState()
            return _first_changes(state, service, changes)
        by_name = state.times_by_name
        names: set[str] = set()
        for order, pod in changes:
            old_name = state.name_of.pop(order, None)
            if old_name is not None:
                old_times = by_name[old_name]
                del old_times[order]
                if not old_times:
                    del by_name[old_name]
                names.add(old_name)
            if pod is not None and pod.ready_transition_time is not None:
                state.name_of[order] = pod.name
                by_name.setdefault(pod.name, {})[order] = metav1_time(pod.ready_transition_time)
                names.add(pod.name)
        names |= state.shared_names
        previous = state.pod_times
        min_changed: float | None = None
        for name in names:
            times = by_name.get(name)
            if not times:
                previous.pop(name, None)
                state.shared_names.discard(name)
                continue
            before = previous.get(name)
            for t in times.values():
                if (before is None or t > before) and (min_changed is None or t < min_changed):
                    min_changed = t
            previous[name] = times[max(times)]  # the last pod of that name wins
            if len(times) > 1:
                state.shared_names.add(name)
            else:
                state.shared_names.discard(name)
        svc_t = metav1_time(service.creation_time)
        if (state.service_time is None or svc_t > state.service_time) and (
            min_changed is None or svc_t < min_changed
        ):
            min_changed = svc_t
        state.service_time = svc_t
        return svc_t if not was_known else min_changed

    def delete_service(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)
        self._change_states.pop((namespace, name), None)


def _first_changes(state: _ChangeTriggerState, service: Service, changes: Iterable[PodChange]) -> float:
    """``compute_changes`` on a Service's first sync: it answers the creation time whatever
    the pods say, so only the memory is filled (HOT PATH: every pod of 10,000 Services at
    t = 0 in scale-150k)."""
    by_name, name_of = state.times_by_name, state.name_of
    for order, pod in changes:
        old_name = name_of.pop(order, None)  # a pod replaced or deleted later in the same batch
        if old_name is not None:
            old_times = by_name[old_name]
            del old_times[order]
            if not old_times:
                del by_name[old_name]
        if pod is not None and pod.ready_transition_time is not None:
            name = pod.name
            name_of[order] = name
            times = by_name.get(name)
            if times is None:
                by_name[name] = {order: metav1_time(pod.ready_transition_time)}
            else:
                times[order] = metav1_time(pod.ready_transition_time)
    previous = state.pod_times
    for name, times in by_name.items():
        previous[name] = times[max(times)]  # the last pod of that name wins
        if len(times) > 1:
            state.shared_names.add(name)
    state.service_time = metav1_time(service.creation_time)
    return state.service_time

