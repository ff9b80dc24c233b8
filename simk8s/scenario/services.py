"""`services:` (core/v1 Service, the fields simk8s models) and `background:` (static
Services that only size the rule sets)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Loc, SchemaModel
from .copies import MAX_COPIES
from .errors import Problems
from .types import CIDR, ClusterIP, Count, Duration, IPAddress, Name, PortRef

NODE_PORT_RANGE = (30000, 32767)  # kube-apiserver --service-node-port-range default
MAX_SESSION_AFFINITY_TIMEOUT = 86400.0  # core/v1 validation: 0 < timeoutSeconds <= 86400

Protocol = Literal["TCP", "UDP", "SCTP"]


class ServicePortSpec(SchemaModel):
    name: str = ""
    port: Count = Field(ge=1, le=65535)
    target_port: PortRef = None  # None: same as port
    protocol: Protocol = "TCP"
    node_port: Count | None = Field(default=None, ge=1, le=65535)


class EndpointSpec(SchemaModel):
    """One user-written address of a selector-less Service (its Endpoints object)."""

    ip: IPAddress
    port: Count = Field(ge=1, le=65535)
    port_name: str = ""  # which Service port this is for (multi-port Services)
    ready: bool = True
    node_name: str | None = None


class ServiceSpec(SchemaModel):
    name: Name
    namespace: Name = "default"
    # N similar Services <name>-<i>; expanded before validation (simk8s/scenario/copies.py)
    copies: Count = Field(default=1, ge=1, le=MAX_COPIES)
    type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] = "ClusterIP"
    selector: dict[str, str] | None = None  # None: selector-less (see `endpoints`)
    ports: tuple[ServicePortSpec, ...] = ()
    cluster_ip: ClusterIP = Field(default=None, alias="clusterIP")  # "None" → headless
    publish_not_ready_addresses: bool = False
    session_affinity: Literal["None", "ClientIP"] = "None"
    session_affinity_timeout: Duration = Field(default=10800.0, ge=0, le=MAX_SESSION_AFFINITY_TIMEOUT)
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


class Background(SchemaModel):
    """Static services that size every node's rule set; they never change."""

    services: Count = Field(default=0, ge=0, le=1_000_000)  # also limited by serviceCIDR
    endpoints_per_service: Count = Field(default=10, ge=0, le=100_000)
