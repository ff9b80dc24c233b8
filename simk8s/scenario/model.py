"""The top-level Scenario (see docs/scenario-schema.md): its parts live beside it —
cluster.py (cluster settings, watchers), services.py, workloads.py, events.py (events,
traffic, compare) — and the checks that span several parts are here."""

from __future__ import annotations

import ipaddress
from typing import Any, Self

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)

from .base import Loc, SchemaModel
from .cluster import Cluster, Watcher
from .copies import Expansion
from .copies import expand as expand_written
from .errors import Problems
from .events import Event, Traffic, Variant
from .references import duplicate_names, duplicates, find, find_problem
from .releases import REQUIREMENTS, format_release, parse_release
from .services import Background, ServiceSpec
from .types import WEEK, Count, Duration, Name
from .units import format_duration
from .workloads import Workload


def newest_cluster() -> Cluster:
    """A cluster with every default of the newest release modelled."""
    return Cluster.model_validate({})


class Scenario(SchemaModel):
    name: Name
    description: str = ""
    seed: Count = Field(default=1, ge=0, le=2**64 - 1)
    duration: Duration = Field(default=1800.0, gt=0, le=WEEK)
    # Validated even when absent, so that the newest release's defaults fill it.
    cluster: Cluster = Field(default_factory=newest_cluster)
    background: Background = Background()
    watchers: tuple[Watcher, ...] = ()
    services: tuple[ServiceSpec, ...] = ()
    workloads: tuple[Workload, ...] = ()
    events: tuple[Event, ...] = ()
    traffic: tuple[Traffic, ...] = ()
    compare: tuple[Variant, ...] = ()

    # Set by the loader, not part of the schema: messages about ignored manifest content.
    _warnings: tuple[str, ...] = PrivateAttr(default=())
    # compare variants left out because their release lacks what they set (see the warnings).
    _skipped_variants: tuple[str, ...] = PrivateAttr(default=())
    # compare variants load_scenario validated without a problem (name → Scenario), so that
    # load_variants does not validate them again.
    _checked_variants: dict[str, Scenario] = PrivateAttr(default_factory=dict)
    # How `copies` and traffic globs were expanded (for the compact resolved dump).
    _expansion: Expansion = PrivateAttr(default_factory=Expansion)

    @model_validator(mode="wrap")
    @classmethod
    def _expand_copies(cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo) -> Self:
        # `copies` and traffic globs are expanded before anything is validated; a caller that
        # passes a context dict gets the Expansion back in it, even when validation fails
        # (the loader maps problem locations back to the entries as written).
        expanded, expansion = expand_written(data)
        if isinstance(info.context, dict):
            info.context["expansion"] = expansion
        scenario = handler(expanded)
        if expansion.groups:
            scenario._expansion = expansion
        return scenario

    @property
    def expansion(self) -> Expansion:
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
        return find(ref, self.services)[0]

    def workload(self, ref: str) -> Workload:
        return find(ref, self.workloads)[0]

    def workloads_matching(self, ref: str) -> list[Workload]:
        """The workloads an event names: one (name or namespace/name) or every match of a glob."""
        return find(ref, self.workloads)

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Scenario:
        context = info.context if isinstance(info.context, dict) else {}
        written = context.get("expansion") or Expansion()
        problems: list[tuple[Loc, str]] = []
        problems += duplicates("services", "Service", self.services, written)
        problems += duplicates("workloads", "Deployment", self.workloads, written)
        problems += duplicate_names("watchers", self.watchers)
        problems += duplicate_names("compare", self.compare)
        problems += self._service_problems()
        problems += self._event_problems()
        problems += self._traffic_problems()
        problems += self._watcher_problems()
        problems += self._capacity_problems()
        problems += self._release_problems()
        if problems:
            raise Problems(problems)
        return self

    def _release_problems(self) -> list[tuple[Loc, str]]:
        """Fields that do not exist yet in the scenario's release (scenario/releases.py)."""
        release = parse_release(self.cluster.kubernetes_version)
        need = next(r for r in REQUIREMENTS if r.path == "services.trafficDistribution")
        if release >= need.first:
            return []
        return [(("services", i, "trafficDistribution"),
                 f"{need.what} needs Kubernetes {format_release(need.first)} or later; "
                 f"cluster.kubernetesVersion is {self.cluster.kubernetes_version} ({need.source})")
                for i, svc in enumerate(self.services) if svc.traffic_distribution is not None]

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
        lost_zones: list[str] = []
        for i, event in enumerate(self.events):
            action = event.action
            if event.at > self.duration:
                problems.append((("events", i, "at"),
                                 f"{format_duration(event.at)} is after the end of the run (duration {format_duration(self.duration)})"))
            if action in ("rollout", "scale"):
                # A glob may name several Deployments; it must match at least one.
                message = find_problem(str(event.target), self.workloads, "Deployment")
            elif action == "zoneOutage":
                zones = self.cluster.zones
                message = None if event.target in zones else f"no zone {event.target!r} in cluster.zones ({', '.join(zones)})"
                if message is None and event.target in lost_zones:
                    message = f"zone {event.target!r} is already lost by another zoneOutage event"
                elif message is None and len(set(lost_zones) | {event.target}) == len(set(zones)):
                    # the outage model moves watches and traffic to surviving zones: one must remain
                    message = f"zone {event.target!r} is the last zone left; at least one zone must survive"
                lost_zones.append(str(event.target))
            elif action == "apiserverRestart":
                message = None
            else:
                message = self._node_problem(event.target)
            if message:
                problems.append((("events", i, action), message))
        return problems

    def _traffic_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        for i, flow in enumerate(self.traffic):
            message = find_problem(flow.service, self.services, "Service")
            if message:
                problems.append((("traffic", i, "service"), message))
            else:
                svc = find(flow.service, self.services)[0]
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

    def _capacity_problems(self) -> list[tuple[Loc, str]]:
        """Replicas the nodes cannot hold: at t = 0 every pod is already placed and has an
        IP, and a scale event's pods would wait unschedulable for the rest of the run."""
        cl = self.cluster
        room = (f"room for {cl.pod_capacity} pods ({cl.nodes} nodes × maxPodsPerNode "
                f"{cl.max_pods_per_node})")
        total = 0
        for i, workload in enumerate(self.workloads):
            total += workload.replicas
            if total > cl.pod_capacity:
                return [(("workloads", i, "replicas"),
                         f"the Deployments' replicas add up to {total} here, more than the cluster's {room}")]
        problems: list[tuple[Loc, str]] = []
        for i, event in enumerate(self.events):
            if event.scale is None or event.replicas is None:
                continue
            scaled = {w.key for w in find(event.scale, self.workloads)}
            after = total - sum(w.replicas for w in self.workloads if w.key in scaled) + len(scaled) * event.replicas
            if after > cl.pod_capacity:
                problems.append((("events", i, "replicas"),
                                 f"scaling to {event.replicas} makes {after} replicas in all, more than the cluster's {room}"))
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
