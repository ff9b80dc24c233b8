"""What happens during a run: `events:` (rollouts, scaling, node drains and losses),
`traffic:` (client connections to Services) and `compare:` (variants of the scenario)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import SchemaModel
from .cluster import MAX_NODES
from .errors import Problems
from .types import DAY, WEEK, Bytes, Count, Duration, Name, NodeRef, Rate
from .units import format_duration
from .workloads import MAX_REPLICAS

EVENT_ACTIONS = ("rollout", "scale", "drain", "nodeLoss", "zoneOutage", "apiserverRestart")


class Event(SchemaModel):
    at: Duration = Field(ge=0, le=WEEK)
    rollout: str | None = None  # workload name (or namespace/name), or a glob of either
    scale: str | None = None
    replicas: Count | None = Field(default=None, ge=0, le=MAX_REPLICAS)  # with scale
    drain: NodeRef | None = None  # node name, or that many nodes (lowest index first)
    node_loss: NodeRef | None = None  # the node dies: its pods vanish without termination
    # every node of the zone dies at once, and the apiserver replicas placed there (cluster/zone_outage.py)
    zone_outage: Name | None = None
    # every apiserver replica stops for this long and comes back with an empty watch cache
    apiserver_restart: Duration | None = Field(default=None, ge=0, le=DAY)

    @property
    def action(self) -> str:
        return next(a for a in EVENT_ACTIONS if getattr(self, event_attr(a)) is not None)

    @property
    def target(self) -> str | int:
        return getattr(self, event_attr(self.action))

    @model_validator(mode="after")
    def _one_action(self) -> Event:
        actions = [a for a in EVENT_ACTIONS if getattr(self, event_attr(a)) is not None]
        if len(actions) != 1:
            got = "none" if not actions else ", ".join(actions)
            raise Problems([((), f"an event needs exactly one of rollout, scale, drain, nodeLoss, zoneOutage, apiserverRestart; got {got}")])
        if actions[0] == "scale" and self.replicas is None:
            raise Problems([((), "scale needs replicas")])
        if actions[0] != "scale" and self.replicas is not None:
            raise Problems([(("replicas",), "only valid with scale")])
        return self


class Traffic(SchemaModel):
    service: str  # Service name (or namespace/name); a glob is expanded to one flow per match
    rate: Rate = Field(ge=0, le=1_000_000)  # new connections per second, Poisson
    from_: Literal["pods", "external"] = Field(default="pods", alias="from")
    client_nodes: Count = Field(default=0, ge=0, le=MAX_NODES)  # 0: all nodes
    clients: Count = Field(default=1000, ge=1, le=10_000_000)
    requests_per_connection: Count = Field(default=1, ge=1, le=1_000_000)
    connection_duration: Duration = Field(default=1.0, ge=0, le=DAY)
    # Bytes per request and per response, for the bytes by zone pair (simk8s/network/). An
    # assumption (a small API call), not a measurement: set them for the service at hand.
    request_bytes: Bytes = Field(default=1024, ge=0, le=2**40)
    response_bytes: Bytes = Field(default=4096, ge=0, le=2**40)
    start: Duration = Field(default=0.0, ge=0, le=WEEK)
    end: Duration | None = Field(default=None, ge=0, le=WEEK)  # None: the end of the run

    @model_validator(mode="after")
    def _window(self) -> Traffic:
        if self.end is not None and self.end <= self.start:
            raise Problems([(("end",), f"must be after start ({format_duration(self.start)})")])
        return self


class Variant(SchemaModel):
    name: Name
    # dotted camelCase path → value, applied to the base scenario (loader.apply_overrides)
    settings: dict[str, Any] = Field(default_factory=dict, alias="set")


def event_attr(action: str) -> str:
    """The attribute of an event action (`nodeLoss` → `node_loss`)."""
    return {"nodeLoss": "node_loss", "zoneOutage": "zone_outage", "apiserverRestart": "apiserver_restart"}.get(action, action)
