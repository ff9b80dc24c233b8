"""The legacy Endpoints controller's sync, as a pure function (reference §1).

``sync_endpoints`` recomputes the whole core/v1 Endpoints object of one Service from the
Service and its selected pods and says which API call the controller would make. The SimPy
worker around it (queue, batching, QPS, retries) lives elsewhere; it also owns one
``TriggerTimeTracker`` per controller to compute ``trigger_time``.

HOT PATH: one call per sync of Services with thousands of pods. Each pod's contribution
(address, readiness, resolved ports) is memoised by the identity of the (Pod, Service)
records, so unchanged pods cost a dict lookup and keep handing out the *same*
EndpointAddress object — which also makes ``simk8s.api.sizes`` and the skip-if-unchanged
comparison cheap (tuple equality short-circuits on identical items).

Incremental path (what the SimPy worker uses): ``EndpointsState`` keeps one Service's
per-pod contributions and, per port, the sorted address keys between syncs, updated from
the pods that changed only; ``sync_endpoints_state`` then does the same sync from it. The
full recompute (``sync_endpoints``, ``desired_subsets``) stays the reference: tests check
that both give identical results over random change sequences.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from simk8s.api.naming import rfc3339nano
from simk8s.api.objects import (
    ANNOTATION_OVER_CAPACITY,
    ANNOTATION_TRIGGER_TIME,
    LABEL_EP_MANAGED_BY,
    LABEL_HEADLESS,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    ObjectReference,
    Pod,
    Service,
)
from simk8s.api.sizes import SizedEntries, entry_size, head
from simk8s.controller.podutil import (
    PodChange,
    endpoint_ports,
    endpoints_ip_family,
    first_ip_of_family,
    port_hash,
    should_pod_be_in_endpoints,
    should_set_hostname,
)

MAX_CAPACITY = 1000  # §1.5 maxCapacity
OVER_CAPACITY_TRUNCATED = "truncated"
ENDPOINTS_MANAGED_BY = "endpoint-controller"  # §1.6, label since v1.33


@dataclass(frozen=True, slots=True)
class EndpointsSyncResult:
    """What one sync decided.

    ``action``: "create" | "update" | "delete" | "none". ``obj``: the Endpoints to write
    (for "delete" the object to delete; None for "none"). ``truncated``: the written object
    was cut to 1000 addresses. ``ready``/``not_ready``: untruncated address counts.
    """

    action: str
    obj: Endpoints | None
    truncated: bool = False
    ready: int = 0
    not_ready: int = 0


# ---------------------------------------------------------------------------------------
# Per-pod contribution (memoised by record identity)


@dataclass(frozen=True, slots=True)
class PodContribution:
    """One pod's address in the Endpoints object of one Service."""

    sort_key: str  # IP byte string, then targetRef presence and UID (§1.3 ordering/dedupe)
    address: EndpointAddress
    ready: bool
    ports: tuple[EndpointPort, ...]  # () only for a headless Service without ports


_MEMO_LIMIT = 1 << 18
_memo: dict[tuple[int, int], tuple[Pod, Service, PodContribution | None]] = {}
_ports_intern: dict[tuple[EndpointPort, ...], tuple[EndpointPort, ...]] = {}


def address_sort_key(addr: EndpointAddress) -> str:
    """§1.3 LessEndpointAddress as one string: IP bytes, then no-targetRef first, then UID.

    "\\x00" sorts below every IP character, so "10.0.0.1" < "10.0.0.10" as bytes.
    """
    ref = addr.target_ref
    return f"{addr.ip}\x000" if ref is None else f"{addr.ip}\x001{ref.uid}"


def _compute_contribution(service: Service, pod: Pod) -> PodContribution | None:
    publish = service.publish_not_ready_addresses
    if not should_pod_be_in_endpoints(pod, include_terminating=publish):  # §1.2 rules 1–3
        return None
    ip = first_ip_of_family(pod, endpoints_ip_family(service, pod))  # §1.2 rule 4
    if ip is None:
        return None
    if service.ports:
        ports = endpoint_ports(service, pod)  # §1.2 rule 7
        if not ports:
            return None
    elif service.cluster_ip == "None":
        ports = ()  # §1.2 rule 8: headless without ports
    else:
        return None
    addr = EndpointAddress(
        ip=ip,
        node_name=pod.node_name,  # always a (possibly empty) pointer upstream
        target_ref=ObjectReference(kind="Pod", namespace=pod.namespace, name=pod.name, uid=pod.uid),
        hostname=pod.hostname if should_set_hostname(pod, service) else "",
    )
    ready = publish or pod.ready  # §1.2 rule 6
    ports = _ports_intern.setdefault(ports, ports)  # equal tuples → one object (see _repack)
    return PodContribution(address_sort_key(addr), addr, ready, ports)


def pod_contribution(service: Service, pod: Pod) -> PodContribution | None:
    """The pod's address for this Service, or None if it contributes nothing (§1.2)."""
    key = (id(pod), id(service))
    hit = _memo.get(key)
    if hit is not None:  # the memo holds both records, so their ids cannot be reused
        return hit[2]
    result = _compute_contribution(service, pod)
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
        _ports_intern.clear()
    _memo[key] = (pod, service, result)
    return result


# ---------------------------------------------------------------------------------------
# Repack (§1.3)

_NO_PORT: tuple[None] = (None,)


def _repack(contribs: Iterable[PodContribution]) -> tuple[EndpointSubset, ...]:
    all_addrs: dict[str, EndpointAddress] = {}
    # Group by port-tuple identity first: hashing EndpointPort dataclasses runs Python
    # code, so it is done once per distinct tuple, not once per pod.
    by_ports: dict[int, tuple[tuple[EndpointPort, ...], list[PodContribution]]] = {}
    for c in contribs:
        key = c.sort_key
        if key not in all_addrs:  # dedupe by (IP, UID); the first copy is kept
            all_addrs[key] = c.address
        entry = by_ports.get(id(c.ports))
        if entry is None:
            entry = by_ports[id(c.ports)] = (c.ports, [])
        entry[1].append(c)
    by_port: dict[EndpointPort | None, dict[str, bool]] = {}
    for ports, members in by_ports.values():
        for port in ports or _NO_PORT:
            m = by_port.get(port)
            if m is None:
                m = by_port[port] = {}
            for c in members:
                was = m.get(c.sort_key)
                if was is None or was:  # not-ready always wins
                    m[c.sort_key] = c.ready
    # Addresses offering exactly the same ports (with the same readiness) share a subset.
    groups: list[tuple[dict[str, bool], list[EndpointPort | None]]] = []
    for port, m in by_port.items():
        for g in groups:
            if g[0] == m:
                g[1].append(port)
                break
        else:
            groups.append((m, [port]))
    subsets = []
    for m, group_ports in groups:
        ready = sorted(k for k, r in m.items() if r)
        not_ready = sorted(k for k, r in m.items() if not r)
        real_ports = tuple(sorted((p for p in group_ports if p is not None), key=port_hash))
        subsets.append(
            EndpointSubset(
                addresses=tuple(map(all_addrs.__getitem__, ready)),
                not_ready_addresses=tuple(map(all_addrs.__getitem__, not_ready)),
                ports=real_ports,
            )
        )
    # Simplification: upstream orders subsets by an md5 of the whole subset; port sets of
    # different subsets are disjoint, so hashing the ports gives a deterministic order.
    subsets.sort(key=_subset_order_key)
    return tuple(subsets)


def _subset_order_key(s: EndpointSubset) -> str:
    return _ports_order_key(s.ports)


@lru_cache(maxsize=1 << 12)
def _ports_order_key(ports: tuple[EndpointPort, ...]) -> str:
    text = "|".join(port_hash(p) for p in ports)
    return hashlib.md5(text.encode()).hexdigest()


def repack_subsets(subsets: Iterable[EndpointSubset]) -> tuple[EndpointSubset, ...]:
    """§1.3 RepackSubsets of arbitrary subsets (used by mirroring, §3)."""
    contribs = []
    for s in subsets:
        for ready, addrs in ((True, s.addresses), (False, s.not_ready_addresses)):
            for a in addrs:
                contribs.append(PodContribution(address_sort_key(a), a, ready, s.ports))
    return _repack(contribs)


def desired_subsets(service: Service, pods: Iterable[Pod]) -> tuple[EndpointSubset, ...]:
    """Repacked, untruncated subsets for the Service (§1.2 + §1.3)."""
    contribs = [c for c in (pod_contribution(service, p) for p in pods) if c is not None]
    return _repack(contribs)


# ---------------------------------------------------------------------------------------
# Incremental repack (HOT PATH)


class _SortedAddresses:
    """Addresses kept sorted by their §1.3 sort key, with keys and each address's wire
    size side by side and the sizes' running total (so the subset's tuple is one copy and
    is sized without a walk; truncation reads prefix sums while nothing has changed)."""

    __slots__ = ("addrs", "keys", "sizes", "total", "version")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.addrs: list[EndpointAddress] = []
        self.sizes: list[int] = []
        self.total = 0
        self.version = 0  # bumped by every change: an older prefix() answers None

    def insert(self, key: str, addr: EndpointAddress) -> None:
        i = bisect_left(self.keys, key)
        self.keys.insert(i, key)
        self.addrs.insert(i, addr)
        size = entry_size(addr)
        self.sizes.insert(i, size)
        self.total += size
        self.version += 1

    def remove(self, key: str) -> None:
        i = bisect_left(self.keys, key)
        del self.keys[i]
        del self.addrs[i]
        self.total -= self.sizes.pop(i)
        self.version += 1

    def replace(self, key: str, addr: EndpointAddress) -> None:
        i = bisect_left(self.keys, key)
        self.addrs[i] = addr
        size = entry_size(addr)
        self.total += size - self.sizes[i]
        self.sizes[i] = size
        self.version += 1

    def entries(self) -> SizedEntries:
        version = self.version

        def prefix(n: int) -> int | None:
            return sum(self.sizes[:n]) if self.version == version else None

        return SizedEntries(self.addrs, self.total, prefix)


class _PortMembers:
    """The addresses offering one port, split by readiness (§1.3)."""

    __slots__ = ("not_ready", "ready")

    def __init__(self) -> None:
        self.ready = _SortedAddresses()
        self.not_ready = _SortedAddresses()

    def side(self, ready: bool) -> _SortedAddresses:
        return self.ready if ready else self.not_ready

    def empty(self) -> bool:
        return not self.ready.keys and not self.not_ready.keys


class EndpointsState:
    """One Service's repacked subsets (§1.3), maintained from pod changes.

    ``apply(changes)`` costs O(changed pods · log P) (plus list shifts in C);
    ``subsets()`` is then a few C-level copies and equals ``desired_subsets(service,
    pods)`` for the pods fed so far, in key order: the same dedupe by (IP, UID) keeping
    the first pod's address, not-ready-wins per port, grouping of ports offered by the same
    addresses, and ordering.
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self._pods: dict[int, Pod] = {}
        self._contrib: dict[int, PodContribution] = {}
        self._key_pods: dict[str, list[int]] = {}  # sort key → pods giving it, in order
        self._key_ports: dict[str, dict[EndpointPort | None, bool]] = {}  # → port: ready
        self._addr: dict[str, EndpointAddress] = {}  # sort key → first pod's address
        self._by_port: dict[EndpointPort | None, _PortMembers] = {}
        self._subsets: tuple[EndpointSubset, ...] | None = ()

    def apply(self, changes: Iterable[PodChange]) -> None:
        """Take in the current record (or absence) of each pod that changed."""
        service = self.service
        touched: set[str] = set()
        for order, pod in changes:
            if pod is None:
                if self._pods.pop(order, None) is None:
                    continue
                new = None
            else:
                if self._pods.get(order) is pod:
                    continue
                self._pods[order] = pod
                new = pod_contribution(service, pod)
            old = self._contrib.pop(order, None)
            if new is not None:
                self._contrib[order] = new
            if old is new:
                continue
            if old is not None:
                orders = self._key_pods[old.sort_key]
                orders.remove(order)
                if not orders:
                    del self._key_pods[old.sort_key]
                touched.add(old.sort_key)
            if new is not None:
                insort(self._key_pods.setdefault(new.sort_key, []), order)
                touched.add(new.sort_key)
        if touched:
            for key in touched:
                self._refresh(key)
            self._subsets = None

    def _refresh(self, key: str) -> None:
        """Recompute one address key's address and per-port readiness from its pods; move
        it between the per-port sorted lists where that changed."""
        orders = self._key_pods.get(key)
        old = self._key_ports.pop(key, None) or {}
        old_addr = self._addr.pop(key, None)
        new: dict[EndpointPort | None, bool] = {}
        addr = None
        if orders:
            addr = self._addr[key] = self._contrib[orders[0]].address  # first copy (§1.3)
            for order in orders:
                c = self._contrib[order]
                for port in c.ports or _NO_PORT:
                    was = new.get(port)
                    if was is None or was:  # not-ready always wins (§1.3)
                        new[port] = c.ready
            self._key_ports[key] = new
        for port, ready in old.items():
            members = self._by_port[port]
            if new.get(port) == ready:
                if addr is not old_addr:
                    members.side(ready).replace(key, addr)  # type: ignore[arg-type]
                continue
            members.side(ready).remove(key)
            if port not in new and members.empty():
                del self._by_port[port]
        for port, ready in new.items():
            if old.get(port) == ready:
                continue
            members = self._by_port.get(port)
            if members is None:
                members = self._by_port[port] = _PortMembers()
            members.side(ready).insert(key, addr)  # type: ignore[arg-type]

    def subsets(self) -> tuple[EndpointSubset, ...]:
        """The repacked, untruncated subsets (what ``desired_subsets`` returns)."""
        if self._subsets is not None:
            return self._subsets
        # Ports offered by exactly the same addresses (same readiness) share a subset.
        groups: list[tuple[_PortMembers, list[EndpointPort | None]]] = []
        for port, members in self._by_port.items():
            for g in groups:
                if g[0].ready.keys == members.ready.keys and (
                    g[0].not_ready.keys == members.not_ready.keys
                ):
                    g[1].append(port)
                    break
            else:
                groups.append((members, [port]))
        subsets = [
            EndpointSubset(
                addresses=members.ready.entries(),
                not_ready_addresses=members.not_ready.entries(),
                ports=tuple(sorted((p for p in ports if p is not None), key=port_hash)),
            )
            for members, ports in groups
        ]
        subsets.sort(key=_subset_order_key)  # as _repack
        self._subsets = tuple(subsets)
        return self._subsets


# ---------------------------------------------------------------------------------------
# Truncation (§1.5)


def truncate_subsets(
    subsets: Sequence[EndpointSubset], max_capacity: int = MAX_CAPACITY
) -> tuple[tuple[EndpointSubset, ...], bool]:
    """§1.5 truncateEndpoints: keep ready first; share the budget proportionally (ceil),
    walking subsets in order, keeping the first entries of each list. Returns
    (subsets, truncated)."""
    total_ready = sum(len(s.addresses) for s in subsets)
    total_not_ready = sum(len(s.not_ready_addresses) for s in subsets)
    if total_ready + total_not_ready <= max_capacity:
        return tuple(subsets), False
    truncate_ready = total_ready > max_capacity
    budget = max_capacity if truncate_ready else max_capacity - total_ready
    num_total = total_ready if truncate_ready else total_not_ready
    can_be_added = budget
    out = []
    for s in subsets:
        n = len(s.addresses) if truncate_ready else len(s.not_ready_addresses)
        # Same float arithmetic as Go: ceil((n / total) * budget).
        to_add = min(math.ceil((n / num_total) * budget), can_be_added)
        if truncate_ready:
            kept = head(s.addresses, to_add)
            out.append(EndpointSubset(addresses=kept, not_ready_addresses=(), ports=s.ports))
        else:
            kept = head(s.not_ready_addresses, to_add)
            out.append(
                EndpointSubset(addresses=s.addresses, not_ready_addresses=kept, ports=s.ports)
            )
        can_be_added -= len(kept)
    return tuple(out), True


def _capacity_annotation_ok(existing: Endpoints, max_capacity: int | None = MAX_CAPACITY) -> bool:
    """§1.4 capacityAnnotationSetCorrectly, evaluated on the *stored* object."""
    if max_capacity is None:  # before v1.22: no capacity rule at all
        return True
    if existing.address_count > max_capacity:
        return False
    return all(k != ANNOTATION_OVER_CAPACITY for k, _ in existing.annotations)


_IGNORED_IN_LABEL_COMPARE = (LABEL_HEADLESS, LABEL_EP_MANAGED_BY)


# ---------------------------------------------------------------------------------------
# The sync


def sync_endpoints(
    service: Service | None,
    pods: Sequence[Pod],
    existing: Endpoints | None,
    *,
    trigger_time: float | None,
    max_capacity: int | None = MAX_CAPACITY,
) -> EndpointsSyncResult:
    """One syncService of the Endpoints controller (§1.2–§1.7).

    ``max_capacity``: addresses kept per object (§1.5, v1.22+); None = no truncation and no
    over-capacity annotation, as before v1.22.

    ``service``: the Service from the informer, None if it no longer exists (→ delete the
    Endpoints). ``pods``: the pods the Service's selector matches in its namespace (the
    caller's lister; this function does not filter by selector). ``existing``: the
    Endpoints object in the informer cache, None if there is none. ``trigger_time``: from
    ``TriggerTimeTracker.compute`` (None = zero time → annotation removed).
    """
    if service is None:  # §1.7 Service gone → delete the Endpoints
        return EndpointsSyncResult("delete", existing) if existing is not None else _NONE
    if service.type == "ExternalName" or service.selector is None:  # §1.7
        return _NONE
    contribs = [c for c in (pod_contribution(service, p) for p in pods) if c is not None]
    return _sync_with_subsets(service, _repack(contribs), existing, trigger_time, max_capacity)


def sync_endpoints_state(
    state: EndpointsState,
    existing: Endpoints | None,
    *,
    trigger_time: float | None,
    max_capacity: int | None = MAX_CAPACITY,
) -> EndpointsSyncResult:
    """``sync_endpoints`` for ``state.service`` and the pods ``state`` was fed, without
    recomputing the pods' addresses (see ``EndpointsState``)."""
    service = state.service
    if service.type == "ExternalName" or service.selector is None:  # §1.7
        return _NONE
    return _sync_with_subsets(service, state.subsets(), existing, trigger_time, max_capacity)


def _sync_with_subsets(
    service: Service,
    subsets: tuple[EndpointSubset, ...],
    existing: Endpoints | None,
    trigger_time: float | None,
    max_capacity: int | None = MAX_CAPACITY,
) -> EndpointsSyncResult:
    ready = sum(len(s.addresses) for s in subsets)
    not_ready = sum(len(s.not_ready_addresses) for s in subsets)
    svc_labels = dict(service.labels)

    if existing is not None:  # §1.4 skip-if-unchanged, against the *untruncated* subsets
        compare_labels = {k: v for k, v in existing.labels if k not in _IGNORED_IN_LABEL_COMPARE}
        # Simplification: the v1.33 managed-by label is also ignored here (the Service
        # never carries it); our records have no targetRef.resourceVersion to ignore.
        if (
            existing.subsets == subsets
            and compare_labels == svc_labels
            and _capacity_annotation_ok(existing, max_capacity)
        ):
            return EndpointsSyncResult("none", None, False, ready, not_ready)

    annotations = dict(existing.annotations) if existing is not None else {}
    if trigger_time is not None:  # §1.6
        annotations[ANNOTATION_TRIGGER_TIME] = rfc3339nano(trigger_time)
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    if max_capacity is None:
        written, truncated = subsets, False
    else:
        written, truncated = truncate_subsets(subsets, max_capacity)  # §1.5
    if truncated:
        annotations[ANNOTATION_OVER_CAPACITY] = OVER_CAPACITY_TRUNCATED
    else:
        annotations.pop(ANNOTATION_OVER_CAPACITY, None)

    labels = dict(svc_labels)  # §1.6
    labels[LABEL_EP_MANAGED_BY] = ENDPOINTS_MANAGED_BY
    if service.cluster_ip in (None, "", "None"):
        labels[LABEL_HEADLESS] = ""
    else:
        labels.pop(LABEL_HEADLESS, None)

    obj = Endpoints(
        name=service.name,
        namespace=service.namespace,
        uid=existing.uid if existing is not None else "",
        labels=tuple(sorted(labels.items())),
        annotations=tuple(sorted(annotations.items())),
        subsets=written,
    )
    action = "create" if existing is None else "update"
    return EndpointsSyncResult(action, obj, truncated, ready, not_ready)


_NONE = EndpointsSyncResult("none", None)


# ---------------------------------------------------------------------------------------
# Trigger time (§1.6)


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
    """§1.6 trigger_time_tracker.go: the last-change-trigger-time of one sync.

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
            t = pod.ready_transition_time
            if t is None:
                continue
            pod_times[pod.name] = t
            before = previous.get(pod.name)
            if (before is None or t > before) and (min_changed is None or t < min_changed):
                min_changed = t
        svc_t = service.creation_time
        if (state.service_time is None or svc_t > state.service_time) and (
            min_changed is None or svc_t < min_changed
        ):
            min_changed = svc_t
        state.pod_times = pod_times
        state.service_time = svc_t
        return service.creation_time if not was_known else min_changed

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
        by_name = state.times_by_name
        names: set[str] = set()
        for order, pod in changes:
            old_name = state.name_of.pop(order, None)
            if old_name is not None:
                times = by_name[old_name]
                del times[order]
                if not times:
                    del by_name[old_name]
                names.add(old_name)
            if pod is not None and pod.ready_transition_time is not None:
                state.name_of[order] = pod.name
                by_name.setdefault(pod.name, {})[order] = pod.ready_transition_time
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
        svc_t = service.creation_time
        if (state.service_time is None or svc_t > state.service_time) and (
            min_changed is None or svc_t < min_changed
        ):
            min_changed = svc_t
        state.service_time = svc_t
        return service.creation_time if not was_known else min_changed

    def delete_service(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)
        self._change_states.pop((namespace, name), None)
