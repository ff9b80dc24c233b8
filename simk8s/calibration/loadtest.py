"""The clusterloader2 load test as kube-proxy sees it: EndpointSlice writes and their delivery.

Workload (derived from the defaults of kubernetes/perf-tests
`clusterloader2/testing/load/config.yaml`; approximate): N/100 namespaces × (149 small × 5,
12 medium × 30, 1 big × 250 endpoints) → 8,100 Services, 67,750 endpoints at 5000 nodes.
The load test creates, scales and deletes pods at CL2_LOAD_TEST_THROUGHPUT pods/s (default
10) in every phase; 67,750 of its 150,000 pods back a Service, so endpoints change at
throughput × 67,750/150,000 per second. Simplifications (one line each, where they act):
steady state at the full size (the test's ramp-up and drain are not modelled); one
EndpointSlice write per endpoint change (no controller coalescing); one port per Service.

Delivery model (from pod readiness to each node's kube-proxy):

* trigger time = the pod's Ready transition; the annotation carries it at 1 s resolution
  (the Ready condition's lastTransitionTime is a metav1.Time, serialized in whole seconds),
  so NPL includes the truncated fraction, U(0, 1) s;
* commit = trigger + Exp(``controller_delay`` mean) (kubelet status write, EndpointSlice
  controller, apiserver commit — an assumption, 1 s by default);
* arrival = commit fanned out over one apiserver egress link (the GCE scale cluster has one
  control-plane VM) node after node: link busy N × bytes / bandwidth per write.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simk8s.proxy.fleet import ChangeStream

# --- the load test (clusterloader2 testing/load/config.yaml) ---------------------------------
NODES_PER_NAMESPACE = 100
PODS_PER_NODE = 30
# (services per namespace, endpoints each): small, medium, big Services with a Deployment.
SERVICE_GROUPS = ((149, 5), (12, 30), (1, 250))
MAX_ENDPOINTS_PER_SLICE = 100  # EndpointSlice controller default
LOAD_TEST_THROUGHPUT = 10.0  # pods/s, CL2_LOAD_TEST_THROUGHPUT default

# --- delivery (module docstring) -------------------------------------------------------------
CONTROLLER_DELAY = 1.0  # s, mean of Exp(): kubelet status → EndpointSlice write committed
APISERVER_BANDWIDTH = 10e9 / 8  # bytes/s of the single control-plane VM's egress (assumption)
SLICE_BASE_BYTES, SLICE_BYTES_PER_ENDPOINT = 300, 120  # protobuf EndpointSlice, approximate
WARMUP = 120.0  # s of churn before NPL is sampled: startup syncs are all at t = 0


@dataclass(frozen=True)
class LoadTestChurn:
    """The synthesized writes (commit order) and the cluster they act on."""

    initial_endpoints: np.ndarray  # int32[S], endpoints per Service at t = 0
    stream: ChangeStream
    bytes_per_write: np.ndarray  # float64[W], EndpointSlice size sent to each watcher


def service_sizes(cluster_nodes: int) -> np.ndarray:
    """Endpoints of every load-test Service at full size, int32[S]."""
    namespaces = max(cluster_nodes // NODES_PER_NAMESPACE, 1)
    per_namespace = np.concatenate([np.full(n, e, dtype=np.int32) for n, e in SERVICE_GROUPS])
    return np.tile(per_namespace, namespaces)


def endpoint_change_rate(cluster_nodes: int, throughput: float = LOAD_TEST_THROUGHPUT) -> float:
    """Endpoint changes per second: the pod churn × the share of pods that back a Service."""
    total_pods = max(cluster_nodes // NODES_PER_NAMESPACE, 1) * NODES_PER_NAMESPACE * PODS_PER_NODE
    return throughput * float(service_sizes(cluster_nodes).sum()) / total_pods


def synthesize_churn(
    n_nodes: int,
    duration: float,
    rng: np.random.Generator,
    *,
    cluster_nodes: int | None = None,
    throughput: float = LOAD_TEST_THROUGHPUT,
    controller_delay: float = CONTROLLER_DELAY,
    bandwidth: float = APISERVER_BANDWIDTH,
    warmup: float = WARMUP,
) -> LoadTestChurn:
    """Poisson stream of one-endpoint EndpointSlice writes over [0, warmup + duration).

    `n_nodes` kube-proxies receive it; the cluster (Services, churn) is sized for
    `cluster_nodes` (default n_nodes). Writes in the warm-up carry no trigger time.
    """
    cluster_nodes = n_nodes if cluster_nodes is None else cluster_nodes
    sizes = service_sizes(cluster_nodes)
    horizon = warmup + duration
    n_writes = int(rng.poisson(endpoint_change_rate(cluster_nodes, throughput) * horizon))
    # Simplification: steady churn at full size (the test's ramp-up and drain are not
    # modelled), and one EndpointSlice write per endpoint change (no controller coalescing).
    ready = np.sort(rng.uniform(0.0, horizon, n_writes))
    # A pod event hits a Service in proportion to its pods; it adds or removes one endpoint
    # with equal odds (scale up/down, create/delete), so sizes random-walk around full size.
    service = rng.choice(sizes.size, n_writes, p=sizes / sizes.sum()).astype(np.int32)
    step = np.where(rng.random(n_writes) < 0.5, 1, -1)
    after = _random_walk(sizes, service, step)
    # Simplification: every Service's pods are spread over ceil(E/100) full slices; a write
    # re-sends one of them.
    slice_endpoints = np.minimum(after, MAX_ENDPOINTS_PER_SLICE)
    nbytes = SLICE_BASE_BYTES + SLICE_BYTES_PER_ENDPOINT * slice_endpoints.astype(np.float64)
    # The controller writes in readiness order (one queue): commits keep that order.
    commit = np.maximum.accumulate(ready + rng.exponential(controller_delay, n_writes))
    arrival = _fan_out(commit, nbytes, n_nodes, bandwidth, rng)
    trigger = np.floor(ready)  # lastTransitionTime has 1 s resolution
    trigger[ready < warmup] = np.nan
    stream = ChangeStream(
        commit_time=commit,
        trigger_time=trigger,
        service=service,
        service_endpoints=after,
        arrival=arrival,
        endpoint_delta=np.ones(n_writes, dtype=np.int32),
    )
    return LoadTestChurn(initial_endpoints=sizes, stream=stream, bytes_per_write=nbytes)


def _random_walk(sizes: np.ndarray, service: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Endpoint count of each write's Service after it; never below 1 (a removal at 1 adds)."""
    counts = sizes.astype(np.int64).copy()
    after = np.empty(service.size, dtype=np.int32)
    for i, (s, d) in enumerate(zip(service.tolist(), step.tolist(), strict=True)):
        c = counts[s] + (d if counts[s] + d >= 1 else 1)
        counts[s] = c
        after[i] = c
    return after


@dataclass(frozen=True)
class FanOutArrival:
    """arrival(w) = link start of write w + (node's rank in the send order) × send time."""

    base: np.ndarray  # float64[W]
    send: np.ndarray  # float64[W], seconds to send write w to one node
    rank: np.ndarray  # float64[N], 1-based

    def __call__(self, w: int) -> np.ndarray:
        return self.base[w] + self.rank * self.send[w]  # hot path: one call per write


def _fan_out(
    commit: np.ndarray, nbytes: np.ndarray, n_nodes: int, bandwidth: float, rng: np.random.Generator
) -> FanOutArrival:
    """One egress link sends each write to every node in turn, in a fixed random node order.

    Link start b[w] = max(commit[w], b[w-1] + N × send[w-1]): a max-plus recurrence solved
    with a running maximum. FIFO per node holds because b[w] ≥ b[w-1] + N × send[w-1].
    Simplification: no watch cache or per-watcher channels (simk8s/watch/): EndpointSlice writes
    this small never fill a watcher's channel there, so no watch is cut off.
    """
    send = nbytes / bandwidth
    busy_before = np.concatenate(([0.0], np.cumsum(n_nodes * send)[:-1]))
    base = np.maximum.accumulate(commit - busy_before) + busy_before
    rank = rng.permutation(n_nodes).astype(np.float64) + 1.0
    return FanOutArrival(base=base, send=send, rank=rank)
