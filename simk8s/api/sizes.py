"""Wire sizes of Endpoints, EndpointSlice and Service objects (compact JSON, protobuf).

Sizes are computed from the object's actual content with the shapes of reference §6.1/§6.2
and the protobuf field numbers of §6.3:

* ``json_size(obj)`` — compact JSON as the apiserver emits it for non-pretty requests
  (Go struct field order, ``omitempty`` honoured, maps sorted).
* ``proto_size(obj)`` — the stored value: magic ``k8s\\x00`` + ``runtime.Unknown``
  envelope (typeMeta, raw, contentEncoding, contentType) around the proto2 encoding of the
  object. This is what etcd's ``--max-request-bytes`` is compared with (§5.4).

Metadata the records do not carry is filled with realistic constants: a 36-character
uid when the record has none (the apiserver assigns one), an 8-digit resourceVersion,
creationTimestamp at the simulation epoch and one managedFields entry written by
kube-controller-manager (operation Update). Simplification: the etcd key and raft
framing around the value (≈ 60–100 bytes) are not counted.

HOT PATH: the apiserver sizes every write. Per-entry sizes (one EndpointAddress or one
Endpoint) are cached by object identity — the cache holds a strong reference, so an id
cannot be reused while its entry exists — and summed with C-level ``map``/``sum``. The
controllers in ``simk8s.controller`` reuse entry objects for unchanged pods, so a
5,000-address Endpoints object costs a few hundred microseconds after warm-up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from simk8s.api.naming import EPOCH_UNIX_SECONDS, rfc3339, rfc3339nano
from simk8s.api.objects import (
    ANNOTATION_OVER_CAPACITY,
    ANNOTATION_TRIGGER_TIME,
    LABEL_EP_MANAGED_BY,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY_SLICE_CONTROLLER,
    Endpoint,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    EndpointSubset,
    ObjectReference,
    Service,
)

ETCD_MAX_REQUEST_BYTES = 1_572_864  # etcd DefaultMaxRequestBytes, 1.5 MiB (§5.4)
APISERVER_MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024  # MaxRequestBodyBytes, JSON body (§5.4)

PROTO_MAGIC = b"k8s\x00"
ASSUMED_UID_LEN = 36  # apiserver-assigned UUID when the record has none
ASSUMED_RESOURCE_VERSION = "12345678"  # 8 digits; real clusters show 6–10
FIELD_MANAGER = "kube-controller-manager"
ENDPOINTS_MANAGED_BY_VALUE = "endpoint-controller"

# ---------------------------------------------------------------------------------------
# Primitive size arithmetic


def varint_len(n: int) -> int:
    """Bytes of a protobuf varint; negative int32/int64 take 10 bytes."""
    if n < 0:
        return 10
    if n < 0x80:
        return 1
    return (n.bit_length() + 6) // 7


def _blen(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode())


def _pstr(s: str) -> int:
    """Length-delimited string field with a 1-byte tag (field number < 16)."""
    n = _blen(s)
    return 1 + varint_len(n) + n


def _pmsg(body: int, tag_len: int = 1) -> int:
    """Embedded message / bytes field framing: tag + length varint + body."""
    return tag_len + varint_len(body) + body


# Printable ASCII that Go's encoder writes as is: everything from space to ~ except " \ < > &.
_JSON_PLAIN = re.compile(r"[ !#-%'-;=?-\[\]-~]*")


def _jstr(s: str) -> int:
    """Bytes of a JSON string literal as Go's encoder writes it (HTML-escaping on)."""
    if _JSON_PLAIN.fullmatch(s) is not None:
        return len(s) + 2
    out = json.dumps(s, ensure_ascii=False)
    extra = 5 * sum(s.count(c) for c in "<>&")  # Go writes \u003c, \u003e, \u0026
    return len(out.encode()) + extra


def _jm(key: str, value_size: int) -> int:
    """One object member: "key":value."""
    return len(key) + 3 + value_size


def _jobj(members: list[int]) -> int:
    return 2 + sum(members) + max(len(members) - 1, 0)


def _jarr_sum(total: int, count: int) -> int:
    return 2 + total + max(count - 1, 0)


def _jint(n: int) -> int:
    return len(str(n))


def _jbool(b: bool) -> int:
    return 4 if b else 5


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


# ---------------------------------------------------------------------------------------
# Per-entry sizes (cached by identity). Packed as json + (proto_framed << 32).

_PACK_SHIFT = 32
_PACK_MASK = (1 << _PACK_SHIFT) - 1
_ENTRY_CACHE_LIMIT = 1 << 20
_entry_sizes: dict[int, int] = {}
_entry_keep: dict[int, object] = {}


def _objref_json(ref: ObjectReference) -> int:
    members = []
    if ref.kind:
        members.append(_jm("kind", _jstr(ref.kind)))
    if ref.namespace:
        members.append(_jm("namespace", _jstr(ref.namespace)))
    if ref.name:
        members.append(_jm("name", _jstr(ref.name)))
    if ref.uid:
        members.append(_jm("uid", _jstr(ref.uid)))
    return _jobj(members)


def _objref_proto_body(ref: ObjectReference) -> int:
    # kind=1, namespace=2, name=3, uid=4 + empty apiVersion=5, resourceVersion=6,
    # fieldPath=7: non-pointer strings are always emitted (2 bytes each when empty).
    return _pstr(ref.kind) + _pstr(ref.namespace) + _pstr(ref.name) + _pstr(ref.uid) + 6


def _address_sizes(a: EndpointAddress) -> int:
    # JSON (core/v1 EndpointAddress field order): ip, hostname, nodeName, targetRef.
    members = [_jm("ip", _jstr(a.ip))]
    if a.hostname:
        members.append(_jm("hostname", _jstr(a.hostname)))
    if a.node_name is not None:
        members.append(_jm("nodeName", _jstr(a.node_name)))
    if a.target_ref is not None:
        members.append(_jm("targetRef", _objref_json(a.target_ref)))
    js = _jobj(members)
    # proto: ip=1, targetRef=2 (pointer), hostname=3 (always), nodeName=4 (pointer).
    body = _pstr(a.ip) + _pstr(a.hostname)
    if a.target_ref is not None:
        body += _pmsg(_objref_proto_body(a.target_ref))
    if a.node_name is not None:
        body += _pstr(a.node_name)
    return js | (_pmsg(body) << _PACK_SHIFT)


def _hints_json(ep: Endpoint) -> int:
    members = []
    if ep.hints_for_zones:
        zs = [_jobj([_jm("name", _jstr(z))]) for z in ep.hints_for_zones]
        members.append(_jm("forZones", _jarr_sum(sum(zs), len(zs))))
    if ep.hints_for_nodes:
        ns = [_jobj([_jm("name", _jstr(n))]) for n in ep.hints_for_nodes]
        members.append(_jm("forNodes", _jarr_sum(sum(ns), len(ns))))
    return _jobj(members)


def _endpoint_sizes(ep: Endpoint) -> int:
    # JSON (discovery/v1 Endpoint order): addresses, conditions, hostname, targetRef,
    # deprecatedTopology, nodeName, zone, hints.
    addrs = [_jstr(a) for a in ep.addresses]
    cond = []
    if ep.ready is not None:
        cond.append(_jm("ready", _jbool(ep.ready)))
    if ep.serving is not None:
        cond.append(_jm("serving", _jbool(ep.serving)))
    if ep.terminating is not None:
        cond.append(_jm("terminating", _jbool(ep.terminating)))
    members = [_jm("addresses", _jarr_sum(sum(addrs), len(addrs))), _jm("conditions", _jobj(cond))]
    if ep.hostname:
        members.append(_jm("hostname", _jstr(ep.hostname)))
    if ep.target_ref is not None:
        members.append(_jm("targetRef", _objref_json(ep.target_ref)))
    if ep.node_name is not None:
        members.append(_jm("nodeName", _jstr(ep.node_name)))
    if ep.zone is not None:
        members.append(_jm("zone", _jstr(ep.zone)))
    has_hints = bool(ep.hints_for_zones or ep.hints_for_nodes)
    if has_hints:
        members.append(_jm("hints", _hints_json(ep)))
    js = _jobj(members)
    # proto: addresses=1 (repeated), conditions=2 (struct, always), hostname=3, targetRef=4,
    # nodeName=6, zone=7, hints=8 (pointers: only when set).
    body = sum(_pstr(a) for a in ep.addresses)
    cond_body = 2 * sum(c is not None for c in (ep.ready, ep.serving, ep.terminating))
    body += _pmsg(cond_body)
    if ep.hostname:
        body += _pstr(ep.hostname)
    if ep.target_ref is not None:
        body += _pmsg(_objref_proto_body(ep.target_ref))
    if ep.node_name is not None:
        body += _pstr(ep.node_name)
    if ep.zone is not None:
        body += _pstr(ep.zone)
    if has_hints:
        hb = sum(_pmsg(_pstr(z)) for z in ep.hints_for_zones)
        hb += sum(_pmsg(_pstr(n)) for n in ep.hints_for_nodes)
        body += _pmsg(hb)
    return js | (_pmsg(body) << _PACK_SHIFT)


_ENTRY_FUNCS: dict[type, Callable[[Any], int]] = {
    EndpointAddress: _address_sizes,
    Endpoint: _endpoint_sizes,
}


def entry_size(entry: EndpointAddress | Endpoint) -> int:
    """Packed size of one entry (JSON | framed proto << 32), identity-cached. The
    controllers call it as they add entries, so a write need not walk its object."""
    k = id(entry)
    packed = _entry_sizes.get(k)
    if packed is None or _entry_keep.get(k) is not entry:
        packed = _entry_sizes[k] = _ENTRY_FUNCS[type(entry)](entry)
        _entry_keep[k] = entry
        if len(_entry_sizes) > _ENTRY_CACHE_LIMIT:
            _entry_sizes.clear()
            _entry_keep.clear()
    return packed


class SizedEntries(tuple):
    """A tuple of entries that carries the sum of their packed sizes (``entry_size``), kept
    as a running total by the controller that built it. Equal to the plain tuple in every
    way; sizing it costs nothing instead of a walk over the entries (HOT PATH).

    ``prefix(n)``: the first n entries' packed size from the builder's own per-entry sizes,
    or None once the builder has moved on (then ``head`` sizes the entries themselves)."""

    total: int
    prefix: Callable[[int], int | None] | None

    def __new__(
        cls, entries: Iterable[Any], total: int, prefix: Callable[[int], int | None] | None = None
    ) -> SizedEntries:
        self = super().__new__(cls, entries)
        self.total = total
        self.prefix = prefix
        return self

    def head(self, n: int) -> SizedEntries:
        """The first ``n`` entries (what truncation keeps), still sized."""
        if n >= len(self):
            return self
        kept = self[:n]
        size = self.prefix(n) if self.prefix is not None else None
        if size is None:
            size = sum(map(entry_size, kept))
        return SizedEntries(kept, size)

    def __reduce__(self):  # pickles (sweeps, result caches) as the plain tuple it equals
        return (tuple, (tuple(self),))


def head(entries: tuple[Any, ...], n: int) -> tuple[Any, ...]:
    """``entries[:n]``, keeping the carried sizes when there are any."""
    return entries.head(n) if type(entries) is SizedEntries else entries[:n]


def _sum_entries(items: tuple[Any, ...] | list[Any]) -> tuple[int, int]:
    """(sum of JSON sizes, sum of framed proto sizes) over entries, identity-cached."""
    if not items:
        return 0, 0
    if type(items) is SizedEntries:
        packed = items.total
        return packed & _PACK_MASK, packed >> _PACK_SHIFT
    cache = _entry_sizes
    ids = list(map(id, items))
    missing = set(ids).difference(cache)  # C-level: usually a handful of new entries per write
    if missing:
        keep = _entry_keep
        by_id = dict(zip(ids, items, strict=True))
        for k in missing:
            it = by_id[k]
            cache[k] = _ENTRY_FUNCS[type(it)](it)
            keep[k] = it
        packed = sum(map(cache.__getitem__, ids))
        if len(cache) > _ENTRY_CACHE_LIMIT:
            cache.clear()
            keep.clear()
    else:
        packed = sum(map(cache.__getitem__, ids))
    # The JSON half cannot carry into the proto half below 4 GiB of JSON.
    json_total = packed & _PACK_MASK
    proto_total = packed >> _PACK_SHIFT
    return json_total, proto_total


def clear_size_caches() -> None:
    """Drop cached per-entry sizes (tests and long sweeps)."""
    _entry_sizes.clear()
    _entry_keep.clear()
    _object_sizes.clear()
    _meta_sizes_cache.clear()


# ---------------------------------------------------------------------------------------
# Ports


def _core_port_sizes(p: EndpointPort) -> tuple[int, int]:
    members = []
    if p.name:
        members.append(_jm("name", _jstr(p.name)))
    members.append(_jm("port", _jint(p.port)))
    if p.protocol:
        members.append(_jm("protocol", _jstr(p.protocol)))
    if p.app_protocol is not None:
        members.append(_jm("appProtocol", _jstr(p.app_protocol)))
    # proto core/v1 EndpointPort: name=1, port=2, protocol=3 always; appProtocol=4 pointer.
    body = _pstr(p.name) + 1 + varint_len(p.port) + _pstr(p.protocol)
    if p.app_protocol is not None:
        body += _pstr(p.app_protocol)
    return _jobj(members), _pmsg(body)


def _slice_port_sizes(p: EndpointPort) -> tuple[int, int]:
    # discovery/v1 EndpointPort: all pointers, which both controllers always set
    # (name may be ""): JSON order name, protocol, port, appProtocol.
    members = [_jm("name", _jstr(p.name)), _jm("protocol", _jstr(p.protocol))]
    members.append(_jm("port", _jint(p.port)))
    if p.app_protocol is not None:
        members.append(_jm("appProtocol", _jstr(p.app_protocol)))
    # proto: name=1, protocol=2, port=3, appProtocol=4.
    body = _pstr(p.name) + _pstr(p.protocol) + 1 + varint_len(p.port)
    if p.app_protocol is not None:
        body += _pstr(p.app_protocol)
    return _jobj(members), _pmsg(body)


# ---------------------------------------------------------------------------------------
# Metadata


@dataclass(frozen=True, slots=True)
class _OwnerRef:
    api_version: str
    kind: str
    name: str
    uid: str


@dataclass(slots=True)
class _Meta:
    name: str
    namespace: str
    uid: str
    generate_name: str = ""
    generation: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owners: list[_OwnerRef] = field(default_factory=list)
    manager_api_version: str = "v1"
    fields_v1: str = "{}"


def _uid(uid: str) -> str:
    return uid or "0" * ASSUMED_UID_LEN


def _fields_keys(prefix: str, keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {".": {}}
    for k in keys:
        out[f"{prefix}{k}"] = {}
    return out


def _managed_metadata(meta: _Meta) -> dict[str, Any]:
    m: dict[str, Any] = {}
    if meta.annotations:
        m["f:annotations"] = _fields_keys("f:", sorted(meta.annotations))
    if meta.generate_name:
        m["f:generateName"] = {}
    if meta.labels:
        m["f:labels"] = _fields_keys("f:", sorted(meta.labels))
    if meta.owners:
        refs: dict[str, Any] = {".": {}}
        for o in meta.owners:
            refs["k:" + _dumps({"uid": _uid(o.uid)})] = {}
        m["f:ownerReferences"] = refs
    return m


def _meta_for_endpoints(ep: Endpoints) -> _Meta:
    meta = _Meta(ep.name, ep.namespace, _uid(ep.uid))
    meta.labels = dict(ep.labels)
    meta.annotations = dict(ep.annotations)
    fields = {"f:metadata": _managed_metadata(meta)}
    if ep.subsets:
        fields["f:subsets"] = {}
    meta.fields_v1 = _dumps(_sorted_deep(fields))
    return meta


def _meta_for_slice(s: EndpointSlice) -> _Meta:
    meta = _Meta(s.name, s.namespace, _uid(s.uid), s.generate_name, s.generation)
    meta.labels = dict(s.labels)
    meta.annotations = dict(s.annotations)
    if s.owner_name or s.owner_uid:
        meta.owners = [_OwnerRef("v1", s.owner_kind, s.owner_name, s.owner_uid)]
    meta.manager_api_version = "discovery.k8s.io/v1"
    fields = {
        "f:addressType": {},
        "f:endpoints": {},
        "f:metadata": _managed_metadata(meta),
        "f:ports": {},
    }
    meta.fields_v1 = _dumps(_sorted_deep(fields))
    return meta


def _sorted_deep(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted_deep(v) if isinstance(v, dict) else v for k, v in sorted(d.items())}


def _meta_json(meta: _Meta) -> dict[str, Any]:
    out: dict[str, Any] = {"name": meta.name}
    if meta.generate_name:
        out["generateName"] = meta.generate_name
    out["namespace"] = meta.namespace
    out["uid"] = meta.uid
    out["resourceVersion"] = ASSUMED_RESOURCE_VERSION
    if meta.generation:
        out["generation"] = meta.generation
    out["creationTimestamp"] = rfc3339(0.0)
    if meta.labels:
        out["labels"] = dict(sorted(meta.labels.items()))
    if meta.annotations:
        out["annotations"] = dict(sorted(meta.annotations.items()))
    if meta.owners:
        out["ownerReferences"] = [
            {
                "apiVersion": o.api_version,
                "kind": o.kind,
                "name": o.name,
                "uid": _uid(o.uid),
                "controller": True,
                "blockOwnerDeletion": True,
            }
            for o in meta.owners
        ]
    out["managedFields"] = [
        {
            "manager": FIELD_MANAGER,
            "operation": "Update",
            "apiVersion": meta.manager_api_version,
            "time": rfc3339(0.0),
            "fieldsType": "FieldsV1",
            "fieldsV1": json.loads(meta.fields_v1),
        }
    ]
    return out


def _go_len(text: str) -> int:
    """Bytes of Python's compact JSON text as Go would write it (HTML-escaped <, >, &)."""
    n = len(text) if text.isascii() else len(text.encode())
    return n + 5 * (text.count("<") + text.count(">") + text.count("&"))


def _meta_json_size(meta: _Meta) -> int:
    return _go_len(_dumps(_meta_json(meta)))


_TIMESTAMP_BODY = 1 + varint_len(EPOCH_UNIX_SECONDS) + 1 + 1  # seconds=1, nanos=2 (always)


def _meta_proto_body(meta: _Meta) -> int:
    # ObjectMeta: name=1, generateName=2, namespace=3, selfLink=4, uid=5,
    # resourceVersion=6 (strings, always); generation=7 (int64, always);
    # creationTimestamp=8 (struct, always); labels=11, annotations=12 (map entries
    # {key=1, value=2}); ownerReferences=13; managedFields=17 (2-byte tag).
    body = _pstr(meta.name) + _pstr(meta.generate_name) + _pstr(meta.namespace) + 2
    body += _pstr(meta.uid) + _pstr(ASSUMED_RESOURCE_VERSION)
    body += 1 + varint_len(meta.generation)
    body += _pmsg(_TIMESTAMP_BODY)
    for k, v in meta.labels.items():
        body += _pmsg(_pstr(k) + _pstr(v))
    for k, v in meta.annotations.items():
        body += _pmsg(_pstr(k) + _pstr(v))
    for o in meta.owners:
        # OwnerReference: kind=1, name=3, uid=4, apiVersion=5, controller=6,
        # blockOwnerDeletion=7 (bool pointers, set).
        ob = _pstr(o.kind) + _pstr(o.name) + _pstr(_uid(o.uid)) + _pstr(o.api_version) + 4
        body += _pmsg(ob)
    # ManagedFieldsEntry: manager=1, operation=2, apiVersion=3, time=4 (pointer, set),
    # fieldsType=6, fieldsV1=7 (pointer → FieldsV1{raw=1}), subresource=8 (always).
    raw = _blen(meta.fields_v1)
    mf = _pstr(FIELD_MANAGER) + _pstr("Update") + _pstr(meta.manager_api_version)
    mf += _pmsg(_TIMESTAMP_BODY) + _pstr("FieldsV1") + _pmsg(_pmsg(raw)) + 2
    body += _pmsg(mf, tag_len=2)
    return body


def envelope_size(api_version: str, kind: str, raw_len: int) -> int:
    """Stored value: magic + runtime.Unknown{typeMeta=1{apiVersion=1, kind=2}, raw=2,
    contentEncoding=3, contentType=4} (empty strings still emitted)."""
    type_meta = _pstr(api_version) + _pstr(kind)
    return len(PROTO_MAGIC) + _pmsg(type_meta) + _pmsg(raw_len) + 2 + 2


# ---------------------------------------------------------------------------------------
# Whole objects


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
        j, p = _sum_entries(s.addresses)
        members.append(_jm("addresses", _jarr_sum(j, len(s.addresses))))
        proto += p
    if s.not_ready_addresses:
        j, p = _sum_entries(s.not_ready_addresses)
        members.append(_jm("notReadyAddresses", _jarr_sum(j, len(s.not_ready_addresses))))
        proto += p
    if s.ports:
        sizes = [_core_port_sizes(p) for p in s.ports]
        members.append(_jm("ports", _jarr_sum(sum(j for j, _ in sizes), len(sizes))))
        proto += sum(p for _, p in sizes)
    return _jobj(members), _pmsg(proto)


_META_CACHE_LIMIT = 1 << 16
_meta_sizes_cache: dict[tuple, tuple[int, int]] = {}


def _value_shape(pairs: tuple[tuple[str, str], ...]) -> tuple:
    """What a map's values add to either encoding: their JSON literal and byte lengths."""
    return tuple((k, _jstr(v), _blen(v)) for k, v in pairs)


def _meta_sizes(key: tuple, build: Callable[[], _Meta]) -> tuple[int, int]:
    """(JSON size, proto body) of an object's metadata, memoised on ``key``: everything
    the sizes depend on (values only through their lengths), so the trigger-time
    annotation and the generation changing on every write do not defeat it (HOT PATH)."""
    hit = _meta_sizes_cache.get(key)
    if hit is None:
        meta = build()
        hit = (_meta_json_size(meta), _meta_proto_body(meta))
        if len(_meta_sizes_cache) >= _META_CACHE_LIMIT:
            _meta_sizes_cache.clear()
        _meta_sizes_cache[key] = hit
    return hit


def _endpoints_sizes(ep: Endpoints) -> WireSizes:
    key = ("Endpoints", ep.name, ep.namespace, ep.uid, ep.labels, _value_shape(ep.annotations), bool(ep.subsets))
    meta_json, meta_proto = _meta_sizes(key, lambda: _meta_for_endpoints(ep))
    members = [_jm("kind", _jstr("Endpoints")), _jm("apiVersion", _jstr("v1"))]
    members.append(_jm("metadata", meta_json))
    proto = _pmsg(meta_proto)
    if ep.subsets:
        sub = [_subset_sizes(s) for s in ep.subsets]
        members.append(_jm("subsets", _jarr_sum(sum(j for j, _ in sub), len(sub))))
        proto += sum(p for _, p in sub)
    return WireSizes(_jobj(members), proto, envelope_size("v1", "Endpoints", proto))


def _slice_sizes(s: EndpointSlice) -> WireSizes:
    gen = s.generation  # omitted from JSON when 0; otherwise only its digit count matters
    key = (
        "EndpointSlice", s.name, s.generate_name, s.namespace, s.uid, gen == 0, _jint(gen), varint_len(gen),
        s.labels, _value_shape(s.annotations), s.owner_kind, s.owner_name, s.owner_uid,
    )
    meta_json, meta_proto = _meta_sizes(key, lambda: _meta_for_slice(s))
    members = [_jm("kind", _jstr("EndpointSlice")), _jm("apiVersion", _jstr("discovery.k8s.io/v1"))]
    members.append(_jm("metadata", meta_json))
    members.append(_jm("addressType", _jstr(s.address_type)))
    ej, ep = _sum_entries(s.endpoints)
    members.append(_jm("endpoints", _jarr_sum(ej, len(s.endpoints))))
    ports = [_slice_port_sizes(p) for p in s.ports]
    members.append(_jm("ports", _jarr_sum(sum(j for j, _ in ports), len(ports))))
    proto = _pmsg(meta_proto) + ep + sum(p for _, p in ports) + _pstr(s.address_type)
    stored = envelope_size("discovery.k8s.io/v1", "EndpointSlice", proto)
    return WireSizes(_jobj(members), proto, stored)


def service_json(svc: Service) -> dict[str, Any]:
    """Approximate JSON form of a Service (core/v1) as stored after defaulting."""
    meta = _Meta(svc.name, svc.namespace, _uid(svc.uid))
    meta.labels = dict(svc.labels)
    meta.annotations = dict(svc.annotations)
    spec_fields = ["f:ports", "f:sessionAffinity", "f:type"]
    if svc.selector is not None:
        spec_fields.append("f:selector")
    meta.fields_v1 = _dumps(
        {"f:metadata": _managed_metadata(meta), "f:spec": {k: {} for k in sorted(spec_fields)}}
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
        "metadata": _meta_json(meta),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def _service_proto(svc: Service, doc: dict[str, Any]) -> int:
    """Proto size of a Service (approximate: spec strings always emitted, the rest when
    present in the JSON form; ServicePort{name=1, protocol=2, port=3, targetPort=4
    IntOrString{type=1, intVal=2, strVal=3}, nodePort=5, appProtocol=6})."""
    meta = _Meta(svc.name, svc.namespace, _uid(svc.uid))
    meta.labels = dict(svc.labels)
    meta.annotations = dict(svc.annotations)
    meta.fields_v1 = _dumps(doc["metadata"]["managedFields"][0]["fieldsV1"])
    spec = doc["spec"]
    body = 0
    for p in svc.ports:
        tp = p.resolved_target
        # IntOrString{type=1, intVal=2, strVal=3}, all always emitted.
        ios = 2 + 2 + _pstr(tp) if isinstance(tp, str) else 2 + 1 + varint_len(tp) + 2
        pb = _pstr(p.name) + _pstr(p.protocol) + 1 + varint_len(p.port) + _pmsg(ios)
        pb += 1 + varint_len(p.node_port or 0)
        if p.app_protocol is not None:
            pb += _pstr(p.app_protocol)
        body += _pmsg(pb)
    for k, v in svc.selector or ():
        body += _pmsg(_pstr(k) + _pstr(v))
    # Always-present scalars: clusterIP=3, type=4, sessionAffinity=7, loadBalancerIP=8,
    # externalName=10, externalTrafficPolicy=11, healthCheckNodePort=12,
    # publishNotReadyAddresses=13.
    body += _pstr(spec.get("clusterIP", "")) + _pstr(svc.type) + _pstr(svc.session_affinity)
    body += 2 + _pstr(svc.external_name or "") + _pstr(spec.get("externalTrafficPolicy", ""))
    body += 1 + varint_len(svc.health_check_node_port or 0) + 2
    body += sum(_pstr(ip) for ip in spec.get("clusterIPs", ()))
    body += sum(_pstr(ip) for ip in svc.external_ips)
    body += sum(_pstr(f) for f in spec.get("ipFamilies", ()))
    if "ipFamilyPolicy" in spec:
        body += _pstr(spec["ipFamilyPolicy"]) + 2 + _pstr(spec["internalTrafficPolicy"])
    if "sessionAffinityConfig" in spec:
        body += _pmsg(_pmsg(1 + varint_len(svc.session_affinity_timeout_s)))
    if svc.traffic_distribution:
        body += 2 + _pstr(svc.traffic_distribution)
    status = _pmsg(_pmsg(0))  # status{loadBalancer{}}
    return _pmsg(_meta_proto_body(meta)) + _pmsg(body) + status


def _service_sizes(svc: Service) -> WireSizes:
    doc = service_json(svc)
    js = _go_len(_dumps(doc))
    proto = _service_proto(svc, doc)
    return WireSizes(js, proto, envelope_size("v1", "Service", proto))


_SIZERS = {Endpoints: _endpoints_sizes, EndpointSlice: _slice_sizes, Service: _service_sizes}
_OBJECT_CACHE_LIMIT = 4096
_object_sizes: dict[int, tuple[object, WireSizes]] = {}


def wire_sizes(obj: Endpoints | EndpointSlice | Service) -> WireSizes:
    """JSON, bare-proto and stored sizes of one object (memoised by identity)."""
    hit = _object_sizes.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    sizes = _SIZERS[type(obj)](obj)  # type: ignore[operator]
    if len(_object_sizes) >= _OBJECT_CACHE_LIMIT:
        _object_sizes.clear()
    _object_sizes[id(obj)] = (obj, sizes)
    return sizes


def json_size(obj: Endpoints | EndpointSlice | Service) -> int:
    """Compact JSON bytes as the apiserver emits the object (no trailing newline)."""
    return wire_sizes(obj).json


def proto_size(obj: Endpoints | EndpointSlice | Service) -> int:
    """Stored protobuf bytes incl. the ``k8s\\x00`` + runtime.Unknown envelope (§5.4)."""
    return wire_sizes(obj).stored


# ---------------------------------------------------------------------------------------
# Reference renderers (slow, used by tests to check the fast arithmetic)


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
            "metadata": _meta_json(_meta_for_endpoints(obj)),
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
        "metadata": _meta_json(_meta_for_slice(obj)),
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
    return _go_len(_dumps(to_json_dict(obj)))


# ---------------------------------------------------------------------------------------
# Synthetic objects for the size table (``simk8s sizes``)


@dataclass(frozen=True, slots=True)
class Naming:
    """Name lengths of the synthetic pods behind the size table (reference §5.5 "short")."""

    service_name: str = "web"
    namespace: str = "default"
    pod_name_len: int = 19  # e.g. web-7d9f8c6b5-5sl68
    node_name_len: int = 26  # e.g. ip-10-0-35-65.ec2.internal
    zone: str | None = "us-east-1a"
    uid_len: int = 36
    pods_per_node: int = 30
    port_name: str = ""
    port: int = 8080
    first_ip: int = (10 << 24) | (64 << 16) | 5  # 10.64.0.5, then sequential
    trigger_time: float = 0.0  # renders the last-change-trigger-time annotation


LONG_NAMING = Naming(
    service_name="checkout-service",
    namespace="payments-prod",
    pod_name_len=32,
    node_name_len=42,
    zone="europe-west1-b",
)


def _fixed(stem: str, index: int, length: int) -> str:
    tail = f"-{index:x}"
    head = (stem * (length // max(len(stem), 1) + 2))[: max(length - len(tail), 1)]
    return (head + tail)[-length:] if len(head + tail) > length else head + tail


def _ipv4(n: int) -> str:
    return f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _uid_for(i: int, length: int) -> str:
    text = f"{i:08x}-0000-4000-8000-{i:012x}"
    return (text * 2)[:length]


class _SyntheticPods:
    """Address/endpoint records for pods 0..n-1, built once and reused (identity cache)."""

    def __init__(self, naming: Naming) -> None:
        self.naming = naming
        self.addresses: list[EndpointAddress] = []
        self.endpoints: list[Endpoint] = []

    def grow(self, n: int) -> None:
        nm = self.naming
        for i in range(len(self.addresses), n):
            ip = _ipv4(nm.first_ip + i)
            node = _fixed("ip-10-0-35-65.ec2.internal", i // nm.pods_per_node, nm.node_name_len)
            ref = ObjectReference(
                kind="Pod",
                namespace=nm.namespace,
                name=_fixed(nm.service_name + "-7d9f8c6b5", i, nm.pod_name_len),
                uid=_uid_for(i, nm.uid_len),
            )
            self.addresses.append(EndpointAddress(ip=ip, node_name=node, target_ref=ref))
            self.endpoints.append(
                Endpoint(addresses=(ip,), target_ref=ref, node_name=node, zone=nm.zone)
            )


def _synthetic_endpoints(pods: _SyntheticPods, n: int, *, truncated: bool) -> Endpoints:
    nm = pods.naming
    annotations = [(ANNOTATION_TRIGGER_TIME, rfc3339nano(nm.trigger_time))]
    if truncated:
        annotations.append((ANNOTATION_OVER_CAPACITY, "truncated"))
    port = EndpointPort(port=nm.port, name=nm.port_name)
    subsets = (EndpointSubset(addresses=tuple(pods.addresses[:n]), ports=(port,)),) if n else ()
    return Endpoints(
        name=nm.service_name,
        namespace=nm.namespace,
        labels=(("app", nm.service_name), (LABEL_EP_MANAGED_BY, ENDPOINTS_MANAGED_BY_VALUE)),
        annotations=tuple(annotations),
        subsets=subsets,
    )


def _synthetic_slice(pods: _SyntheticPods, start: int, n: int) -> EndpointSlice:
    nm = pods.naming
    return EndpointSlice(
        name=f"{nm.service_name}-{start // 1000:05d}"[: len(nm.service_name) + 6],
        namespace=nm.namespace,
        generate_name=nm.service_name + "-",
        labels=(
            ("app", nm.service_name),
            (LABEL_MANAGED_BY, MANAGED_BY_SLICE_CONTROLLER),
            (LABEL_SERVICE_NAME, nm.service_name),
        ),
        annotations=((ANNOTATION_TRIGGER_TIME, rfc3339nano(nm.trigger_time)),),
        owner_name=nm.service_name,
        owner_uid=_uid_for(10**9, nm.uid_len),
        endpoints=tuple(pods.endpoints[start : start + n]),
        ports=(EndpointPort(port=nm.port, name=nm.port_name),),
    )


@dataclass(frozen=True, slots=True)
class SizeRow:
    """One line of the size table: the largest object of a kind and the total."""

    pods: int
    object: str  # "Endpoints", "Endpoints (truncated)", "EndpointSlice"
    objects: int  # how many such objects the Service needs
    entries: int  # addresses/endpoints in the largest object
    json_bytes: int  # largest object
    stored_bytes: int  # largest object, proto + envelope
    total_json_bytes: int
    total_stored_bytes: int
    exceeds_etcd_limit: bool  # largest stored object > max_request_bytes


def sizes_table(
    pod_count: int,
    *,
    naming: Naming | None = None,
    max_endpoints_per_slice: int = 100,
    max_request_bytes: int = ETCD_MAX_REQUEST_BYTES,
) -> list[SizeRow]:
    """Sizes of a one-port Service's Endpoints / EndpointSlices with ``pod_count`` ready pods.

    Rows: the untruncated Endpoints object (as ≤ 1.21 controllers wrote it), the 1.22+
    truncated one (1000 addresses + over-capacity annotation, only when pod_count > 1000),
    and the EndpointSlices (full slices of ``max_endpoints_per_slice``, the last partial).
    """
    nm = naming or Naming()
    pods = _SyntheticPods(nm)
    pods.grow(pod_count)
    rows: list[SizeRow] = []

    def ep_row(label: str, n: int, truncated: bool) -> SizeRow:
        s = wire_sizes(_synthetic_endpoints(pods, n, truncated=truncated))
        over = s.stored > max_request_bytes
        return SizeRow(pod_count, label, 1, n, s.json, s.stored, s.json, s.stored, over)

    rows.append(ep_row("Endpoints", pod_count, False))
    if pod_count > 1000:
        rows.append(ep_row("Endpoints (truncated)", 1000, True))
    counts = [
        min(max_endpoints_per_slice, pod_count - start)
        for start in range(0, pod_count, max_endpoints_per_slice)
    ] or [0]
    total_json = total_stored = 0
    largest: WireSizes | None = None
    start = 0
    for n in counts:
        s = wire_sizes(_synthetic_slice(pods, start, n))
        start += n
        total_json += s.json
        total_stored += s.stored
        if largest is None or s.stored > largest.stored:
            largest = s
    assert largest is not None
    rows.append(
        SizeRow(
            pod_count,
            "EndpointSlice",
            len(counts),
            counts[0],
            largest.json,
            largest.stored,
            total_json,
            total_stored,
            largest.stored > max_request_bytes,
        )
    )
    return rows


def endpoints_limit_pod_count(
    max_request_bytes: int = ETCD_MAX_REQUEST_BYTES, *, naming: Naming | None = None
) -> int:
    """Smallest pod count whose one-port, untruncated Endpoints object is stored with more
    than ``max_request_bytes`` (etcd rejects it: "request is too large"). Binary search;
    the size grows monotonically with the pod count."""
    pods = _SyntheticPods(naming or Naming())

    def stored(n: int) -> int:
        pods.grow(n)
        return _endpoints_sizes(_synthetic_endpoints(pods, n, truncated=False)).stored

    lo, hi = 0, 1024
    while stored(hi) <= max_request_bytes:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # invariant: stored(lo) <= limit < stored(hi)
        mid = (lo + hi) // 2
        if stored(mid) <= max_request_bytes:
            lo = mid
        else:
            hi = mid
    return hi
