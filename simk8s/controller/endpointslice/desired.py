"""Desired endpoints of one Service: which pods become which Endpoint, and endpoint identity.

Upstream: ``staging/src/k8s.io/endpointslice/reconciler.go`` ``reconcileByAddressType``
(the loop over pods), ``utils.go`` ``podToEndpoint`` / ``getEndpointPorts`` /
``getEndpointAddresses``, ``util/endpointset.go`` (identity hash) and
``util/controller_utils.go`` ``EndpointsEqualBeyondHash``.

HOT PATH: Pod → Endpoint conversion is memoised by the identity of the (Pod, Service)
records (plus address type, zone and the terminating-condition gate), so unchanged pods
hand out the *same* Endpoint object, and matching existing against desired endpoints is
one dict lookup each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from simk8s.api.objects import Endpoint, EndpointPort, ObjectReference, Pod, Service
from simk8s.controller.endpointslice.gates import ALL_ON, SliceGates
from simk8s.controller.podutil import (
    canonical_ip,
    endpoint_ports,
    ip_family,
    port_map_key,
    should_pod_be_in_endpoints,
    should_set_hostname,
    slice_address_types,
)

PortKey = tuple[EndpointPort, ...]
# One string, not a tuple: a string computes its hash once and keeps it, and keys are
# hashed per endpoint per sync (HOT PATH). Fields are joined by control characters, which
# no IP, hostname or object name contains, so distinct identities stay distinct.
EndpointKey = str


def endpoint_key(ep: Endpoint) -> EndpointKey:
    """Endpoint identity as ``util/endpointset.go`` ``hashEndpoint``: (sorted addresses,
    hostname, targetRef namespace, name). Conditions, node, zone, hints are not identity."""
    ref = ep.target_ref
    addrs = ep.addresses if len(ep.addresses) < 2 else sorted(ep.addresses)
    ns, name = ("", "") if ref is None else (ref.namespace, ref.name)
    return "\x00".join(addrs) + "\x01" + ep.hostname + "\x01" + ns + "\x01" + name


def endpoints_equal_beyond_hash(a: Endpoint, b: Endpoint) -> bool:
    """``util/controller_utils.go`` ``EndpointsEqualBeyondHash``: nodeName, zone, ready,
    serving, terminating, targetRef."""
    return (
        a.node_name == b.node_name
        and a.zone == b.zone
        and a.ready == b.ready
        and a.serving == b.serving
        and a.terminating == b.terminating
        and a.target_ref == b.target_ref
    )


# ---------------------------------------------------------------------------------------
# Desired endpoints (reconcileByAddressType's loop over pods)

MEMO_LIMIT = 1 << 18
_ports_memo: dict[tuple[int, int], tuple[Pod, Service, PortKey]] = {}
_endpoint_memo: dict[
    tuple[int, int, str, str | None, bool],
    tuple[Pod, Service, Endpoint | None, EndpointKey | None],
] = {}
# id(Endpoint) → (Endpoint, key) for endpoints this module built: existing slices mostly
# hold these very objects, so their identity key is one int-keyed lookup.
_key_memo: dict[int, tuple[Endpoint, EndpointKey]] = {}


def cached_key(ep: Endpoint) -> EndpointKey:
    hit = _key_memo.get(id(ep))
    if hit is not None and hit[0] is ep:
        return hit[1]
    return endpoint_key(ep)


def pod_to_endpoint(
    pod: Pod,
    service: Service,
    address_type: str,
    zone: str | None,
    terminating_condition: bool = True,
) -> Endpoint | None:
    """``utils.go`` ``podToEndpoint``; None when the pod has no IP of ``address_type``
    (upstream builds it and then drops an endpoint without addresses). Without the
    EndpointSliceTerminatingCondition gate only ``ready`` is set (KEP-1672)."""
    addrs = []
    for ip in pod.pod_ips:
        canon = canonical_ip(ip)
        if canon is not None and ip_family(canon) == address_type:
            addrs.append(canon)
    if not addrs:
        return None
    serving = pod.ready
    terminating = pod.terminating
    return Endpoint(
        addresses=tuple(addrs),
        ready=service.publish_not_ready_addresses or (serving and not terminating),
        serving=serving if terminating_condition else None,
        terminating=terminating if terminating_condition else None,
        hostname=pod.hostname if should_set_hostname(pod, service) else "",
        target_ref=ObjectReference(kind="Pod", namespace=pod.namespace, name=pod.name, uid=pod.uid),
        node_name=pod.node_name or None,
        zone=zone or None,
    )


def pod_ports(pod: Pod, service: Service) -> PortKey:
    key = (id(pod), id(service))
    hit = _ports_memo.get(key)
    if hit is not None:  # memo holds both records: ids cannot be reused meanwhile
        return hit[2]
    if not service.ports and service.cluster_ip == "None":
        ports: PortKey = ()
    else:  # unlike EP, a pod whose ports all fail still gets an endpoint (empty group)
        ports = port_map_key(endpoint_ports(service, pod))
    if len(_ports_memo) >= MEMO_LIMIT:
        _ports_memo.clear()
    _ports_memo[key] = (pod, service, ports)
    return ports


def pod_endpoint(
    pod: Pod, service: Service, address_type: str, zone: str | None, terminating_condition: bool
) -> tuple[Endpoint | None, EndpointKey | None]:
    key = (id(pod), id(service), address_type, zone, terminating_condition)
    hit = _endpoint_memo.get(key)
    if hit is not None:
        return hit[2], hit[3]
    ep = pod_to_endpoint(pod, service, address_type, zone, terminating_condition)
    ekey = endpoint_key(ep) if ep is not None else None
    if len(_endpoint_memo) >= MEMO_LIMIT:
        _endpoint_memo.clear()
        _key_memo.clear()
    _endpoint_memo[key] = (pod, service, ep, ekey)
    if ep is not None and ekey is not None:
        _key_memo[id(ep)] = (ep, ekey)
    return ep, ekey


@dataclass(slots=True)
class DesiredEndpoints:
    """Desired endpoints per address type and port group.

    ``groups[address_type][port_key]`` maps endpoint identity → Endpoint, in pod order.
    A port group exists as soon as one included pod resolves to it, even if that pod has
    no address of this type or was skipped for a missing node (upstream does the same).
    ``missing_node``: some pod was skipped because its node is unknown (sync error).
    """

    groups: dict[str, dict[PortKey, dict[EndpointKey, Endpoint]]]
    missing_node: bool = False


def includes_terminating(service: Service, gates: SliceGates) -> bool:
    """Whether terminating pods become endpoints: always with KEP-1672's gate
    (``ShouldPodBeInEndpoints(pod, true)``); before it, only with publishNotReadyAddresses,
    as the Endpoints controller (``reconciler.go`` ``reconcile`` up to 1.21)."""
    return gates.terminating_condition or service.publish_not_ready_addresses


def desired_endpoints(
    service: Service,
    pods: Iterable[Pod],
    nodes: Mapping[str, str | None],
    gates: SliceGates = ALL_ON,
) -> DesiredEndpoints:
    """The endpoints the Service's slices should hold (``reconcileByAddressType``, for
    every address type of ``getAddressTypesForService``).

    ``nodes`` maps every known node name to its ``topology.kubernetes.io/zone`` label
    (None or "" when unlabelled).
    """
    types = slice_address_types(service)
    groups: dict[str, dict[PortKey, dict[EndpointKey, Endpoint]]] = {t: {} for t in types}
    publish = service.publish_not_ready_addresses
    include_terminating = includes_terminating(service, gates)
    conditions = gates.terminating_condition
    missing = False
    # Port tuples come interned from port_map_key's cache, so groups are found by id()
    # (hashing a tuple of dataclasses runs Python code per port).
    by_id: dict[tuple[str, int], dict[EndpointKey, Endpoint]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating):
            continue
        ports = pod_ports(pod, service)
        node_known = pod.node_name in nodes
        zone = nodes.get(pod.node_name) or None
        for t in types:
            group = by_id.get((t, id(ports)))
            if group is None:
                group = groups[t].setdefault(ports, {})
                by_id[(t, id(ports))] = group
            if not node_known and not publish:  # node not found: skip the pod, sync errors
                missing = True
                continue
            ep, ekey = pod_endpoint(pod, service, t, zone, conditions)
            if ep is not None and ekey is not None:
                group[ekey] = ep
    return DesiredEndpoints(groups, missing)

