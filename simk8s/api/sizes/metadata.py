"""Wire sizes of an object's ObjectMeta, and of the envelope it is stored in.

ObjectMeta, OwnerReference, ManagedFieldsEntry: ``staging/src/k8s.io/apimachinery/pkg/
apis/meta/v1/generated.proto`` and ``types.go``. Stored value: the magic ``k8s\\x00``
and a ``runtime.Unknown`` (``apimachinery/pkg/runtime/generated.proto``), as the
apimachinery protobuf serializer writes it (``runtime/serializer/protobuf``).

Metadata the records do not carry is filled with realistic constants: a 36-character
uid when the record has none (the apiserver assigns one), an 8-digit resourceVersion,
creationTimestamp at the simulation epoch and one managedFields entry written by
kube-controller-manager (operation Update).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simk8s.api.naming import EPOCH_UNIX_SECONDS, rfc3339
from simk8s.api.objects import Endpoints, EndpointSlice
from simk8s.api.sizes.encoding import blen, dumps, go_len, jstr, pmsg, pstr, varint_len

PROTO_MAGIC = b"k8s\x00"
ASSUMED_UID_LEN = 36  # apiserver-assigned UUID when the record has none
ASSUMED_RESOURCE_VERSION = "12345678"  # 8 digits; real clusters show 6–10
FIELD_MANAGER = "kube-controller-manager"


@dataclass(frozen=True, slots=True)
class OwnerRef:
    api_version: str
    kind: str
    name: str
    uid: str


@dataclass(slots=True)
class Meta:
    name: str
    namespace: str
    uid: str
    generate_name: str = ""
    generation: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owners: list[OwnerRef] = field(default_factory=list)
    manager_api_version: str = "v1"
    fields_v1: str = "{}"


def stored_uid(uid: str) -> str:
    return uid or "0" * ASSUMED_UID_LEN


def _fields_keys(prefix: str, keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {".": {}}
    for k in keys:
        out[f"{prefix}{k}"] = {}
    return out


def managed_metadata(meta: Meta) -> dict[str, Any]:
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
            refs["k:" + dumps({"uid": stored_uid(o.uid)})] = {}
        m["f:ownerReferences"] = refs
    return m


def meta_for_endpoints(ep: Endpoints) -> Meta:
    meta = Meta(ep.name, ep.namespace, stored_uid(ep.uid))
    meta.labels = dict(ep.labels)
    meta.annotations = dict(ep.annotations)
    fields = {"f:metadata": managed_metadata(meta)}
    if ep.subsets:
        fields["f:subsets"] = {}
    meta.fields_v1 = dumps(_sorted_deep(fields))
    return meta


def meta_for_slice(s: EndpointSlice) -> Meta:
    meta = Meta(s.name, s.namespace, stored_uid(s.uid), s.generate_name, s.generation)
    meta.labels = dict(s.labels)
    meta.annotations = dict(s.annotations)
    if s.owner_name or s.owner_uid:
        meta.owners = [OwnerRef("v1", s.owner_kind, s.owner_name, s.owner_uid)]
    meta.manager_api_version = "discovery.k8s.io/v1"
    fields = {
        "f:addressType": {},
        "f:endpoints": {},
        "f:metadata": managed_metadata(meta),
        "f:ports": {},
    }
    meta.fields_v1 = dumps(_sorted_deep(fields))
    return meta


def _sorted_deep(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted_deep(v) if isinstance(v, dict) else v for k, v in sorted(d.items())}


def meta_json(meta: Meta) -> dict[str, Any]:
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
                "uid": stored_uid(o.uid),
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


def _meta_json_size(meta: Meta) -> int:
    return go_len(dumps(meta_json(meta)))


_TIMESTAMP_BODY = 1 + varint_len(EPOCH_UNIX_SECONDS) + 1 + 1  # seconds=1, nanos=2 (always)


def meta_proto_body(meta: Meta) -> int:
    # ObjectMeta: name=1, generateName=2, namespace=3, selfLink=4, uid=5,
    # resourceVersion=6 (strings, always); generation=7 (int64, always);
    # creationTimestamp=8 (struct, always); labels=11, annotations=12 (map entries
    # {key=1, value=2}); ownerReferences=13; managedFields=17 (2-byte tag).
    body = pstr(meta.name) + pstr(meta.generate_name) + pstr(meta.namespace) + 2
    body += pstr(meta.uid) + pstr(ASSUMED_RESOURCE_VERSION)
    body += 1 + varint_len(meta.generation)
    body += pmsg(_TIMESTAMP_BODY)
    for k, v in meta.labels.items():
        body += pmsg(pstr(k) + pstr(v))
    for k, v in meta.annotations.items():
        body += pmsg(pstr(k) + pstr(v))
    for o in meta.owners:
        # OwnerReference: kind=1, name=3, uid=4, apiVersion=5, controller=6,
        # blockOwnerDeletion=7 (bool pointers, set).
        ob = pstr(o.kind) + pstr(o.name) + pstr(stored_uid(o.uid)) + pstr(o.api_version) + 4
        body += pmsg(ob)
    # ManagedFieldsEntry: manager=1, operation=2, apiVersion=3, time=4 (pointer, set),
    # fieldsType=6, fieldsV1=7 (pointer → FieldsV1{raw=1}), subresource=8 (always).
    raw = blen(meta.fields_v1)
    mf = pstr(FIELD_MANAGER) + pstr("Update") + pstr(meta.manager_api_version)
    mf += pmsg(_TIMESTAMP_BODY) + pstr("FieldsV1") + pmsg(pmsg(raw)) + 2
    body += pmsg(mf, tag_len=2)
    return body


def envelope_size(api_version: str, kind: str, raw_len: int) -> int:
    """Stored value: magic + runtime.Unknown{typeMeta=1{apiVersion=1, kind=2}, raw=2,
    contentEncoding=3, contentType=4} (empty strings still emitted)."""
    type_meta = pstr(api_version) + pstr(kind)
    return len(PROTO_MAGIC) + pmsg(type_meta) + pmsg(raw_len) + 2 + 2


_META_CACHE_LIMIT = 1 << 16
_meta_sizes_cache: dict[tuple, tuple[int, int]] = {}


def value_shape(pairs: tuple[tuple[str, str], ...]) -> tuple:
    """What a map's values add to either encoding: their JSON literal and byte lengths."""
    return tuple((k, jstr(v), blen(v)) for k, v in pairs)


def meta_sizes(key: tuple, build: Callable[[], Meta]) -> tuple[int, int]:
    """(JSON size, proto body) of an object's metadata, memoised on ``key``: everything
    the sizes depend on (values only through their lengths), so the trigger-time
    annotation and the generation changing on every write do not defeat it (HOT PATH)."""
    hit = _meta_sizes_cache.get(key)
    if hit is None:
        meta = build()
        hit = (_meta_json_size(meta), meta_proto_body(meta))
        if len(_meta_sizes_cache) >= _META_CACHE_LIMIT:
            _meta_sizes_cache.clear()
        _meta_sizes_cache[key] = hit
    return hit


def clear_meta_cache() -> None:
    _meta_sizes_cache.clear()
