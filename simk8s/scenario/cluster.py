"""`cluster:` in a scenario: nodes and their pod CIDRs, scheduler, kubelet, apiserver, etcd,
kube-controller-manager and kube-proxy settings; and `watchers:`, the apiserver's other
watch clients. Field names follow the flag or config field they model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Loc, SchemaModel, field_alias
from .errors import Problems
from .types import CIDR, Bandwidth, Bytes, Duration, DurationOrNever, Name, Rate
from .units import format_duration


class Scheduler(SchemaModel):
    throughput: Rate = Field(default=100.0, gt=0)  # pods bound per second


class PodStartLatency(SchemaModel):
    median: Duration = 2.0
    p99: Duration = 8.0

    @model_validator(mode="after")
    def _p99_not_below_median(self) -> PodStartLatency:
        if self.p99 < self.median:
            raise Problems([(("p99",), f"must be >= median ({format_duration(self.median)})")])
        return self


class Kubelet(SchemaModel):
    pod_start_latency: PodStartLatency = PodStartLatency()


class Apiserver(SchemaModel):
    replicas: int = Field(default=3, ge=1)
    egress_bandwidth: Bandwidth = Field(default=1.25e9, gt=0)  # 10Gbps per replica
    write_latency: Duration = 0.01
    max_request_body_bytes: Bytes = 3 * 2**20
    watch_cache_encoding: Literal["protobuf", "json"] = "protobuf"


class Etcd(SchemaModel):
    max_request_bytes: Bytes = 3 * 2**19  # 1.5Mi, etcd --max-request-bytes default


class ControllerManager(SchemaModel):
    kube_api_qps: float = Field(default=20.0, gt=0)
    kube_api_burst: int = Field(default=30, ge=1)
    concurrent_endpoint_syncs: int = Field(default=5, ge=1)
    concurrent_service_endpoint_syncs: int = Field(default=5, ge=1)
    endpoint_updates_batch_period: Duration = 0.0
    endpoint_slice_updates_batch_period: Duration = 0.0
    # --max-endpoints-per-slice: default 100, validated to 1..1000
    # (cmd/kube-controller-manager/app/options/endpointslicecontroller.go)
    max_endpoints_per_slice: int = Field(default=100, ge=1, le=1000)
    endpoints_controller: bool = True
    endpoint_slice_controller: bool = True
    # Addresses kept per Endpoints object: 1000 since v1.22 (pkg/controller/endpoint/
    # endpoints_controller.go maxCapacity, truncation + over-capacity annotation, KEP-752);
    # 0 = no cap, as before v1.22 (docs/references.md [blog-endpointslices]: 1.5 MB × 3000 nodes).
    endpoints_max_capacity: int = Field(default=1000, ge=0)


class KubeProxy(SchemaModel):
    mode: Literal["iptables", "ipvs", "nftables"] = "iptables"
    watch: Literal["EndpointSlices", "Endpoints"] = "EndpointSlices"
    min_sync_period: Duration = 1.0  # --iptables-min-sync-period default since kubernetes/kubernetes#92836
    sync_period: Duration = 30.0
    # Full resync of iptables/nftables: hourly since v1.33; `never` for v1.26–v1.32 iptables,
    # which re-restored everything only at startup and after errors (kubernetes/kubernetes#129329).
    full_sync_period: DurationOrNever = 3600.0
    # token-bucket: burst 2, start-to-start (pkg/util/async/bounded_frequency_runner.go, <= v1.33);
    # completion-gap: minSyncPeriod after each sync ends (pkg/proxy/runner, kubernetes/kubernetes#131615)
    runner: Literal["token-bucket", "completion-gap"] = "token-bucket"
    ipvs_scheduler: Literal["rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq", "mh"] = "rr"
    node_speed_spread: float = Field(default=0.1, ge=0)
    # pkg/proxy/iptables/proxier.go largeClusterEndpointsThreshold
    large_cluster_endpoints_threshold: int = Field(default=1000, ge=0)
    # false: kube-proxies were already running at t = 0 (rules programmed, each node's hourly
    # full sync at its own phase); true: every kube-proxy restarts at t = 0 with a full sync.
    restart_at_start: bool = False


class Cluster(SchemaModel):
    nodes: int = Field(default=100, ge=1)
    zones: tuple[Name, ...] = Field(default=("a", "b", "c"), min_length=1)
    node_name_prefix: str = "node-"
    cluster_cidr: CIDR = Field(default="10.64.0.0/10", alias="clusterCIDR", validate_default=True)
    node_cidr_mask_size: int = Field(default=24, ge=1, le=128, alias="nodeCIDRMaskSize")
    service_cidr: CIDR = Field(default="10.96.0.0/12", alias="serviceCIDR", validate_default=True)
    max_pods_per_node: int = Field(default=110, ge=1)
    scheduler: Scheduler = Scheduler()
    kubelet: Kubelet = Kubelet()
    apiserver: Apiserver = Apiserver()
    etcd: Etcd = Etcd()
    controller_manager: ControllerManager = ControllerManager()
    kube_proxy: KubeProxy = KubeProxy()

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
            pod_addresses = 2 ** (self.cluster_cidr.max_prefixlen - mask)
            if pod_addresses < self.max_pods_per_node:
                problems.append(((field_alias(Cluster, "node_cidr_mask_size"),),
                                 f"a /{mask} node CIDR has {pod_addresses} addresses, "
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
        if problems:
            raise Problems(problems)
        return self

    def node_name(self, index: int) -> str:
        return f"{self.node_name_prefix}{index}"

    def zone_of(self, index: int) -> str:
        return self.zones[index % len(self.zones)]
class Watcher(SchemaModel):
    name: Name
    kind: Literal["EndpointSlices", "Endpoints", "Services"] = "EndpointSlices"
    count: int = Field(default=1, ge=0)
    encoding: Literal["json", "protobuf"] = "json"  # client-go's default content type is JSON
