"""RepackSubsets from per-pod changes (HOT PATH; this project's own, no upstream
counterpart).

``EndpointsState`` keeps one Service's per-pod contributions and, per port, the sorted
address keys between syncs, updated from the pods that changed only; ``subsets()`` then
equals ``desired_subsets`` (the reference) for the pods fed so far: tests check both give
identical results over random change sequences.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from simk8s.api.objects import EndpointAddress, EndpointPort, EndpointSubset, Pod, Service
from simk8s.api.sizes.entries import SizedEntries, packed_size
from simk8s.controller.endpoints.addresses import PodContribution, pod_contribution
from simk8s.controller.endpoints.repack import NO_PORT, subset_order_key
from simk8s.controller.podutil import PodChange, port_hash


class _SortedAddresses:
    """Addresses kept sorted by their repack sort key, with keys and each address's wire
    size side by side and the sizes' running total (so the subset's tuple is one copy and
    is sized without a walk). Truncation reads the sum of the first n sizes: kept through
    changes for the last n asked (HOT PATH: over capacity, every sync truncates)."""

    __slots__ = ("_entries", "_head", "addrs", "keys", "sizes", "total", "version")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.addrs: list[EndpointAddress] = []
        self.sizes: list[int] = []
        self.total = 0
        self.version = 0  # bumped by every change: an older prefix() answers None
        self._head: tuple[int, int] | None = None  # (n, sum of the first n sizes)
        self._entries: tuple[int, SizedEntries] | None = None  # (version, entries())

    def insert(self, key: str, addr: EndpointAddress) -> None:
        i = bisect_left(self.keys, key)
        size = packed_size(addr)  # kept in ``sizes``: no cache needed
        if self._head is not None and i < self._head[0]:  # the n-th size leaves the head
            n, head = self._head
            self._head = (n, head + size - (self.sizes[n - 1] if n <= len(self.sizes) else 0))
        self.keys.insert(i, key)
        self.addrs.insert(i, addr)
        self.sizes.insert(i, size)
        self.total += size
        self.version += 1

    def remove(self, key: str) -> None:
        i = bisect_left(self.keys, key)
        if self._head is not None and i < self._head[0]:  # the (n+1)-th size joins the head
            n, head = self._head
            self._head = (n, head - self.sizes[i] + (self.sizes[n] if n < len(self.sizes) else 0))
        del self.keys[i]
        del self.addrs[i]
        self.total -= self.sizes.pop(i)
        self.version += 1

    def replace(self, key: str, addr: EndpointAddress) -> None:
        i = bisect_left(self.keys, key)
        self.addrs[i] = addr
        size = packed_size(addr)  # kept in ``sizes``: no cache needed
        if self._head is not None and i < self._head[0]:
            self._head = (self._head[0], self._head[1] + size - self.sizes[i])
        self.total += size - self.sizes[i]
        self.sizes[i] = size
        self.version += 1

    def head_size(self, n: int) -> int:
        """Sum of the first n sizes."""
        if self._head is None or self._head[0] != n:
            self._head = (n, sum(self.sizes[:n]))
        return self._head[1]

    def entries(self) -> SizedEntries:
        """The addresses as a sized tuple; the same object while nothing changed (one copy
        of a long list per change, not per sync)."""
        if self._entries is not None and self._entries[0] == self.version:
            return self._entries[1]
        version = self.version

        def prefix(n: int) -> int | None:
            return self.head_size(n) if self.version == version else None

        entries = SizedEntries(self.addrs, self.total, prefix)
        self._entries = (version, entries)
        return entries


class _PortMembers:
    """The addresses offering one port, split by readiness."""

    __slots__ = ("not_ready", "ready")

    def __init__(self) -> None:
        self.ready = _SortedAddresses()
        self.not_ready = _SortedAddresses()

    def side(self, ready: bool) -> _SortedAddresses:
        return self.ready if ready else self.not_ready

    def empty(self) -> bool:
        return not self.ready.keys and not self.not_ready.keys


class EndpointsState:
    """One Service's repacked subsets (``RepackSubsets``), maintained from pod changes.

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
            addr = self._addr[key] = self._contrib[orders[0]].address  # first copy wins
            for order in orders:
                c = self._contrib[order]
                for port in c.ports or NO_PORT:
                    was = new.get(port)
                    if was is None or was:  # not-ready always wins
                        new[port] = c.ready
            self._key_ports[key] = new
        for port, ready in old.items():
            members = self._by_port[port]
            if new.get(port) == ready:  # (so ``new`` is not empty and ``addr`` is set)
                if addr is not old_addr and addr is not None:
                    members.side(ready).replace(key, addr)
                continue
            members.side(ready).remove(key)
            if port not in new and members.empty():
                del self._by_port[port]
        if addr is None:  # the key is gone: ``new`` is empty
            return
        for port, ready in new.items():
            if old.get(port) == ready:
                continue
            entry = self._by_port.get(port)
            if entry is None:
                entry = self._by_port[port] = _PortMembers()
            entry.side(ready).insert(key, addr)

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
        subsets.sort(key=subset_order_key)  # as repack
        self._subsets = tuple(subsets)
        return self._subsets
