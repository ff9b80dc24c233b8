"""IPVS schedulers as kube-proxy configures them (`--ipvs-scheduler`, `pkg/proxy/ipvs/proxier.go`).

One scheduler applies to every virtual server of a node, and its state (round-robin
position, connection counts) is local to that node's kernel (Linux `net/netfilter/ipvs/ip_vs_*.c`).
Real servers are added
with weight 1; a removed endpoint is kept at weight 0 until it drains and gets no new
connections (`pkg/proxy/ipvs/graceful_termination.go`), which is the same as leaving it out of the
candidate list here.

Real-server list order: kube-proxy adds real servers while iterating a Go set, so each node's
kernel list is in an arbitrary order. Simplification: node n's list is the rule-order pool
rotated by a per-node random offset (gives each node its own "first" server; not a full
permutation, and it is re-applied after every change instead of appending new servers).

With every weight 1 and only active connections tracked, wlc, sed and nq choose exactly as lc
does (first real server with the fewest connections; nq's "first idle" is the same server),
and wrr cycles exactly like rr. Both facts follow from the kernel's comparisons with unit
weights and are pinned by tests.
"""

from __future__ import annotations

import zlib
from collections import deque

import numpy as np

ROUND_ROBIN = frozenset({"rr", "wrr"})
LEAST_CONN = frozenset({"lc", "wlc", "sed", "nq"})
STATEFUL = ROUND_ROBIN | LEAST_CONN
HASHED = frozenset({"sh", "dh", "mh"})
SCHEDULERS = STATEFUL | HASHED  # lblc / lblcr are not modelled (kube-proxy docs barely list them)

GOLDEN_RATIO_32 = 0x61C88647  # Linux hash_32()
SH_TAB_BITS = 8  # IP_VS_SH_TAB_BITS: 256 buckets
DH_TAB_BITS = 8  # IP_VS_DH_TAB_BITS
MAGLEV_PRIMES = (251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521)


def hash_32(value: np.ndarray, bits: int) -> np.ndarray:
    """Linux hash_32(val, bits): multiplicative hash, top ``bits`` bits."""
    v = np.asarray(value, dtype=np.uint64) & 0xFFFFFFFF
    return (((v * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - bits)).astype(np.int64)


def rotation(length: np.ndarray, node_offset: np.ndarray) -> np.ndarray:
    """Index in the rule-order pool of position 0 of the node's real-server list."""
    return node_offset % np.maximum(length, 1)


def source_hash_index(client_ip: np.ndarray, length: np.ndarray, node_offset: np.ndarray) -> np.ndarray:
    """sh: 256 buckets filled with real servers in list order (weight 1 → bucket b → server b mod E).

    kube-proxy does not set sh-port, so the hash is on the source address only: a client
    always lands on the same server while the list is unchanged. With E > 256 only 256
    servers can ever be chosen, as in the kernel.
    """
    bucket = hash_32(client_ip, SH_TAB_BITS)
    return (rotation(length, node_offset) + bucket % np.maximum(length, 1)) % np.maximum(length, 1)


def service_vip(name: str) -> int:
    """A stable ClusterIP for a service name (10.96.0.0/16); only dh reads it."""
    return (10 << 24) | (96 << 16) | (zlib.crc32(name.encode()) & 0xFFFF)


def dest_hash_index(vip: int, length: np.ndarray, node_offset: np.ndarray) -> np.ndarray:
    """dh: hashes the destination (the VIP), so one node sends every connection to one server."""
    bucket = int(hash_32(np.asarray([vip]), DH_TAB_BITS)[0])
    e = np.maximum(length, 1)
    return (rotation(length, node_offset) + bucket % e) % e


def _mix64(x: int) -> int:
    """splitmix64 finalizer: stands in for the kernel's keyed hsiphash."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def maglev_table_size(n_servers: int) -> int:
    """Simplification: the kernel uses 65521 slots; we use the smallest listed prime ≥ 8·E
    (min 251) to keep the pure-Python table fill cheap. Balance stays within ~1/8 per server."""
    for m in MAGLEV_PRIMES:
        if m >= 8 * n_servers:
            return m
    return MAGLEV_PRIMES[-1]


def maglev_table(servers: tuple[int, ...]) -> np.ndarray:
    """Maglev lookup table (slot → index into ``servers``), weight 1 per server."""
    e = len(servers)
    m = maglev_table_size(e)
    offset = [_mix64(p * 2 + 1) % m for p in servers]
    skip = [_mix64(p * 2 + 2) % (m - 1) + 1 for p in servers]
    nxt = [0] * e
    entry = [-1] * m
    filled = 0
    while filled < m:
        for i in range(e):
            c = (offset[i] + nxt[i] * skip[i]) % m
            while entry[c] >= 0:
                nxt[i] += 1
                c = (offset[i] + nxt[i] * skip[i]) % m
            entry[c] = i
            nxt[i] += 1
            filled += 1
            if filled == m:
                break
    return np.asarray(entry, dtype=np.int64)


class MaglevTables:
    """Maglev tables cached by server tuple (versions often share a candidate list)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def table(self, servers: tuple[int, ...]) -> np.ndarray:
        t = self._cache.get(servers)
        if t is None:
            t = self._cache[servers] = maglev_table(servers)
        return t

    def indices(
        self, pool_tuples: list[tuple[int, ...]], pool: np.ndarray, client_ip: np.ndarray, src_port: np.ndarray
    ) -> np.ndarray:
        """mh with mh-port (set by kube-proxy): hash (source IP, source port) into the pool's Maglev table."""
        out = np.zeros(len(pool), dtype=np.int64)
        key = (client_ip.astype(np.uint64) << np.uint64(16)) | src_port.astype(np.uint64)
        key = key * np.uint64(0x9E3779B97F4A7C15)
        key ^= key >> np.uint64(29)
        order = np.argsort(pool, kind="stable")
        uniq, starts = np.unique(pool[order], return_index=True)
        bounds = np.append(starts, len(order))
        for g, p in enumerate(uniq.tolist()):
            rows = order[bounds[g] : bounds[g + 1]]
            table = self.table(pool_tuples[p])
            out[rows] = table[(key[rows] % np.uint64(len(table))).astype(np.int64)]
        return out


class RoundRobin:
    """rr / wrr with unit weights: the server after the last one chosen, in list order.

    Simplification: if the last server left the list, restart at the list head (the kernel
    steps back to the previous entry; weight-0 servers are skipped either way).
    """

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: int | None = None  # one pointer per virtual service (one service per run)

    def pick(self, pool: tuple[int, ...], position: dict[int, int], rot: int) -> int:
        k = position.get(self.last, -1) if self.last is not None else -1
        chosen = pool[(k + 1) % len(pool)] if k >= 0 else pool[rot]
        self.last = chosen
        return chosen


def node_time_order(node: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``np.lexsort((t, node))``: by node, then time, then index; fast when t is sorted.

    Arrivals come sorted by time, and then a stable sort by node alone gives the same order
    (a radix sort when node ids fit in 16 bits).
    """
    if len(t) > 1 and not np.all(t[1:] >= t[:-1]):
        return np.lexsort((t, node))
    small = len(node) and node.min() >= 0 and node.max() <= np.iinfo(np.int16).max
    return np.argsort(node.astype(np.int16) if small else node, kind="stable")


class PoolPositions:
    """Each used pool's pod → position map, one row per pool covering only its pod-id span
    (small dtype, filled pool by pool: no temporaries the size of all pools together)."""

    def __init__(self, used: np.ndarray, pool_pods: np.ndarray, pool_start: np.ndarray, pool_length: np.ndarray):
        starts, lengths = pool_start[used].tolist(), pool_length[used].tolist()
        lo = [int(pool_pods[s : s + n].min()) if n else 0 for s, n in zip(starts, lengths, strict=True)]
        span = [int(pool_pods[s : s + n].max()) - m + 1 if n else 0 for s, n, m in zip(starts, lengths, lo, strict=True)]
        longest = max(lengths, default=0)
        dtype = np.int16 if longest <= np.iinfo(np.int16).max else np.int32
        self.table = np.full(sum(span), -1, dtype=dtype)
        self.base = np.cumsum([0, *span[:-1]], dtype=np.int64)
        self.lo, self.span = np.asarray(lo, np.int64), np.asarray(span, np.int64)
        self.row = np.zeros(int(used.max(initial=0)) + 1, dtype=np.int64)
        self.row[used] = np.arange(len(used))
        self.repeats = False  # a pool lists a pod twice: the write that lands leaves the other reading back wrong
        steps = np.arange(longest, dtype=dtype)
        for s, n, m, b in zip(starts, lengths, lo, self.base.tolist(), strict=True):
            cells = pool_pods[s : s + n].astype(np.int64) + (b - m)
            self.table[cells] = steps[:n]
            if not np.array_equal(self.table[cells], steps[:n]):
                self.repeats = True
                return

    def position(self, pool: np.ndarray, pod: np.ndarray) -> np.ndarray:
        """Position of ``pod`` in ``pool`` (a used pool), -1 if it is not listed there."""
        r = self.row[pool]
        at = pod - self.lo[r]
        inside = (at >= 0) & (at < self.span[r])
        return np.where(inside, self.table[self.base[r] + np.where(inside, at, 0)], -1)


def round_robin_indices(
    node: np.ndarray,
    t: np.ndarray,
    route: np.ndarray,
    pool_pods: np.ndarray,
    pool_start: np.ndarray,
    pool_length: np.ndarray,
    rot_base: np.ndarray,
) -> np.ndarray | None:
    """`RoundRobin` on every node at once: index in its pool of each connection's server.

    Same choices as feeding each node's connections (by time, route ≥ 0 only) to its own
    `RoundRobin` with ``rot = rot_base[node] % len(pool)``. Within a run of connections that
    a node routes through one pool, rr steps through it one server at a time, so only the
    start of each run depends on the run before (where that run's last server sits in the
    new pool). Runs are resolved rank by rank: run k of every node in one numpy step.
    Returns None (the caller then uses the sequential loop) if a used pool lists a pod twice:
    there rr's "position of the last server" is ambiguous and the step-by-one shortcut fails.
    Rows with route < 0 get -1.
    """
    n = len(t)
    out = np.full(n, -1, dtype=np.int64)
    order = node_time_order(node, t)
    order = order[route[order] >= 0]
    if len(order) == 0:
        return out
    nd = node[order]
    rt = route[order].astype(np.int64, copy=False)
    first = np.ones(len(order), dtype=bool)
    first[1:] = (nd[1:] != nd[:-1]) | (rt[1:] != rt[:-1])
    run_start = np.flatnonzero(first)
    run_node, run_route = nd[run_start], rt[run_start]
    run_count = np.diff(np.append(run_start, len(order)))
    length, start = pool_length[run_route], pool_start[run_route]
    rot = rot_base[run_node] % length

    positions = PoolPositions(np.unique(run_route), pool_pods, pool_start, pool_length)
    if positions.repeats:
        return None

    node_first = np.ones(len(run_start), dtype=bool)
    node_first[1:] = run_node[1:] != run_node[:-1]
    heads = np.flatnonzero(node_first)
    rank = np.arange(len(run_start)) - np.repeat(heads, np.diff(np.append(heads, len(run_start))))
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max()) + 2))
    x0 = rot.copy()  # rank 0: a node's first run starts at its rotation (no last server yet)
    last_pod = np.empty(len(run_start), dtype=np.int64)
    for k in range(len(bounds) - 1):
        g = by_rank[bounds[k] : bounds[k + 1]]
        if k:
            at = positions.position(run_route[g], last_pod[g - 1])  # the node's previous run is g - 1
            x0[g] = np.where(at >= 0, (at + 1) % length[g], rot[g])
        last_pod[g] = pool_pods[start[g] + (x0[g] + run_count[g] - 1) % length[g]]
    # x0 + step within the run, mod the pool length: built in one buffer (the order is ~1 row per connection)
    index = np.arange(len(order), dtype=np.int64)
    index += np.repeat(x0 - run_start, run_count)
    index %= np.repeat(length, run_count)
    out[order] = index
    return out


class LeastConnection:
    """lc / wlc / sed / nq with unit weights: first server in list order with fewest active conns.

    Simplification: only established ("active") connections count; the kernel's lc also adds
    inactive ones at 1/256 weight. Connections close ``duration`` after they start.
    """

    __slots__ = ("active", "closing")

    def __init__(self) -> None:
        self.active: dict[int, int] = {}
        self.closing: deque[tuple[float, int]] = deque()  # (end time, pod), FIFO: fixed duration

    def expire(self, t: float) -> None:
        closing, active = self.closing, self.active
        while closing and closing[0][0] <= t:
            _, p = closing.popleft()
            active[p] -= 1

    def pick(self, pool: tuple[int, ...], rot: int) -> int:
        active = self.active
        e = len(pool)
        best, best_c = pool[rot], None
        for k in range(e):
            p = pool[(rot + k) % e]
            c = active.get(p, 0)
            if c == 0:
                return p  # an idle server always wins (and is nq's choice)
            if best_c is None or c < best_c:
                best, best_c = p, c
        return best

    def opened(self, pod: int, end: float) -> None:
        self.active[pod] = self.active.get(pod, 0) + 1
        self.closing.append((end, pod))
