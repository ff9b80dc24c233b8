"""Kubernetes API objects as small frozen records.

Only the fields the simulator reads or serializes are modelled. These records are what
controllers take in and produce, what the apiserver stores and sizes, and what kube-proxy
renders. They are plain data: no SimPy, no behaviour beyond trivial helpers.

Field names follow the Kubernetes API (snake_case of the JSON name): the Go types in
``staging/src/k8s.io/api/core/v1/types.go`` and ``staging/src/k8s.io/api/discovery/v1/
types.go``; label and annotation keys as in their ``well_known_labels.go`` and
``annotation_key_constants.go``.
"""

from __future__ import annotations

from dataclasses import dataclass

from simk8s.api.records import fast_init

# Pod phases (core/v1 PodPhase).
PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
UNKNOWN = "Unknown"

MANAGED_BY_SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
MANAGED_BY_MIRRORING_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_EP_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
ANNOTATION_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
ANNOTATION_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"


@fast_init
@dataclass(frozen=True, slots=True)
class ContainerPort:
    container_port: int
    name: str = ""
    protocol: str = "TCP"


@fast_init
@dataclass(frozen=True, slots=True)
class Pod:
    """What the endpoint controllers and kube-proxy need to know of one pod at one moment."""

    name: str
    namespace: str = "default"
    uid: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    node_name: str = ""
    pod_ips: tuple[str, ...] = ()  # status.podIPs; first is status.podIP
    phase: str = PENDING
    ready: bool = False  # the Ready condition is True
    terminating: bool = False  # metadata.deletionTimestamp is set
    ready_transition_time: float | None = None  # Ready condition lastTransitionTime (s)
    container_ports: tuple[ContainerPort, ...] = ()
    hostname: str = ""
    subdomain: str = ""

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


@fast_init
@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    name: str = ""
    protocol: str = "TCP"
    target_port: int | str | None = None  # None means "same as port"
    node_port: int | None = None
    app_protocol: str | None = None

    @property
    def resolved_target(self) -> int | str:
        return self.port if self.target_port is None else self.target_port


@fast_init
@dataclass(frozen=True, slots=True)
class Service:
    name: str
    namespace: str = "default"
    uid: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    selector: tuple[tuple[str, str], ...] | None = ()  # None: selector-less Service
    ports: tuple[ServicePort, ...] = ()
    type: str = "ClusterIP"  # ClusterIP | NodePort | LoadBalancer | ExternalName
    cluster_ip: str | None = None  # "None" for headless
    ip_families: tuple[str, ...] = ("IPv4",)
    publish_not_ready_addresses: bool = False
    session_affinity: str = "None"  # None | ClientIP
    session_affinity_timeout_s: int = 10800
    internal_traffic_policy: str = "Cluster"
    external_traffic_policy: str = "Cluster"
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    health_check_node_port: int | None = None
    external_name: str | None = None
    traffic_distribution: str | None = None
    creation_time: float = 0.0

    @property
    def headless(self) -> bool:
        return self.cluster_ip in (None, "", "None") and self.type != "ExternalName"

    @property
    def selector_dict(self) -> dict[str, str] | None:
        return None if self.selector is None else dict(self.selector)

    def selects(self, pod: Pod) -> bool:
        """Label-selector match (an empty selector selects nothing, as for Services)."""
        if not self.selector:
            return False
        labels = pod.label_dict
        return all(labels.get(k) == v for k, v in self.selector)


@fast_init
@dataclass(frozen=True, slots=True)
class ObjectReference:
    kind: str = "Pod"
    namespace: str = ""
    name: str = ""
    uid: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class EndpointAddress:
    ip: str
    node_name: str | None = None
    target_ref: ObjectReference | None = None
    hostname: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class EndpointPort:
    port: int
    name: str = ""
    protocol: str = "TCP"
    app_protocol: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class EndpointSubset:
    addresses: tuple[EndpointAddress, ...] = ()
    not_ready_addresses: tuple[EndpointAddress, ...] = ()
    ports: tuple[EndpointPort, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Endpoints:
    """core/v1 Endpoints."""

    name: str
    namespace: str = "default"
    uid: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    subsets: tuple[EndpointSubset, ...] = ()
    # metadata.deletionTimestamp (s), e.g. while a finalizer holds the object. The cluster
    # never deletes Endpoints, so only the mirroring rules read it and sizes leave it out.
    deletion_timestamp: float | None = None

    @property
    def address_count(self) -> int:
        return sum(len(s.addresses) + len(s.not_ready_addresses) for s in self.subsets)


@fast_init
@dataclass(frozen=True, slots=True)
class Endpoint:
    """discovery/v1 Endpoint (one entry of an EndpointSlice)."""

    addresses: tuple[str, ...]
    ready: bool | None = True
    serving: bool | None = True
    terminating: bool | None = False
    hostname: str = ""
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None
    hints_for_zones: tuple[str, ...] = ()
    hints_for_nodes: tuple[str, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """discovery/v1 EndpointSlice."""

    name: str
    namespace: str = "default"
    uid: str = ""
    generate_name: str = ""
    generation: int = 1
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    owner_name: str = ""  # controller ownerReference (kind Service, or Endpoints if mirrored)
    owner_uid: str = ""
    owner_kind: str = "Service"
    address_type: str = "IPv4"
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()

    @property
    def service_name(self) -> str:
        return dict(self.labels).get(LABEL_SERVICE_NAME, self.owner_name)
