"""Wire sizes of the entries an object holds many of: one core/v1 EndpointAddress or one
discovery/v1 Endpoint, and ``SizedEntries``, a tuple of entries that carries their total.

Field order and numbers: ``staging/src/k8s.io/api/core/v1/generated.proto``
(EndpointAddress, ObjectReference) and ``staging/src/k8s.io/api/discovery/v1/
generated.proto`` (Endpoint, EndpointConditions, EndpointHints); JSON order as the Go
structs in the ``types.go`` beside them.

HOT PATH: the apiserver sizes every write. Per-entry sizes are cached by object identity
— the cache holds a strong reference, so an id cannot be reused while its entry exists —
and summed with C-level ``map``/``sum``. The controllers reuse entry objects for
unchanged pods, and hand over ``SizedEntries`` whose total they kept as they built them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from simk8s.api.objects import Endpoint, EndpointAddress, ObjectReference
from simk8s.api.sizes.encoding import (
    JSON_PLAIN,
    jarr_sum,
    jbool,
    jm,
    jobj,
    jstr,
    pmsg,
    pstr,
    varint_len,
)

# Per-entry sizes are cached by identity, packed as json + (framed proto << 32), so one
# C-level sum adds both encodings at once.
_PACK_SHIFT = 32
_PACK_MASK = (1 << _PACK_SHIFT) - 1
_ENTRY_CACHE_LIMIT = 1 << 20
_entry_sizes: dict[int, int] = {}
_entry_keep: dict[int, object] = {}


def _objref_json(ref: ObjectReference) -> int:
    members = []
    if ref.kind:
        members.append(jm("kind", jstr(ref.kind)))
    if ref.namespace:
        members.append(jm("namespace", jstr(ref.namespace)))
    if ref.name:
        members.append(jm("name", jstr(ref.name)))
    if ref.uid:
        members.append(jm("uid", jstr(ref.uid)))
    return jobj(members)


def _objref_proto_body(ref: ObjectReference) -> int:
    # kind=1, namespace=2, name=3, uid=4 + empty apiVersion=5, resourceVersion=6,
    # fieldPath=7: non-pointer strings are always emitted (2 bytes each when empty).
    return pstr(ref.kind) + pstr(ref.namespace) + pstr(ref.name) + pstr(ref.uid) + 6


def _plen(n: int) -> int:
    """pstr of a string of n UTF-8 bytes."""
    return n + (2 if n < 0x80 else 1 + varint_len(n))


def _address_sizes(a: EndpointAddress) -> int:
    """_address_sizes_any's answer, with fewer calls when no string needs escaping (HOT PATH:
    every pod's address is sized once as the Endpoints controller adds it)."""
    ip, host, node, ref = a.ip, a.hostname, a.node_name, a.target_ref
    if ref is None or node is None:
        return _address_sizes_any(a)
    kind, ns, name, uid = ref.kind, ref.namespace, ref.name, ref.uid
    if JSON_PLAIN.fullmatch(ip + host + node + kind + ns + name + uid) is None:
        return _address_sizes_any(a)
    # Every string is plain ASCII: a JSON literal is its length + 2 quotes, and its UTF-8
    # length is its length. Members are len(key) + 3 (quotes, colon) + the value.
    ref_json, ref_body = _plain_ref_sizes(kind, ns, name, uid)
    # ip, nodeName, targetRef (+ hostname): 2 braces, the members, the commas between them.
    js = 2 + 7 + len(ip) + 13 + len(node) + 12 + ref_json + 2 + (14 + len(host) if host else 0)
    body = _plen(len(ip)) + _plen(len(host)) + pmsg(ref_body) + _plen(len(node))
    return js | (pmsg(body) << _PACK_SHIFT)


def _plain_ref_sizes(kind: str, ns: str, name: str, uid: str) -> tuple[int, int]:
    """(JSON, proto body) of an ObjectReference whose strings are plain ASCII. JSON
    members: len(key) + 5 + len(value), for each non-empty value."""
    present = (kind != "") + (ns != "") + (name != "") + (uid != "")
    ref_json = (2 + len(kind) + len(ns) + len(name) + len(uid) + max(present - 1, 0)
                + (9 if kind else 0) + (14 if ns else 0) + (9 if name else 0) + (8 if uid else 0))
    return ref_json, _plen(len(kind)) + _plen(len(ns)) + _plen(len(name)) + _plen(len(uid)) + 6


def _address_sizes_any(a: EndpointAddress) -> int:
    # JSON (core/v1 EndpointAddress field order): ip, hostname, nodeName, targetRef.
    members = [jm("ip", jstr(a.ip))]
    if a.hostname:
        members.append(jm("hostname", jstr(a.hostname)))
    if a.node_name is not None:
        members.append(jm("nodeName", jstr(a.node_name)))
    if a.target_ref is not None:
        members.append(jm("targetRef", _objref_json(a.target_ref)))
    js = jobj(members)
    # proto: ip=1, targetRef=2 (pointer), hostname=3 (always), nodeName=4 (pointer).
    body = pstr(a.ip) + pstr(a.hostname)
    if a.target_ref is not None:
        body += pmsg(_objref_proto_body(a.target_ref))
    if a.node_name is not None:
        body += pstr(a.node_name)
    return js | (pmsg(body) << _PACK_SHIFT)


def _hints_json(ep: Endpoint) -> int:
    members = []
    if ep.hints_for_zones:
        zs = [jobj([jm("name", jstr(z))]) for z in ep.hints_for_zones]
        members.append(jm("forZones", jarr_sum(sum(zs), len(zs))))
    if ep.hints_for_nodes:
        ns = [jobj([jm("name", jstr(n))]) for n in ep.hints_for_nodes]
        members.append(jm("forNodes", jarr_sum(sum(ns), len(ns))))
    return jobj(members)


def _endpoint_sizes(ep: Endpoint) -> int:
    """_endpoint_sizes_any's answer, with fewer calls for what pods become: every condition
    set, a targetRef, no hints, plain ASCII strings (HOT PATH: every endpoint is sized once,
    150,000 of them at scale-150k's start)."""
    ref, node, zone, host, addrs = ep.target_ref, ep.node_name, ep.zone, ep.hostname, ep.addresses
    if (ref is None or ep.ready is None or ep.serving is None or ep.terminating is None
            or ep.hints_for_zones or ep.hints_for_nodes):
        return _endpoint_sizes_any(ep)
    kind, ns, name, uid = ref.kind, ref.namespace, ref.name, ref.uid
    joined = "".join(addrs)
    if JSON_PLAIN.fullmatch(joined + host + (node or "") + (zone or "") + kind + ns + name + uid) is None:
        return _endpoint_sizes_any(ep)
    ref_json, ref_body = _plain_ref_sizes(kind, ns, name, uid)
    n = len(addrs)
    conditions = (4 if ep.ready else 5) + (4 if ep.serving else 5) + (4 if ep.terminating else 5)
    # Members: "addresses":[…] and "conditions":{"ready":…,"serving":…,"terminating":…},
    # targetRef, then hostname, nodeName, zone when present; 2 braces and commas around.
    js = 14 + len(joined) + 2 * n + max(n - 1, 0) + 49 + conditions + 12 + ref_json
    count = 3
    body = sum(_plen(len(a)) for a in addrs) + 8 + pmsg(ref_body)  # conditions: pmsg(2 × 3)
    if host:
        js += 13 + len(host)
        count += 1
        body += _plen(len(host))
    if node is not None:
        js += 13 + len(node)
        count += 1
        body += _plen(len(node))
    if zone is not None:
        js += 9 + len(zone)
        count += 1
        body += _plen(len(zone))
    js += 2 + count - 1
    return js | (pmsg(body) << _PACK_SHIFT)


def _endpoint_sizes_any(ep: Endpoint) -> int:
    # JSON (discovery/v1 Endpoint order): addresses, conditions, hostname, targetRef,
    # deprecatedTopology, nodeName, zone, hints.
    addrs = [jstr(a) for a in ep.addresses]
    cond = []
    if ep.ready is not None:
        cond.append(jm("ready", jbool(ep.ready)))
    if ep.serving is not None:
        cond.append(jm("serving", jbool(ep.serving)))
    if ep.terminating is not None:
        cond.append(jm("terminating", jbool(ep.terminating)))
    members = [jm("addresses", jarr_sum(sum(addrs), len(addrs))), jm("conditions", jobj(cond))]
    if ep.hostname:
        members.append(jm("hostname", jstr(ep.hostname)))
    if ep.target_ref is not None:
        members.append(jm("targetRef", _objref_json(ep.target_ref)))
    if ep.node_name is not None:
        members.append(jm("nodeName", jstr(ep.node_name)))
    if ep.zone is not None:
        members.append(jm("zone", jstr(ep.zone)))
    has_hints = bool(ep.hints_for_zones or ep.hints_for_nodes)
    if has_hints:
        members.append(jm("hints", _hints_json(ep)))
    js = jobj(members)
    # proto: addresses=1 (repeated), conditions=2 (struct, always), hostname=3, targetRef=4,
    # nodeName=6, zone=7, hints=8 (pointers: only when set).
    body = sum(pstr(a) for a in ep.addresses)
    cond_body = 2 * sum(c is not None for c in (ep.ready, ep.serving, ep.terminating))
    body += pmsg(cond_body)
    if ep.hostname:
        body += pstr(ep.hostname)
    if ep.target_ref is not None:
        body += pmsg(_objref_proto_body(ep.target_ref))
    if ep.node_name is not None:
        body += pstr(ep.node_name)
    if ep.zone is not None:
        body += pstr(ep.zone)
    if has_hints:
        hb = sum(pmsg(pstr(z)) for z in ep.hints_for_zones)
        hb += sum(pmsg(pstr(n)) for n in ep.hints_for_nodes)
        body += pmsg(hb)
    return js | (pmsg(body) << _PACK_SHIFT)


_ENTRY_FUNCS: dict[type, Callable[[Any], int]] = {
    EndpointAddress: _address_sizes,
    Endpoint: _endpoint_sizes,
}


def packed_size(entry: EndpointAddress | Endpoint) -> int:
    """``entry_size`` without the cache, for a caller that keeps the size itself."""
    return _ENTRY_FUNCS[type(entry)](entry)


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


def sum_entries(items: tuple[Any, ...] | list[Any]) -> tuple[int, int]:
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


def clear_entry_cache() -> None:
    _entry_sizes.clear()
    _entry_keep.clear()
