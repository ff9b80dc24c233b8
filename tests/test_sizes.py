"""Wire sizes (simk8s.api.sizes): hand-checked bytes, reference renderers, published figures."""

from __future__ import annotations

import json

import pytest

from simk8s.api import sizes
from simk8s.api.naming import EPOCH_UNIX_SECONDS
from simk8s.api.objects import (
    Endpoint,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    EndpointSubset,
    ObjectReference,
    Service,
    ServicePort,
)
from simk8s.api.sizes import (
    ETCD_MAX_REQUEST_BYTES,
    LONG_NAMING,
    Naming,
    endpoints_limit_pod_count,
    json_size,
    proto_size,
    reference_json_size,
    sizes_table,
    wire_sizes,
)

UID0 = "0" * 36


def one_address_endpoints() -> Endpoints:
    addr = EndpointAddress(
        ip="10.0.0.1",
        node_name="node-1",
        target_ref=ObjectReference(kind="Pod", namespace="default", name="web-1", uid="uid-1"),
    )
    return Endpoints(
        name="web",
        namespace="default",
        subsets=(EndpointSubset(addresses=(addr,), ports=(EndpointPort(port=80),)),),
    )


def test_one_address_endpoints_json_matches_hand_written_document():
    # Written out by hand from the core/v1 Go structs (field order, omitempty, compact
    # separators).
    expected = (
        '{"kind":"Endpoints","apiVersion":"v1","metadata":{"name":"web","namespace":"default",'
        f'"uid":"{UID0}","resourceVersion":"12345678","creationTimestamp":"2026-01-01T00:00:00Z",'
        '"managedFields":[{"manager":"kube-controller-manager","operation":"Update",'
        '"apiVersion":"v1","time":"2026-01-01T00:00:00Z","fieldsType":"FieldsV1",'
        '"fieldsV1":{"f:metadata":{},"f:subsets":{}}}]},'
        '"subsets":[{"addresses":[{"ip":"10.0.0.1","nodeName":"node-1","targetRef":'
        '{"kind":"Pod","namespace":"default","name":"web-1","uid":"uid-1"}}],'
        '"ports":[{"port":80,"protocol":"TCP"}]}]}'
    )
    assert json_size(one_address_endpoints()) == len(expected)


def test_one_address_endpoints_proto_by_hand():
    # Address: ip 1+1+8=10, hostname "" 2, nodeName 1+1+6=8, targetRef body
    #   kind 5 + namespace 9 + name 7 + uid 7 + 3 empty strings 6 = 34 → framed 36;
    #   body 56 → framed 58.  Port: name "" 2, port 2, protocol 5 = 9 → framed 11.
    #   Subset body 69 → framed 71.
    # ObjectMeta: name 5, generateName 2, namespace 9, selfLink 2, uid 38, rv 10,
    #   generation 2, creationTimestamp framed 10 (seconds 5-byte varint + nanos),
    #   managedFields entry: manager 25 + operation 8 + apiVersion 4 + time 10 +
    #   fieldsType 10 + fieldsV1 framed(1+1+32 raw JSON)=36 + subresource 2 = 95,
    #   2-byte tag → 98.  Body 176 → framed 1+2+176 = 179.
    # Endpoints body 179 + 71 = 250.  Envelope: magic 4 + typeMeta framed (4+11)+2=17
    #   + raw 1+2+250 = 253 + contentEncoding 2 + contentType 2 = 278.
    s = wire_sizes(one_address_endpoints())
    assert s.proto == 250
    assert s.stored == 278
    assert proto_size(one_address_endpoints()) == 278


# ---------------------------------------------------------------------------------------
# An independent proto2 encoder (bytes, not arithmetic) for the generated.proto shapes


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _tag(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _ld(field: int, payload: bytes) -> bytes:
    return _tag(field, 2) + _varint(len(payload)) + payload


def _s(field: int, text: str) -> bytes:
    return _ld(field, text.encode())


def _v(field: int, n: int) -> bytes:
    return _tag(field, 0) + _varint(n)


def _objref(r: ObjectReference) -> bytes:
    return b"".join(
        [
            _s(1, r.kind),
            _s(2, r.namespace),
            _s(3, r.name),
            _s(4, r.uid),
            _s(5, ""),
            _s(6, ""),
            _s(7, ""),
        ]
    )


def _timestamp() -> bytes:
    return _v(1, EPOCH_UNIX_SECONDS) + _v(2, 0)


def _meta(
    name,
    namespace,
    uid,
    labels,
    annotations,
    fields_v1,
    *,
    gen_name="",
    generation=0,
    owner=None,
    mf_api="v1",
):
    out = _s(1, name) + _s(2, gen_name) + _s(3, namespace) + _s(4, "") + _s(5, uid or UID0)
    out += _s(6, "12345678") + _v(7, generation) + _ld(8, _timestamp())
    for k, v in sorted(labels):
        out += _ld(11, _s(1, k) + _s(2, v))
    for k, v in sorted(annotations):
        out += _ld(12, _s(1, k) + _s(2, v))
    if owner is not None:
        kind, oname, ouid = owner
        out += _ld(
            13, _s(1, kind) + _s(3, oname) + _s(4, ouid or UID0) + _s(5, "v1") + _v(6, 1) + _v(7, 1)
        )
    mf = _s(1, "kube-controller-manager") + _s(2, "Update") + _s(3, mf_api) + _ld(4, _timestamp())
    mf += _s(6, "FieldsV1") + _ld(7, _ld(1, fields_v1.encode())) + _s(8, "")
    return out + _ld(17, mf)


def _fields_v1(obj) -> str:
    return json.dumps(
        sizes.to_json_dict(obj)["metadata"]["managedFields"][0]["fieldsV1"], separators=(",", ":")
    )


def encode_endpoints(ep: Endpoints) -> bytes:
    body = _ld(1, _meta(ep.name, ep.namespace, ep.uid, ep.labels, ep.annotations, _fields_v1(ep)))
    for s in ep.subsets:
        sub = b""
        for field, addrs in ((1, s.addresses), (2, s.not_ready_addresses)):
            for a in addrs:
                ab = _s(1, a.ip)
                if a.target_ref is not None:
                    ab += _ld(2, _objref(a.target_ref))
                ab += _s(3, a.hostname)
                if a.node_name is not None:
                    ab += _s(4, a.node_name)
                sub += _ld(field, ab)
        for p in s.ports:
            pb = _s(1, p.name) + _v(2, p.port) + _s(3, p.protocol)
            if p.app_protocol is not None:
                pb += _s(4, p.app_protocol)
            sub += _ld(3, pb)
        body += _ld(2, sub)
    return body


def encode_slice(s: EndpointSlice) -> bytes:
    owner = (s.owner_kind, s.owner_name, s.owner_uid) if (s.owner_name or s.owner_uid) else None
    meta = _meta(
        s.name,
        s.namespace,
        s.uid,
        s.labels,
        s.annotations,
        _fields_v1(s),
        gen_name=s.generate_name,
        generation=s.generation,
        owner=owner,
        mf_api="discovery.k8s.io/v1",
    )
    body = _ld(1, meta)
    for e in s.endpoints:
        eb = b"".join(_s(1, a) for a in e.addresses)
        cond = b""
        for f, val in ((1, e.ready), (2, e.serving), (3, e.terminating)):
            if val is not None:
                cond += _v(f, int(val))
        eb += _ld(2, cond)
        if e.hostname:
            eb += _s(3, e.hostname)
        if e.target_ref is not None:
            eb += _ld(4, _objref(e.target_ref))
        if e.node_name is not None:
            eb += _s(6, e.node_name)
        if e.zone is not None:
            eb += _s(7, e.zone)
        if e.hints_for_zones or e.hints_for_nodes:
            hb = b"".join(_ld(1, _s(1, z)) for z in e.hints_for_zones)
            hb += b"".join(_ld(2, _s(1, n)) for n in e.hints_for_nodes)
            eb += _ld(8, hb)
        body += _ld(2, eb)
    for p in s.ports:
        pb = _s(1, p.name) + _s(2, p.protocol) + _v(3, p.port)
        if p.app_protocol is not None:
            pb += _s(4, p.app_protocol)
        body += _ld(3, pb)
    return body + _s(4, s.address_type)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return (
        b"k8s\x00" + _ld(1, _s(1, api_version) + _s(2, kind)) + _ld(2, raw) + _s(3, "") + _s(4, "")
    )


def varied_endpoints() -> Endpoints:
    ready = tuple(
        EndpointAddress(
            ip=f"10.1.{i}.{i * 7 % 250}",
            node_name=f"node-{i % 3}" if i % 4 else None,
            target_ref=ObjectReference("Pod", "prod", f"api-{i:x}" * (i % 5 + 1), f"uid-{i}")
            if i % 6
            else None,
            hostname="h" * (i % 3),
        )
        for i in range(40)
    )
    not_ready = ready[5:9]
    ports = (
        EndpointPort(port=443, name="https", app_protocol="kubernetes.io/h2c"),
        EndpointPort(port=53, protocol="UDP"),
    )
    return Endpoints(
        name="api",
        namespace="prod",
        uid="x" * 36,
        labels=(("app", "api"), ("service.kubernetes.io/headless", "")),
        annotations=(
            ("endpoints.kubernetes.io/last-change-trigger-time", "2026-01-01T00:00:01.5Z"),
        ),
        subsets=(EndpointSubset(ready, not_ready, ports), EndpointSubset((), ready[:1], ())),
    )


def varied_slice() -> EndpointSlice:
    eps = tuple(
        Endpoint(
            addresses=(f"fd00::{i:x}",) if i % 2 else (f"10.2.0.{i}",),
            ready=bool(i % 2) if i % 7 else None,
            serving=True,
            terminating=False if i % 3 else None,
            hostname="web" if i == 3 else "",
            target_ref=ObjectReference("Pod", "ns", f"p{i}", f"u{i}"),
            node_name=f"node-{i}" if i % 5 else None,
            zone="zone-a" if i % 2 else None,
            hints_for_zones=("zone-a",) if i % 4 == 1 else (),
            hints_for_nodes=(f"node-{i}",) if i % 8 == 1 else (),
        )
        for i in range(150)  # 150 > 128: 2-byte length prefixes somewhere
    )
    return EndpointSlice(
        name="web-abcde",
        namespace="ns",
        generate_name="web-",
        generation=7,
        labels=(("kubernetes.io/service-name", "web"),),
        annotations=(("a", "b" * 200),),
        owner_name="web",
        owner_uid="svc-uid",
        endpoints=eps,
        ports=(
            EndpointPort(port=8080, name=""),
            EndpointPort(port=9090, name="metrics", app_protocol="http"),
        ),
    )


def test_proto_arithmetic_matches_a_real_encoder_for_endpoints():
    ep = varied_endpoints()
    raw = encode_endpoints(ep)
    assert wire_sizes(ep).proto == len(raw)
    assert wire_sizes(ep).stored == len(envelope("v1", "Endpoints", raw))
    small = one_address_endpoints()
    assert len(encode_endpoints(small)) == 250


def test_proto_arithmetic_matches_a_real_encoder_for_slices():
    s = varied_slice()
    raw = encode_slice(s)
    assert wire_sizes(s).proto == len(raw)
    assert wire_sizes(s).stored == len(envelope("discovery.k8s.io/v1", "EndpointSlice", raw))
    placeholder = EndpointSlice(name="web-xyz12", generate_name="web-", owner_name="web")
    assert wire_sizes(placeholder).proto == len(encode_slice(placeholder))


@pytest.mark.parametrize("obj", [one_address_endpoints(), varied_endpoints(), varied_slice()])
def test_json_arithmetic_matches_rendered_document(obj):
    assert json_size(obj) == reference_json_size(obj)


def test_empty_endpoints_omit_subsets():
    ep = Endpoints(name="web")
    assert "subsets" not in sizes.to_json_dict(ep)
    assert json_size(ep) == reference_json_size(ep)


def test_html_sensitive_characters_are_escaped_like_go():
    ep = Endpoints(name="web", annotations=(("note", "a<b>&c"),))
    plain = Endpoints(name="web", annotations=(("note", "axbxxc"),))
    # Go writes \u003c \u003e \u0026: 5 extra bytes for each of the three characters.
    assert json_size(ep) == json_size(plain) + 15
    assert json_size(ep) == reference_json_size(ep)


def test_service_sizes():
    svc = Service(
        name="web",
        labels=(("app", "web"),),
        selector=(("app", "web"),),
        ports=(
            ServicePort(port=80, name="http", target_port="http"),
            ServicePort(port=443, target_port=8443),
        ),
        cluster_ip="10.96.0.10",
    )
    s = wire_sizes(svc)
    assert s.json == reference_json_size(svc)
    assert 300 < s.proto < s.json  # proto is the denser encoding
    assert s.stored == sizes.envelope_size("v1", "Service", s.proto)


def test_equal_objects_have_equal_sizes_and_caches_are_transparent():
    a, b = varied_endpoints(), varied_endpoints()
    first = wire_sizes(a)
    sizes.clear_size_caches()
    assert wire_sizes(b) == first
    assert wire_sizes(a) == first


def test_sizes_grow_monotonically_with_addresses():
    previous = None
    for n in range(0, 60):
        rows = sizes_table(n, naming=Naming())
        ep = rows[0]
        if previous is not None:
            assert ep.json_bytes > previous.json_bytes
            assert ep.stored_bytes > previous.stored_bytes
        previous = ep


def test_per_address_costs_match_hand_count():
    # A hand count of the same shapes, made apart from this code (docs/sizes.md): EP address
    # 182–185 B JSON / ≈127 B proto; EPS endpoint 274–277 B / ≈146 B (short names); long
    # names EP 221 B JSON.
    def per_entry(naming: Naming) -> tuple[int, int, int, int]:
        a, b = sizes_table(1000, naming=naming), sizes_table(1001, naming=naming)
        s_a = sizes_table(99, naming=naming, max_endpoints_per_slice=100)[-1]
        s_b = sizes_table(100, naming=naming, max_endpoints_per_slice=100)[-1]
        return (
            b[0].json_bytes - a[0].json_bytes,
            b[0].stored_bytes - a[0].stored_bytes,
            s_b.json_bytes - s_a.json_bytes,
            s_b.stored_bytes - s_a.stored_bytes,
        )

    assert per_entry(Naming()) == (184, 126, 276, 145)
    ep_json_long, _, _, _ = per_entry(LONG_NAMING)
    assert abs(ep_json_long - 221) <= 3


def test_sizes_table_rows():
    rows = sizes_table(5000)
    by = {r.object: r for r in rows}
    assert set(by) == {"Endpoints", "Endpoints (truncated)", "EndpointSlice"}
    assert by["Endpoints (truncated)"].entries == 1000
    assert by["EndpointSlice"].objects == 50
    assert by["EndpointSlice"].entries == 100
    assert by["Endpoints"].json_bytes == 921_045  # regression counter
    assert by["Endpoints"].stored_bytes == 630_780
    assert sizes_table(250, max_endpoints_per_slice=100)[-1].objects == 3


def test_published_figures():
    # Blog https://kubernetes.io/blog/2020/09/02/scaling-kubernetes-networking-with-endpointslices/:
    # 5,000 pods ≈ 1.5 MB. We compute ≈0.92 MB JSON / ≈0.63 MB proto; the
    # blog's figure implies ≈300 B/address, pessimistic by 1.5–2.5× against both.
    ep5k = sizes_table(5000)[0]
    assert 1.4 <= 1_500_000 / ep5k.json_bytes <= 1.8
    assert 2.0 <= 1_500_000 / ep5k.stored_bytes <= 2.6
    # KEP-752 (sample case 1): 20,000 endpoints ≈ 2.0 MB (≈100 B/endpoint). We compute ≈2.5 MB
    # stored proto: within +35 % (tolerance), and JSON is ≈1.8× the KEP figure.
    ep20k = sizes_table(20000)[0]
    assert 1.0 <= ep20k.stored_bytes / 2_000_000 <= 1.35
    assert 1.6 <= ep20k.json_bytes / 2_000_000 <= 2.0
    # kubernetes/kubernetes#73324: 10k backends → ">1MB in proto".
    assert sizes_table(10000)[0].stored_bytes > 1_000_000
    # KEP: a 100-endpoint slice ≈ 10 KB; we compute ≈15 KB proto (within 2×).
    eps = sizes_table(100)[-1]
    assert 10_000 <= eps.stored_bytes <= 20_000


def test_endpoints_limit_pod_count():
    n = endpoints_limit_pod_count()
    assert n == 12_444  # regression counter: short names, one port
    rows_below = sizes_table(n - 1)[0]
    rows_at = sizes_table(n)[0]
    assert rows_below.stored_bytes <= ETCD_MAX_REQUEST_BYTES < rows_at.stored_bytes
    assert rows_at.exceeds_etcd_limit and not rows_below.exceeds_etcd_limit
    assert endpoints_limit_pod_count(naming=LONG_NAMING) < n  # longer names → fewer pods
    assert endpoints_limit_pod_count(1_000_000) < n


def test_sized_entries_head_sizes_from_prefix_or_by_walking():
    from simk8s.api.objects import EndpointAddress, ObjectReference
    from simk8s.api.sizes import SizedEntries, entry_size, sum_entries

    addrs = [
        EndpointAddress(f"10.0.0.{i}", node_name=f"node-{i}", target_ref=ObjectReference("Pod", "default", f"web-{i}", f"u{i}"))
        for i in range(1, 30)
    ]
    sizes = [entry_size(a) for a in addrs]
    fresh = SizedEntries(addrs, sum(sizes), lambda n: sum(sizes[:n]))
    stale = SizedEntries(addrs, sum(sizes), lambda n: None)  # its builder changed since
    for n in (0, 1, 7, 28, 29, 40):
        plain = sum_entries(tuple(addrs[:n]))
        assert sum_entries(fresh.head(n)) == sum_entries(stale.head(n)) == plain
        assert fresh.head(n) == tuple(addrs[:n])
