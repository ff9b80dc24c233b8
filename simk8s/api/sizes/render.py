"""Reference renderers: the full JSON document of an object, built the slow, obvious way
(tests check that ``json_size`` equals the length of this document)."""

from __future__ import annotations

from typing import Any

from simk8s.api.objects import (
    Endpoint,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    ObjectReference,
    Service,
)
from simk8s.api.sizes.encoding import dumps, go_len
from simk8s.api.sizes.kinds import service_json
from simk8s.api.sizes.metadata import meta_for_endpoints, meta_for_slice, meta_json


def _objref_dict(ref: ObjectReference) -> dict[str, str]:
    d = {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name, "uid": ref.uid}
    return {k: v for k, v in d.items() if v}


def to_json_dict(obj: Endpoints | EndpointSlice | Service) -> dict[str, Any]:
    """Full JSON document of an object (slow reference for ``json_size``)."""
    if isinstance(obj, Service):
        return service_json(obj)
    if isinstance(obj, Endpoints):
        doc: dict[str, Any] = {
            "kind": "Endpoints",
            "apiVersion": "v1",
            "metadata": meta_json(meta_for_endpoints(obj)),
        }
        subsets = []
        for s in obj.subsets:
            sd: dict[str, Any] = {}
            if s.addresses:
                sd["addresses"] = [_address_dict(a) for a in s.addresses]
            if s.not_ready_addresses:
                sd["notReadyAddresses"] = [_address_dict(a) for a in s.not_ready_addresses]
            if s.ports:
                sd["ports"] = [_core_port_dict(p) for p in s.ports]
            subsets.append(sd)
        if subsets:
            doc["subsets"] = subsets
        return doc
    return {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": meta_json(meta_for_slice(obj)),
        "addressType": obj.address_type,
        "endpoints": [_endpoint_dict(e) for e in obj.endpoints],
        "ports": [_slice_port_dict(p) for p in obj.ports],
    }


def _address_dict(a: EndpointAddress) -> dict[str, Any]:
    d: dict[str, Any] = {"ip": a.ip}
    if a.hostname:
        d["hostname"] = a.hostname
    if a.node_name is not None:
        d["nodeName"] = a.node_name
    if a.target_ref is not None:
        d["targetRef"] = _objref_dict(a.target_ref)
    return d


def _core_port_dict(p: EndpointPort) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if p.name:
        d["name"] = p.name
    d["port"] = p.port
    if p.protocol:
        d["protocol"] = p.protocol
    if p.app_protocol is not None:
        d["appProtocol"] = p.app_protocol
    return d


def _slice_port_dict(p: EndpointPort) -> dict[str, Any]:
    d: dict[str, Any] = {"name": p.name, "protocol": p.protocol, "port": p.port}
    if p.app_protocol is not None:
        d["appProtocol"] = p.app_protocol
    return d


def _endpoint_dict(e: Endpoint) -> dict[str, Any]:
    cond = {
        k: v
        for k, v in (("ready", e.ready), ("serving", e.serving), ("terminating", e.terminating))
        if v is not None
    }
    d: dict[str, Any] = {"addresses": list(e.addresses), "conditions": cond}
    if e.hostname:
        d["hostname"] = e.hostname
    if e.target_ref is not None:
        d["targetRef"] = _objref_dict(e.target_ref)
    if e.node_name is not None:
        d["nodeName"] = e.node_name
    if e.zone is not None:
        d["zone"] = e.zone
    if e.hints_for_zones or e.hints_for_nodes:
        h: dict[str, Any] = {}
        if e.hints_for_zones:
            h["forZones"] = [{"name": z} for z in e.hints_for_zones]
        if e.hints_for_nodes:
            h["forNodes"] = [{"name": n} for n in e.hints_for_nodes]
        d["hints"] = h
    return d


def reference_json_size(obj: Endpoints | EndpointSlice | Service) -> int:
    return go_len(dumps(to_json_dict(obj)))

