"""EndpointSliceMirroring controller (``pkg/controller/endpointslicemirroring/``)."""

from __future__ import annotations

import dataclasses

from simk8s.api.naming import SequentialNames
from simk8s.api.objects import (
    ANNOTATION_TRIGGER_TIME,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY_MIRRORING_CONTROLLER,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    ObjectReference,
    Service,
)
from simk8s.controller.endpointslice import apply_plan
from simk8s.controller.mirroring import ANNOTATION_LEADER, LABEL_SKIP_MIRROR, mirror

SERVICE = Service(name="ext", uid="svc-uid", selector=None)


def addr(i: int, **kw) -> EndpointAddress:
    base = {
        "ip": f"192.168.{i // 250}.{i % 250 + 1}",
        "node_name": f"node-{i % 2}",
        "target_ref": ObjectReference("Pod", "default", f"p{i}", f"u{i}"),
    }
    base.update(kw)
    return EndpointAddress(**base)


HTTP_8080 = (EndpointPort(8080, "http"),)


def endpoints(ready=(), not_ready=(), ports=HTTP_8080, **kw) -> Endpoints:
    base = {
        "name": "ext",
        "uid": "ep-uid",
        "labels": (("team", "a"),),
        "annotations": (
            ("note", "x"),
            (ANNOTATION_TRIGGER_TIME, "2026-01-01T00:00:01Z"),
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
        ),
        "subsets": (EndpointSubset(tuple(ready), tuple(not_ready), ports),),
    }
    base.update(kw)
    return Endpoints(**base)


def run(ep, existing=(), service=SERVICE, max_per_subset=1000):
    return mirror(
        ep, service, list(existing), max_per_subset=max_per_subset, name_for=SequentialNames()
    )


def test_mirrors_ready_and_not_ready_addresses():
    ep = endpoints([addr(1), addr(2, hostname="h2")], [addr(3)])
    plan = run(ep)
    (s,) = plan.creates
    by_ip = {e.addresses[0]: e for e in s.endpoints}
    assert by_ip["192.168.0.2"].ready is True
    assert by_ip["192.168.0.4"].ready is False  # fixed by PR #102683
    assert by_ip["192.168.0.3"].hostname == "h2"
    assert all(e.serving is None and e.terminating is None for e in s.endpoints)
    assert by_ip["192.168.0.2"].node_name == "node-1"
    assert (s.owner_kind, s.owner_name, s.owner_uid) == ("Endpoints", "ext", "ep-uid")
    assert dict(s.labels) == {
        "team": "a",
        LABEL_SERVICE_NAME: "ext",
        LABEL_MANAGED_BY: MANAGED_BY_MIRRORING_CONTROLLER,
    }
    assert dict(s.annotations) == {"note": "x"}  # trigger time and last-applied not copied
    assert s.generate_name == "ext-" and s.ports == (EndpointPort(8080, "http"),)


def test_per_subset_cap_ready_first():
    ep = endpoints([addr(i) for i in range(8)], [addr(100 + i) for i in range(5)])
    plan = run(ep, max_per_subset=10)
    (s,) = plan.creates
    assert len(s.endpoints) == 10
    assert sum(e.ready for e in s.endpoints) == 8  # all ready kept, 2 of 5 not-ready
    assert plan.addresses_skipped == 3


def test_default_cap_is_1000_per_subset():
    ep = endpoints([addr(i) for i in range(1200)])
    plan = run(ep)
    assert [len(s.endpoints) for s in plan.creates] == [1000]
    assert plan.addresses_skipped == 200


def test_one_slice_per_port_set_and_family_and_invalid_ips_skipped():
    ep = Endpoints(
        name="ext",
        uid="ep-uid",
        subsets=(
            EndpointSubset(
                (addr(1), addr(2, ip="fd00::0001"), addr(3, ip="not-an-ip")),
                (),
                (EndpointPort(80),),
            ),
            EndpointSubset((addr(4),), (), (EndpointPort(443),)),
        ),
    )
    plan = run(ep)
    shapes = sorted(
        (s.address_type, s.ports[0].port, tuple(e.addresses for e in s.endpoints))
        for s in plan.creates
    )
    assert shapes == [
        ("IPv4", 80, (("192.168.0.2",),)),
        ("IPv4", 443, (("192.168.0.5",),)),
        ("IPv6", 80, (("fd00::1",),)),
    ]
    assert plan.addresses_skipped == 1


def test_unchanged_mirror_writes_nothing_and_changes_rewrite_first_slice():
    ep = endpoints([addr(1), addr(2)])
    slices = apply_plan([], run(ep))
    assert run(ep, slices).writes == 0
    changed = endpoints([addr(1), addr(2), addr(3)])
    plan = run(changed, slices)
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (0, 1, 0)
    assert plan.updates[0].name == slices[0].name and len(plan.updates[0].endpoints) == 3
    relabelled = dataclasses.replace(ep, labels=(("team", "b"),))
    assert len(run(relabelled, slices).updates) == 1
    reannotated = dataclasses.replace(ep, annotations=(("note", "y"),))
    assert len(run(reannotated, slices).updates) == 1
    # Only the trigger-time annotation changed → still nothing to write.
    retimed = dataclasses.replace(
        ep, annotations=(("note", "x"), (ANNOTATION_TRIGGER_TIME, "later"))
    )
    assert run(retimed, slices).writes == 0


def test_extra_slices_of_a_group_deleted():
    ep = endpoints([addr(1)])
    (first,) = apply_plan([], run(ep))
    dup = dataclasses.replace(first, name="ext-dup")
    plan = run(ep, [first, dup])
    assert plan.creates == [] and plan.updates == []
    assert [s.name for s in plan.deletes] == ["ext-dup"]


def test_port_change_recycles_slice():
    ep = endpoints([addr(1)])
    slices = apply_plan([], run(ep))
    moved = endpoints([addr(1)], ports=(EndpointPort(9090, "http"),))
    plan = run(moved, slices)
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (0, 1, 0)
    assert plan.updates[0].name == slices[0].name
    assert plan.updates[0].ports[0].port == 9090


def test_no_addresses_means_no_slices_and_no_placeholder():
    plan = run(endpoints())
    assert plan.writes == 0
    slices = apply_plan([], run(endpoints([addr(1)])))
    plan = run(endpoints(), slices)
    assert [s.name for s in plan.deletes] == [slices[0].name] and not plan.creates


def test_not_mirrored_cases_delete_everything():
    slices = apply_plan([], run(endpoints([addr(1)])))
    with_selector = dataclasses.replace(SERVICE, selector=(("app", "x"),))
    assert len(run(endpoints([addr(1)]), slices, service=with_selector).deletes) == 1
    assert len(run(endpoints([addr(1)]), slices, service=None).deletes) == 1
    skip = endpoints([addr(1)], labels=((LABEL_SKIP_MIRROR, "true"),))
    assert len(run(skip, slices).deletes) == 1
    leader = endpoints([addr(1)], annotations=((ANNOTATION_LEADER, "{}"),))
    assert len(run(leader, slices).deletes) == 1
    assert len(run(None, slices).deletes) == 1
    assert run(skip).writes == 0


def test_endpoints_being_deleted_get_updates_and_deletes_but_no_creates():
    # reconciler.go finalize: creates are skipped while deletionTimestamp is set.
    assert len(run(endpoints([addr(1)])).creates) == 1
    deleting = endpoints([addr(1)], deletion_timestamp=5.0)
    assert run(deleting).writes == 0
    # One port set, then two: the new port set would need a create.
    slices = apply_plan([], run(endpoints([addr(1)])))
    two_ports = dataclasses.replace(
        deleting,
        subsets=(
            EndpointSubset((addr(1), addr(2)), (), HTTP_8080),
            EndpointSubset((addr(3),), (), (EndpointPort(443),)),
        ),
    )
    plan = run(two_ports, slices)
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (0, 1, 0)
    assert len(plan.updates[0].endpoints) == 2
    # A port change recycles the old slice into an update, which still goes.
    moved = endpoints([addr(1)], ports=(EndpointPort(9090, "http"),), deletion_timestamp=5.0)
    plan = run(moved, slices)
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (0, 1, 0)
    # Addresses gone: the slice is deleted.
    plan = run(endpoints(deletion_timestamp=5.0), slices)
    assert [s.name for s in plan.deletes] == [slices[0].name]
