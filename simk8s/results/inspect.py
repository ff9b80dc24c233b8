"""Looking inside a finished run: re-run one variant (deterministically) and render a node's rules."""

from __future__ import annotations

from pathlib import Path

import yaml

from simk8s.pipeline import run_variant
from simk8s.proxy.inspect import render_node_rules
from simk8s.scenario import Scenario
from simk8s.scenario.units import format_duration


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
    if at > scenario.duration:  # checked before the re-run, which takes a while
        raise LookupError(f"--at {format_duration(at)} is after the end of the run ({format_duration(scenario.duration)})")
    cl = scenario.cluster
    if node not in {f"{cl.node_name_prefix}{i}" for i in range(cl.nodes)}:  # NodeTable's names
        raise LookupError(f"no node {node!r} (nodes are {cl.node_name_prefix}0 … {cl.node_name_prefix}{cl.nodes - 1})")
    result = run_variant(scenario, name, stages=("cluster", "watch", "proxy"))
    assert result.cluster is not None
    return render_node_rules(result.fleet, scenario, result.cluster.world, node, at, mode)
