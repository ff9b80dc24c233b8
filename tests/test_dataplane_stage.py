"""The data-path stage's fast paths against plain per-record / per-connection definitions.

The stage indexes endpoint records by identity and by runs shared with the previous write
(simk8s.dataplane.rowindex), gathers versions lazily, answers Cluster-policy pools without
building versions, and looks up each node's programmed writes with one search per node.
Each is held here to the straightforward computation it replaces.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from simk8s.api import objects as api
from simk8s.dataplane.endpoint_table import EndpointIndex
from simk8s.dataplane.inputs import EndpointVersion, LazyVersions, ServiceHistory
from simk8s.dataplane.ipvs_schedulers import node_time_order
from simk8s.dataplane.rowindex import IdentityRows, rows_along
from simk8s.dataplane.selection import cluster_base_pool
from simk8s.dataplane.stage import applied_at_by_node, build_history
from simk8s.proxy.fleet import FleetResult, SyncTable
from simk8s.proxy.stream import legacy_endpoint

# --------------------------------------------------------------------------- rowindex


@dataclass(frozen=True, slots=True)
class Rec:
    value: int


def test_identity_rows_number_new_objects_in_order_of_appearance():
    objs = [Rec(i % 7) for i in range(200)]  # equal values, distinct objects: distinct rows
    made: list[Rec] = []

    def make(o):
        made.append(o)
        return len(made) - 1

    table = IdentityRows()
    short = table.rows(objs[:5] + objs[:2], make)
    assert short.tolist() == [0, 1, 2, 3, 4, 0, 1]
    long = table.rows(objs[3:150] + objs[:3], make)  # longer than IdentityRows.SHORT
    assert long.tolist() == [*range(3, 150), 0, 1, 2]
    assert all(made[k] is objs[k] for k in range(150))
    again = table.rows(list(reversed(objs)), make)
    assert again.tolist() == [*range(150, 200), *range(149, -1, -1)]  # objs[199] is the 151st seen


@pytest.mark.parametrize("seed", range(30))
def test_rows_along_reuses_rows_only_of_equal_records(seed):
    rng = random.Random(seed)
    pool = [Rec(i) for i in range(60)]
    prev = tuple(rng.sample(pool, rng.randrange(0, 50)))
    new = list(prev)
    for _ in range(rng.randrange(0, 6)):  # inserts, deletions, replacements, equal copies
        op = rng.choice("idrc")
        k = rng.randrange(len(new) + 1)
        if op == "i":
            new.insert(k, rng.choice(pool))
        elif new and k < len(new):
            if op == "d":
                del new[k]
            elif op == "r":
                new[k] = rng.choice(pool)
            else:
                new[k] = Rec(new[k].value)
    new = tuple(new)
    value_of: list[int] = []

    def make(o):
        value_of.append(o.value)
        return len(value_of) - 1

    table = IdentityRows()
    prev_rows = table.rows(prev, make)
    seen: list[Rec] = []

    def lookup(objs):
        seen.extend(objs)
        return table.rows(objs, make)

    rows = rows_along(prev, prev_rows, new, lookup)
    assert [value_of[r] for r in rows.tolist()] == [o.value for o in new]
    it = iter(new)  # the records looked up are a subsequence of new, in order
    assert all(any(o is x for x in it) for o in seen)


# --------------------------------------------------------------------------- endpoint table

ZONES = ("a", "b", "c")
N_PODS = 10


def _world():
    pods = [
        SimpleNamespace(id=i, namespace="default", name=f"p{i}", node=i % 4, serving_from=0.0,
                        serving_until=np.inf)
        for i in range(N_PODS)
    ]  # fmt: skip
    nodes = SimpleNamespace(names=[f"n{i}" for i in range(4)], zone=np.array([0, 1, 2, 0], np.int16),
                            zone_names=list(ZONES))  # fmt: skip
    svc = SimpleNamespace(type="ClusterIP", headless=False, ports=(1,), session_affinity="None",
                          session_affinity_timeout_s=0, internal_traffic_policy="Cluster",
                          external_traffic_policy="Cluster", traffic_distribution=None, external_ips=())  # fmt: skip
    return SimpleNamespace(pods=pods, nodes=nodes, services={("default", "svc"): svc})


def _endpoint(rng: random.Random) -> api.Endpoint:
    p = rng.randrange(N_PODS + 3)
    state = rng.choice(["ready", "ready", "not-ready", "terminating", "serving-terminating"])
    return api.Endpoint(
        addresses=() if rng.random() < 0.05 else (f"10.0.0.{p}",),
        ready=state == "ready",
        serving=state in ("ready", "serving-terminating"),
        terminating=state.endswith("terminating"),
        target_ref=api.ObjectReference(namespace="default", name=f"p{p}") if p < N_PODS else None,
        node_name=f"n{p % 4}" if p < N_PODS else None,
        zone=ZONES[p % 3] if p >= N_PODS else None,
        hints_for_zones=(ZONES[p % 3],) if rng.random() < 0.1 else (),
    )


def _slice_writes(rng: random.Random, n: int) -> list:
    shared = [_endpoint(rng) for _ in range(12)]  # records reused across writes, like a controller's
    writes = []
    for _ in range(n):
        name = rng.choice(["s0", "s1", "s2"])
        if rng.random() < 0.1:
            writes.append(("delete", SimpleNamespace(name=name, endpoints=())))
            continue
        eps = [rng.choice(shared) if rng.random() < 0.7 else _endpoint(rng) for _ in range(rng.randrange(0, 6))]
        writes.append(("update", SimpleNamespace(name=name, endpoints=tuple(eps))))
    return writes


def _address(rng: random.Random, addrs: list) -> api.EndpointAddress:
    if addrs and rng.random() < 0.7:
        a = rng.choice(addrs)
        return a if rng.random() < 0.8 else api.EndpointAddress(a.ip, a.node_name, a.target_ref)
    p = rng.randrange(N_PODS + 2)
    ref = api.ObjectReference(namespace="default", name=f"p{p}") if p < N_PODS else None
    a = api.EndpointAddress(ip=f"10.0.1.{p}", node_name=f"n{p % 4}" if ref else None, target_ref=ref)
    addrs.append(a)
    return a


def _legacy_writes(rng: random.Random, n: int) -> list:
    addrs: list[api.EndpointAddress] = []
    ready = [_address(rng, addrs) for _ in range(6)]
    writes = []
    for _ in range(n):
        ready = list(ready)
        for _ in range(rng.randrange(1, 3)):
            k = rng.randrange(len(ready) + 1)
            if rng.random() < 0.5 or not ready:
                ready.insert(k, _address(rng, addrs))
            else:
                del ready[min(k, len(ready) - 1)]
        not_ready = [_address(rng, addrs) for _ in range(rng.randrange(0, 3))]
        subsets = (api.EndpointSubset(addresses=tuple(ready), not_ready_addresses=tuple(not_ready)),)
        writes.append(("update", api.Endpoints(name="svc", subsets=subsets)))
    return writes


def _reference_version(index: EndpointIndex, kind: str, state: dict) -> EndpointVersion:
    """The per-record definition: every endpoint of every set, in slice-name order, first wins."""
    rows = []
    for name in sorted(state):
        obj = state[name]
        if kind == "Endpoints":
            for subset in obj.subsets:
                for ready, addrs in ((True, subset.addresses), (False, subset.not_ready_addresses)):
                    rows += [index.row(legacy_endpoint(a, ready)) for a in addrs]
        else:
            rows += [index.row(ep) for ep in obj.endpoints if ep.addresses]
    first: dict[int, tuple] = {}
    for r in rows:
        first.setdefault(r[0], r)
    if not first:
        return EndpointVersion.empty()
    cols = list(zip(*first.values(), strict=True))
    hint = np.array(cols[6], np.int16)
    return EndpointVersion(
        pod=np.array(cols[0], np.int32), ready=np.array(cols[1], bool), serving=np.array(cols[2], bool),
        terminating=np.array(cols[3], bool), node=np.array(cols[4], np.int32), zone=np.array(cols[5], np.int16),
        hint_zone=hint if (hint >= 0).any() else None,
    )  # fmt: skip


def _same(a: EndpointVersion, b: EndpointVersion) -> bool:
    fields = ("pod", "ready", "serving", "terminating", "node", "zone")
    if not all(getattr(a, f).dtype == getattr(b, f).dtype and np.array_equal(getattr(a, f), getattr(b, f))
               for f in fields):  # fmt: skip
        return False
    if a.hint_zone is None or b.hint_zone is None:
        return a.hint_zone is None and b.hint_zone is None
    return np.array_equal(a.hint_zone, b.hint_zone)


@pytest.mark.parametrize("kind", ["EndpointSlice", "Endpoints"])
@pytest.mark.parametrize("seed", range(12))
def test_history_versions_equal_the_per_record_definition(kind, seed):
    rng = random.Random(seed)
    world = _world()
    writes = _slice_writes(rng, 30) if kind == "EndpointSlice" else _legacy_writes(rng, 30)
    index = EndpointIndex(world)
    history = build_history(("default", "svc"), [(w, op, obj) for w, (op, obj) in enumerate(writes)], None,
                            kind, world, SimpleNamespace(background=SimpleNamespace(services=0)), index)  # fmt: skip
    reference = EndpointIndex(world)
    state: dict = {}
    expected = [_reference_version(reference, kind, state)]
    for op, obj in writes:
        name = "" if kind == "Endpoints" else obj.name
        if op == "delete":
            state.pop(name, None)
        else:
            state[name] = obj
        expected.append(_reference_version(reference, kind, state))
    assert index.extra_ips == reference.extra_ips  # synthetic pod ids in order of first appearance
    versions = history.all_versions
    assert len(versions) == len(expected)
    order = list(range(len(expected)))
    rng.shuffle(order)  # lazily built versions do not depend on the order they are read in
    for k in order:
        assert _same(versions[k], expected[k]), k
        quick = versions.cluster_pool(k)  # as assign_pools reads it: None means "build and look"
        got = quick if quick is not None else cluster_base_pool(versions[k])
        assert _pools_equal(got, cluster_base_pool(expected[k])), k


def test_cluster_pools_answered_without_building_versions():
    world = _world()

    def ep(p, state="ready"):
        return api.Endpoint(addresses=(f"10.0.0.{p}",), ready=state == "ready", serving=state != "gone",
                            terminating=state != "ready", target_ref=api.ObjectReference(namespace="default", name=f"p{p}"),
                            node_name=f"n{p % 4}")  # fmt: skip

    slices = [("s0", (ep(0), ep(1))), ("s1", (ep(2), ep(3, "terminating"))), ("s0", (ep(0, "terminating"),)),
              ("s1", (ep(3, "terminating"),)), ("s1", (ep(3, "gone"),)), ("s0", ())]  # fmt: skip
    writes = [(w, "update", SimpleNamespace(name=name, endpoints=eps)) for w, (name, eps) in enumerate(slices)]
    history = build_history(("default", "svc"), writes, None, "EndpointSlice", world,
                            SimpleNamespace(background=SimpleNamespace(services=0)), EndpointIndex(world))  # fmt: skip
    got = [history.versions.cluster_pool(k) for k in range(len(slices))]
    assert [(p.tolist(), any_) for p, any_ in got] == [
        ([0, 1], True), ([0, 1, 2], True), ([2], True), ([0, 3], True), ([0], True), ([], False)
    ]
    assert not history.versions._built  # answered from per-slice caches
    # ProxyTerminatingEndpoints off (KEP-1669, ≤ 1.25): terminating endpoints never count.
    history = build_history(("default", "svc"), writes, None, "EndpointSlice", world,
                            SimpleNamespace(background=SimpleNamespace(services=0)), EndpointIndex(world),
                            terminating_fallback=False)  # fmt: skip
    got = [history.versions.cluster_pool(k) for k in range(len(slices))]
    assert [(p.tolist(), any_) for p, any_ in got] == [
        ([0, 1], True), ([0, 1, 2], True), ([2], True), ([], False), ([], False), ([], False)
    ]
    assert not history.terminating_fallback


def _pools_equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a[1] == b[1] and np.array_equal(np.asarray(a[0], np.int32), np.asarray(b[0], np.int32))


def test_lazy_versions_read_like_a_list():
    built = []

    def build(k):
        built.append(k)
        return EndpointVersion.empty()

    lazy = LazyVersions(4, build)
    assert len(lazy) == 4 and lazy[-1] is lazy[3] and built == [3]
    assert len(lazy[1:3]) == 2 and built == [3, 1, 2]
    with pytest.raises(IndexError):
        lazy[4]
    history = ServiceHistory(name="s", write_index=np.arange(4, dtype=np.int64), versions=lazy,
                             initial=EndpointVersion.empty())  # fmt: skip
    view = history.all_versions
    assert len(view) == 5 and view[0] is history.initial and view[4] is lazy[3]
    assert list(view)[1:] == [lazy[k] for k in range(4)]


# --------------------------------------------------------------------------- programming


@pytest.mark.parametrize("seed", range(5))
def test_applied_at_by_node_equals_the_fleets_own_search(seed):
    rng = np.random.default_rng(seed)
    n_nodes = 6
    node = np.sort(rng.integers(0, n_nodes - 1, size=60)).astype(np.int32)  # the last node never syncs
    start = np.zeros(len(node))
    end = np.zeros(len(node))
    for n in range(n_nodes):
        sel = np.flatnonzero(node == n)
        end[sel] = np.cumsum(rng.choice([0.0, 0.5, 1.0], size=len(sel)))  # serialized, ties allowed
    last = np.maximum.accumulate(rng.integers(0, 30, size=len(node))).astype(np.int64)
    syncs = SyncTable(node=node, start=start, end=end, full=np.zeros(len(node), bool),
                      periodic=np.zeros(len(node), bool), first_write=last, last_write=last,
                      n_writes=np.zeros(len(node), np.int64))  # fmt: skip
    fleet = FleetResult(n_nodes=n_nodes, syncs=syncs, npl=None)
    nodes = rng.integers(0, n_nodes, size=500)
    times = np.sort(rng.choice(np.arange(-1.0, 20.0, 0.5), size=500))
    fast = applied_at_by_node(fleet)
    assert fast is not fleet.applied_at
    assert np.array_equal(fast(nodes, times), fleet.applied_at(nodes, times))
    shuffled = rng.permutation(500)  # unsorted times take the lexsort path
    assert np.array_equal(fast(nodes[shuffled], times[shuffled]), fleet.applied_at(nodes[shuffled], times[shuffled]))


def test_node_time_order_is_lexsort():
    rng = np.random.default_rng(3)
    node = rng.integers(0, 5, size=300).astype(np.int32)
    t = np.round(rng.random(300) * 4, 1)
    assert np.array_equal(node_time_order(node, t), np.lexsort((t, node)))
    ts = np.sort(t)
    assert np.array_equal(node_time_order(node, ts), np.lexsort((ts, node)))
