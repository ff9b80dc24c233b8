"""Endpoints controller (``pkg/controller/endpoint/endpoints_controller.go``): inclusion,
repack, truncation, skip rules, trigger time."""

from __future__ import annotations

import dataclasses

import builders
import pytest

from simk8s.api.naming import rfc3339nano
from simk8s.api.objects import (
    ANNOTATION_OVER_CAPACITY,
    ANNOTATION_TRIGGER_TIME,
    FAILED,
    LABEL_EP_MANAGED_BY,
    LABEL_HEADLESS,
    PENDING,
    RUNNING,
    SUCCEEDED,
    UNKNOWN,
    ContainerPort,
    EndpointAddress,
    Endpoints,
    EndpointSubset,
    ObjectReference,
    Pod,
    ServicePort,
)
from simk8s.controller import podutil
from simk8s.controller.endpoints import (
    MAX_CAPACITY,
    TriggerTimeTracker,
    address_sort_key,
    desired_subsets,
    repack_subsets,
    sync_endpoints,
    truncate_subsets,
)

SELECTOR = builders.SELECTOR


svc = builders.service


def pod(i: int, **kw) -> Pod:
    return builders.pod(i, name="web-{i}", uid="uid-{i:05d}", subnet="10.0", **kw)


def counts(result) -> tuple[int, int]:
    obj = result.obj
    return (
        sum(len(s.addresses) for s in obj.subsets),
        sum(len(s.not_ready_addresses) for s in obj.subsets),
    )


# ---------------------------------------------------------------------------------------
# Which pods become (not-)ready addresses: the table of upstream TestSyncServiceAddresses

TRUTH_TABLE = [
    # phase, ready, terminating, publishNotReady → (addresses, notReadyAddresses)
    (RUNNING, True, False, False, (1, 0)),
    (RUNNING, True, True, False, (0, 0)),
    (UNKNOWN, True, False, False, (1, 0)),
    (UNKNOWN, True, True, False, (0, 0)),
    (PENDING, True, False, False, (1, 0)),
    (PENDING, True, True, False, (0, 0)),
    (UNKNOWN, False, False, False, (0, 1)),
    (PENDING, False, False, False, (0, 1)),
    (FAILED, False, False, False, (0, 0)),
    (SUCCEEDED, False, False, False, (0, 0)),
    (RUNNING, False, False, True, (1, 0)),
    (RUNNING, False, True, True, (1, 0)),
    (UNKNOWN, False, False, True, (1, 0)),
    (UNKNOWN, False, True, True, (1, 0)),
    (PENDING, False, False, True, (1, 0)),
    (PENDING, False, True, True, (1, 0)),
    (FAILED, False, False, True, (0, 0)),
    (SUCCEEDED, False, False, True, (0, 0)),
]


@pytest.mark.parametrize(("phase", "ready", "terminating", "publish", "expected"), TRUTH_TABLE)
def test_truth_table(phase, ready, terminating, publish, expected):
    p = pod(1, phase=phase, ready=ready, terminating=terminating)
    r = sync_endpoints(svc(publish_not_ready_addresses=publish), [p], None, trigger_time=None)
    assert r.action == "create"
    got = counts(r) if r.obj.subsets else (0, 0)
    assert got == expected


def test_pod_without_ip_is_excluded():
    r = sync_endpoints(svc(), [pod(1, pod_ips=())], None, trigger_time=None)
    assert r.obj.subsets == ()


def test_address_fields_and_hostname_rule():
    p = pod(1, hostname="h1", subdomain="web", node_name="")
    other = pod(2, hostname="h2", subdomain="other")
    r = sync_endpoints(svc(), [p, other], None, trigger_time=None)
    addrs = {a.target_ref.name: a for a in r.obj.subsets[0].addresses}
    assert addrs["web-1"].hostname == "h1"
    assert addrs["web-1"].node_name == ""  # always set, even if empty (a pointer upstream)
    assert addrs["web-2"].hostname == ""
    assert addrs["web-1"].target_ref == ObjectReference("Pod", "default", "web-1", "uid-00001")
    other_ns = dataclasses.replace(p, namespace="prod")
    assert not podutil.should_set_hostname(other_ns, svc())


def test_ip_family_selection():
    dual = pod(1, pod_ips=("10.0.0.1", "fd00::1"))
    r = sync_endpoints(svc(ip_families=("IPv6", "IPv4")), [dual], None, trigger_time=None)
    assert r.obj.subsets[0].addresses[0].ip == "fd00::1"
    r = sync_endpoints(svc(ip_families=("IPv6",)), [pod(2)], None, trigger_time=None)
    assert r.obj.subsets == ()  # no IP of the primary family → skipped
    # No ipFamilies: clusterIP's family, or (headless) the pod's primary IP family.
    r = sync_endpoints(svc(ip_families=(), cluster_ip="fd00::a"), [dual], None, trigger_time=None)
    assert r.obj.subsets[0].addresses[0].ip == "fd00::1"
    r = sync_endpoints(svc(ip_families=(), cluster_ip="None"), [dual], None, trigger_time=None)
    assert r.obj.subsets[0].addresses[0].ip == "10.0.0.1"


def test_named_ports_split_subsets_and_protocol_must_match():
    service = svc(ports=(ServicePort(port=80, name="http", target_port="web"),))
    a = pod(1, container_ports=(ContainerPort(8080, "web"),))
    b = pod(2, container_ports=(ContainerPort(9090, "web"),))
    c = pod(3, container_ports=(ContainerPort(8080, "web", "UDP"),))  # protocol mismatch
    r = sync_endpoints(service, [a, b, c], None, trigger_time=None)
    by_port = {s.ports[0].port: [x.target_ref.name for x in s.addresses] for s in r.obj.subsets}
    assert by_port == {8080: ["web-1"], 9090: ["web-2"]}


def test_repack_groups_same_port_sets_and_not_ready_wins():
    a1 = EndpointAddress("10.0.0.1", target_ref=ObjectReference("Pod", "default", "a", "u1"))
    a2 = EndpointAddress("10.0.0.2", target_ref=ObjectReference("Pod", "default", "b", "u2"))
    from simk8s.api.objects import EndpointPort

    p80, p443 = EndpointPort(80, "http"), EndpointPort(443, "https")
    out = repack_subsets(
        [
            EndpointSubset(addresses=(a1,), ports=(p80,)),
            EndpointSubset(addresses=(a1,), ports=(p443,)),
            EndpointSubset(not_ready_addresses=(a1,), ports=(p80,)),  # not-ready wins for p80
            EndpointSubset(addresses=(a2, a2), ports=(p80, p443)),  # duplicate address
        ]
    )
    shapes = sorted(
        (
            tuple(p.port for p in s.ports),
            tuple(x.ip for x in s.addresses),
            tuple(x.ip for x in s.not_ready_addresses),
        )
        for s in out
    )
    assert shapes == [((80,), ("10.0.0.2",), ("10.0.0.1",)), ((443,), ("10.0.0.1", "10.0.0.2"), ())]
    # Deterministic: same content in another input order → identical result.
    again = repack_subsets(
        [
            EndpointSubset(addresses=(a2,), ports=(p443, p80)),
            EndpointSubset(not_ready_addresses=(a1,), ports=(p80,)),
            EndpointSubset(addresses=(a1,), ports=(p443, p80)),
        ]
    )
    assert again == out


def test_addresses_sorted_as_byte_strings_ties_by_uid():
    pods = [
        pod(1, pod_ips=("10.0.0.2",)),
        pod(2, pod_ips=("10.0.0.10",)),
        pod(3, pod_ips=("10.0.0.1",)),
        pod(4, pod_ips=("9.0.0.1",)),
    ]
    r = sync_endpoints(svc(), pods, None, trigger_time=None)
    assert [a.ip for a in r.obj.subsets[0].addresses] == [
        "10.0.0.1",
        "10.0.0.10",
        "10.0.0.2",
        "9.0.0.1",
    ]
    same_ip = [
        EndpointAddress("10.0.0.1", target_ref=ObjectReference(uid="b")),
        EndpointAddress("10.0.0.1", target_ref=None),
        EndpointAddress("10.0.0.1", target_ref=ObjectReference(uid="a")),
    ]
    assert [a.target_ref and a.target_ref.uid for a in sorted(same_ip, key=address_sort_key)] == [
        None,
        "a",
        "b",
    ]


def test_headless_without_ports_and_portless_clusterip_service():
    r = sync_endpoints(svc(ports=(), cluster_ip="None"), [pod(1)], None, trigger_time=None)
    assert len(r.obj.subsets) == 1
    assert r.obj.subsets[0].ports == ()
    assert len(r.obj.subsets[0].addresses) == 1
    assert dict(r.obj.labels)[LABEL_HEADLESS] == ""
    r = sync_endpoints(svc(ports=()), [pod(1)], None, trigger_time=None)
    assert r.obj.subsets == ()


# ---------------------------------------------------------------------------------------
# Truncation to 1000 addresses (truncateEndpoints; upstream TestTruncateEndpoints)


def _subsets(ready: list[int], not_ready: list[int]) -> list[EndpointSubset]:
    def mk(k: int, base: int) -> tuple[EndpointAddress, ...]:
        return tuple(EndpointAddress(f"10.{base}.{j // 250}.{j % 250}") for j in range(k))

    return [
        EndpointSubset(addresses=mk(r, 2 * i), not_ready_addresses=mk(nr, 2 * i + 1))
        for i, (r, nr) in enumerate(zip(ready, not_ready, strict=True))
    ]


def test_t16a_exactly_1000_untouched():
    subsets = _subsets([50, 100, 100, 100, 100], [50, 100, 100, 100, 100])
    out, truncated = truncate_subsets(subsets)
    assert not truncated
    assert [len(s.not_ready_addresses) for s in out] == [50, 100, 100, 100, 100]


def test_t16b_not_ready_shared_proportionally():
    subsets = _subsets([90, 110, 50, 10, 20], [101, 200, 200, 201, 298])
    out, truncated = truncate_subsets(subsets)
    assert truncated
    assert [len(s.addresses) for s in out] == [90, 110, 50, 10, 20]
    assert [len(s.not_ready_addresses) for s in out] == [73, 144, 144, 145, 214]
    # The first entries of each list are kept.
    assert out[0].not_ready_addresses == subsets[0].not_ready_addresses[:73]


def test_truncation_of_ready_drops_all_not_ready():
    subsets = _subsets([600, 300, 300], [10, 10, 10])
    out, truncated = truncate_subsets(subsets)
    assert truncated
    # ceil(600/1200·1000)=500, ceil(300/1200·1000)=250, last capped at 250.
    assert [len(s.addresses) for s in out] == [500, 250, 250]
    assert all(not s.not_ready_addresses for s in out)


def test_over_capacity_annotation_and_exact_1000():
    pods_1000 = [pod(i) for i in range(1000)]
    r = sync_endpoints(svc(), pods_1000, None, trigger_time=None)
    assert not r.truncated and ANNOTATION_OVER_CAPACITY not in dict(r.obj.annotations)
    pods_1001 = [*pods_1000, pod(1000)]
    r = sync_endpoints(svc(), pods_1001, None, trigger_time=None)
    assert r.truncated
    assert r.obj.address_count == MAX_CAPACITY
    assert dict(r.obj.annotations)[ANNOTATION_OVER_CAPACITY] == "truncated"
    assert (r.ready, r.not_ready) == (1001, 0)


def test_ready_kept_first_when_truncating():
    pods = [pod(i, ready=i % 2 == 0) for i in range(1400)]  # 700 ready, 700 not ready
    r = sync_endpoints(svc(), pods, None, trigger_time=None)
    assert counts(r) == (700, 300)


def test_stale_over_capacity_annotation_is_removed_or_rewritten():
    p = [pod(i) for i in range(10)]
    first = sync_endpoints(svc(), p, None, trigger_time=None).obj
    warned = dataclasses.replace(first, annotations=((ANNOTATION_OVER_CAPACITY, "warning"),))
    r = sync_endpoints(svc(), p, warned, trigger_time=None)
    assert r.action == "update"  # annotation not "correct" → write even though subsets equal
    assert ANNOTATION_OVER_CAPACITY not in dict(r.obj.annotations)
    many = [pod(i) for i in range(1200)]
    r = sync_endpoints(svc(), many, warned, trigger_time=None)
    assert dict(r.obj.annotations)[ANNOTATION_OVER_CAPACITY] == "truncated"


def test_over_capacity_quirk_updates_on_every_sync():
    many = [pod(i) for i in range(1500)]
    stored = sync_endpoints(svc(), many, None, trigger_time=None).obj
    for _ in range(3):
        r = sync_endpoints(svc(), many, stored, trigger_time=None)
        assert r.action == "update"  # stored is truncated, recomputed is not: syncService rewrites
        assert r.obj == stored  # identical content: the apiserver makes it a no-op
        stored = r.obj


# ---------------------------------------------------------------------------------------
# syncService: skip-if-unchanged, labels and annotations, corner cases


def test_skip_if_unchanged_and_what_breaks_it():
    p = [pod(i) for i in range(20)]
    service = svc(labels=(("team", "a"),))
    stored = sync_endpoints(service, p, None, trigger_time=5.0).obj
    assert (
        sync_endpoints(service, p, stored, trigger_time=9.0).action == "none"
    )  # trigger time ignored
    # A pod change that doesn't touch the address: same object → skip.
    touched = [dataclasses.replace(x, ready_transition_time=3.0) for x in p]
    assert sync_endpoints(service, touched, stored, trigger_time=None).action == "none"
    # Readiness change → update.
    flipped = [dataclasses.replace(p[0], ready=False), *p[1:]]
    assert sync_endpoints(service, flipped, stored, trigger_time=None).action == "update"
    # Service label change → update.
    relabelled = svc(labels=(("team", "b"),))
    assert sync_endpoints(relabelled, p, stored, trigger_time=None).action == "update"


def test_headless_label_ignored_in_comparison():
    service = svc(cluster_ip="None")
    p = [pod(i) for i in range(3)]
    stored = sync_endpoints(service, p, None, trigger_time=None).obj
    labels = dict(stored.labels)
    assert labels == {LABEL_HEADLESS: "", LABEL_EP_MANAGED_BY: "endpoint-controller"}
    assert sync_endpoints(service, p, stored, trigger_time=None).action == "none"
    # Becoming non-headless alone does not trigger a write (label compare ignores it).
    assert sync_endpoints(svc(), p, stored, trigger_time=None).action == "none"


def test_labels_annotations_and_identity():
    service = svc(labels=(("app", "web"),))
    r = sync_endpoints(service, [pod(1)], None, trigger_time=1.25)
    obj = r.obj
    assert (obj.name, obj.namespace) == ("web", "default")
    assert dict(obj.labels) == {"app": "web", LABEL_EP_MANAGED_BY: "endpoint-controller"}
    assert dict(obj.annotations) == {ANNOTATION_TRIGGER_TIME: "2026-01-01T00:00:01.25Z"}
    # Update without trigger time removes the annotation; other annotations survive.
    kept = dataclasses.replace(obj, uid="ep-uid", annotations=(*obj.annotations, ("x", "y")))
    r2 = sync_endpoints(service, [pod(1), pod(2)], kept, trigger_time=None)
    assert r2.action == "update"
    assert dict(r2.obj.annotations) == {"x": "y"}
    assert r2.obj.uid == "ep-uid"


def test_lifecycle_corner_cases():
    stored = Endpoints(name="web")
    assert sync_endpoints(None, [], stored, trigger_time=None).action == "delete"
    assert sync_endpoints(None, [], stored, trigger_time=None).obj is stored
    assert sync_endpoints(None, [], None, trigger_time=None).action == "none"
    assert (
        sync_endpoints(svc(type="ExternalName"), [pod(1)], None, trigger_time=None).action == "none"
    )
    assert sync_endpoints(svc(selector=None), [pod(1)], stored, trigger_time=None).action == "none"


def test_desired_subsets_is_untruncated():
    assert (
        sum(len(s.addresses) for s in desired_subsets(svc(), [pod(i) for i in range(1100)])) == 1100
    )


def test_rfc3339nano_rendering():
    assert rfc3339nano(0.0) == "2026-01-01T00:00:00Z"
    assert rfc3339nano(61.5) == "2026-01-01T00:01:01.5Z"
    assert rfc3339nano(0.000000123) == "2026-01-01T00:00:00.000000123Z"


# ---------------------------------------------------------------------------------------
# TriggerTimeTracker (util/trigger_time_tracker.go)


def test_trigger_time_tracker():
    tracker = TriggerTimeTracker()
    service = svc(creation_time=2.0)
    p1 = pod(1, ready_transition_time=5.0)
    p2 = pod(2, ready_transition_time=7.0)
    assert tracker.compute(service, [p1, p2]) == 2.0  # first sight → creation time
    assert tracker.compute(service, [p1, p2]) is None  # nothing changed
    p2b = dataclasses.replace(p2, ready_transition_time=9.0)
    p3 = pod(3, ready_transition_time=8.0)
    assert tracker.compute(service, [p1, p2b, p3]) == 8.0  # min of the changed ones
    assert tracker.compute(service, [p1, p2b]) is None  # a pod leaving is no trigger
    tracker.delete_service("default", "web")
    assert tracker.compute(service, [p1]) == 2.0
    updated = dataclasses.replace(service, creation_time=50.0)
    p1b = dataclasses.replace(p1, ready_transition_time=60.0)
    assert tracker.compute(updated, [p1b]) == 50.0
