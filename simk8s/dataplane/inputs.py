"""What the data path receives from the cluster simulation and the kube-proxy fleet.

These records are the narrow interface between the control-plane stages and the data path:
the pods (when each one accepts connections), each Service's endpoint versions as kube-proxy
sees them, and which change-stream writes every node has programmed at any instant.

Change-stream indices are 0-based: write number ``i`` is the ``i``-th write kube-proxy saw.
``NodeProgramming.applied_at`` returns a *count* ``c`` meaning writes ``0 .. c-1`` are
programmed on that node, so version ``k`` is in effect once ``write_index[k] < c``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

SERVICE_KINDS = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "Headless")
TRAFFIC_SOURCES = ("pods", "external")


@dataclass(frozen=True)
class PodTable:
    """One row per pod ever created; the row index is the pod id."""

    node: np.ndarray  # int32[P] node index
    zone: np.ndarray  # int16[P] zone index
    serving_from: np.ndarray  # float64[P] app accepts connections from here (inf if never)
    serving_until: np.ndarray  # float64[P] app stops accepting here (SIGTERM + delay, node loss, inf)

    @property
    def n_pods(self) -> int:
        return len(self.node)


@dataclass(frozen=True)
class EndpointVersion:
    """The merged endpoint set of one Service as kube-proxy sees it after one write."""

    pod: np.ndarray  # int32[E] pod ids, ordered as in the rules
    ready: np.ndarray  # bool[E]
    serving: np.ndarray  # bool[E]
    terminating: np.ndarray  # bool[E]
    node: np.ndarray  # int32[E]
    zone: np.ndarray  # int16[E] (-1 unknown)
    hint_zone: np.ndarray | None = None  # int16[E] topology hint (own zone, -1 none) or None

    @property
    def size(self) -> int:
        return len(self.pod)

    @classmethod
    def empty(cls) -> EndpointVersion:
        return cls(
            pod=np.zeros(0, np.int32),
            ready=np.zeros(0, bool),
            serving=np.zeros(0, bool),
            terminating=np.zeros(0, bool),
            node=np.zeros(0, np.int32),
            zone=np.zeros(0, np.int16),
        )

    @classmethod
    def of_pods(
        cls,
        pods: PodTable,
        pod_ids: np.ndarray | list[int],
        *,
        ready: np.ndarray | list[bool] | None = None,
        serving: np.ndarray | list[bool] | None = None,
        terminating: np.ndarray | list[bool] | None = None,
        hints: bool = False,
    ) -> EndpointVersion:
        """Convenience builder (tests, examples): node and zone come from the pod table."""
        ids = np.asarray(pod_ids, dtype=np.int32)
        e = len(ids)
        rdy = np.ones(e, bool) if ready is None else np.asarray(ready, bool)
        term = np.zeros(e, bool) if terminating is None else np.asarray(terminating, bool)
        srv = rdy.copy() if serving is None else np.asarray(serving, bool)
        zone = pods.zone[ids].astype(np.int16)
        return cls(
            pod=ids,
            ready=rdy,
            serving=srv,
            terminating=term,
            node=pods.node[ids].astype(np.int32),
            zone=zone,
            hint_zone=zone.copy() if hints else None,
        )


@dataclass(frozen=True)
class ServiceHistory:
    """Every endpoint version one Service went through, keyed by change-stream write index."""

    name: str
    write_index: np.ndarray  # int64[K] write that created version k, ascending
    versions: Sequence[EndpointVersion]  # len K: a list, or LazyVersions (built when read)
    initial: EndpointVersion  # state at t=0 (every node has it programmed at t=0)
    kind: str = "ClusterIP"  # ClusterIP | NodePort | LoadBalancer | ExternalName | Headless
    session_affinity_timeout: float | None = None  # ClientIP affinity timeout (s), None = off
    internal_local: bool = False  # internalTrafficPolicy: Local
    external_local: bool = False  # externalTrafficPolicy: Local
    traffic_distribution: str | None = None  # PreferClose | PreferSameZone | PreferSameNode
    service_ports_total: int = 1  # KUBE-SERVICES rules on a node (all services, incl. background)
    # ProxyTerminatingEndpoints (KEP-1669): kube-proxy falls back to Serving+Terminating
    # endpoints. `versions.cluster_pool`, if any, must answer for the same setting.
    terminating_fallback: bool = True

    def __post_init__(self) -> None:
        if self.kind not in SERVICE_KINDS:
            raise ValueError(f"service {self.name}: unknown kind {self.kind!r}")
        if len(self.write_index) != len(self.versions):
            raise ValueError(f"service {self.name}: write_index and versions differ in length")
        if len(self.write_index) > 1 and np.any(np.diff(self.write_index) <= 0):
            raise ValueError(f"service {self.name}: write_index must be strictly ascending")
        if self.service_ports_total < 1:
            raise ValueError(f"service {self.name}: service_ports_total must be >= 1")

    @property
    def all_versions(self) -> Sequence[EndpointVersion]:
        """Version id 0 is the initial state; id k+1 is ``versions[k]`` (a view, not a copy)."""
        return _WithInitial(self.initial, self.versions)


class LazyVersions(Sequence[EndpointVersion]):
    """``n`` endpoint versions, version ``k`` built by ``build(k)`` when first read (then kept).

    The data path reads only the versions some connection was routed by, often a fraction.
    Answers of ``pool`` are kept too: variants sharing a history ask for the same versions.
    """

    def __init__(
        self,
        n: int,
        build: Callable[[int], EndpointVersion],
        pool: Callable[[int], tuple[np.ndarray, bool] | None] | None = None,
    ) -> None:
        self._n = n
        self._build = build
        self._pool = pool
        self._built: dict[int, EndpointVersion] = {}
        self._pools: dict[int, tuple[np.ndarray, bool] | None] = {}

    def cluster_pool(self, k: int) -> tuple[np.ndarray, bool] | None:
        """``pool(k)``: `selection.cluster_base_pool` of version k without building it, or
        None for "build the version and look" (also when no ``pool`` was given)."""
        if self._pool is None:
            return None
        if k not in self._pools:
            self._pools[k] = self._pool(k)
        return self._pools[k]

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, k: int) -> EndpointVersion: ...
    @overload
    def __getitem__(self, k: slice) -> list[EndpointVersion]: ...
    def __getitem__(self, k: int | slice) -> EndpointVersion | list[EndpointVersion]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self._n))]
        k = int(k)
        if k < 0:
            k += self._n
        if not 0 <= k < self._n:
            raise IndexError(k)
        v = self._built.get(k)
        if v is None:
            v = self._built[k] = self._build(k)
        return v


class _WithInitial(Sequence[EndpointVersion]):
    """[initial, *versions] without building or copying ``versions``."""

    def __init__(self, initial: EndpointVersion, versions: Sequence[EndpointVersion]) -> None:
        self._initial = initial
        self._versions = versions

    def __len__(self) -> int:
        return len(self._versions) + 1

    @overload
    def __getitem__(self, k: int) -> EndpointVersion: ...
    @overload
    def __getitem__(self, k: slice) -> list[EndpointVersion]: ...
    def __getitem__(self, k: int | slice) -> EndpointVersion | list[EndpointVersion]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        k = int(k)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self._initial if k == 0 else self._versions[k - 1]

    def __iter__(self) -> Iterator[EndpointVersion]:
        yield self._initial
        yield from self._versions

    def cluster_pool(self, k: int) -> tuple[np.ndarray, bool] | None:
        """See LazyVersions.cluster_pool (None for the initial version: it is built)."""
        inner = getattr(self._versions, "cluster_pool", None)
        return inner(k - 1) if k > 0 and inner is not None else None


@dataclass(frozen=True)
class NodeProgramming:
    """Which change-stream writes each node's kube-proxy has programmed, as a function of time."""

    n_nodes: int
    zone: np.ndarray  # int16[N]
    # (nodes int[k], times float[k]) -> int64[k] count of writes applied on that node at that time
    applied_at: Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TrafficSpec:
    rate: float  # new connections per second (Poisson)
    start: float
    end: float
    source: str = "pods"  # "pods" | "external" (NodePort / LoadBalancer traffic arriving on a node)
    client_nodes: int = 0  # 0 = all nodes, else the first N
    clients: int = 1000  # distinct client IPs
    requests_per_connection: int = 1
    connection_duration: float = 1.0

    def __post_init__(self) -> None:
        if self.source not in TRAFFIC_SOURCES:
            raise ValueError(f"traffic source must be one of {TRAFFIC_SOURCES}, got {self.source!r}")
        if self.rate < 0 or self.end < self.start:
            raise ValueError("traffic needs rate >= 0 and end >= start")
        if self.clients < 1 or self.requests_per_connection < 1:
            raise ValueError("traffic needs clients >= 1 and requests_per_connection >= 1")


def step_programming(
    zone: np.ndarray, change_times: np.ndarray
) -> NodeProgramming:
    """A NodeProgramming from a dense table: ``change_times[n, i]`` = when node n applied write i.

    Meant for tests and small examples (the fleet provides its own, cheaper function).
    Rows must be non-decreasing (a node applies writes in order); inf = never applied.
    """
    table = np.asarray(change_times, dtype=np.float64)

    def applied_at(nodes: np.ndarray, times: np.ndarray) -> np.ndarray:
        rows = table[np.asarray(nodes, dtype=np.int64)]
        return (rows <= np.asarray(times, dtype=np.float64)[:, None]).sum(axis=1).astype(np.int64)

    return NodeProgramming(n_nodes=table.shape[0], zone=np.asarray(zone, np.int16), applied_at=applied_at)
