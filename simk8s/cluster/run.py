"""Stage 1: build the SimPy world from a Scenario, run it, hand back tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from simk8s.api import objects as api
from simk8s.cluster.kcm import EndpointsController, EndpointSliceController
from simk8s.cluster.names import stable_uid
from simk8s.cluster.pods import lifecycle_frame
from simk8s.cluster.world import Controller, World
from simk8s.gcpasses import no_passes_while_building


@dataclass
class ClusterRun:
    """What the control-plane stage hands the next stages."""

    world: World
    pods: pd.DataFrame  # one row per pod: lifecycle times
    rollouts: pd.DataFrame  # one row per rollout/scale event
    end_time: float
    events: int  # SimPy events processed
    wall_s: float
    exception: str | None
    initial_objects: dict[str, list[Any]]  # kind → objects existing at t=0


def seed_user_endpoints(world: World) -> None:
    """Selector-less Services come with user-written Endpoints (mirrored into slices by
    pkg/controller/endpointslicemirroring)."""
    specs = {(s.namespace, s.name): s for s in world.sc.services}
    for key, svc in world.services.items():
        spec = specs[key]
        if svc.selector is not None or not spec.endpoints:
            continue
        by_port: dict[str, list] = {}
        for e in spec.endpoints:
            by_port.setdefault(e.port_name or "", []).append(e)
        subsets = []
        for port_name, entries in sorted(by_port.items()):
            port = next((p for p in svc.ports if p.name == port_name), svc.ports[0] if svc.ports else None)
            ready = tuple(api.EndpointAddress(ip=str(e.ip), node_name=e.node_name) for e in entries if e.ready)
            not_ready = tuple(api.EndpointAddress(ip=str(e.ip), node_name=e.node_name) for e in entries if not e.ready)
            ports = (
                (api.EndpointPort(port=entries[0].port, name=port_name, protocol=port.protocol if port else "TCP"),)
            )
            subsets.append(api.EndpointSubset(addresses=ready, not_ready_addresses=not_ready, ports=ports))
        world.apiserver.seed(
            "Endpoints",
            api.Endpoints(
                name=svc.name,
                namespace=svc.namespace,
                uid=stable_uid("Endpoints", svc.namespace, svc.name),
                labels=svc.labels,
                subsets=tuple(subsets),
            ),
        )


def run_cluster(scenario: Any, *, progress: Callable[[float], None] | None = None) -> ClusterRun:
    with no_passes_while_building():  # the world, its log and tables live on to the end
        return _build_and_run(scenario, progress)


def _build_and_run(scenario: Any, progress: Callable[[float], None] | None) -> ClusterRun:
    wall = time.perf_counter()
    world = World(scenario)
    kcm = scenario.cluster.controller_manager
    seed_user_endpoints(world)
    world.start_steady_state()
    controllers: list[Controller] = []
    if kcm.endpoints_controller:
        controllers.append(EndpointsController(world))
    if kcm.endpoint_slice_controller:
        controllers.append(EndpointSliceController(world))
    for c in controllers:
        c.initial()
    world.controllers = controllers
    initial = {kind: list(world.apiserver.list(kind)) for kind in ("Endpoints", "EndpointSlice", "Service")}
    world.schedule_events()
    exception = None
    # Run in slices so a progress bar can follow; the count of model events stays the same
    # (tests/test_pipeline.py::test_variants_in_processes_give_the_same_results).
    steps = 50 if progress is not None else 1
    try:
        for i in range(1, steps + 1):
            world.env.run(until=scenario.duration * i / steps)
            if progress is not None:
                progress(world.env.now)
    except Exception as exc:  # recorded as data, like desmod: a failed run still has a summary
        exception = f"{type(exc).__name__}: {exc}"
    pods = lifecycle_frame(world.pods)
    rollouts = pd.DataFrame(
        [
            {
                "workload": r.workload,
                "kind": r.kind,
                "start_s": r.start,
                "end_s": r.end,
                "duration_s": r.end - r.start,
                "to_revision": r.to_revision,
                "replicas": r.replicas,
                "max_pods": r.max_pods,
                "min_available": r.min_available,
            }
            for d in world.deployments.values()
            for r in d.rollouts
        ]
    )
    return ClusterRun(
        world=world,
        pods=pods,
        rollouts=rollouts,
        end_time=float(world.env.now),
        # Minus SimPy's two per run(until=…) call: the `until` event, and its re-scheduling
        # when it stops the run. So the count is the same with or without a progress bar.
        events=_event_count(world) - 2 * steps,
        wall_s=time.perf_counter() - wall,
        exception=exception,
        initial_objects=initial,
    )


def _event_count(world: World) -> int:
    # SimPy numbers every scheduled event with an increasing id (its own benchmarks read it).
    return next(world.env._eid)  # type: ignore[attr-defined]

