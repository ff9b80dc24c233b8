"""The slices one sync works with: the plan of API calls, slices being drafted, and the
per-slice helpers of upstream ``staging/src/k8s.io/endpointslice/utils.go``
(``setEndpointSliceLabels``, ``ownedBy``, ``getSliceToFill``, ``newEndpointSlice``,
``addTriggerTimeAnnotation``) and ``reconciler.go`` (``placeholderSliceCompare``,
``finalize``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from simk8s.api.naming import rfc3339nano, slice_name_prefix
from simk8s.api.objects import (
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY_SLICE_CONTROLLER,
    Endpoint,
    EndpointSlice,
    Service,
)
from simk8s.api.sizes.entries import SizedEntries, entry_size
from simk8s.controller.endpointslice.desired import EndpointKey, PortKey

RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})


@dataclass(slots=True)
class SlicePlan:
    """API calls of one sync, in write order (creates, then updates, then deletes).

    ``unchanged``: existing slices left as they are. ``error``: the sync returns an error
    (missing node) and is retried with backoff. Counters follow the controller metrics
    (``metrics/metrics.go`` ``EndpointsAddedPerSync`` / ``EndpointsRemovedPerSync``):
    endpoints_added = desired endpoints not found in existing slices, endpoints_removed =
    endpoints dropped from existing slices. ``addresses_skipped`` is used by mirroring only.
    """

    creates: list[EndpointSlice] = field(default_factory=list)
    updates: list[EndpointSlice] = field(default_factory=list)
    deletes: list[EndpointSlice] = field(default_factory=list)
    unchanged: list[EndpointSlice] = field(default_factory=list)
    error: bool = False
    endpoints_added: int = 0
    endpoints_removed: int = 0
    addresses_skipped: int = 0

    @property
    def writes(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


def apply_plan(existing: Iterable[EndpointSlice], plan: SlicePlan) -> list[EndpointSlice]:
    """The slices after the plan's writes succeed (updates replace by name)."""
    deleted = {s.name for s in plan.deletes}
    updated = {s.name: s for s in plan.updates}
    out = [updated.pop(s.name, s) for s in existing if s.name not in deleted]
    out.extend(updated.values())
    out.extend(plan.creates)
    return out


@dataclass(slots=True)
class Draft:
    """A slice being built: new (base None), rewrite of ``base``, or recycled into it."""

    address_type: str
    ports: PortKey
    endpoints: list[Endpoint]
    labels: dict[str, str]
    base: EndpointSlice | None = None
    fresh: bool = True  # built from scratch (no annotations/owner of ``base`` carried over)
    keys: list[EndpointKey] | None = None  # identities of ``endpoints`` (incremental path)
    # Packed wire size of ``endpoints`` (their ``entry_size`` sum), kept as they are added,
    # so the apiserver need not walk the slice (HOT PATH); None: unknown, it walks them.
    size: int | None = None


def known_size(endpoints: Sequence[Endpoint]) -> int | None:
    """The packed size an object's endpoints carry, if they carry one."""
    return endpoints.total if type(endpoints) is SizedEntries else None


class SliceMemory:
    """What the incremental path remembers per slice object (keyed by id; the owner keeps
    the slices it tracks alive): facts that depend only on the immutable slice and the
    Service. None of it is used by the reference path."""

    __slots__ = ("born", "keys", "labels_ok", "ok", "zone_counts")

    def __init__(self) -> None:
        self.keys: dict[int, tuple[EndpointKey, ...]] = {}  # endpoint identities, in order
        self.zone_counts: dict[int, dict[str, int]] = {}  # hints_for_zones counted per zone
        self.ok: set[int] = set()  # trafficDistribution hints already right
        self.labels_ok: set[int] = set()  # labels already as the Service wants
        # Slices written by the last plan, with their identities: each holds, for every
        # identity, the then-desired endpoint (up to hints) and right hints.
        self.born: dict[int, tuple[EndpointSlice, tuple[EndpointKey, ...]]] = {}

    def forget(self, slice_id: int) -> None:
        self.keys.pop(slice_id, None)
        self.zone_counts.pop(slice_id, None)
        self.ok.discard(slice_id)
        self.labels_ok.discard(slice_id)

    def keys_of(self, s: EndpointSlice) -> list[EndpointKey] | None:
        keys = self.keys.get(id(s))
        return None if keys is None else list(keys)


def keys_of(memory: SliceMemory | None, s: EndpointSlice) -> list[EndpointKey] | None:
    return None if memory is None else memory.keys_of(s)


def _service_labels(service: Service) -> dict[str, str]:
    return {k: v for k, v in service.labels if k not in RESERVED_LABELS}


def slice_labels(
    current: Iterable[tuple[str, str]], service: Service
) -> tuple[dict[str, str], bool]:
    """``setEndpointSliceLabels``: (new labels, whether non-reserved labels differ)."""
    svc = _service_labels(service)
    changed = {k: v for k, v in current if k not in RESERVED_LABELS} != svc
    if service.cluster_ip in (None, "", "None"):
        svc[LABEL_HEADLESS] = ""
    svc[LABEL_SERVICE_NAME] = service.name
    svc[LABEL_MANAGED_BY] = MANAGED_BY_SLICE_CONTROLLER
    return svc, changed


def owned_by(s: EndpointSlice, service: Service) -> bool:
    """``ownedBy``; our owner records carry no apiVersion, so kind and uid decide."""
    return s.owner_kind == "Service" and s.owner_uid == service.uid


def take(desired: dict[EndpointKey, Endpoint], n: int, d: Draft) -> None:
    """PopAny n times into ``d``. Simplification: Go pops in map order; we pop in pod order."""
    if n <= 0 or not desired:
        return
    items = list(itertools.islice(desired.items(), n))
    for k, _ in items:
        del desired[k]
    added = [ep for _, ep in items]
    d.endpoints.extend(added)
    if d.size is not None:
        d.size += sum(map(entry_size, added))
    if d.keys is not None:
        d.keys.extend([k for k, _ in items])


def slice_to_fill(unchanged: list[EndpointSlice], n: int, max_eps: int) -> EndpointSlice | None:
    """getSliceToFill: the slice closest to full after adding n; exact fit stops early."""
    closest_diff = max_eps
    closest = None
    for s in unchanged:
        diff = max_eps - (n + len(s.endpoints))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, s
            if diff == 0:
                break
    return closest


def placeholder_equal(s: EndpointSlice, placeholder: Draft, namespace: str) -> bool:
    """``placeholderSliceCompare`` (see TestPlaceHolderSliceCompare): namespace, labels,
    addressType, endpoints, ports; name, owner and creation time are ignored."""
    return (
        s.namespace == namespace
        and dict(s.labels) == placeholder.labels
        and s.address_type == placeholder.address_type
        and not s.endpoints
        and not s.ports
    )


def materialize(
    d: Draft,
    service: Service,
    trigger_time: float | None,
    name_for: Callable[[str], str] | None,
    memory: SliceMemory | None = None,
) -> EndpointSlice:
    """The object a draft is written as: ``newEndpointSlice`` for a new slice (named by
    ``name_for``), otherwise a copy of ``base`` (a recycled delete lends only its name,
    uid and generation); ``finalize`` sets the trigger-time annotation."""
    base = d.base
    annotations = {} if base is None or d.fresh else dict(base.annotations)
    if trigger_time is not None:  # addTriggerTimeAnnotation
        annotations[ANNOTATION_TRIGGER_TIME] = rfc3339nano(trigger_time)
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    if base is None:
        assert name_for is not None
        prefix = slice_name_prefix(service.name)
        name, uid, generation, gen_name = name_for(prefix), "", 1, prefix
    else:
        name, uid, generation = base.name, base.uid, base.generation + 1
        gen_name = base.generate_name if not d.fresh else slice_name_prefix(service.name)
    owner = (service.name, service.uid, "Service")
    if base is not None and not d.fresh:  # DeepCopy keeps the stored owner reference
        owner = (base.owner_name, base.owner_uid, base.owner_kind)
    obj = EndpointSlice(
        name=name,
        namespace=service.namespace,
        uid=uid,
        generate_name=gen_name,
        generation=generation,
        labels=tuple(sorted(d.labels.items())),
        annotations=tuple(sorted(annotations.items())),
        owner_name=owner[0],
        owner_uid=owner[1],
        owner_kind=owner[2],
        address_type=d.address_type,
        endpoints=tuple(d.endpoints) if d.size is None else SizedEntries(d.endpoints, d.size),
        ports=d.ports,
    )
    if memory is not None and d.keys is not None:
        memory.born[id(obj)] = (obj, tuple(d.keys))
    return obj

