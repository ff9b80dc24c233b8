"""Watch bytes per (replica, watcher): who received what the fan-out sent.

`watcher_bytes(fanout)` returns the fan-out's own `watcher_bytes` table when it has one;
otherwise it derives the same table from the writes, following the fan-out's placement
(simk8s/watch/fanout.py, before its own table): node i's kube-proxy watches replica i % R, the other watchers
take replicas round robin from slot n_nodes on. Columns: replica int, watcher str
("kube-proxy" for node proxies), node int (-1 for non-node watchers), bytes int64; one row
per node proxy and per (replica, watcher) of the others. The bytes add up to the sum of
`FanOut.egress_bytes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("replica", "watcher", "node", "bytes")


def watcher_bytes(fanout: Any, watchers: Sequence[Any] = ()) -> pd.DataFrame:
    """`watchers`: the fan-out's other watcher groups (watch.fanout.Watcher), needed only
    when the fan-out has no table of its own."""
    table = getattr(fanout, "watcher_bytes", None)
    if isinstance(table, pd.DataFrame):
        return table
    return derive_watcher_bytes(fanout, watchers)


def derive_watcher_bytes(fanout: Any, watchers: Sequence[Any] = (), mask: np.ndarray | None = None) -> pd.DataFrame:
    """The table from today's FanOut, over the writes selected by `mask` (all when None).
    `fanout.writes` holds the accepted writes only, in fan-out order."""
    w = fanout.writes
    sel = np.ones(len(w), bool) if mask is None else np.asarray(mask, bool)
    kind = w["kind"].to_numpy() if len(w) else np.zeros(0, object)
    proto = w["bytes_proto"].to_numpy(np.int64) if len(w) else np.zeros(0, np.int64)
    json_ = w["bytes_json"].to_numpy(np.int64) if len(w) else np.zeros(0, np.int64)
    R, N = fanout.replicas, fanout.n_nodes
    per_proxy = int(proto[sel & fanout.to_proxy].sum())
    nodes = np.arange(N, dtype=np.int64)
    frames = [pd.DataFrame({"replica": nodes % R, "watcher": "kube-proxy", "node": nodes,
                            "bytes": np.full(N, per_proxy, np.int64)})]
    totals: dict[tuple[int, str], int] = {}
    slot = N
    for g in watchers:
        size = proto if g.encoding == "protobuf" else json_
        each = int(size[sel & (kind == g.kind)].sum())
        for _ in range(g.count):
            key = (slot % R, g.name)
            totals[key] = totals.get(key, 0) + each
            slot += 1
    if totals:
        frames.append(pd.DataFrame({"replica": [k[0] for k in totals], "watcher": [k[1] for k in totals],
                                    "node": -1, "bytes": np.array(list(totals.values()), np.int64)}))
    out = pd.concat(frames, ignore_index=True)
    return out.astype({"replica": np.int64, "node": np.int64, "bytes": np.int64})[list(COLUMNS)]


def write_times(fanout: Any) -> np.ndarray:
    """Commit time of each write the fan-out sent, in its order."""
    return fanout.writes["time"].to_numpy(np.float64) if len(fanout.writes) else np.zeros(0)
