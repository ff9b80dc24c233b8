"""`simk8s sizes`: object sizes per pod count and the pod count at which Endpoints hits etcd's limit."""

from __future__ import annotations

import pandas as pd

from simk8s.api.sizes import LONG_NAMING, Naming, endpoints_limit_pod_count, sizes_table
from simk8s.scenario import parse_quantity


def sizes_frame(pod_counts, *, long_names: bool = False, max_per_slice: int = 100, max_request_bytes: int = 1572864) -> pd.DataFrame:
    naming = LONG_NAMING if long_names else Naming()
    rows = []
    for n in pod_counts:
        for r in sizes_table(n, naming=naming, max_endpoints_per_slice=max_per_slice, max_request_bytes=max_request_bytes):
            rows.append(r.__dict__ if hasattr(r, "__dict__") else {f: getattr(r, f) for f in r.__dataclass_fields__})
    return pd.DataFrame(rows)


def format_sizes(pod_counts, *, long_names: bool, max_per_slice: int, max_request_bytes: str) -> str:
    limit = parse_quantity(max_request_bytes)
    frame = sizes_frame(pod_counts, long_names=long_names, max_per_slice=max_per_slice, max_request_bytes=limit)
    naming = LONG_NAMING if long_names else Naming()
    crossing = endpoints_limit_pod_count(limit, naming=naming)
    out = frame.rename(columns={"exceeds_etcd_limit": "over_etcd_limit"}).to_string(index=False)
    names = (
        f"{'long' if long_names else 'short'} names: pods {naming.pod_name_len} and nodes "
        f"{naming.node_name_len} characters, namespace {naming.namespace}, zone {naming.zone}"
    )
    return (
        f"{out}\n\nAn untruncated one-port Endpoints object exceeds etcd's {limit:,} bytes at {crossing:,} pods "
        f"({names}). Since v1.22 the Endpoints controller truncates to 1000 addresses instead; EndpointSlices "
        f"hold at most {max_per_slice} endpoints each.\nA scenario's objects carry its own names (e.g. nodes "
        f"node-0 …, shorter): `simk8s run` reports their sizes as 'largest Endpoints write'.\n"
    )
