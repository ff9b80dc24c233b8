"""The data path's table of endpoint records: one row per distinct (pod, readiness, node,
zone, hint), and every endpoint set kube-proxy saw as an array of row numbers.

An endpoint set is one EndpointSlice's entries or one legacy Endpoints object. The stage
(simk8s.dataplane.stage) indexes every written set in write order, then gathers an
`EndpointVersion`, or only the Cluster-policy candidates, for the versions traffic used.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from simk8s.api import objects as api
from simk8s.dataplane.inputs import EndpointVersion
from simk8s.dataplane.rowindex import IdentityRows, rows_along
from simk8s.proxy.stream import legacy_endpoint

_NO_ROW = -1  # an EndpointSlice entry without addresses: kube-proxy skips it
# One endpoint set: (pods, Ready pods, Serving+Terminating-only pods, any topology hint, a pod listed twice)
_SetInfo = tuple[np.ndarray, np.ndarray, np.ndarray, bool, bool]


class EndpointIndex:
    """Maps endpoint records to rows (pod id, readiness, node, zone, hint) of one shared table.

    An endpoint set (one slice's entries, or one legacy Endpoints object) becomes an array
    of row numbers; an `EndpointVersion` is the table gathered at the concatenation of its
    sets' rows. Rows are found by object identity or reused from the previous write
    (simk8s.dataplane.rowindex), so each distinct record runs Python code once.
    """

    COLUMN_TYPES = (np.int32, bool, bool, bool, np.int32, np.int16, np.int16)

    def __init__(self, world: Any):
        self.world = world
        self.pod_by_name = {(p.namespace, p.name): p.id for p in world.pods}
        self.node_by_name = {name: i for i, name in enumerate(world.nodes.names)}
        self.zone_by_name = {z: i for i, z in enumerate(world.nodes.zone_names)}
        self.extra_ips: dict[str, int] = {}  # user-written endpoints (no pod): synthetic pod rows
        self._endpoint_rows = IdentityRows()  # api.Endpoint → row (or _NO_ROW)
        # legacy EndpointAddress → row, by readiness (0: notReadyAddresses, 1: addresses)
        self._address_rows = (IdentityRows(), IdentityRows())
        self._address_row = (partial(self._legacy_row, False), partial(self._legacy_row, True))
        self._last: dict[Any, tuple[Sequence[Any], np.ndarray]] = {}  # slot → last tuple, its rows
        self._info: dict[int, _SetInfo] = {}  # id(rows) → _set_info(rows)
        self._info_keep: list[np.ndarray] = []
        self._rows = 0
        self._table_cols = [np.zeros(1024, t) for t in self.COLUMN_TYPES]

    def row(self, ep: Any) -> tuple:
        """The table row of one api.Endpoint (may allot a synthetic pod id to a pod-less IP)."""
        ref = ep.target_ref
        if ref is not None and (ref.namespace, ref.name) in self.pod_by_name:
            pod = self.pod_by_name[(ref.namespace, ref.name)]
        else:
            ip = ep.addresses[0]
            pod = self.extra_ips.setdefault(ip, len(self.world.pods) + len(self.extra_ips))
        node = self.node_by_name.get(ep.node_name or "", -1)
        zone = int(self.world.nodes.zone[node]) if node >= 0 else self.zone_by_name.get(ep.zone or "", -1)
        hint = self.zone_by_name.get(ep.hints_for_zones[0], -1) if ep.hints_for_zones else -1
        return (
            pod,
            ep.ready is not False,
            ep.serving if ep.serving is not None else ep.ready is not False,
            bool(ep.terminating),
            node,
            zone,
            hint,
        )

    def _append(self, row: tuple) -> int:
        rid = self._rows
        if rid == len(self._table_cols[0]):  # grow the column arrays (amortized doubling)
            self._table_cols = [np.concatenate([c, np.zeros_like(c)]) for c in self._table_cols]
        for col, value in zip(self._table_cols, row, strict=True):
            col[rid] = value
        self._rows += 1
        return rid

    def _legacy_row(self, ready: bool, address: Any) -> int:
        return self._append(self.row(legacy_endpoint(address, ready)))

    def _endpoint_row(self, ep: Any) -> int:
        return self._append(self.row(ep)) if ep.addresses else _NO_ROW

    def _tuple_rows(self, slot: Any, objs: Sequence[Any], table: IdentityRows, make_row: Any) -> np.ndarray:
        """Rows of a tuple of records; consecutive writes to one `slot` differ in a few
        records, so the previous tuple's rows are reused along equal runs (rows_along)."""

        def lookup(some: Sequence[Any]) -> np.ndarray:
            return table.rows(some, make_row)

        last = self._last.get(slot)
        rows = lookup(objs) if last is None else rows_along(last[0], last[1], objs, lookup)
        self._last[slot] = (objs, rows)
        return rows

    def rows(self, entries: Any, slot: Any = None) -> np.ndarray:
        """Row numbers of one slice's entries (or one legacy Endpoints object), in rule order.

        `slot` names where the entries were written (Service and slice): only a speed hint.
        """
        if isinstance(entries, api.Endpoints):
            # Legacy objects carry every address in every write; `addresses` are Ready,
            # `notReadyAddresses` not (legacy_endpoint).
            parts = [
                self._tuple_rows((slot, k, ready), addrs, self._address_rows[ready], self._address_row[ready])
                for k, subset in enumerate(entries.subsets)
                for ready, addrs in ((True, subset.addresses), (False, subset.not_ready_addresses))
            ]
            return np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.zeros(0, np.int64)
        rows = self._tuple_rows(slot, entries, self._endpoint_rows, self._endpoint_row)
        return rows if (rows >= 0).all() else rows[rows >= 0]

    def version_of_rows(self, parts: Sequence[np.ndarray]) -> EndpointVersion:
        """The EndpointVersion of the sets whose rows are `parts` (in slice-name order)."""
        ids = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.zeros(0, np.int64)
        if len(ids) == 0:
            return EndpointVersion.empty()
        cols = [c[ids] for c in self._table_cols]
        # kube-proxy's EndpointSliceCache de-duplicates an endpoint seen in two slices (first wins).
        if self._has_repeats(cols[0]):
            _, first = np.unique(cols[0], return_index=True)
            keep = np.sort(first)
            cols = [c[keep] for c in cols]
        hints = cols[6]
        return EndpointVersion(
            pod=cols[0], ready=cols[1], serving=cols[2], terminating=cols[3], node=cols[4], zone=cols[5],
            hint_zone=hints if (hints >= 0).any() else None,
        )

    @staticmethod
    def _has_repeats(pods: np.ndarray) -> bool:
        """Whether a pod id occurs twice (counting when ids are dense, else sorting)."""
        if len(pods) < 2:
            return False
        if int(pods.max()) < 8 * len(pods):
            return bool(np.bincount(pods).max() > 1)
        ordered = np.sort(pods)
        return bool((ordered[1:] == ordered[:-1]).any())

    def _set_info(self, rows: np.ndarray) -> _SetInfo:
        """One endpoint set's (pods, Ready pods, Serving+Terminating-only pods, any topology
        hint, a pod listed twice), cached: a set is shared by every version until rewritten.
        The cache keeps each set alive, so its id stays its own."""
        pod, ready, serving, terminating, hint = (self._table_cols[c][rows] for c in (0, 1, 2, 3, 6))
        info = (pod, pod[ready], pod[serving & terminating & ~ready], bool((hint >= 0).any()), self._has_repeats(pod))
        self._info[id(rows)] = info
        self._info_keep.append(rows)
        return info

    def cluster_pool_of_rows(
        self, parts: Sequence[np.ndarray], terminating_fallback: bool = True
    ) -> tuple[np.ndarray, bool] | None:
        """`selection.cluster_base_pool(self.version_of_rows(parts), terminating_fallback)` from per-set caches,
        without gathering the version; None where it needs the version (topology hints, or
        a pod listed twice, which the version de-duplicates)."""
        infos = [self._info.get(id(p)) or self._set_info(p) for p in parts]
        if any(info[3] or info[4] for info in infos):
            return None
        if len(infos) > 1 and self._has_repeats(np.concatenate([info[0] for info in infos])):
            return None
        ready = [info[1] for info in infos if len(info[1])]
        if ready:
            return (ready[0] if len(ready) == 1 else np.concatenate(ready)), True
        st = [info[2] for info in infos if len(info[2])] if terminating_fallback else []
        if st:
            return (st[0] if len(st) == 1 else np.concatenate(st)), True
        return np.zeros(0, np.int32), False
