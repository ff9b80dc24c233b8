"""Wire sizes of whole objects: core/v1 Endpoints and Service, discovery/v1 EndpointSlice.

* ``json_size(obj)`` — compact JSON as the apiserver emits it for non-pretty requests
  (Go struct field order, ``omitempty`` honoured, maps sorted).
* ``proto_size(obj)`` — the stored value: magic + ``runtime.Unknown`` envelope around the
  proto2 encoding of the object. This is what etcd's ``--max-request-bytes`` is compared
  with. Simplification: the etcd key and raft framing around the value (≈ 60–100 bytes)
  are not counted.

Field numbers and order: ``staging/src/k8s.io/api/core/v1/generated.proto`` (Endpoints,
EndpointSubset, EndpointPort, Service, ServicePort) and ``staging/src/k8s.io/api/
discovery/v1/generated.proto`` (EndpointSlice, EndpointPort); JSON order as the Go
structs in the ``types.go`` beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simk8s.api.objects import EndpointPort, Endpoints, EndpointSlice, EndpointSubset, Service
from simk8s.api.records import fast_init
from simk8s.api.sizes.encoding import (
    dumps,
    go_len,
    jarr_sum,
    jint,
    jm,
    jobj,
    jstr,
    pmsg,
    pstr,
    varint_len,
)
from simk8s.api.sizes.entries import clear_entry_cache, sum_entries
from simk8s.api.sizes.metadata import (
    Meta,
    clear_meta_cache,
    envelope_size,
    managed_metadata,
    meta_for_endpoints,
    meta_for_slice,
    meta_json,
    meta_proto_body,
    meta_sizes,
    stored_uid,
    value_shape,
)


def _core_port_sizes(p: EndpointPort) -> tuple[int, int]:
    members = []
    if p.name:
        members.append(jm("name", jstr(p.name)))
    members.append(jm("port", jint(p.port)))
    if p.protocol:
        members.append(jm("protocol", jstr(p.protocol)))
    if p.app_protocol is not None:
        members.append(jm("appProtocol", jstr(p.app_protocol)))
    # proto core/v1 EndpointPort: name=1, port=2, protocol=3 always; appProtocol=4 pointer.
    body = pstr(p.name) + 1 + varint_len(p.port) + pstr(p.protocol)
    if p.app_protocol is not None:
        body += pstr(p.app_protocol)
    return jobj(members), pmsg(body)


def _slice_port_sizes(p: EndpointPort) -> tuple[int, int]:
    # discovery/v1 EndpointPort: all pointers, which both controllers always set
    # (name may be ""): JSON order name, protocol, port, appProtocol.
    members = [jm("name", jstr(p.name)), jm("protocol", jstr(p.protocol))]
    members.append(jm("port", jint(p.port)))
    if p.app_protocol is not None:
        members.append(jm("appProtocol", jstr(p.app_protocol)))
    # proto: name=1, protocol=2, port=3, appProtocol=4.
    body = pstr(p.name) + pstr(p.protocol) + 1 + varint_len(p.port)
    if p.app_protocol is not None:
        body += pstr(p.app_protocol)
    return jobj(members), pmsg(body)


@fast_init
@dataclass(frozen=True, slots=True)
class WireSizes:
    """Sizes of one object: compact JSON, bare protobuf, stored value (proto + envelope)."""

    json: int
    proto: int
    stored: int


def _subset_sizes(s: EndpointSubset) -> tuple[int, int]:
    members = []
    proto = 0
    if s.addresses:
        j, p = sum_entries(s.addresses)
        members.append(jm("addresses", jarr_sum(j, len(s.addresses))))
        proto += p
    if s.not_ready_addresses:
        j, p = sum_entries(s.not_ready_addresses)
        members.append(jm("notReadyAddresses", jarr_sum(j, len(s.not_ready_addresses))))
        proto += p
    if s.ports:
        ports_json, ports_proto = _port_list_sizes(s.ports, _core_port_sizes)
        members.append(jm("ports", ports_json))
        proto += ports_proto
    return jobj(members), pmsg(proto)


_PORT_LISTS_LIMIT = 4096
# id(ports) → (ports, sizer, JSON array, proto fields): objects share their port tuples
# (interned by the controllers), so this is one entry per port list (HOT PATH: every write).
_port_lists: dict[int, tuple[object, object, int, int]] = {}


def _port_list_sizes(
    ports: tuple[EndpointPort, ...], sizer: Callable[[EndpointPort], tuple[int, int]]
) -> tuple[int, int]:
    """(JSON array, summed proto fields) of a port list, memoised by identity."""
    hit = _port_lists.get(id(ports))
    if hit is not None and hit[0] is ports and hit[1] is sizer:
        return hit[2], hit[3]
    sizes = [sizer(p) for p in ports]
    json_size, proto = jarr_sum(sum(j for j, _ in sizes), len(sizes)), sum(p for _, p in sizes)
    if len(_port_lists) >= _PORT_LISTS_LIMIT:
        _port_lists.clear()
    _port_lists[id(ports)] = (ports, sizer, json_size, proto)
    return json_size, proto


def endpoints_sizes(ep: Endpoints) -> WireSizes:
    key = ("Endpoints", ep.name, ep.namespace, ep.uid, ep.labels, value_shape(ep.annotations), bool(ep.subsets))
    meta_json, meta_proto = meta_sizes(key, lambda: meta_for_endpoints(ep))
    members = [jm("kind", jstr("Endpoints")), jm("apiVersion", jstr("v1"))]
    members.append(jm("metadata", meta_json))
    proto = pmsg(meta_proto)
    if ep.subsets:
        sub = [_subset_sizes(s) for s in ep.subsets]
        members.append(jm("subsets", jarr_sum(sum(j for j, _ in sub), len(sub))))
        proto += sum(p for _, p in sub)
    return WireSizes(jobj(members), proto, envelope_size("v1", "Endpoints", proto))


def _slice_sizes(s: EndpointSlice) -> WireSizes:
    gen = s.generation  # omitted from JSON when 0; otherwise only its digit count matters
    key = (
        "EndpointSlice", s.name, s.generate_name, s.namespace, s.uid, gen == 0, jint(gen), varint_len(gen),
        s.labels, value_shape(s.annotations), s.owner_kind, s.owner_name, s.owner_uid,
    )
    meta_json, meta_proto = meta_sizes(key, lambda: meta_for_slice(s))
    members = [jm("kind", jstr("EndpointSlice")), jm("apiVersion", jstr("discovery.k8s.io/v1"))]
    members.append(jm("metadata", meta_json))
    members.append(jm("addressType", jstr(s.address_type)))
    ej, ep = sum_entries(s.endpoints)
    members.append(jm("endpoints", jarr_sum(ej, len(s.endpoints))))
    ports_json, ports_proto = _port_list_sizes(s.ports, _slice_port_sizes)
    members.append(jm("ports", ports_json))
    proto = pmsg(meta_proto) + ep + ports_proto + pstr(s.address_type)
    stored = envelope_size("discovery.k8s.io/v1", "EndpointSlice", proto)
    return WireSizes(jobj(members), proto, stored)


def service_json(svc: Service) -> dict[str, Any]:
    """Approximate JSON form of a Service (core/v1) as stored after defaulting."""
    meta = Meta(svc.name, svc.namespace, stored_uid(svc.uid))
    meta.labels = dict(svc.labels)
    meta.annotations = dict(svc.annotations)
    spec_fields = ["f:ports", "f:sessionAffinity", "f:type"]
    if svc.selector is not None:
        spec_fields.append("f:selector")
    meta.fields_v1 = dumps(
        {"f:metadata": managed_metadata(meta), "f:spec": {k: {} for k in sorted(spec_fields)}}
    )
    meta.manager_api_version = "v1"
    ports = []
    for p in svc.ports:
        port: dict[str, Any] = {}
        if p.name:
            port["name"] = p.name
        port["protocol"] = p.protocol
        if p.app_protocol is not None:
            port["appProtocol"] = p.app_protocol
        port["port"] = p.port
        port["targetPort"] = p.resolved_target
        if p.node_port is not None:
            port["nodePort"] = p.node_port
        ports.append(port)
    spec: dict[str, Any] = {}
    if ports:
        spec["ports"] = ports
    if svc.selector:
        spec["selector"] = dict(sorted(svc.selector))
    if svc.type != "ExternalName":
        cip = svc.cluster_ip or "None"
        spec["clusterIP"] = cip
        spec["clusterIPs"] = [cip]
    spec["type"] = svc.type
    if svc.external_ips:
        spec["externalIPs"] = list(svc.external_ips)
    spec["sessionAffinity"] = svc.session_affinity
    if svc.external_name:
        spec["externalName"] = svc.external_name
    if svc.type in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = svc.external_traffic_policy
    if svc.health_check_node_port:
        spec["healthCheckNodePort"] = svc.health_check_node_port
    if svc.publish_not_ready_addresses:
        spec["publishNotReadyAddresses"] = True
    if svc.session_affinity == "ClientIP":
        spec["sessionAffinityConfig"] = {
            "clientIP": {"timeoutSeconds": svc.session_affinity_timeout_s}
        }
    if svc.type != "ExternalName":
        spec["ipFamilies"] = list(svc.ip_families)
        spec["ipFamilyPolicy"] = "SingleStack" if len(svc.ip_families) < 2 else "PreferDualStack"
        spec["internalTrafficPolicy"] = svc.internal_traffic_policy
    if svc.traffic_distribution:
        spec["trafficDistribution"] = svc.traffic_distribution
    return {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": meta_json(meta),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def _service_proto(svc: Service, doc: dict[str, Any]) -> int:
    """Proto size of a Service (approximate: spec strings always emitted, the rest when
    present in the JSON form; ServicePort{name=1, protocol=2, port=3, targetPort=4
    IntOrString{type=1, intVal=2, strVal=3}, nodePort=5, appProtocol=6})."""
    meta = Meta(svc.name, svc.namespace, stored_uid(svc.uid))
    meta.labels = dict(svc.labels)
    meta.annotations = dict(svc.annotations)
    meta.fields_v1 = dumps(doc["metadata"]["managedFields"][0]["fieldsV1"])
    spec = doc["spec"]
    body = 0
    for p in svc.ports:
        tp = p.resolved_target
        # IntOrString{type=1, intVal=2, strVal=3}, all always emitted.
        ios = 2 + 2 + pstr(tp) if isinstance(tp, str) else 2 + 1 + varint_len(tp) + 2
        pb = pstr(p.name) + pstr(p.protocol) + 1 + varint_len(p.port) + pmsg(ios)
        pb += 1 + varint_len(p.node_port or 0)
        if p.app_protocol is not None:
            pb += pstr(p.app_protocol)
        body += pmsg(pb)
    for k, v in svc.selector or ():
        body += pmsg(pstr(k) + pstr(v))
    # Always-present scalars: clusterIP=3, type=4, sessionAffinity=7, loadBalancerIP=8,
    # externalName=10, externalTrafficPolicy=11, healthCheckNodePort=12,
    # publishNotReadyAddresses=13.
    body += pstr(spec.get("clusterIP", "")) + pstr(svc.type) + pstr(svc.session_affinity)
    body += 2 + pstr(svc.external_name or "") + pstr(spec.get("externalTrafficPolicy", ""))
    body += 1 + varint_len(svc.health_check_node_port or 0) + 2
    body += sum(pstr(ip) for ip in spec.get("clusterIPs", ()))
    body += sum(pstr(ip) for ip in svc.external_ips)
    body += sum(pstr(f) for f in spec.get("ipFamilies", ()))
    if "ipFamilyPolicy" in spec:
        body += pstr(spec["ipFamilyPolicy"]) + 2 + pstr(spec["internalTrafficPolicy"])
    if "sessionAffinityConfig" in spec:
        body += pmsg(pmsg(1 + varint_len(svc.session_affinity_timeout_s)))
    if svc.traffic_distribution:
        body += 2 + pstr(svc.traffic_distribution)
    status = pmsg(pmsg(0))  # status{loadBalancer{}}
    return pmsg(meta_proto_body(meta)) + pmsg(body) + status


def _service_sizes(svc: Service) -> WireSizes:
    doc = service_json(svc)
    js = go_len(dumps(doc))
    proto = _service_proto(svc, doc)
    return WireSizes(js, proto, envelope_size("v1", "Service", proto))


_SIZERS: dict[type, Callable[[Any], WireSizes]] = {
    Endpoints: endpoints_sizes,
    EndpointSlice: _slice_sizes,
    Service: _service_sizes,
}
_OBJECT_CACHE_LIMIT = 4096
_object_sizes: dict[int, tuple[object, WireSizes]] = {}


def wire_sizes(obj: Endpoints | EndpointSlice | Service) -> WireSizes:
    """JSON, bare-proto and stored sizes of one object (memoised by identity)."""
    hit = _object_sizes.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    sizes = _SIZERS[type(obj)](obj)
    if len(_object_sizes) >= _OBJECT_CACHE_LIMIT:
        _object_sizes.clear()
    _object_sizes[id(obj)] = (obj, sizes)
    return sizes


def json_size(obj: Endpoints | EndpointSlice | Service) -> int:
    """Compact JSON bytes as the apiserver emits the object (no trailing newline)."""
    return wire_sizes(obj).json


def proto_size(obj: Endpoints | EndpointSlice | Service) -> int:
    """Stored protobuf bytes incl. the ``k8s\\x00`` + runtime.Unknown envelope (what etcd's
    ``--max-request-bytes`` is compared with)."""
    return wire_sizes(obj).stored


def clear_size_caches() -> None:
    """Drop cached per-entry, metadata and object sizes (tests and long sweeps)."""
    clear_entry_cache()
    _object_sizes.clear()
    _port_lists.clear()
    clear_meta_cache()
