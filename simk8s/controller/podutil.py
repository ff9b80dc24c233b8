"""Pod → endpoint rules shared by the Endpoints and EndpointSlice controllers.

Upstream: ``staging/src/k8s.io/endpointslice/util/controller_utils.go`` (ShouldPodBeInEndpoints,
ShouldSetHostname), ``staging/src/k8s.io/endpointslice/utils.go`` (FindPort,
getEndpointPorts, getEndpointAddresses, getAddressTypesForService) and the Endpoints
controller's ``syncService`` (``pkg/controller/endpoint/endpoints_controller.go``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from functools import lru_cache

from simk8s.api.objects import FAILED, SUCCEEDED, EndpointPort, Pod, Service, ServicePort

IPV4 = "IPv4"
IPV6 = "IPv6"

# One pod change fed to the controllers' incremental states: (order key, the pod's current
# record, or None once it is no longer among the Service's pods). Order keys sort pods as
# the reference functions' ``pods`` sequence does (in the cluster: the pod id).
PodChange = tuple[int, Pod | None]


def is_terminal(pod: Pod) -> bool:
    return pod.phase in (SUCCEEDED, FAILED)


def should_pod_be_in_endpoints(pod: Pod, include_terminating: bool) -> bool:
    """``ShouldPodBeInEndpoints``.

    Terminal pods and pods without an IP are never endpoints; terminating pods only when
    ``include_terminating`` (EP: publishNotReadyAddresses; EPS: always True).
    """
    if pod.phase in (SUCCEEDED, FAILED):
        return False
    if not pod.pod_ips:
        return False
    return include_terminating or not pod.terminating


def should_set_hostname(pod: Pod, service: Service) -> bool:
    """``ShouldSetHostname``: hostname only if set, subdomain == Service name, same
    namespace."""
    return (
        bool(pod.hostname) and pod.subdomain == service.name and pod.namespace == service.namespace
    )


def ip_family(ip: str) -> str:
    return IPV6 if ":" in ip else IPV4


# A dotted-quad IPv4 address already in the form ipaddress.IPv4Address prints (four ASCII
# decimal octets <= 255, no leading zeros): what every simulated pod IP is. HOT PATH: one
# match instead of a parse per pod; anything else takes the full parse below.
_CANONICAL_V4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)", re.ASCII)


def canonical_ip(ip: str) -> str | None:
    """Re-stringified IP as ``getEndpointAddresses`` writes it ("1234::5678:0000:…" →
    "1234::5678:0:…"); None if invalid."""
    if _CANONICAL_V4.fullmatch(ip) is not None:
        return ip
    return _parsed_canonical_ip(ip)


@lru_cache(maxsize=1 << 16)
def _parsed_canonical_ip(ip: str) -> str | None:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def endpoints_ip_family(service: Service, pod: Pod) -> str:
    """The Endpoints controller's single family for this Service (``syncService``:
    ipFamilies[0], else the clusterIP's family, else the pod IP's)."""
    if service.ip_families:
        return service.ip_families[0]
    if service.cluster_ip and service.cluster_ip != "None":
        return ip_family(service.cluster_ip)
    return ip_family(pod.pod_ips[0]) if pod.pod_ips else IPV4


def first_ip_of_family(pod: Pod, family: str) -> str | None:
    want_v6 = family == IPV6
    for ip in pod.pod_ips:
        if (":" in ip) == want_v6:
            return ip
    return None


def slice_address_types(service: Service) -> tuple[str, ...]:
    """``getAddressTypesForService``: ipFamilies, else clusterIP's family, else both."""
    if service.ip_families:
        seen: list[str] = []
        for fam in service.ip_families:
            if fam in (IPV4, IPV6) and fam not in seen:
                seen.append(fam)
        if seen:
            return tuple(seen)
    if service.cluster_ip and service.cluster_ip != "None":
        return (ip_family(service.cluster_ip),)
    return (IPV4, IPV6)


def find_port(pod: Pod, service_port: ServicePort) -> int | None:
    """``FindPort``: numeric targetPort as-is; a named one is looked up among the
    pod's container ports with the same protocol. None when it cannot be resolved.

    Simplification: Pod.container_ports lists regular and restartable-init containers'
    ports together (upstream searches containers first, then sidecars).
    """
    target = service_port.resolved_target
    if isinstance(target, int):
        return target
    for cp in pod.container_ports:
        if cp.name == target and cp.protocol == service_port.protocol:
            return cp.container_port
    return None


_PORTS_MEMO_LIMIT = 1 << 16
# (id(service.ports), id(pod.container_ports)) → (both, the result). Pods of one template
# share their container_ports tuple, so this is one entry per (Service, template); holding
# both tuples keeps their ids from being reused.
_ports_memo: dict[tuple[int, int], tuple[object, object, tuple[EndpointPort, ...]]] = {}


def endpoint_ports(service: Service, pod: Pod) -> tuple[EndpointPort, ...]:
    """Resolved ports of one pod for the Service, in Service port order; unresolvable
    ports are skipped. They depend only on the Service's ports and the pod's container
    ports (HOT PATH: both endpoint controllers ask for every pod)."""
    key = (id(service.ports), id(pod.container_ports))
    hit = _ports_memo.get(key)
    if hit is not None:
        return hit[2]
    ports = _endpoint_ports(service, pod)
    if len(_ports_memo) >= _PORTS_MEMO_LIMIT:
        _ports_memo.clear()
    _ports_memo[key] = (service.ports, pod.container_ports, ports)
    return ports


def _endpoint_ports(service: Service, pod: Pod) -> tuple[EndpointPort, ...]:
    out = []
    for sp in service.ports:
        num = find_port(pod, sp)
        if num is None:
            continue
        out.append(
            EndpointPort(port=num, name=sp.name, protocol=sp.protocol, app_protocol=sp.app_protocol)
        )
    return tuple(out)


@lru_cache(maxsize=1 << 14)
def port_hash(port: EndpointPort) -> str:
    """Deterministic stand-in for upstream's hash of an EndpointPort (ordering only).

    Simplification: upstream hashes the spew dump with md5/fnv; we hash our own
    rendering, so the order is deterministic but not byte-identical to Kubernetes'.
    """
    text = f"{port.name}|{port.port}|{port.protocol}|{port.app_protocol}"
    return hashlib.md5(text.encode()).hexdigest()


@lru_cache(maxsize=1 << 14)
def port_map_key(ports: tuple[EndpointPort, ...]) -> tuple[EndpointPort, ...]:
    """The port list sorted by port hash: stands for ``util`` ``NewPortMapKey`` (also the
    slice's port order)."""
    return tuple(sorted(ports, key=port_hash))
