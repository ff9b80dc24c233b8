"""Looking inside a finished run: re-run one variant (deterministically) and render a node's rules."""

from __future__ import annotations

from pathlib import Path

import yaml

from simk8s.pipeline import run_variant
from simk8s.proxy.inspect import render_node_rules
from simk8s.scenario import Scenario
from simk8s.scenario.units import format_duration


def load_resolved_variant(results: str | Path, variant: str | None) -> tuple[str, Scenario]:
    """The resolved scenario of one variant of a results directory. LookupError (one line)
    for anything that is not a readable simk8s results directory or lacks the variant."""
    from pydantic import ValidationError

    path = Path(results) / "scenario.resolved.yaml"
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise LookupError(f"{results}: not a simk8s results directory (no scenario.resolved.yaml)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as err:
        raise LookupError(f"{path}: unreadable ({type(err).__name__})") from None
    variants = doc.get("resolvedVariants") if isinstance(doc, dict) else None
    if not isinstance(variants, dict) or not variants:
        raise LookupError(f"{path}: no resolved variants (not written by simk8s run?)")
    name = variant or next(iter(variants))
    if name not in variants:
        raise LookupError(f"no variant {name!r} in {results}; have {', '.join(map(str, variants))}")
    try:
        return name, Scenario.model_validate(variants[name])
    except ValidationError as err:
        raise LookupError(f"{path}: variant {name!r} does not validate ({err.error_count()} problem(s); "
                          "written by another simk8s version? run the scenario again)") from None


def node_rules(results: str | Path, *, variant: str | None, node: str, at: float, mode: str | None = None,
               all_services: bool = False) -> str:
    name, scenario = load_resolved_variant(results, variant)
    if at > scenario.duration:  # checked before the re-run, which takes a while
        raise LookupError(f"--at {format_duration(at)} is after the end of the run ({format_duration(scenario.duration)})")
    cl = scenario.cluster
    if node not in {f"{cl.node_name_prefix}{i}" for i in range(cl.nodes)}:  # NodeTable's names
        raise LookupError(f"no node {node!r} (nodes are {cl.node_name_prefix}0 … {cl.node_name_prefix}{cl.nodes - 1})")
    result = run_variant(scenario, name, stages=("cluster", "watch", "proxy"))
    assert result.cluster is not None
    return render_node_rules(result.fleet, scenario, result.cluster.world, node, at, mode, all_services)
