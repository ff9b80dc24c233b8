"""kube-apiserver + etcd: an object store with resourceVersions, request limits and a change log.

Every accepted write becomes one `WriteRecord` (the change log the watch stage fans out).
Rejected writes are recorded too, with the error the client saw.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd
import simpy

from simk8s.api import sizes
from simk8s.api.records import fast_init

ETCD_TOO_LARGE = "etcdserver: request is too large"
BODY_TOO_LARGE = "the request body is too large"  # 413 from MaxRequestBodyBytes


@fast_init
@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One apiserver write (accepted or rejected). One row of the writes table."""

    seq: int
    time: float
    kind: str
    namespace: str
    name: str
    op: str  # create | update | delete
    resource_version: int
    bytes_json: int
    bytes_proto: int
    endpoints: int  # addresses (Endpoints) or endpoints (EndpointSlice) in the object
    service: str
    trigger_time: float  # last-change-trigger-time, NaN if none
    writer: str
    rejected: str  # "" or the error


class WriteRejected(Exception):
    pass


class APIServer:
    """Stores Endpoints, EndpointSlices and Services; counts Pod writes without storing them."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        write_latency: float,
        max_request_bytes: int,
        max_request_body_bytes: int | None,
    ):
        self.env = env
        self.write_latency = write_latency
        self.max_request_bytes = max_request_bytes
        self.max_request_body_bytes = max_request_body_bytes
        self.store: dict[tuple[str, str, str], Any] = {}
        self.rv = 0
        self.log: list[WriteRecord] = []
        self.objects: list[Any] = []  # object content per log entry (None when rejected)
        # Pods are written often and only watched by one kubelet + a few informers: counters only.
        self.pod_writes: dict[str, int] = defaultdict(int)
        self.pod_bytes_proto = 0

    # -- reads (informer caches; simplification: informers see writes immediately) -----------
    def get(self, kind: str, namespace: str, name: str) -> Any:
        return self.store.get((kind, namespace, name))

    def list(self, kind: str) -> list[Any]:
        return [obj for (k, _, _), obj in self.store.items() if k == kind]

    def seed(self, kind: str, obj: Any) -> None:
        """Objects that exist before the simulation starts (no write, no watch event)."""
        self.store[(kind, obj.namespace, obj.name)] = obj

    # -- writes -----------------------------------------------------------------------------
    def write(self, kind: str, op: str, obj: Any, *, writer: str, service: str, trigger_time: float):
        """SimPy process body: one write; raises WriteRejected when etcd or the body limit refuses it."""
        yield self.env.timeout(self.write_latency)
        return self.commit(kind, op, obj, writer=writer, service=service, trigger_time=trigger_time)

    def commit(self, kind: str, op: str, obj: Any, *, writer: str, service: str, trigger_time: float) -> WriteRecord:
        wire = sizes.wire_sizes(obj)
        b_json, b_proto = wire.json, wire.stored
        rejected = ""
        if op != "delete":
            if self.max_request_body_bytes and b_json > self.max_request_body_bytes:
                rejected = BODY_TOO_LARGE
            elif b_proto > self.max_request_bytes:
                rejected = ETCD_TOO_LARGE
        if not rejected:
            self.rv += 1
        record = WriteRecord(
            seq=len(self.log),
            time=self.env.now,
            kind=kind,
            namespace=obj.namespace,
            name=obj.name,
            op=op,
            resource_version=self.rv if not rejected else 0,
            bytes_json=b_json,
            bytes_proto=b_proto,
            endpoints=_endpoint_count(obj),
            service=service,
            trigger_time=trigger_time,
            writer=writer,
            rejected=rejected,
        )
        self.log.append(record)
        self.objects.append(None if rejected else obj)
        if rejected:
            raise WriteRejected(rejected)
        key = (kind, obj.namespace, obj.name)
        if op == "delete":
            self.store.pop(key, None)
        else:
            self.store[key] = obj
        return record

    def pod_write(self, op: str, proto_bytes: int) -> None:
        self.pod_writes[op] += 1
        self.pod_bytes_proto += proto_bytes


def _endpoint_count(obj: Any) -> int:
    if hasattr(obj, "endpoints"):
        return len(obj.endpoints)
    if hasattr(obj, "subsets"):
        return obj.address_count
    return 0


WRITE_COLUMNS = tuple(WriteRecord.__dataclass_fields__)


def writes_frame(records: list[WriteRecord]) -> pd.DataFrame:
    """The writes table: one row per WriteRecord (accepted or rejected)."""
    return pd.DataFrame.from_records(
        [tuple(getattr(r, c) for c in WRITE_COLUMNS) for r in records], columns=list(WRITE_COLUMNS)
    )
