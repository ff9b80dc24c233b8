"""Session affinity (ClientIP) per kube-proxy mode.

iptables: one `-m recent` list per endpoint (Linux `net/netfilter/xt_recent.c`); nftables:
one affinity set per endpoint; IPVS: a persistent virtual server (KEP-265).

All three keep state per node (each node's kernel has its own lists / sets / templates) and
only ever return an endpoint that is in the node's current candidate list: rules for an
endpoint that left the programmed set no longer exist, so its affinity cannot match.
"""

from __future__ import annotations

from collections import OrderedDict

XT_RECENT_LIST_SIZE = 100  # xt_recent ip_list_tot default; the oldest entry is reused when full (xt_recent.c)


class RecentLists:
    """iptables `-m recent` lists (one per endpoint, capacity 100) or nftables affinity sets.

    The policy chain checks every endpoint's list in rule order before the statistic rules;
    the first list holding the source with a stamp newer than the timeout wins, and the SEP
    chain's ``--set`` (nftables: ``update @affinity``) refreshes it for every new connection.
    nftables sets have no size limit (``capacity=None``).
    Simplification: ``--reap`` is not modelled (expired entries stay until evicted), and a
    list is not destroyed when its endpoint's rules go away.
    """

    __slots__ = ("by_client", "by_pod", "capacity", "timeout")

    def __init__(self, timeout: float, capacity: int | None) -> None:
        self.timeout = timeout
        self.capacity = capacity
        self.by_pod: dict[int, OrderedDict[int, float]] = {}  # LRU order, as xt_recent's lru_list
        self.by_client: dict[int, dict[int, float]] = {}

    def lookup(self, client: int, position: dict[int, int], t: float) -> int | None:
        entries = self.by_client.get(client)
        if not entries:
            return None
        best, best_k = None, 1 << 62
        for pod, stamp in entries.items():
            if t - stamp < self.timeout:
                k = position.get(pod)
                if k is not None and k < best_k:
                    best, best_k = pod, k
        return best

    def record(self, client: int, pod: int, t: float, duration: float) -> None:
        lst = self.by_pod.get(pod)
        if lst is None:
            lst = self.by_pod[pod] = OrderedDict()
        if client in lst:
            lst.move_to_end(client)
        elif self.capacity is not None and len(lst) >= self.capacity:
            evicted, _ = lst.popitem(last=False)
            del self.by_client[evicted][pod]
        lst[client] = t
        self.by_client.setdefault(client, {})[pod] = t


class Persistence:
    """IPVS persistent virtual server: one template per client IP pointing at a real server.

    The template lives ``timeout`` after its last use and at least while a connection it
    controls is open. A template to a server that left the list (weight 0) is not used:
    kube-proxy sets the expire_quiescent_template sysctl (`pkg/proxy/ipvs/proxier.go`).
    """

    __slots__ = ("template", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.template: dict[int, tuple[int, float]] = {}

    def lookup(self, client: int, position: dict[int, int], t: float) -> int | None:
        entry = self.template.get(client)
        if entry is None or entry[1] <= t or entry[0] not in position:
            return None
        return entry[0]

    def record(self, client: int, pod: int, t: float, duration: float) -> None:
        old = self.template.get(client)
        expires = t + max(self.timeout, duration)
        if old is not None and old[0] == pod:
            expires = max(expires, old[1])
        self.template[client] = (pod, expires)


def affinity_state(mode: str, timeout: float) -> RecentLists | Persistence:
    if mode == "iptables":
        return RecentLists(timeout, XT_RECENT_LIST_SIZE)
    if mode == "nftables":
        return RecentLists(timeout, None)
    if mode == "ipvs":
        return Persistence(timeout)
    raise ValueError(f"unknown kube-proxy mode {mode!r}")
