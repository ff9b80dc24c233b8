"""The scenario schema as frozen pydantic v2 models (see docs/scenario-schema.md).

YAML keys are camelCase; attributes are snake_case (`sc.cluster.kube_proxy.min_sync_period`).
Inside, durations are float seconds, sizes int bytes, bandwidth float bytes/s, rates float
per second. Checks that involve several fields raise `Problems` so that every problem is
reported at its own path.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic.alias_generators import to_camel

from . import copies as copies_rule
from .errors import Problems
from .types import (
    CIDR,
    Bandwidth,
    Bytes,
    ClusterIP,
    Duration,
    DurationOrNever,
    IPAddress,
    Name,
    NodeRef,
    Percent,
    PortRef,
    Rate,
)
from .units import IntOrPercent, format_duration

Loc = tuple[str | int, ...]

NODE_PORT_RANGE = (30000, 32767)  # kube-apiserver --service-node-port-range default
MAX_SESSION_AFFINITY_TIMEOUT = 86400.0  # core/v1 validation: 0 < timeoutSeconds <= 86400


class SchemaModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


# --- cluster ------------------------------------------------------------------------------


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
    # --max-endpoints-per-slice: default 100, validated to 1..1000 (kubernetes-endpoints-controllers.md §2.1)
    max_endpoints_per_slice: int = Field(default=100, ge=1, le=1000)
    endpoints_controller: bool = True
    endpoint_slice_controller: bool = True
    # Addresses kept per Endpoints object (§1.5): 1000 since v1.22 (truncation, over-capacity
    # annotation); 0 = no cap, as before v1.22 — the era of the "1.5 MB × 3000 nodes" example.
    endpoints_max_capacity: int = Field(default=1000, ge=0)


class KubeProxy(SchemaModel):
    mode: Literal["iptables", "ipvs", "nftables"] = "iptables"
    watch: Literal["EndpointSlices", "Endpoints"] = "EndpointSlices"
    min_sync_period: Duration = 1.0  # kube-proxy.md §2.1
    sync_period: Duration = 30.0
    # Full resync of iptables/nftables: hourly since v1.33; `never` for v1.26–v1.32 iptables,
    # which re-restored everything only at startup and after errors (kube-proxy.md §2.3).
    full_sync_period: DurationOrNever = 3600.0
    # token-bucket: burst 2, start-to-start (<= v1.33); completion-gap: newest (kube-proxy.md §2.2)
    runner: Literal["token-bucket", "completion-gap"] = "token-bucket"
    ipvs_scheduler: Literal["rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq", "mh"] = "rr"
    node_speed_spread: float = Field(default=0.1, ge=0)
    large_cluster_endpoints_threshold: int = Field(default=1000, ge=0)  # kube-proxy.md §1.9
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
            problems.append(((_alias("node_cidr_mask_size"),),
                             f"must be between the clusterCIDR prefix /{prefix} and /{self.cluster_cidr.max_prefixlen}"))
        else:
            capacity = 2 ** (mask - prefix)
            if self.nodes > capacity:
                problems.append((("nodes",),
                                 f"{self.nodes} nodes do not fit in clusterCIDR {self.cluster_cidr}: "
                                 f"it holds {capacity} node CIDRs of /{mask}"))
            pod_addresses = 2 ** (self.cluster_cidr.max_prefixlen - mask)
            if pod_addresses < self.max_pods_per_node:
                problems.append(((_alias("node_cidr_mask_size"),),
                                 f"a /{mask} node CIDR has {pod_addresses} addresses, "
                                 f"fewer than maxPodsPerNode ({self.max_pods_per_node})"))
        if self.service_cidr.version != self.cluster_cidr.version:
            problems.append(((_alias("service_cidr"),), "must be the same IP family as clusterCIDR"))
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


class Background(SchemaModel):
    """Static services that size every node's rule set; they never change."""

    services: int = Field(default=0, ge=0)
    endpoints_per_service: int = Field(default=10, ge=0)


class Watcher(SchemaModel):
    name: Name
    kind: Literal["EndpointSlices", "Endpoints", "Services"] = "EndpointSlices"
    count: int = Field(default=1, ge=0)
    encoding: Literal["json", "protobuf"] = "json"  # client-go's default content type is JSON


# --- services -----------------------------------------------------------------------------

Protocol = Literal["TCP", "UDP", "SCTP"]


class ServicePortSpec(SchemaModel):
    name: str = ""
    port: int = Field(ge=1, le=65535)
    target_port: PortRef = None  # None: same as port
    protocol: Protocol = "TCP"
    node_port: int | None = None


class EndpointSpec(SchemaModel):
    """One user-written address of a selector-less Service (its Endpoints object)."""

    ip: IPAddress
    port: int = Field(ge=1, le=65535)
    port_name: str = ""  # which Service port this is for (multi-port Services)
    ready: bool = True
    node_name: str | None = None


class ServiceSpec(SchemaModel):
    name: Name
    namespace: Name = "default"
    # N similar Services <name>-<i>; expanded before validation (simk8s/scenario/copies.py)
    copies: int = Field(default=1, ge=1, le=copies_rule.MAX_COPIES)
    type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] = "ClusterIP"
    selector: dict[str, str] | None = None  # None: selector-less (see `endpoints`)
    ports: tuple[ServicePortSpec, ...] = ()
    cluster_ip: ClusterIP = Field(default=None, alias="clusterIP")  # "None" → headless
    publish_not_ready_addresses: bool = False
    session_affinity: Literal["None", "ClientIP"] = "None"
    session_affinity_timeout: Duration = 10800.0
    internal_traffic_policy: Literal["Cluster", "Local"] = "Cluster"
    external_traffic_policy: Literal["Cluster", "Local"] = "Cluster"
    external_ips: tuple[IPAddress, ...] = Field(default=(), alias="externalIPs")
    load_balancer_ip: IPAddress | None = Field(default=None, alias="loadBalancerIP")
    load_balancer_source_ranges: tuple[CIDR, ...] = ()
    external_name: str | None = None
    traffic_distribution: Literal["PreferClose", "PreferSameZone", "PreferSameNode"] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    endpoints: tuple[EndpointSpec, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"

    @property
    def exposes_node_ports(self) -> bool:
        return self.type in ("NodePort", "LoadBalancer")

    @model_validator(mode="after")
    def _consistent(self) -> ServiceSpec:
        problems: list[tuple[Loc, str]] = []
        if self.type == "ExternalName" and not self.external_name:
            problems.append((("type",), "type ExternalName needs externalName"))
        if self.type != "ExternalName" and self.external_name:
            problems.append((("externalName",), "only valid with type ExternalName"))
        if self.headless and self.exposes_node_ports:
            problems.append((("clusterIP",), f"may not be None for type {self.type}"))
        if not self.ports and self.type != "ExternalName" and not self.headless:
            problems.append((("ports",), "a Service needs at least one port (unless headless or ExternalName)"))
        problems += self._port_problems()
        if self.external_traffic_policy == "Local" and not self.exposes_node_ports:
            problems.append((("externalTrafficPolicy",), "Local is only valid for type NodePort or LoadBalancer"))
        if self.session_affinity == "ClientIP" and not 0 < self.session_affinity_timeout <= MAX_SESSION_AFFINITY_TIMEOUT:
            problems.append((("sessionAffinityTimeout",), "must be > 0s and <= 24h"))
        if self.endpoints and self.selector is not None:
            problems.append((("endpoints",), "only a Service without selector may list endpoints"))
        if problems:
            raise Problems(problems)
        return self

    def _port_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        names: dict[str, int] = {}
        numbers: dict[tuple[int, str], int] = {}
        low, high = NODE_PORT_RANGE
        for i, port in enumerate(self.ports):
            if len(self.ports) > 1 and not port.name:
                problems.append((("ports", i, "name"), "required when a Service has more than one port"))
            elif port.name in names:
                problems.append((("ports", i, "name"), f"duplicate port name {port.name!r} (also ports.{names[port.name]})"))
            names.setdefault(port.name, i)
            if (port.port, port.protocol) in numbers:
                problems.append((("ports", i, "port"),
                                 f"duplicate port {port.port}/{port.protocol} (also ports.{numbers[port.port, port.protocol]})"))
            numbers.setdefault((port.port, port.protocol), i)
            if port.node_port is not None:
                if not self.exposes_node_ports:
                    problems.append((("ports", i, "nodePort"), "only valid for type NodePort or LoadBalancer"))
                elif not low <= port.node_port <= high:
                    problems.append((("ports", i, "nodePort"), f"must be in the range {low}-{high}, got {port.node_port}"))
        return problems


# --- workloads ----------------------------------------------------------------------------


class ContainerPortSpec(SchemaModel):
    name: str = ""
    container_port: int = Field(ge=1, le=65535)
    protocol: Protocol = "TCP"


class ReadinessProbe(SchemaModel):
    # core/v1 Probe defaults; readiness is computed from this schedule, not probed one by one.
    initial_delay_seconds: int = Field(default=0, ge=0)
    period_seconds: int = Field(default=10, ge=1)
    success_threshold: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=3, ge=1)


class Strategy(SchemaModel):
    type: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    max_surge: Percent | None = None  # filled with 25% for RollingUpdate (apps/v1 default)
    max_unavailable: Percent | None = None

    @model_validator(mode="before")
    @classmethod
    def _rolling_update_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type", "RollingUpdate") == "RollingUpdate":
            data = dict(data)
            for alias, name in (("maxSurge", "max_surge"), ("maxUnavailable", "max_unavailable")):
                if alias not in data and name not in data:
                    data[alias] = "25%"
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Strategy:
        problems: list[tuple[Loc, str]] = []
        if self.type == "Recreate":
            for alias, value in (("maxSurge", self.max_surge), ("maxUnavailable", self.max_unavailable)):
                if value is not None:
                    problems.append(((alias,), "may not be set when type is Recreate"))
        else:
            zero = IntOrPercent(0)
            surge, unavailable = self.max_surge or zero, self.max_unavailable or zero
            if surge.value == 0 and unavailable.value == 0:
                problems.append((("maxUnavailable",), "may not be 0 when maxSurge is 0"))
            if unavailable.percent and unavailable.value > 100:
                problems.append((("maxUnavailable",), f"must not be more than 100%, got {unavailable}"))
        if problems:
            raise Problems(problems)
        return self


class ReadinessFlaps(SchemaModel):
    rate: Rate = 0.0  # per pod: Ready→NotReady episodes
    duration: Duration = 20.0


class Workload(SchemaModel):
    kind: Literal["Deployment"] = "Deployment"
    name: Name
    namespace: Name = "default"
    # N similar Deployments <name>-<i>; expanded before validation (simk8s/scenario/copies.py)
    copies: int = Field(default=1, ge=1, le=copies_rule.MAX_COPIES)
    replicas: int = Field(default=1, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)  # pod template labels; default {app: <name>}
    selector: dict[str, str] | None = None  # None: the template labels
    container_ports: tuple[ContainerPortSpec, ...] = ()
    readiness_probe: ReadinessProbe | None = None  # None: Ready as soon as the container starts
    termination_grace_period_seconds: int = Field(default=30, ge=0)
    shutdown_delay: Duration = 0.0  # app keeps serving this long after SIGTERM (preStop sleep)
    min_ready_seconds: int = Field(default=0, ge=0)
    strategy: Strategy = Strategy()
    readiness_flaps: ReadinessFlaps = ReadinessFlaps()

    @model_validator(mode="before")
    @classmethod
    def _default_labels(cls, data: Any) -> Any:
        if isinstance(data, dict) and "labels" not in data and isinstance(data.get("name"), str):
            data = {**data, "labels": {"app": data["name"]}}
        return data

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def match_labels(self) -> dict[str, str]:
        return self.labels if self.selector is None else self.selector

    @model_validator(mode="after")
    def _selector_matches(self) -> Workload:
        if not self.labels:
            raise Problems([(("labels",), "a Deployment's pod template needs at least one label")])
        if self.selector is not None:
            if not self.selector:
                raise Problems([(("selector",), "must not be empty")])
            if any(self.labels.get(k) != v for k, v in self.selector.items()):
                raise Problems([(("selector",), "does not match the pod template labels")])
        if self.shutdown_delay > self.termination_grace_period_seconds:
            raise Problems([(("shutdownDelay",), "must not exceed terminationGracePeriodSeconds")])
        return self


# --- events and traffic -------------------------------------------------------------------

EVENT_ACTIONS = ("rollout", "scale", "drain", "nodeLoss")


class Event(SchemaModel):
    at: Duration
    rollout: str | None = None  # workload name (or namespace/name), or a glob of either
    scale: str | None = None
    replicas: int | None = Field(default=None, ge=0)  # with scale
    drain: NodeRef | None = None  # node name, or that many nodes (lowest index first)
    node_loss: NodeRef | None = None  # the node dies: its pods vanish without termination

    @property
    def action(self) -> str:
        return next(a for a in EVENT_ACTIONS if getattr(self, _attr(a)) is not None)

    @property
    def target(self) -> str | int:
        return getattr(self, _attr(self.action))

    @model_validator(mode="after")
    def _one_action(self) -> Event:
        actions = [a for a in EVENT_ACTIONS if getattr(self, _attr(a)) is not None]
        if len(actions) != 1:
            got = "none" if not actions else ", ".join(actions)
            raise Problems([((), f"an event needs exactly one of rollout, scale, drain, nodeLoss; got {got}")])
        if actions[0] == "scale" and self.replicas is None:
            raise Problems([((), "scale needs replicas")])
        if actions[0] != "scale" and self.replicas is not None:
            raise Problems([(("replicas",), "only valid with scale")])
        return self


class Traffic(SchemaModel):
    service: str  # Service name (or namespace/name); a glob is expanded to one flow per match
    rate: Rate  # new connections per second, Poisson
    from_: Literal["pods", "external"] = Field(default="pods", alias="from")
    client_nodes: int = Field(default=0, ge=0)  # 0: all nodes
    clients: int = Field(default=1000, ge=1)
    requests_per_connection: int = Field(default=1, ge=1)
    connection_duration: Duration = 1.0
    start: Duration = 0.0
    end: Duration | None = None  # None: the end of the run

    @model_validator(mode="after")
    def _window(self) -> Traffic:
        if self.end is not None and self.end <= self.start:
            raise Problems([(("end",), f"must be after start ({format_duration(self.start)})")])
        return self


class Variant(SchemaModel):
    name: Name
    # dotted camelCase path → value, applied to the base scenario (loader.apply_overrides)
    settings: dict[str, Any] = Field(default_factory=dict, alias="set")


# --- the scenario -------------------------------------------------------------------------


class Scenario(SchemaModel):
    name: Name
    description: str = ""
    seed: int = Field(default=1, ge=0)
    duration: Duration = Field(default=1800.0, gt=0)
    cluster: Cluster = Cluster()
    background: Background = Background()
    watchers: tuple[Watcher, ...] = ()
    services: tuple[ServiceSpec, ...] = ()
    workloads: tuple[Workload, ...] = ()
    events: tuple[Event, ...] = ()
    traffic: tuple[Traffic, ...] = ()
    compare: tuple[Variant, ...] = ()

    # Set by the loader, not part of the schema: messages about ignored manifest content.
    _warnings: tuple[str, ...] = PrivateAttr(default=())
    # How `copies` and traffic globs were expanded (for the compact resolved dump).
    _expansion: copies_rule.Expansion = PrivateAttr(default_factory=copies_rule.Expansion)

    @model_validator(mode="wrap")
    @classmethod
    def _expand_copies(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Scenario:
        # `copies` and traffic globs are expanded before anything is validated; a caller that
        # passes a context dict gets the Expansion back in it, even when validation fails
        # (the loader maps problem locations back to the entries as written).
        expanded, expansion = copies_rule.expand(data)
        if isinstance(info.context, dict):
            info.context["expansion"] = expansion
        scenario = handler(expanded)
        if expansion.groups:
            scenario._expansion = expansion
        return scenario

    @property
    def expansion(self) -> copies_rule.Expansion:
        return self._expansion

    @property
    def warnings(self) -> tuple[str, ...]:
        return self._warnings

    def __eq__(self, other: object) -> bool:
        # Equality is the schema content; loader warnings are provenance, not content.
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # dict fields make it unhashable anyway

    def service(self, ref: str) -> ServiceSpec:
        return _find(ref, self.services)[0]

    def workload(self, ref: str) -> Workload:
        return _find(ref, self.workloads)[0]

    def workloads_matching(self, ref: str) -> list[Workload]:
        """The workloads an event names: one (name or namespace/name) or every match of a glob."""
        return _find(ref, self.workloads)

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Scenario:
        context = info.context if isinstance(info.context, dict) else {}
        written = context.get("expansion") or copies_rule.Expansion()
        problems: list[tuple[Loc, str]] = []
        problems += _duplicates("services", "Service", self.services, written)
        problems += _duplicates("workloads", "Deployment", self.workloads, written)
        problems += _duplicate_names("watchers", self.watchers)
        problems += _duplicate_names("compare", self.compare)
        problems += self._service_problems()
        problems += self._event_problems()
        problems += self._traffic_problems()
        problems += self._watcher_problems()
        if problems:
            raise Problems(problems)
        return self

    def _service_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        node_ports: dict[int, str] = {}
        cluster_ips: dict[str, str] = {}
        service_cidr = self.cluster.service_cidr
        for i, svc in enumerate(self.services):
            for j, port in enumerate(svc.ports):
                if port.node_port is None:
                    continue
                if port.node_port in node_ports:
                    problems.append((("services", i, "ports", j, "nodePort"),
                                     f"nodePort {port.node_port} is used by both Service "
                                     f"{node_ports[port.node_port]} and Service {svc.key}"))
                else:
                    node_ports[port.node_port] = svc.key
            if svc.cluster_ip not in (None, "None"):
                if ipaddress.ip_address(svc.cluster_ip) not in service_cidr:
                    problems.append((("services", i, "clusterIP"), f"{svc.cluster_ip} is not in serviceCIDR {service_cidr}"))
                elif svc.cluster_ip in cluster_ips:
                    problems.append((("services", i, "clusterIP"),
                                     f"{svc.cluster_ip} is used by both Service {cluster_ips[svc.cluster_ip]} and Service {svc.key}"))
                cluster_ips.setdefault(svc.cluster_ip, svc.key)
        wanted = self.background.services + len(self.services)
        if wanted > service_cidr.num_addresses - 2:
            problems.append((("cluster", "serviceCIDR"),
                             f"{service_cidr} has room for {service_cidr.num_addresses - 2} ClusterIPs, fewer than the {wanted} Services"))
        return problems

    def _node_problem(self, value: int | str) -> str | None:
        nodes = self.cluster.nodes
        if isinstance(value, int):
            return None if value <= nodes else f"cannot take {value} nodes out of {nodes}"
        prefix = self.cluster.node_name_prefix
        index = value[len(prefix):] if value.startswith(prefix) else ""
        if index.isdigit() and str(int(index)) == index and int(index) < nodes:
            return None
        return f"no node {value!r} (nodes are {prefix}0 .. {prefix}{nodes - 1})"

    def _event_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        for i, event in enumerate(self.events):
            action = event.action
            if event.at > self.duration:
                problems.append((("events", i, "at"),
                                 f"{format_duration(event.at)} is after the end of the run (duration {format_duration(self.duration)})"))
            if action in ("rollout", "scale"):
                # A glob may name several Deployments; it must match at least one.
                message = _find_problem(str(event.target), self.workloads, "Deployment")
            else:
                message = self._node_problem(event.target)
            if message:
                problems.append((("events", i, action), message))
        return problems

    def _traffic_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        for i, flow in enumerate(self.traffic):
            message = _find_problem(flow.service, self.services, "Service")
            if message:
                problems.append((("traffic", i, "service"), message))
            else:
                svc = _find(flow.service, self.services)[0]
                # ExternalName traffic is allowed: clients get a DNS CNAME answer, counted as such.
                if svc.type == "ExternalName" and flow.from_ == "external":
                    problems.append((("traffic", i, "from"), f"Service {svc.key} is ExternalName: it has no node ports to reach from outside"))
                elif flow.from_ == "external" and not (svc.exposes_node_ports or svc.external_ips):
                    problems.append((("traffic", i, "from"),
                                     f"external traffic needs a NodePort or LoadBalancer Service (or externalIPs); {svc.key} is {svc.type}"))
            if flow.client_nodes > self.cluster.nodes:
                problems.append((("traffic", i, "clientNodes"), f"more than the {self.cluster.nodes} nodes"))
            if flow.start >= self.duration:
                problems.append((("traffic", i, "start"), "is not before the end of the run"))
        return problems

    def _watcher_problems(self) -> list[tuple[Loc, str]]:
        cm = self.cluster.controller_manager
        problems: list[tuple[Loc, str]] = []
        for i, watcher in enumerate(self.watchers):
            if watcher.kind == "Endpoints" and not cm.endpoints_controller:
                problems.append((("watchers", i, "kind"), "Endpoints needs controllerManager.endpointsController"))
            if watcher.kind == "EndpointSlices" and not cm.endpoint_slice_controller:
                problems.append((("watchers", i, "kind"), "EndpointSlices needs controllerManager.endpointSliceController"))
        return problems


# --- helpers ------------------------------------------------------------------------------


def _attr(alias: str) -> str:
    return "node_loss" if alias == "nodeLoss" else alias


def _alias(field: str) -> str:
    info = Cluster.model_fields[field]
    return info.alias or to_camel(field)


_Keyed = TypeVar("_Keyed", ServiceSpec, Workload)
_Named = TypeVar("_Named", Watcher, Variant)


def _find(ref: str, items: Iterable[_Keyed]) -> list[_Keyed]:
    """Objects named `ref` ("name" in any namespace, or "namespace/name", or a glob of either)."""
    if copies_rule.is_glob(ref):
        return [item for item in items if copies_rule.matches(ref, item.name, item.key)]
    if "/" in ref:
        return [item for item in items if item.key == ref]
    return [item for item in items if item.name == ref]


_KNOWN_SHOWN = 20  # names listed in a "no such object" message


def _find_problem(ref: str, items: tuple[_Keyed, ...], kind: str) -> str | None:
    found = _find(ref, items)
    if not found:
        names = [item.name for item in items[:_KNOWN_SHOWN]]
        if len(items) > _KNOWN_SHOWN:
            names.append(f"... {len(items)} in all")
        known = ", ".join(names) or "none defined"
        if copies_rule.is_glob(ref):
            return f"no {kind} matches {ref!r} (known: {known})"
        return f"no {kind} named {ref!r} (known: {known})"
    if len(found) > 1 and not copies_rule.is_glob(ref):
        return f"{ref!r} names several {kind}s; write namespace/name"
    return None


def _duplicates(field: str, kind: str, items: tuple[_Keyed, ...], expansion: copies_rule.Expansion) -> list[tuple[Loc, str]]:
    first: dict[str, int] = {}
    problems: list[tuple[Loc, str]] = []
    for i, item in enumerate(items):
        if item.key in first:
            other = expansion.written_index(field, first[item.key])  # the entry as written
            problems.append(((field, i, "name"), f"duplicate {kind} {item.key} (also {field}.{other})"))
        first.setdefault(item.key, i)
    return problems


def _duplicate_names(field: str, items: tuple[_Named, ...]) -> list[tuple[Loc, str]]:
    first: dict[str, int] = {}
    problems: list[tuple[Loc, str]] = []
    for i, item in enumerate(items):
        if item.name in first:
            problems.append(((field, i, "name"), f"duplicate name {item.name!r} (also {field}.{first[item.name]})"))
        first.setdefault(item.name, i)
    return problems
