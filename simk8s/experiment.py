"""A whole scenario file: every `compare` variant on the same seed and workload, side by side.

    from simk8s.experiment import run_scenario
    exp = run_scenario("scenarios/quick.yaml")
    exp.comparison()          # DataFrame: figures × variants
    exp.variants[0].tables    # pods, writes, egress, syncs, … as DataFrames
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simk8s.pipeline import VariantResult, cluster_key, run_variant
from simk8s.results.files import write_results
from simk8s.results.report import comparison_frame, format_comparison
from simk8s.scenario import load_scenario, load_variants, resolved_dict


@dataclass
class Experiment:
    name: str
    scenario: Any
    variants: list[VariantResult]
    out: Path | None = None

    def _rows(self) -> list[tuple[str, dict, str]]:
        return [(v.name, v.summary, v.scenario.cluster.kube_proxy.watch) for v in self.variants]

    def comparison(self) -> pd.DataFrame:
        return comparison_frame(self._rows())

    def format(self) -> str:
        return format_comparison(self._rows())

    def variant(self, name: str) -> VariantResult:
        return next(v for v in self.variants if v.name == name)


def resolved_document(scenario: Any, variants: list[tuple[str, Any]]) -> dict:
    doc = resolved_dict(scenario)
    doc["resolvedVariants"] = {name: resolved_dict(sc) for name, sc in variants}
    return doc


def run_scenario(
    path: str | Path,
    *,
    overrides: Sequence[str] = (),
    only: Sequence[str] = (),
    out: str | Path | None = None,
    write: bool = True,
    progress: Callable[[str, str, float, float], None] | None = None,
    jobs: int = 1,
) -> Experiment:
    """Load, run every variant (or those named in `only`), write results/<name>/ unless write=False
    (a run of only some variants keeps the directory's other variants).

    `jobs` > 1 runs variants that need separate cluster runs in that many processes (see
    `simk8s.parallel`); their results then hold summaries and tables only (no live
    cluster, fan-out or fleet objects). The figures are the same either way.
    """
    scenario = load_scenario(path, list(overrides))
    variants = load_variants(scenario)
    if only:
        unknown = sorted(set(only) - {n for n, _ in variants})
        if unknown:
            raise KeyError(f"no variant named {', '.join(unknown)}; have {', '.join(n for n, _ in variants)}")
        variants = [(n, sc) for n, sc in variants if n in only]
    groups = cluster_groups(variants)
    if jobs > 1 and len(groups) > 1 and sys.platform.startswith("linux"):
        from simk8s.parallel import run_groups_in_processes  # forks (unsafe on macOS)

        results = run_groups_in_processes(groups, jobs, progress)
    else:
        results = [r for group in groups for r in run_group(group, progress)]
    order = {name: i for i, (name, _) in enumerate(variants)}
    results.sort(key=lambda r: order[r.name])
    exp = Experiment(name=scenario.name, scenario=scenario, variants=results)
    if write:
        target = Path(out) if out is not None else Path("results") / scenario.name
        exp.out = write_results(
            target, scenario.name, resolved_document(scenario, variants), results, keep_other_variants=bool(only)
        )
    return exp


def cluster_groups(variants: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    """Variants grouped by the cluster run they can share (`cluster_key`), in first-seen order."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    for name, sc in variants:
        groups.setdefault(cluster_key(sc), []).append((name, sc))
    return list(groups.values())


def run_group(
    group: list[tuple[str, Any]], progress: Callable[[str, str, float, float], None] | None = None
) -> list[VariantResult]:
    """Every variant of one group, the first one running the shared cluster stage."""
    results: list[VariantResult] = []
    for name, sc in group:
        cb = (lambda stage, now, _n=name, _d=sc.duration: progress(_n, stage, now, _d)) if progress else None
        shared = results[0].cluster if results else None
        results.append(run_variant(sc, name, progress=cb, cluster=shared))
    return results
