"""`cluster:` in a scenario: nodes and their pod CIDRs, scheduler, kubelet, apiserver, etcd,
kube-controller-manager and kube-proxy settings, the network between zones; and `watchers:`, the apiserver's other
watch clients. Field names follow the flag or config field they model."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import (
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    field_validator,
    model_validator,
)

from simk8s.proxy.cost import MachineProfileError, load_machine_profile

from .base import Loc, SchemaModel, field_alias
from .errors import Problems
from .network import Network
from .releases import REQUIREMENTS, fill_release_defaults, format_release, parse_release
from .types import (
    CIDR,
    DAY,
    WEEK,
    Bandwidth,
    Bytes,
    Count,
    Duration,
    DurationOrNever,
    Name,
    Number,
    Rate,
)
from .units import format_duration

# Up to 20× the 5000 nodes Kubernetes is tested at (docs/references.md
# [scalability-thresholds]): the 100,000 nodes a managed cluster can have today
# (https://aws.amazon.com/blogs/containers/amazon-eks-enables-ultra-scale-ai-ml-workloads-with-support-for-100k-nodes-per-cluster/).
MAX_NODES = 100_000


class Scheduler(SchemaModel):
    throughput: Rate = Field(default=100.0, gt=0, le=100_000)  # pods bound per second


class PodStartLatency(SchemaModel):
    # lognormal: both > 0 (the spread is ln(p99 / median))
    median: Duration = Field(default=2.0, gt=0, le=3600)
    p99: Duration = Field(default=8.0, gt=0, le=DAY)

    @model_validator(mode="after")
    def _p99_not_below_median(self) -> PodStartLatency:
        if self.p99 < self.median:
            raise Problems([(("p99",), f"must be >= median ({format_duration(self.median)})")])
        return self


class Kubelet(SchemaModel):
    pod_start_latency: PodStartLatency = PodStartLatency()


class Apiserver(SchemaModel):
    replicas: Count = Field(default=3, ge=1, le=100)
    egress_bandwidth: Bandwidth = Field(default=1.25e9, gt=0, le=1.25e12)  # 10Gbps per replica; at most 10Tbps
    write_latency: Duration = Field(default=0.01, ge=0, le=60)
    max_request_body_bytes: Bytes = Field(default=3 * 2**20, ge=0, le=2**40)  # 0: no limit
    watch_cache_encoding: Literal["protobuf", "json"] = "protobuf"
    # Events the watch cache holds per kind: a fixed number (--default-watch-cache-size, up
    # to v1.18) or 0 = adaptive, 100..102400 keeping ~75 s (v1.19+, kubernetes/kubernetes#90091).
    watch_cache_capacity: Count = Field(default=0, ge=0, le=1_000_000)
    # Each watcher's input channel (cacher.go newCacheWatcher chanSize): 10 up to v1.24; 0 =
    # sized from the cache's capacity within 10..100 (v1.25+, kubernetes/kubernetes#109708).
    watch_chan_size: Count = Field(default=0, ge=0, le=100_000)


class Etcd(SchemaModel):
    max_request_bytes: Bytes = Field(default=3 * 2**19, ge=1, le=2**40)  # 1.5Mi, etcd --max-request-bytes default


class ControllerManager(SchemaModel):
    kube_api_qps: Number = Field(default=20.0, gt=0, le=100_000)
    kube_api_burst: Count = Field(default=30, ge=1, le=100_000)
    concurrent_endpoint_syncs: Count = Field(default=5, ge=1, le=1000)  # a SimPy process each
    # --concurrent-service-endpoint-syncs and --max-endpoints-per-slice: validated to 1..50 and
    # 1..1000 (cmd/kube-controller-manager/app/options/endpointslicecontroller.go)
    concurrent_service_endpoint_syncs: Count = Field(default=5, ge=1, le=50)
    endpoint_updates_batch_period: Duration = Field(default=0.0, ge=0, le=3600)
    endpoint_slice_updates_batch_period: Duration = Field(default=0.0, ge=0, le=3600)
    max_endpoints_per_slice: Count = Field(default=100, ge=1, le=1000)
    endpoints_controller: bool = True
    endpoint_slice_controller: bool = True
    # Addresses kept per Endpoints object: 1000 since v1.22 (pkg/controller/endpoint/
    # endpoints_controller.go maxCapacity, truncation + over-capacity annotation, KEP-752);
    # 0 = no cap, as before v1.22 (docs/references.md [blog-endpointslices]: 1.5 MB × 3000 nodes).
    endpoints_max_capacity: Count = Field(default=1000, ge=0, le=1_000_000)


class FeatureGates(SchemaModel):
    """Kubernetes feature gates that change what the model does (--feature-gates), by their
    upstream names. Their defaults follow `cluster.kubernetesVersion` (scenario/releases.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    minimize_iptables_restore: bool = Field(default=True, alias="MinimizeIPTablesRestore")
    endpoint_slice_terminating_condition: bool = Field(default=True, alias="EndpointSliceTerminatingCondition")
    proxy_terminating_endpoints: bool = Field(default=True, alias="ProxyTerminatingEndpoints")
    topology_aware_hints: bool = Field(default=True, alias="TopologyAwareHints")
    service_traffic_distribution: bool = Field(default=True, alias="ServiceTrafficDistribution")
    logarithmic_scale_down: bool = Field(default=True, alias="LogarithmicScaleDown")


class KubeProxy(SchemaModel):
    mode: Literal["iptables", "ipvs", "nftables"] = "iptables"
    watch: Literal["EndpointSlices", "Endpoints"] = "EndpointSlices"
    # --iptables-min-sync-period default since kubernetes/kubernetes#92836
    min_sync_period: Duration = Field(default=1.0, ge=0, le=3600)
    # Lower bounds on the periods keep the fleet's timer-forced syncs countable
    # (nodes × duration / period of them).
    sync_period: Duration = Field(default=30.0, ge=1, le=DAY)
    # Full resync of iptables/nftables: hourly since v1.33; `never` for v1.26–v1.32 iptables,
    # which re-restored everything only at startup and after errors (kubernetes/kubernetes#129329).
    full_sync_period: DurationOrNever = 3600.0  # 1m .. 168h, or never (_full_sync_range)
    # token-bucket: burst 2, start-to-start (pkg/util/async/bounded_frequency_runner.go, <= v1.33);
    # completion-gap: minSyncPeriod after each sync ends (pkg/proxy/runner, kubernetes/kubernetes#131615)
    runner: Literal["token-bucket", "completion-gap"] = "token-bucket"
    ipvs_scheduler: Literal["rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq", "mh"] = "rr"
    node_speed_spread: Number = Field(default=0.1, ge=0, le=2)  # lognormal sigma
    # pkg/proxy/iptables/proxier.go largeClusterEndpointsThreshold
    large_cluster_endpoints_threshold: Count = Field(default=1000, ge=0, le=100_000_000)
    # Release-dependent behaviours without a feature gate (scenario/releases.py cites each):
    # above largeClusterEndpointsThreshold, the stale-chain iptables-save runs at most once per
    # syncPeriod (since 1.25; before, every sync saves); the hourly full sync is skipped there
    # (kubernetes/kubernetes#138571); nftables writes only changed Services (#126013).
    large_cluster_cleanup_pacing: bool = True
    large_cluster_skips_full_sync: bool = False
    nftables_partial_syncs: bool = True
    # false: kube-proxies were already running at t = 0 (rules programmed, each node's hourly
    # full sync at its own phase); true: every kube-proxy restarts at t = 0 with a full sync.
    restart_at_start: bool = False
    # A machine profile (`simk8s calibrate --host`, docs/host-calibration.md): the sync
    # prices measured on one host replace the published ones, and its `dataplane` section (if
    # any, `--dataplane`) the first-packet latency parameters. Relative to the scenario file.
    machine: str | None = None

    @field_validator("machine")
    @classmethod
    def _machine_profile_loads(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must name a machine profile file (written by `simk8s calibrate --host`), got an empty string")
        if value is not None:
            # (imported here: simk8s.dataplane imports pandas, which loading a scenario never needs)
            from simk8s.dataplane.latency import params_for_machine as latency_params_for_machine

            try:
                load_machine_profile(value)
                latency_params_for_machine(value)
            except MachineProfileError as err:
                raise ValueError(str(err)) from None
        return value

    @model_validator(mode="after")
    def _periods_in_order(self) -> KubeProxy:
        # kube-proxy refuses minSyncPeriod > syncPeriod (pkg/proxy/apis/config/validation,
        # validateKubeProxyIPTablesConfiguration and its IPVS/nftables twins).
        if self.min_sync_period > self.sync_period:
            raise Problems([((field_alias(KubeProxy, "min_sync_period"),),
                             f"must not exceed syncPeriod ({format_duration(self.sync_period)}), "
                             f"got {format_duration(self.min_sync_period)}")])
        return self

    @field_validator("full_sync_period")
    @classmethod
    def _full_sync_range(cls, value: float) -> float:
        if not (math.isinf(value) or 60 <= value <= WEEK):
            raise ValueError(f"must be from 1m to {format_duration(WEEK)}, or never; got {format_duration(value)}")
        return value


class Cluster(SchemaModel):
    # The release every release-dependent default follows (scenario/releases.py); a setting
    # written in the scenario wins over it.
    kubernetes_version: str = Field(default="1.36")
    nodes: Count = Field(default=100, ge=1, le=MAX_NODES)
    zones: tuple[Name, ...] = Field(default=("a", "b", "c"), min_length=1, max_length=100)
    node_name_prefix: str = "node-"
    cluster_cidr: CIDR = Field(default="10.64.0.0/10", alias="clusterCIDR", validate_default=True)
    node_cidr_mask_size: Count = Field(default=24, ge=1, le=128, alias="nodeCIDRMaskSize")
    service_cidr: CIDR = Field(default="10.96.0.0/12", alias="serviceCIDR", validate_default=True)
    max_pods_per_node: Count = Field(default=110, ge=1, le=10_000)  # kubelet --max-pods
    scheduler: Scheduler = Scheduler()
    kubelet: Kubelet = Kubelet()
    apiserver: Apiserver = Apiserver()
    etcd: Etcd = Etcd()
    controller_manager: ControllerManager = ControllerManager()
    kube_proxy: KubeProxy = KubeProxy()
    feature_gates: FeatureGates = FeatureGates()
    network: Network = Network()  # links between zones, apiserver placement (simk8s/network/)
    # Settings that the release chose (not written in the scenario), dotted under `cluster`.
    _chosen_by_release: tuple[str, ...] = PrivateAttr(default=())

    def __eq__(self, other: object) -> bool:  # which settings the release chose is provenance, not state
        return type(other) is type(self) and self.__dict__ == other.__dict__

    __hash__ = SchemaModel.__hash__

    @model_validator(mode="wrap")
    @classmethod
    def _release_defaults(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        filled: tuple[str, ...] = ()
        if isinstance(data, Mapping):
            try:
                data, filled = fill_release_defaults(data)
            except ValueError as err:
                raise Problems([((field_alias(Cluster, "kubernetes_version"),), str(err))]) from None
        cluster = handler(data)
        if filled:
            cluster._chosen_by_release = filled
        release = parse_release(cluster.kubernetes_version)
        for need in REQUIREMENTS:
            if need.path == "cluster.kubeProxy.mode" and cluster.kube_proxy.mode == "nftables" and release < need.first:
                raise Problems([(("kubeProxy", "mode"), f"{need.what} needs Kubernetes {format_release(need.first)} "
                                 f"or later; cluster.kubernetesVersion is {cluster.kubernetes_version} ({need.source})")])
        return cluster

    @model_validator(mode="after")
    def _cidrs_fit(self) -> Cluster:
        problems: list[tuple[Loc, str]] = []
        prefix = self.cluster_cidr.prefixlen
        mask = self.node_cidr_mask_size
        if mask < prefix or mask > self.cluster_cidr.max_prefixlen:
            problems.append(((field_alias(Cluster, "node_cidr_mask_size"),),
                             f"must be between the clusterCIDR prefix /{prefix} and /{self.cluster_cidr.max_prefixlen}"))
        else:
            capacity = 2 ** (mask - prefix)
            if self.nodes > capacity:
                problems.append((("nodes",),
                                 f"{self.nodes} nodes do not fit in clusterCIDR {self.cluster_cidr}: "
                                 f"it holds {capacity} node CIDRs of /{mask}"))
            pod_addresses = self.pod_addresses_per_node
            if pod_addresses < self.max_pods_per_node:
                problems.append(((field_alias(Cluster, "node_cidr_mask_size"),),
                                 f"a /{mask} node CIDR has {pod_addresses} pod addresses, "
                                 f"fewer than maxPodsPerNode ({self.max_pods_per_node})"))
        if self.service_cidr.version != self.cluster_cidr.version:
            problems.append(((field_alias(Cluster, "service_cidr"),), "must be the same IP family as clusterCIDR"))
        cm = self.controller_manager
        if self.kube_proxy.watch == "Endpoints" and not cm.endpoints_controller:
            problems.append((("kubeProxy", "watch"),
                             "kube-proxy watches Endpoints but controllerManager.endpointsController is false"))
        if self.kube_proxy.watch == "EndpointSlices" and not cm.endpoint_slice_controller:
            problems.append((("kubeProxy", "watch"),
                             "kube-proxy watches EndpointSlices but controllerManager.endpointSliceController is false"))
        problems += [(("network", *loc), message) for loc, message in self.network.problems(self.zones)]
        if problems:
            raise Problems(problems)
        return self

    @property
    def pod_addresses_per_node(self) -> int:
        """Pod IPs in one node CIDR: all but the network address, the gateway (.1) and the
        last address (cluster/nodes.py PodIPAllocator)."""
        return max(0, 2 ** (self.cluster_cidr.max_prefixlen - self.node_cidr_mask_size) - 3)

    @property
    def pod_capacity(self) -> int:
        """Pods the cluster can run at once: nodes × maxPodsPerNode (which fits in a node CIDR)."""
        return self.nodes * self.max_pods_per_node

    def node_name(self, index: int) -> str:
        return f"{self.node_name_prefix}{index}"

    def zone_of(self, index: int) -> str:
        return self.zones[index % len(self.zones)]
class Watcher(SchemaModel):
    name: Name
    kind: Literal["EndpointSlices", "Endpoints", "Services"] = "EndpointSlices"
    count: Count = Field(default=1, ge=0, le=1_000_000)
    encoding: Literal["json", "protobuf"] = "json"  # client-go's default content type is JSON
