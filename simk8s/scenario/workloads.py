"""`workloads:` — Deployments (apps/v1, the fields simk8s models): replicas, pod template
labels and ports, readiness probe, termination, rollout strategy."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import Loc, SchemaModel
from .copies import MAX_COPIES
from .errors import Problems
from .services import Protocol
from .types import DAY, Count, Duration, Name, Percent, Rate
from .units import IntOrPercent

# Pods of one Deployment; SIG Scalability tests clusters of 150,000 pods
# (docs/references.md [scalability-thresholds]).
MAX_REPLICAS = 1_000_000


class ContainerPortSpec(SchemaModel):
    name: str = ""
    container_port: Count = Field(ge=1, le=65535)
    protocol: Protocol = "TCP"


class ReadinessProbe(SchemaModel):
    # core/v1 Probe defaults; readiness is computed from this schedule, not probed one by one.
    initial_delay_seconds: Count = Field(default=0, ge=0, le=int(DAY))
    period_seconds: Count = Field(default=10, ge=1, le=int(DAY))
    success_threshold: Count = Field(default=1, ge=1, le=1000)
    failure_threshold: Count = Field(default=3, ge=1, le=1000)


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
    # per pod: Ready→NotReady episodes; at most one a second keeps the kubelet's timers countable
    rate: Rate = Field(default=0.0, ge=0, le=1)
    duration: Duration = Field(default=20.0, ge=0, le=DAY)


class Workload(SchemaModel):
    kind: Literal["Deployment"] = "Deployment"
    name: Name
    namespace: Name = "default"
    # N similar Deployments <name>-<i>; expanded before validation (simk8s/scenario/copies.py)
    copies: Count = Field(default=1, ge=1, le=MAX_COPIES)
    replicas: Count = Field(default=1, ge=0, le=MAX_REPLICAS)
    labels: dict[str, str] = Field(default_factory=dict)  # pod template labels; default {app: <name>}
    selector: dict[str, str] | None = None  # None: the template labels
    container_ports: tuple[ContainerPortSpec, ...] = ()
    readiness_probe: ReadinessProbe | None = None  # None: Ready as soon as the container starts
    termination_grace_period_seconds: Count = Field(default=30, ge=0, le=int(DAY))
    # app keeps serving this long after SIGTERM (preStop sleep)
    shutdown_delay: Duration = Field(default=0.0, ge=0, le=DAY)
    min_ready_seconds: Count = Field(default=0, ge=0, le=int(DAY))
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
