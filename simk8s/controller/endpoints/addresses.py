"""One pod's address in a Service's Endpoints object.

Upstream: ``pkg/controller/endpoint/endpoints_controller.go`` ``syncService`` (the loop
over pods, ``podToEndpointAddressForService``) with
``staging/src/k8s.io/endpointslice/util/controller_utils.go`` ``ShouldPodBeInEndpoints``
and ``ShouldSetHostname``; ``pkg/api/v1/endpoints/util.go`` ``LessEndpointAddress`` for
the ordering key.

HOT PATH: each pod's contribution (address, readiness, resolved ports) is memoised by the
identity of the (Pod, Service) records, so unchanged pods cost a dict lookup and keep
handing out the *same* EndpointAddress object — which also makes the wire sizes
(``simk8s.api.sizes``) and the skip-if-unchanged comparison cheap (tuple equality
short-circuits on identical items).
"""

from __future__ import annotations

from dataclasses import dataclass

from simk8s.api.objects import EndpointAddress, EndpointPort, ObjectReference, Pod, Service
from simk8s.api.records import fast_init
from simk8s.controller.podutil import (
    endpoint_ports,
    endpoints_ip_family,
    first_ip_of_family,
    should_pod_be_in_endpoints,
    should_set_hostname,
)


@fast_init
@dataclass(frozen=True, slots=True)
class PodContribution:
    """One pod's address in the Endpoints object of one Service."""

    sort_key: str  # IP byte string, then targetRef presence and UID (repack order, dedupe)
    address: EndpointAddress
    ready: bool
    ports: tuple[EndpointPort, ...]  # () only for a headless Service without ports


_MEMO_LIMIT = 1 << 18
_memo: dict[tuple[int, int], tuple[Pod, Service, PodContribution | None]] = {}
_ports_intern: dict[tuple[EndpointPort, ...], tuple[EndpointPort, ...]] = {}


def address_sort_key(addr: EndpointAddress) -> str:
    """``LessEndpointAddress`` as one string: IP bytes, then no-targetRef first, then UID.

    "\\x00" sorts below every IP character, so "10.0.0.1" < "10.0.0.10" as bytes.
    """
    ref = addr.target_ref
    return f"{addr.ip}\x000" if ref is None else f"{addr.ip}\x001{ref.uid}"


def _compute_contribution(service: Service, pod: Pod) -> PodContribution | None:
    publish = service.publish_not_ready_addresses
    # Terminal pods, pods without IP, and terminating pods unless publishNotReadyAddresses.
    if not should_pod_be_in_endpoints(pod, include_terminating=publish):
        return None
    ip = first_ip_of_family(pod, endpoints_ip_family(service, pod))  # one family only
    if ip is None:
        return None
    if service.ports:
        ports = endpoint_ports(service, pod)  # targetPorts resolved for this pod (FindPort)
        if not ports:
            return None
    elif service.cluster_ip == "None":
        ports = ()  # headless Service without ports: addresses with no ports
    else:
        return None
    addr = EndpointAddress(
        ip=ip,
        node_name=pod.node_name,  # always a (possibly empty) pointer upstream
        target_ref=ObjectReference(kind="Pod", namespace=pod.namespace, name=pod.name, uid=pod.uid),
        hostname=pod.hostname if should_set_hostname(pod, service) else "",
    )
    ready = publish or pod.ready  # else the address goes to notReadyAddresses
    ports = _ports_intern.setdefault(ports, ports)  # equal tuples → one object (see repack)
    return PodContribution(address_sort_key(addr), addr, ready, ports)


def pod_contribution(service: Service, pod: Pod) -> PodContribution | None:
    """The pod's address for this Service (``podToEndpointAddressForService`` plus the
    readiness and ports ``syncService`` gives it), or None if it contributes nothing."""
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
