"""What one node's kube-proxy holds in its caches, and which endpoints it programs.

`ProxyState` is the per-node input of every renderer and of `rulecount`: the proxied
service ports (Service + ServicePort) each with its merged endpoint list, plus the node's
name, zone and IP. Endpoint selection (`categorize_endpoints`) follows `CategorizeEndpoints`
in `pkg/proxy/topology.go` (KEP-1669 fallback, traffic policies, topology hints).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from simk8s.api.objects import (
    Endpoints,
    EndpointSlice,
    Service,
    ServicePort,
)
from simk8s.proxy.names import service_port_name

ANNOTATION_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
ANNOTATION_TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints"  # deprecated spelling
_ZONE_DISTRIBUTIONS = ("PreferClose", "PreferSameZone", "PreferSameNode")


@dataclass(frozen=True, slots=True)
class ProxyNode:
    name: str
    zone: str | None = None
    ip: str = "192.168.0.2"


@dataclass(frozen=True, slots=True)
class ProxyEndpoint:
    """One de-duplicated endpoint of one service port, as kube-proxy's endpoint cache holds it."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str | None = None
    zone: str | None = None
    zone_hints: tuple[str, ...] = ()
    node_hints: tuple[str, ...] = ()
    is_local: bool = False

    @property
    def addr(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class ProxyServicePort:
    """One proxied (Service, ServicePort) pair with its endpoints sorted by "ip:port"."""

    service: Service
    port: ServicePort
    endpoints: tuple[ProxyEndpoint, ...] = ()

    @property
    def name(self) -> str:
        return service_port_name(self.service.namespace, self.service.name, self.port.name)

    @property
    def protocol(self) -> str:
        return self.port.protocol.lower()

    @property
    def cluster_ip(self) -> str:
        return self.service.cluster_ip or ""

    @property
    def node_port(self) -> int:
        if self.service.type not in ("NodePort", "LoadBalancer"):
            return 0
        return self.port.node_port or 0

    @property
    def external_ips(self) -> tuple[str, ...]:
        return self.service.external_ips

    @property
    def lb_ips(self) -> tuple[str, ...]:
        return self.service.load_balancer_ips if self.service.type == "LoadBalancer" else ()

    @property
    def source_ranges(self) -> tuple[str, ...]:
        # Upstream trims whitespace padding that validation lets through.
        return tuple(r.strip() for r in self.service.load_balancer_source_ranges if r.strip())

    @property
    def affinity(self) -> bool:
        return self.service.session_affinity == "ClientIP"

    @property
    def affinity_timeout(self) -> int:
        return self.service.session_affinity_timeout_s

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.lb_ips)

    @property
    def internal_local(self) -> bool:
        return self.service.internal_traffic_policy == "Local"

    @property
    def external_local(self) -> bool:
        return self.externally_accessible and self.service.external_traffic_policy == "Local"

    @property
    def health_check_node_port(self) -> int:
        # NeedsHealthCheck: LoadBalancer with externalTrafficPolicy=Local.
        if self.service.type == "LoadBalancer" and self.external_local:
            return self.service.health_check_node_port or 0
        return 0

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Externally accessible ports always do, even with externalTrafficPolicy Local: pod and
        # host traffic to their external IPs short-circuits to the cluster chain
        # (`UsesClusterEndpoints`, pkg/proxy/serviceport.go).
        return (not self.internal_local) or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_local or self.external_local


@dataclass(frozen=True, slots=True)
class EndpointSelection:
    """Result of `categorize_endpoints` (upstream CategorizeEndpoints)."""

    cluster: tuple[ProxyEndpoint, ...]
    local: tuple[ProxyEndpoint, ...]
    all_reachable: tuple[ProxyEndpoint, ...]
    has_any: bool


def _is_proxied(svc: Service) -> bool:
    return svc.type != "ExternalName" and not svc.headless and "IPv4" in svc.ip_families


def _topology_requested(svc: Service) -> bool:
    if svc.traffic_distribution in _ZONE_DISTRIBUTIONS:
        return True
    ann = dict(svc.annotations)
    mode = ann.get(ANNOTATION_TOPOLOGY_HINTS, ann.get(ANNOTATION_TOPOLOGY_MODE, ""))
    return mode in ("Auto", "auto")


def _topology_filter(sp: ProxyServicePort, node: ProxyNode):
    """Which hint to filter cluster endpoints on, or None to use all (topology.go)."""
    if not _topology_requested(sp.service):
        return None
    ready = [ep for ep in sp.endpoints if ep.ready]
    if (sp.service.traffic_distribution == "PreferSameNode" and ready
            and all(ep.node_hints for ep in ready) and any(node.name in ep.node_hints for ep in ready)):
        return lambda ep: node.name in ep.node_hints
    if node.zone is None or not ready:
        return None
    if any(not ep.zone_hints for ep in ready):
        return None  # every ready endpoint must carry hints
    if not any(node.zone in ep.zone_hints for ep in ready):
        return None
    return lambda ep: node.zone in ep.zone_hints


def categorize_endpoints(
    sp: ProxyServicePort, node: ProxyNode, *, terminating_fallback: bool = True
) -> EndpointSelection:
    """Cluster / local / reachable endpoints and whether any usable endpoint exists
    (CategorizeEndpoints). `terminating_fallback`: the ProxyTerminatingEndpoints gate
    (KEP-1669); off (≤ 1.25), Serving+Terminating endpoints are never used nor counted."""
    eps = sp.endpoints
    cluster: tuple[ProxyEndpoint, ...] = ()
    local: tuple[ProxyEndpoint, ...] = ()
    has_any = False
    if sp.uses_cluster_endpoints:
        keep = _topology_filter(sp, node)
        cluster = tuple(ep for ep in eps if ep.ready and (keep is None or keep(ep)))
        if not cluster and terminating_fallback:  # KEP-1669: no ready endpoint anywhere
            cluster = tuple(ep for ep in eps if ep.serving and ep.terminating)
        has_any = bool(cluster)
    if not sp.uses_local_endpoints:
        return EndpointSelection(cluster, (), cluster, has_any)
    local_ready = local_st = False
    for ep in eps:
        if ep.ready:
            has_any = True
            local_ready = local_ready or ep.is_local
        elif ep.serving and ep.terminating and terminating_fallback:
            has_any = True
            local_st = local_st or ep.is_local
    if local_ready:
        local = tuple(ep for ep in eps if ep.is_local and ep.ready)
    elif local_st:  # KEP-1669 for Local policy: local serving+terminating endpoints
        local = tuple(ep for ep in eps if ep.is_local and ep.serving and ep.terminating)
    if not sp.uses_cluster_endpoints:
        return EndpointSelection((), local, local, has_any)
    seen = {ep.addr for ep in cluster}
    reach = cluster + tuple(ep for ep in local if ep.addr not in seen)
    return EndpointSelection(cluster, local, tuple(sorted(reach, key=lambda e: e.addr)), has_any)


def _sorted_eps(by_addr: dict[str, ProxyEndpoint]) -> tuple[ProxyEndpoint, ...]:
    # Upstream keeps endpoints sorted by their "ip:port" string (string order, not numeric).
    return tuple(by_addr[k] for k in sorted(by_addr))


@dataclass(frozen=True)
class ProxyState:
    """One node's kube-proxy view: proxied service ports (sorted by name) and the node."""

    node: ProxyNode
    ports: tuple[ProxyServicePort, ...] = field(default_factory=tuple)
    # ProxyTerminatingEndpoints (KEP-1669), passed to categorize_endpoints by every renderer
    terminating_fallback: bool = True

    def select(self, sp: ProxyServicePort) -> EndpointSelection:
        """categorize_endpoints for this node and this kube-proxy's feature gate."""
        return categorize_endpoints(sp, self.node, terminating_fallback=self.terminating_fallback)

    @property
    def total_endpoints(self) -> int:
        return sum(len(sp.endpoints) for sp in self.ports)

    @staticmethod
    def _service_ports(services: Iterable[Service]) -> list[tuple[Service, ServicePort]]:
        out = [(s, p) for s in services if _is_proxied(s) for p in s.ports]
        out.sort(key=lambda sp: service_port_name(sp[0].namespace, sp[0].name, sp[1].name) + sp[1].protocol)
        return out

    @classmethod
    def from_slices(
        cls, node: ProxyNode, services: Iterable[Service], slices: Iterable[EndpointSlice]
    ) -> ProxyState:
        """Merge EndpointSlices per service port, de-duplicating by "ip:port" like the
        EndpointSliceCache (`pkg/proxy/endpointslicecache.go`): the first copy wins unless a
        later one is local."""
        by_svc: dict[tuple[str, str], list[EndpointSlice]] = {}
        for sl in slices:
            if sl.address_type == "IPv4":
                by_svc.setdefault((sl.namespace, sl.service_name), []).append(sl)
        ports = []
        for svc, sport in cls._service_ports(services):
            merged: dict[str, ProxyEndpoint] = {}
            # Simplification: slices are merged in name order (upstream: cache map order).
            for sl in sorted(by_svc.get((svc.namespace, svc.name), ()), key=lambda s: s.name):
                match = [p for p in sl.ports if p.name == sport.name and p.protocol == sport.protocol]
                if not match:
                    continue
                for ep in sl.endpoints:
                    if not ep.addresses:
                        continue
                    ready = ep.ready is None or ep.ready
                    serving = ready if ep.serving is None else ep.serving
                    is_local = ep.node_name is not None and ep.node_name == node.name
                    pe = ProxyEndpoint(
                        ip=ep.addresses[0], port=match[0].port, ready=ready, serving=serving,
                        terminating=bool(ep.terminating), node_name=ep.node_name, zone=ep.zone,
                        zone_hints=ep.hints_for_zones, node_hints=ep.hints_for_nodes,
                        is_local=is_local,
                    )
                    if pe.addr not in merged or is_local:
                        merged[pe.addr] = pe
            ports.append(ProxyServicePort(svc, sport, _sorted_eps(merged)))
        return cls(node, tuple(ports))

    @classmethod
    def from_endpoints(
        cls, node: ProxyNode, services: Iterable[Service], endpoints_objs: Iterable[Endpoints]
    ) -> ProxyState:
        """Legacy mode: core/v1 Endpoints. Ready addresses are usable; notReadyAddresses are
        kept as not ready and not serving (Endpoints has no terminating state)."""
        by_svc = {(e.namespace, e.name): e for e in endpoints_objs}
        ports = []
        for svc, sport in cls._service_ports(services):
            merged: dict[str, ProxyEndpoint] = {}
            eobj = by_svc.get((svc.namespace, svc.name))
            for subset in eobj.subsets if eobj else ():
                match = [p for p in subset.ports if p.name == sport.name and p.protocol == sport.protocol]
                if not match:
                    continue
                for addrs, ok in ((subset.addresses, True), (subset.not_ready_addresses, False)):
                    for a in addrs:
                        is_local = a.node_name is not None and a.node_name == node.name
                        pe = ProxyEndpoint(ip=a.ip, port=match[0].port, ready=ok, serving=ok,
                                           node_name=a.node_name, is_local=is_local)
                        if pe.addr not in merged or (ok and not merged[pe.addr].ready):
                            merged[pe.addr] = pe
            ports.append(ProxyServicePort(svc, sport, _sorted_eps(merged)))
        return cls(node, tuple(ports))
