"""EndpointSlice reconciler (``staging/src/k8s.io/endpointslice/reconciler.go``), incl.
cases of upstream ``reconciler_test.go`` (named at each test)."""

from __future__ import annotations

import dataclasses

import builders
import pytest

from simk8s.api.naming import SequentialNames
from simk8s.api.objects import (
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY_SLICE_CONTROLLER,
    SUCCEEDED,
    ContainerPort,
    Endpoint,
    EndpointSlice,
    Pod,
    Service,
    ServicePort,
)
from simk8s.controller.endpointslice import (
    SliceGates,
    SlicePlan,
    apply_plan,
    desired_endpoints,
    pod_to_endpoint,
    reconcile,
)
from simk8s.controller.podutil import port_map_key

SELECTOR = builders.SELECTOR
NODES = {"node-0": "zone-a", "node-1": "zone-b", "node-2": "zone-c"}
ALL_GATES = SliceGates()
ALL_GATES = SliceGates()


svc = builders.service


def pod(i: int, **kw) -> Pod:
    return builders.pod(i, name="pod{i}", uid="uid-{i}", subnet="10.1", **kw)


def run(service, pods, existing=(), *, max_eps=100, nodes=NODES, trigger=None, gates=ALL_GATES) -> SlicePlan:
    return reconcile(
        service,
        pods,
        list(existing),
        max_endpoints_per_slice=max_eps,
        nodes=nodes,
        trigger_time=trigger,
        name_for=SequentialNames(),
        gates=gates,
    )


def sizes(slices) -> list[int]:
    return sorted(len(s.endpoints) for s in slices)


def slice_with(service: Service, endpoints, name: str, **kw) -> EndpointSlice:
    """An existing slice as the controller would have written it."""
    base = {
        "name": name,
        "namespace": service.namespace,
        "uid": f"uid-{name}",
        "generate_name": "web-",
        "generation": 3,
        "labels": (
            (LABEL_MANAGED_BY, MANAGED_BY_SLICE_CONTROLLER),
            (LABEL_SERVICE_NAME, service.name),
        ),
        "owner_name": service.name,
        "owner_uid": service.uid,
        "endpoints": tuple(endpoints),
        "ports": port_map_key(tuple(_eps_ports(service))),
    }
    base.update(kw)
    return EndpointSlice(**base)


def _eps_ports(service: Service):
    from simk8s.api.objects import EndpointPort

    return [EndpointPort(port=p.port, name=p.name, protocol=p.protocol) for p in service.ports]


def desired_list(service, pods) -> list[Endpoint]:
    d = desired_endpoints(service, pods, NODES)
    (group,) = d.groups["IPv4"].values()
    return list(group.values())


# ---------------------------------------------------------------------------------------
# Endpoint conditions (utils.go podToEndpoint)

CONDITIONS = [
    # ready pod, terminating, publishNotReady → (ready, serving, terminating)
    (True, False, False, (True, True, False)),
    (False, False, False, (False, False, False)),
    (True, True, False, (False, True, True)),
    (False, True, False, (False, False, True)),
    (False, False, True, (True, False, False)),
    (False, True, True, (True, False, True)),
    (True, True, True, (True, True, True)),
]


@pytest.mark.parametrize(("ready", "terminating", "publish", "expected"), CONDITIONS)
def test_conditions_truth_table(ready, terminating, publish, expected):
    p = pod(1, ready=ready, terminating=terminating)
    ep = pod_to_endpoint(p, svc(publish_not_ready_addresses=publish), "IPv4", "zone-b")
    assert (ep.ready, ep.serving, ep.terminating) == expected
    plan = run(svc(publish_not_ready_addresses=publish), [p])
    assert len(plan.creates[0].endpoints) == 1  # terminating pods are kept in slices


BEFORE_1_22 = SliceGates(terminating_condition=False, topology_aware_hints=False)


@pytest.mark.parametrize(("ready", "terminating", "publish", "expected"), CONDITIONS)
def test_without_terminating_condition_gate_only_ready_is_written(ready, terminating, publish, expected):
    # KEP-1672 off (<= 1.21): podToEndpoint sets Ready only; terminating pods are left out
    # unless publishNotReadyAddresses, as in Endpoints.
    p = pod(1, ready=ready, terminating=terminating)
    service = svc(publish_not_ready_addresses=publish)
    ep = pod_to_endpoint(p, service, "IPv4", "zone-b", terminating_condition=False)
    assert (ep.ready, ep.serving, ep.terminating) == (expected[0], None, None)
    plan = run(service, [p], gates=BEFORE_1_22)
    assert len(plan.creates[0].endpoints) == (0 if terminating and not publish else 1)


def test_terminating_pod_leaves_the_slice_when_its_deletion_starts_without_the_gate():
    pods = [pod(i) for i in range(3)]
    slices = apply_plan([], run(svc(), pods, gates=BEFORE_1_22))
    deleting = [pods[0], pods[1], pod(2, terminating=True)]
    plan = run(svc(), deleting, slices, gates=BEFORE_1_22)
    (update,) = plan.updates
    assert [e.target_ref.name for e in update.endpoints] == ["pod0", "pod1"]
    assert (plan.endpoints_added, plan.endpoints_removed) == (0, 1)
    # With the gate the pod stays, serving and terminating, not ready.
    slices = apply_plan([], run(svc(), pods))
    (update,) = run(svc(), deleting, slices).updates
    assert [(e.ready, e.serving, e.terminating) for e in update.endpoints][2] == (False, True, True)


def test_terminal_and_ipless_pods_excluded():
    plan = run(svc(), [pod(1, phase=SUCCEEDED), pod(2, pod_ips=())])
    assert [len(s.endpoints) for s in plan.creates] == [0]  # placeholder only


# ---------------------------------------------------------------------------------------
# Cases of upstream reconciler_test.go


def test_empty_service_creates_placeholder():  # TestReconcileEmpty
    plan = run(svc(), [])
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (1, 0, 0)
    s = plan.creates[0]
    assert s.name.startswith("web-")
    assert s.ports == () and s.endpoints == ()
    assert dict(s.labels)[LABEL_SERVICE_NAME] == "web"


def test_placeholder_already_there():  # TestReconcile1EndpointSlice
    service = svc()
    placeholder = run(service, []).creates[0]
    assert run(service, [], [placeholder]).writes == 0  # (b) identical → no write
    odd = dataclasses.replace(placeholder, labels=(*placeholder.labels, ("bar", "baz")))
    plan = run(service, [], [odd])  # (c) labels differ → recycled update
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (0, 1, 0)
    assert plan.updates[0].name == odd.name
    assert "bar" not in dict(plan.updates[0].labels)
    assert len(apply_plan([odd], plan)) == 1


def test_many_pods_no_slices():  # TestReconcileManyPods
    pods = [pod(i, ready=i % 3 != 0) for i in range(250)]
    plan = run(svc(), pods)
    assert sizes(plan.creates) == [50, 100, 100]
    assert plan.endpoints_added == 250
    assert plan.updates == [] and plan.deletes == []


@pytest.mark.parametrize(
    ("max_eps", "expected"),
    [(50, [50] * 5), (80, [10, 80, 80, 80]), (150, [100, 150]), (250, [250]), (500, [250])],
)
def test_max_endpoints_per_slice(max_eps, expected):  # TestReconcileMaxEndpointsPerSlice
    pods = [pod(i, ready=i % 3 != 0) for i in range(250)]
    plan = run(svc(), pods, max_eps=max_eps)
    assert sizes(plan.creates) == expected
    assert len(plan.creates) == len(expected)


# TestReconcileEndpointSlicesSomePreexisting
def test_fill_closest_to_full_unchanged_slice():
    service = svc()
    pods = [pod(i) for i in range(250)]
    eps = desired_list(service, pods)
    a = slice_with(service, eps[:62], "web-a")
    b = slice_with(service, eps[62:123], "web-b")
    plan = run(service, pods, [a, b])
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (1, 1, 0)
    assert len(plan.creates[0].endpoints) == 100
    assert plan.updates[0].name == "web-a"
    assert len(plan.updates[0].endpoints) == 89
    assert plan.updates[0].endpoints[:62] == a.endpoints  # kept endpoints keep their order
    assert plan.updates[0].generation == a.generation + 1
    assert plan.endpoints_added == 127
    assert sizes(apply_plan([a, b], plan)) == [61, 89, 100]


# The example of https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/
def test_docs_example_prefers_one_create_over_two_updates():
    service = svc()
    pods = [pod(i) for i in range(200)]
    eps = desired_list(service, pods)
    a = slice_with(service, eps[:95], "web-a")
    b = slice_with(service, eps[95:190], "web-b")
    plan = run(service, pods, [a, b])
    assert (len(plan.creates), len(plan.updates)) == (1, 0)
    assert len(plan.creates[0].endpoints) == 10


def test_missing_node():  # TestReconcilerPodMissingNode
    service = svc()
    pods = [pod(0, node_name="node-0"), pod(1, node_name="node-1")]
    only0 = {"node-0": "zone-a"}
    plan = run(service, pods, nodes=only0)
    assert plan.error
    assert [len(s.endpoints) for s in plan.creates] == [1]
    plan = run(svc(publish_not_ready_addresses=True), pods, nodes=only0)
    assert not plan.error
    assert [len(s.endpoints) for s in plan.creates] == [2]
    assert {e.zone for e in plan.creates[0].endpoints} == {"zone-a", None}
    existing = slice_with(service, desired_list(service, pods), "web-x")
    plan = run(service, pods, [existing], nodes=only0)
    assert plan.error and len(plan.updates) == 1 and not plan.creates and not plan.deletes
    assert len(plan.updates[0].endpoints) == 1
    plan = run(service, pods, [existing], nodes={})
    assert plan.error and not plan.creates and not plan.deletes
    (upd,) = plan.updates
    assert upd.name == "web-x" and upd.endpoints == ()  # updated, not deleted


def test_dual_stack():  # TestReconcile1Pod "dualstack-service"
    service = svc(ip_families=("IPv4", "IPv6"), cluster_ip=None)
    p = pod(
        1,
        node_name="node-1",
        pod_ips=("1.2.3.4", "1234::5678:0000:0000:9abc:def0"),
        hostname="h",
        subdomain="other",
    )
    plan = run(service, [p], nodes={"node-1": "us-central1-a"})
    assert len(plan.creates) == 2
    by_type = {s.address_type: s for s in plan.creates}
    assert by_type["IPv4"].endpoints[0].addresses == ("1.2.3.4",)
    assert by_type["IPv6"].endpoints[0].addresses == ("1234::5678:0:0:9abc:def0",)
    ep = by_type["IPv4"].endpoints[0]
    assert (ep.ready, ep.serving, ep.terminating) == (True, True, False)
    assert (ep.zone, ep.node_name, ep.hostname) == ("us-central1-a", "node-1", "")
    assert dict(by_type["IPv4"].labels) == {
        LABEL_MANAGED_BY: MANAGED_BY_SLICE_CONTROLLER,
        LABEL_SERVICE_NAME: "web",
        LABEL_HEADLESS: "",  # cluster_ip unset → headless label
    }


def test_port_groups_300_pods_5_ports():
    service = svc(ports=(ServicePort(port=80, name="http", target_port="web"),))
    pods = [pod(i, container_ports=(ContainerPort(8000 + i % 5, "web"),)) for i in range(300)]
    plan = run(service, pods)
    assert sizes(plan.creates) == [60] * 5
    assert len({s.ports for s in plan.creates}) == 5


def test_unresolvable_ports_go_to_the_empty_port_group():
    service = svc(ports=(ServicePort(port=80, name="http", target_port="missing"),))
    plan = run(service, [pod(1)])
    assert plan.creates[0].ports == () and len(plan.creates[0].endpoints) == 1


# ---------------------------------------------------------------------------------------
# Placeholders, recycling, write order, stale slices


def test_all_pods_gone_recycles_last_slice_into_placeholder():
    service = svc()
    pods = [pod(i) for i in range(250)]
    existing = apply_plan([], run(service, pods))
    plan = run(service, [], existing)
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (0, 1, 2)
    assert plan.updates[0].endpoints == () and plan.updates[0].ports == ()
    assert plan.updates[0].name in {s.name for s in existing}
    after = apply_plan(existing, plan)
    assert len(after) == 1
    assert run(service, [], after).writes == 0


def test_first_pods_recycle_the_placeholder():
    service = svc()
    placeholder = apply_plan([], run(service, []))
    plan = run(service, [pod(1), pod(2)], placeholder)
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (0, 1, 0)
    assert plan.updates[0].name == placeholder[0].name
    assert len(plan.updates[0].endpoints) == 2


def test_write_order_and_recycling_with_port_change():
    service = svc()
    pods = [pod(i) for i in range(250)]
    existing = apply_plan([], run(service, pods))  # 3 slices
    changed = svc(ports=(ServicePort(port=8080, name="http"),))
    plan = run(changed, pods, existing)
    # 3 new slices wanted, 3 stale ones: all recycled into updates.
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (0, 3, 0)
    assert {s.name for s in plan.updates} == {s.name for s in existing}
    assert all(s.ports[0].port == 8080 for s in plan.updates)
    more = [pod(i) for i in range(450)]
    plan = run(changed, more, existing)
    assert (len(plan.creates), len(plan.updates), len(plan.deletes)) == (2, 3, 0)


def test_not_owned_and_stale_address_type_slices_deleted():
    service = svc()
    other_owner = slice_with(service, [], "web-old", owner_uid="old-uid")
    v6 = slice_with(service, [], "web-v6", address_type="IPv6")
    plan = run(service, [pod(1)], [v6, other_owner])
    assert [len(s.endpoints) for s in plan.creates] == [1]  # neither is recycled
    assert plan.updates == []
    assert [s.name for s in plan.deletes] == ["web-old", "web-v6"]  # stale type last


def test_not_owned_slice_is_not_recycled():
    service = svc()
    other_owner = slice_with(service, [], "web-old", owner_uid="old-uid")
    plan = run(service, [pod(1)], [other_owner])
    assert len(plan.creates) == 1 and not plan.updates
    assert [s.name for s in plan.deletes] == ["web-old"]


def test_stale_address_type_deleted_after_the_rest():
    service = svc()
    v6 = slice_with(service, [], "web-v6", address_type="IPv6")
    plan = run(service, [pod(1)], [v6])
    assert len(plan.creates) == 1  # the IPv6 slice is not recycled into IPv4
    assert [s.name for s in plan.deletes] == ["web-v6"]


def test_write_order_is_create_update_delete():
    service = svc()
    pods = [pod(i) for i in range(150)]
    existing = apply_plan([], run(service, pods))  # 100 + 50
    # Drop 100 pods of the full slice, add 160 new ones.
    newer = pods[100:] + [pod(1000 + i) for i in range(160)]
    plan = run(service, newer, existing)
    assert plan.writes >= 2
    order = (
        ["create"] * len(plan.creates)
        + ["update"] * len(plan.updates)
        + ["delete"] * len(plan.deletes)
    )
    assert order == sorted(order, key=["create", "update", "delete"].index)


# ---------------------------------------------------------------------------------------
# Labels, owner, names, annotations, generation (utils.go newEndpointSlice, setEndpointSliceLabels)


def test_slice_metadata():
    service = svc(labels=(("team", "a"), (LABEL_SERVICE_NAME, "evil")))
    plan = run(service, [pod(1)], trigger=3.5)
    s = plan.creates[0]
    assert s.generate_name == "web-" and s.name.startswith("web-") and len(s.name) == 9
    assert (s.owner_kind, s.owner_name, s.owner_uid) == ("Service", "web", "svc-uid")
    assert dict(s.labels) == {
        "team": "a",
        LABEL_SERVICE_NAME: "web",
        LABEL_MANAGED_BY: MANAGED_BY_SLICE_CONTROLLER,
    }
    assert dict(s.annotations) == {ANNOTATION_TRIGGER_TIME: "2026-01-01T00:00:03.5Z"}
    assert s.generation == 1 and s.uid == ""


def test_service_label_changes():
    service = svc(labels=(("team", "a"),))
    pods = [pod(i) for i in range(150)]
    existing = apply_plan([], run(service, pods))
    reserved_only = svc(labels=(("team", "a"), (LABEL_MANAGED_BY, "someone")))
    assert run(reserved_only, pods, existing).writes == 0  # reserved labels ignored
    relabel = svc(labels=(("team", "b"),))
    plan = run(relabel, pods, existing)
    assert len(plan.updates) == 2 and not plan.creates and not plan.deletes
    assert all(dict(s.labels)["team"] == "b" for s in plan.updates)


def test_updates_keep_annotations_and_bump_generation():
    service = svc()
    existing = apply_plan([], run(service, [pod(1)], trigger=1.0))
    old = dataclasses.replace(
        existing[0], uid="u1", annotations=(*existing[0].annotations, ("x", "y"))
    )
    plan = run(service, [pod(1), pod(2)], [old], trigger=None)
    (upd,) = plan.updates
    assert (upd.uid, upd.generation) == ("u1", old.generation + 1)
    assert dict(upd.annotations) == {"x": "y"}  # trigger-time annotation removed


def test_endpoint_changes_update_in_place():
    service = svc()
    pods = [pod(i) for i in range(10)]
    existing = apply_plan([], run(service, pods))
    moved = [dataclasses.replace(pods[0], node_name="node-2"), *pods[1:]]
    plan = run(service, moved, existing)
    assert len(plan.updates) == 1 and plan.endpoints_added == 0 and plan.endpoints_removed == 0
    assert plan.updates[0].endpoints[0].zone == "zone-c"
    # Identity change (new IP) = remove + add.
    readdressed = [dataclasses.replace(pods[0], pod_ips=("10.9.9.9",)), *pods[1:]]
    plan = run(service, readdressed, existing)
    assert (plan.endpoints_added, plan.endpoints_removed) == (1, 1)


def test_not_selected_services_produce_no_plan():
    assert run(None, [pod(1)]).writes == 0
    assert run(svc(type="ExternalName"), [pod(1)]).writes == 0
    assert run(svc(selector=None), [pod(1)]).writes == 0


# ---------------------------------------------------------------------------------------
# Hints (trafficdist/, topologycache/)


def test_without_topology_aware_hints_gate_the_annotation_gives_no_hints():
    # TopologyAwareHints off (<= 1.23): no topologyCache, so hintsEnabled is never asked.
    annotated = svc(annotations=(("service.kubernetes.io/topology-mode", "Auto"),))
    pods = [pod(i) for i in range(30)]
    assert all(e.hints_for_zones for e in run(annotated, pods).creates[0].endpoints)
    off = SliceGates(topology_aware_hints=False)
    plan = run(annotated, pods, gates=off)
    assert not any(e.hints_for_zones or e.hints_for_nodes for e in plan.creates[0].endpoints)
    # Slices hinted by an earlier controller lose their hints (RemoveHintsFromSlices).
    hinted = apply_plan([], run(annotated, pods))
    plan = run(annotated, pods, hinted, gates=off)
    assert len(plan.updates) == 1 and not any(e.hints_for_zones for e in plan.updates[0].endpoints)


def test_traffic_distribution_hints():
    pods = [pod(i) for i in range(6)] + [pod(6, ready=False)]
    plan = run(svc(traffic_distribution="PreferClose"), pods)
    eps = plan.creates[0].endpoints
    assert all(e.hints_for_zones == (e.zone,) for e in eps if e.ready)
    assert eps[-1].hints_for_zones == ()
    plan = run(svc(traffic_distribution="PreferSameNode"), pods)
    assert all(e.hints_for_nodes == (e.node_name,) for e in plan.creates[0].endpoints if e.ready)


def test_hint_changes_move_unchanged_slices_to_updates():
    pods = [pod(i) for i in range(6)]
    plain = apply_plan([], run(svc(), pods))
    plan = run(svc(traffic_distribution="PreferClose"), pods, plain)
    assert len(plan.updates) == 1 and plan.updates[0].endpoints[0].hints_for_zones
    hinted = apply_plan(plain, plan)
    assert run(svc(traffic_distribution="PreferClose"), pods, hinted).writes == 0
    stripped = run(svc(), pods, hinted)  # no trafficDistribution → hints removed
    assert len(stripped.updates) == 1
    assert all(not e.hints_for_zones for e in stripped.updates[0].endpoints)


def test_topology_mode_auto_hints():
    annotated = svc(annotations=(("service.kubernetes.io/topology-mode", "Auto"),))
    pods = [pod(i) for i in range(30)]  # 10 per zone, 3 nodes in 3 zones
    plan = run(annotated, pods)
    assert all(e.hints_for_zones == (e.zone,) for e in plan.creates[0].endpoints)
    # Unbalanced: 8 endpoints in zone-a, 1 in b, 1 in c → some hinted to b and c.
    skewed = [pod(i * 3) for i in range(8)] + [pod(1), pod(2)]
    plan = run(annotated, skewed)
    hinted = [e.hints_for_zones[0] for e in plan.creates[0].endpoints]
    # minimum per zone = ceil(10/3 / 1.2) = 3: zone-a gives 2 to b and 2 to c.
    assert sorted(hinted) == ["zone-a"] * 4 + ["zone-b"] * 3 + ["zone-c"] * 3
    # One zone only → hints cannot be used.
    plan = run(annotated, pods, nodes={"node-0": "z", "node-1": "z", "node-2": "z"})
    assert all(not e.hints_for_zones for e in plan.creates[0].endpoints)
