"""The EndpointSlice sync from per-pod changes (HOT PATH; this project's own, no upstream
counterpart).

``EndpointSliceState`` keeps one Service's desired endpoints between syncs, updated from
the pods that changed only, and remembers which existing slices are already up to date,
so a sync costs O(changed pods + slices) Python work. ``reconcile`` stays the reference;
tests check both give identical plans.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import is_not
from typing import cast

from simk8s.api.objects import Endpoint, EndpointSlice, Pod, Service
from simk8s.api.sizes.entries import entry_size
from simk8s.controller.endpointslice.desired import (
    DesiredEndpoints,
    EndpointKey,
    PortKey,
    cached_key,
    endpoints_equal_beyond_hash,
    includes_terminating,
    pod_endpoint,
    pod_ports,
)
from simk8s.controller.endpointslice.gates import ALL_ON, SliceGates
from simk8s.controller.endpointslice.reconciler import (
    DEFAULT_MAX_ENDPOINTS_PER_SLICE,
    Step1,
    classify,
    plan_sync,
    reconcile,
    reference_step1,
)
from simk8s.controller.endpointslice.slices import SliceMemory, SlicePlan, known_size, owned_by
from simk8s.controller.podutil import (
    PodChange,
    port_map_key,
    should_pod_be_in_endpoints,
    slice_address_types,
)


@dataclass(slots=True)
class _PodEntry:
    """What ``desired_endpoints`` takes from one pod."""

    pod: Pod
    ports: PortKey | None  # its port group; None: not included (ShouldPodBeInEndpoints)
    missing_node: bool = False  # skipped for an unknown node
    endpoints: tuple[tuple[Endpoint | None, EndpointKey | None], ...] = ()  # per address type


class _Group:
    """One (address type, port group): its desired endpoints, and how many times the
    existing slices of the group hold each endpoint identity."""

    __slots__ = ("held", "members", "total", "unplaced", "want")

    def __init__(self) -> None:
        self.want: dict[EndpointKey, Endpoint] = {}  # identity → desired (last pod's) Endpoint
        self.members: dict[EndpointKey, list[int]] = {}  # identity → pod orders, sorted
        self.unplaced: set[EndpointKey] = set()  # wanted but in no existing slice
        self.held: dict[EndpointKey, int] = {}  # identity → copies in existing slices
        self.total = 0  # endpoints in existing slices (> len(held): some identity twice)

    def hold(self, keys: Iterable[EndpointKey]) -> None:
        held = self.held
        for key in keys:
            n = held.get(key)
            if n is None:
                held[key] = 1
                self.unplaced.discard(key)
            else:
                held[key] = n + 1
            self.total += 1

    def release(self, keys: Iterable[EndpointKey]) -> None:
        held = self.held
        for key in keys:
            n = held[key]
            if n == 1:
                del held[key]
                if key in self.want:
                    self.unplaced.add(key)
            else:
                held[key] = n - 1
            self.total -= 1


@dataclass(slots=True)
class _Tracked:
    slice: EndpointSlice
    group: _Group | None  # None: not owned, or an address type the Service lacks
    keys: tuple[EndpointKey, ...]  # identity of each endpoint, in slice order
    key_set: frozenset[EndpointKey]


class EndpointSliceState:
    """One Service's desired endpoints, maintained from pod changes, plus what step 1 of
    ``reconcileByPortMapping`` learnt about the existing slices.

    ``apply(changes)`` costs O(changed pods). ``reconcile(existing)`` gives the same plan as
    ``reconcile(service, pods, existing, nodes=nodes, ...)`` for the pods fed so far (in
    order-key order), while its Python work is per changed pod, per slice and per
    endpoint written, not per pod:

    * existing slices are followed by object identity; a slice replacing one of the same
      name (an update) is diffed against it with set operations;
    * step 1 skips slices known to be *clean* (every endpoint still desired as it is):
      slices this state wrote, and slices it walked and found so; a clean slice stops
      being clean when the desired version of one of its identities changes;
    * the desired endpoints that no slice holds are kept as a set.

    ``nodes`` must not change while the state is used.
    """

    def __init__(
        self, service: Service, nodes: Mapping[str, str | None], gates: SliceGates = ALL_ON
    ) -> None:
        self.service = service
        self.nodes = nodes
        self.gates = gates
        self._include_terminating = includes_terminating(service, gates)
        self.types = slice_address_types(service)
        self._pods: dict[int, _PodEntry] = {}
        self._group_pods: dict[PortKey, set[int]] = {}  # port group → its included pods
        self._missing = 0  # pods skipped for an unknown node
        self._groups: dict[tuple[str, PortKey], _Group] = {}
        self._tracked: dict[int, _Tracked] = {}  # id(slice) → what is known of it
        self._clean: set[int] = set()
        self._suspect: dict[int, set[EndpointKey]] = {}  # id(slice) → identities to look at
        self._recent: set[EndpointKey] = set()  # identities whose desired version changed
        self._memory = SliceMemory()

    # -- pods ------------------------------------------------------------------------
    def apply(self, changes: Iterable[PodChange]) -> None:
        """Take in the current record (or absence) of each pod that changed."""
        for order, pod in changes:
            old = self._pods.get(order)
            if pod is None:
                if old is not None:
                    del self._pods[order]
                    self._remove(order, old)
                continue
            if old is not None and old.pod is pod:
                continue
            new = self._entry(pod)
            self._pods[order] = new
            if old is not None:
                self._remove(order, old)
            self._add(order, new)

    def pods(self) -> list[Pod]:
        """The pods fed so far, in order."""
        return [self._pods[o].pod for o in sorted(self._pods)]

    def _entry(self, pod: Pod) -> _PodEntry:
        service = self.service
        if not should_pod_be_in_endpoints(pod, self._include_terminating):
            return _PodEntry(pod, None)
        ports = pod_ports(pod, service)
        if pod.node_name not in self.nodes and not service.publish_not_ready_addresses:
            return _PodEntry(pod, ports, True)  # node not found: skip the pod, sync errors
        zone = self.nodes.get(pod.node_name) or None
        conditions = self.gates.terminating_condition
        eps = tuple(pod_endpoint(pod, service, t, zone, conditions) for t in self.types)
        return _PodEntry(pod, ports, False, eps)

    def _group(self, address_type: str, ports: PortKey) -> _Group:
        g = self._groups.get((address_type, ports))
        if g is None:
            g = self._groups[(address_type, ports)] = _Group()
        return g

    def _add(self, order: int, e: _PodEntry) -> None:
        if e.ports is None:
            return
        members = self._group_pods.get(e.ports)
        if members is None:
            members = self._group_pods[e.ports] = set()
        members.add(order)
        if e.missing_node:
            self._missing += 1
            return
        for t, (ep, key) in zip(self.types, e.endpoints, strict=True):
            if ep is None or key is None:
                continue
            g = self._group(t, e.ports)
            orders = g.members.get(key)
            if orders is None:
                g.members[key] = [order]
            else:
                insort(orders, order)
                if orders[-1] != order:
                    continue  # a later pod with the same identity supplies the endpoint
            g.want[key] = ep
            self._recent.add(key)
            if key not in g.held:
                g.unplaced.add(key)

    def _remove(self, order: int, e: _PodEntry) -> None:
        if e.ports is None:
            return
        members = self._group_pods[e.ports]
        members.discard(order)
        if not members:
            del self._group_pods[e.ports]
        if e.missing_node:
            self._missing -= 1
            return
        for i, (t, (ep, key)) in enumerate(zip(self.types, e.endpoints, strict=True)):
            if ep is None or key is None:
                continue
            g = self._groups[(t, e.ports)]
            orders = g.members[key]
            was_last = orders[-1] == order
            del orders[bisect_left(orders, order)]
            if not orders:
                del g.members[key]
                del g.want[key]
                g.unplaced.discard(key)
            elif was_last:
                # The new last pod has this identity for type t, so its endpoint exists.
                g.want[key] = cast(Endpoint, self._pods[orders[-1]].endpoints[i][0])
            else:
                continue
            self._recent.add(key)

    def _group_keys(self) -> list[PortKey]:
        """Desired port groups in desired order: by their first pod."""
        keys = list(self._group_pods)
        if len(keys) > 1:
            keys.sort(key=lambda k: min(self._group_pods[k]))
        return keys

    def _ordered(self, g: _Group, keys: Collection[EndpointKey]) -> dict[EndpointKey, Endpoint]:
        """Desired endpoints of ``keys`` in desired order (by their first pod)."""
        if not keys:  # (usual for ``unplaced``: an emptied set would still walk its old table)
            return {}
        first = g.members
        return {k: g.want[k] for k in sorted(keys, key=lambda k: first[k][0])}

    def desired(self) -> DesiredEndpoints:
        """What ``desired_endpoints(service, self.pods(), nodes, gates)`` returns (O(P); tests)."""
        groups: dict[str, dict[PortKey, dict[EndpointKey, Endpoint]]] = {t: {} for t in self.types}
        for key in self._group_keys():
            for t in self.types:
                g = self._groups.get((t, key))
                groups[t][key] = self._ordered(g, g.want) if g is not None else {}
        return DesiredEndpoints(groups, self._missing > 0)

    # -- existing slices ---------------------------------------------------------------
    def _track(self, existing: Sequence[EndpointSlice]) -> bool:
        """Follow the informer's slices (by object identity). False if a slice object is
        listed twice (then the reference path is used)."""
        current = {id(s): s for s in existing}
        memory = self._memory
        born, memory.born = memory.born, {}
        if len(current) != len(existing):
            return False
        tracked = self._tracked
        if current.keys() == tracked.keys():
            return True  # nothing written since the last sync
        gone: dict[str, list[_Tracked]] = {}
        for sid in tracked.keys() - current.keys():
            t = tracked.pop(sid)
            self._clean.discard(sid)
            self._suspect.pop(sid, None)
            memory.forget(sid)
            gone.setdefault(t.slice.name, []).append(t)
        for sid in current.keys() - tracked.keys():
            s = current[sid]
            g = None
            if owned_by(s, self.service) and s.address_type in self.types:
                g = self._group(s.address_type, port_map_key(s.ports))
            was = born.get(sid)
            is_born = was is not None and was[0] is s
            if was is not None and is_born:
                keys = was[1]
                if g is not None:
                    self._clean.add(sid)  # written from the desired endpoints just now
                memory.ok.add(sid)
            else:
                keys = tuple(map(cached_key, s.endpoints)) if g is not None else ()
            key_set = frozenset(keys)
            olds = gone.get(s.name)
            old = olds.pop() if olds else None
            if old is not None and old.group is g and g is not None:
                if len(old.key_set) == len(old.keys) and len(key_set) == len(keys):
                    # An update of the same slice: only the difference moves.
                    g.release(old.key_set - key_set)
                    g.hold(key_set - old.key_set)
                else:
                    g.release(old.keys)
                    g.hold(keys)
            else:
                if old is not None and old.group is not None:
                    old.group.release(old.keys)
                if g is not None:
                    g.hold(keys)
            tracked[sid] = _Tracked(s, g, keys, key_set)
            if g is not None or is_born:  # (others' keys are never needed)
                memory.keys[sid] = keys
        for olds in gone.values():
            for old in olds:
                if old.group is not None:
                    old.group.release(old.keys)
        return True

    def _settle(self) -> None:
        """Slices holding an identity whose desired version changed since they were found
        clean become *suspect*: only those identities need a look."""
        recent = self._recent
        if not recent:
            return
        tracked = self._tracked
        suspect = self._suspect
        for sid, keys in suspect.items():
            keys |= tracked[sid].key_set.intersection(recent)
        for sid in [sid for sid in self._clean if not recent.isdisjoint(tracked[sid].key_set)]:
            self._clean.discard(sid)
            suspect[sid] = set(tracked[sid].key_set.intersection(recent))
        recent.clear()

    def _walk(
        self, s: EndpointSlice, want: dict[EndpointKey, Endpoint]
    ) -> tuple[list[Endpoint], list[EndpointKey] | None, bool, int | None]:
        """Step 1's look at one slice that is not clean: (kept endpoints in the desired
        version, their identities or None if all were kept, changed, their packed size
        if the slice carries its own)."""
        tracked = self._tracked[id(s)]
        keys = tracked.keys
        endpoints = s.endpoints
        get: Callable[[EndpointKey], Endpoint | None] = want.get
        kept = list(map(get, keys))  # C-level walk (HOT PATH)
        suspects = self._suspect.get(id(s))
        # Identities outside the suspects are still desired exactly as found clean, so
        # only suspects can be gone or changed; a slice never found clean is all suspect.
        look = range(len(keys)) if suspects is None else map(keys.index, suspects)
        changed = dropped = False
        for i in look:
            got = kept[i]
            if got is None:
                dropped = True
            elif got is not endpoints[i] and not endpoints_equal_beyond_hash(got, endpoints[i]):
                changed = True
        size = _kept_size(endpoints, kept) if changed or dropped else None
        if not dropped:
            return cast("list[Endpoint]", kept), None, changed, size  # no None: nothing dropped
        kept_keys = [k for k, got in zip(keys, kept, strict=True) if got is not None]
        return [got for got in kept if got is not None], kept_keys, changed, size

    def _step1(self, address_type: str, key: PortKey, slices: list[EndpointSlice]) -> Step1:
        """Step 1 for one port group, walking only slices not known to be clean."""
        service = self.service
        g = self._groups.get((address_type, key))
        if g is None:  # no desired endpoint and no slice for this type
            return reference_step1(service, slices, {})
        if g.total != len(g.held):  # an identity held twice: the reference walk decides
            return reference_step1(service, slices, self._ordered(g, g.want))
        out = Step1([], [], [], 0, {})
        want = g.want
        clean = self._clean
        memory = self._memory
        for s in slices:
            sid = id(s)
            if sid in clean:
                classify(service, s, None, False, out, None, memory)
                continue
            kept, kept_keys, changed, size = self._walk(s, want)
            if changed or kept_keys is not None:
                if kept_keys is None:
                    kept_keys = list(self._tracked[sid].keys)
                classify(service, s, kept, changed, out, kept_keys, memory, size)
            else:
                clean.add(sid)
                self._suspect.pop(sid, None)
                classify(service, s, None, False, out, None, memory)
        out.remaining = self._ordered(g, g.unplaced)
        return out

    # -- the sync ------------------------------------------------------------------------
    def reconcile(
        self,
        existing_slices: Sequence[EndpointSlice],
        *,
        max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
        trigger_time: float | None,
        name_for: Callable[[str], str],
    ) -> SlicePlan:
        """``reconcile(self.service, self.pods(), existing_slices, nodes=self.nodes,
        gates=self.gates, ...)``."""
        service = self.service
        if service.type == "ExternalName" or service.selector is None:
            return SlicePlan()  # syncService: ExternalName or no selector
        if max_endpoints_per_slice < 1:
            raise ValueError("max_endpoints_per_slice must be >= 1")
        if not self._track(existing_slices):
            return reconcile(
                service,
                self.pods(),
                existing_slices,
                max_endpoints_per_slice=max_endpoints_per_slice,
                nodes=self.nodes,
                trigger_time=trigger_time,
                name_for=name_for,
                gates=self.gates,
            )
        self._settle()
        return plan_sync(
            service,
            list(self.types),
            self._group_keys(),
            self._step1,
            existing_slices,
            max_endpoints_per_slice,
            self.nodes,
            trigger_time,
            name_for,
            self._missing > 0,
            self._memory,
            self.gates,
        )


def _kept_size(endpoints: Sequence[Endpoint], kept: list[Endpoint | None]) -> int | None:
    """Packed size of ``kept`` (``None``: dropped) from the slice's own total: only the
    positions now holding another object are sized again (C-level scan for them)."""
    total = known_size(endpoints)
    if total is None:
        return None
    for i in compress(range(len(kept)), map(is_not, kept, endpoints)):
        total -= entry_size(endpoints[i])
        got = kept[i]
        if got is not None:
            total += entry_size(got)
    return total
