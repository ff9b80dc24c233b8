"""Looking inside a finished run: re-run one variant (deterministically) and render a node's rules."""

from __future__ import annotations

from pathlib import Path

import yaml

from simk8s.pipeline import run_variant
from simk8s.proxy.inspect import render_node_rules
from simk8s.scenario import Scenario


def load_resolved_variant(results: str | Path, variant: str | None) -> tuple[str, Scenario]:
    doc = yaml.safe_load((Path(results) / "scenario.resolved.yaml").read_text())
    variants = doc.get("resolvedVariants") or {}
    if not variants:
        raise LookupError(f"{results}: no resolved variants in scenario.resolved.yaml")
    name = variant or next(iter(variants))
    if name not in variants:
        raise LookupError(f"no variant {name!r} in {results}; have {', '.join(variants)}")
    return name, Scenario.model_validate(variants[name])


def node_rules(results: str | Path, *, variant: str | None, node: str, at: float, mode: str | None = None) -> str:
    name, scenario = load_resolved_variant(results, variant)
    result = run_variant(scenario, name, stages=("cluster", "watch", "proxy"))
    world = result.cluster.world
    if node not in world.nodes.names:
        raise LookupError(f"no node {node!r} (nodes are {world.nodes.names[0]} … {world.nodes.names[-1]})")
    return render_node_rules(result.fleet, scenario, world, node, at, mode)
