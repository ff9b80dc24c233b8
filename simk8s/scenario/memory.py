"""A rough estimate of the memory one variant's run needs, so that a scenario too big for
this machine is refused at load, with the estimate, instead of failing mid-run.

The estimate is a sum of the terms that grow with a scenario, each with a per-item size
measured on this code (CPython 3.11, numpy; one variant in one process):

- BASE_BYTES: the interpreter, libraries and a small run (quick.yaml: ~210 MB peak);
- POD_BYTES per pod ever created (pods at t = 0, plus one set per rollout, plus scale-ups):
  its state, API snapshot and endpoint entries (40,000 pods at rest: +120 MB);
- CONNECTION_BYTES per client connection (rate × traffic window): the per-connection
  arrays of the data-plane stage (6 million connections: +0.72 GB);
- NODE_WRITE_BYTES per (node, write of the kind kube-proxy watches): sync records and
  latency histograms of the kube-proxy fleet, which streams arrival times per write
  (scale-100k: 840 million pairs, 4.3 GB peak in all, so under 5 B a pair). Writes are estimated as the smaller of what the
  controller's client QPS allows and WRITES_PER_POD_CHANGE per pod created or removed.

It leaves out what does not scale with these (rule sets, summaries) and stored objects'
sizes, so it is a lower bound: a run it refuses cannot fit; one it passes may still not.
With `--jobs N`, N variants run at once: multiply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .base import Loc
from .model import Scenario
from .references import find

BASE_BYTES = 200 * 2**20
POD_BYTES = 3 * 2**10
CONNECTION_BYTES = 128
NODE_WRITE_BYTES = 4
WRITES_PER_POD_CHANGE = 6  # IP, Ready, terminating, NotReady, gone, … (before batching)


@dataclass(frozen=True)
class MemoryEstimate:
    total: int  # bytes
    pods: int  # pods ever created
    connections: int
    node_writes: int  # (node, watched write) pairs
    # The term that needs the most, where it is set (schema path), and in words.
    largest: tuple[Loc, str]


def estimate_memory(scenario: Scenario) -> MemoryEstimate:
    """The memory one run of `scenario` (one variant, resolved) needs, at least."""
    pods_by_workload = _pods_ever(scenario)
    pods = sum(pods_by_workload)
    flows = [_connections(scenario, i) for i in range(len(scenario.traffic))]
    connections = sum(flows)
    writes = _watched_writes(scenario, pods - sum(w.replicas for w in scenario.workloads))
    watchers = scenario.cluster.nodes + sum(w.count for w in scenario.watchers)
    node_writes = watchers * writes
    terms: list[tuple[int, Loc, str]] = [
        (pods * POD_BYTES, _largest_at("workloads", pods_by_workload, "replicas"),
         f"{_count(pods)} pods at ~{POD_BYTES // 1024} KiB"),
        (connections * CONNECTION_BYTES, _largest_at("traffic", flows, "rate"),
         f"{_count(connections)} connections at ~{CONNECTION_BYTES} B"),
        (node_writes * NODE_WRITE_BYTES, ("cluster", "nodes"),
         f"{_count(writes)} writes to {_count(watchers)} watchers at ~{NODE_WRITE_BYTES} B"),
    ]
    _, loc, words = max(terms, key=lambda term: term[0])
    total = BASE_BYTES + sum(term[0] for term in terms)
    return MemoryEstimate(total, pods, connections, node_writes, (loc, words))


def memory_problem(scenario: Scenario, available: int | None = None) -> tuple[Loc, str] | None:
    """(where, message) when the run needs more memory than is available; None when it
    fits or the available memory is unknown."""
    available = available_memory() if available is None else available
    if available is None:
        return None
    estimate = estimate_memory(scenario)
    if estimate.total <= available:
        return None
    loc, words = estimate.largest
    return loc, (f"the run needs at least {_size(estimate.total)} of memory (mostly {words}), "
                 f"more than the {_size(available)} available")


def available_memory() -> int | None:
    """Bytes of memory available to a new run (Linux MemAvailable), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _pods_ever(sc: Scenario) -> list[int]:
    """Per Deployment: its pods at t = 0, those scale-ups add (up to its largest size), and
    a full new set at that size per rollout."""
    rollouts: dict[str, int] = {}
    peak: dict[str, int] = {}
    for event in sc.events:
        ref = event.rollout or event.scale
        if ref is None:
            continue
        for w in find(ref, sc.workloads):
            if event.rollout is not None:
                rollouts[w.key] = rollouts.get(w.key, 0) + 1
            elif event.replicas is not None:
                peak[w.key] = max(peak.get(w.key, 0), event.replicas)
    pods = []
    for w in sc.workloads:
        largest = max(w.replicas, peak.get(w.key, 0))
        pods.append(largest + rollouts.get(w.key, 0) * largest)
    return pods


def _connections(sc: Scenario, index: int) -> int:
    flow = sc.traffic[index]
    end = sc.duration if flow.end is None else min(flow.end, sc.duration)
    return int(flow.rate * max(0.0, end - flow.start))


def _watched_writes(sc: Scenario, churned_pods: int) -> int:
    """Writes of the kind kube-proxy watches: bounded by the controller's client QPS and
    by the pod changes that cause them (readiness flaps included)."""
    cm = sc.cluster.controller_manager
    by_qps = cm.kube_api_qps * sc.duration + cm.kube_api_burst
    flaps = sum(w.replicas * w.readiness_flaps.rate * sc.duration for w in sc.workloads)
    by_changes = WRITES_PER_POD_CHANGE * churned_pods + 2 * flaps
    return int(min(by_qps, by_changes))


def _largest_at(field: str, sizes: list[int], attribute: str) -> Loc:
    if not sizes:
        return (field,)
    return (field, max(range(len(sizes)), key=sizes.__getitem__), attribute)


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**6 else f"{n / 10**6:,.0f} million"


def _size(nbytes: int) -> str:
    if nbytes >= 2**40:
        return f"{nbytes / 2**40:,.1f} TiB"
    return f"{nbytes / 2**30:,.1f} GiB"
