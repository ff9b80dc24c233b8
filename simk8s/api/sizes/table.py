"""The size table behind ``simk8s sizes`` and docs/sizes.md: Endpoints and EndpointSlices
of a one-port Service with N ready pods, built from synthetic pods with realistic names.
"""

from __future__ import annotations

from dataclasses import dataclass

from simk8s.api.naming import rfc3339nano
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
)
from simk8s.api.sizes.kinds import WireSizes, endpoints_sizes, wire_sizes

# etcd DefaultMaxRequestBytes (server/embed/config.go), 1.5 MiB: the stored value's limit.
ETCD_MAX_REQUEST_BYTES = 1_572_864
# kube-apiserver MaxRequestBodyBytes (staging/src/k8s.io/apiserver/pkg/server/config.go),
# 3 MiB: the JSON request body's limit, twice etcd's since JSON shrinks when stored as proto.
APISERVER_MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
ENDPOINTS_MANAGED_BY_VALUE = "endpoint-controller"


@dataclass(frozen=True, slots=True)
class Naming:
    """Name lengths of the synthetic pods behind the size table (the defaults: "short"
    names with an EC2-style node name; ``LONG_NAMING`` for long ones; docs/sizes.md)."""

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
        return endpoints_sizes(_synthetic_endpoints(pods, n, truncated=False)).stored

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
