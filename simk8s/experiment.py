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

from simk8s.errors import UsageError
from simk8s.gcpasses import fewer_gc_passes
from simk8s.pipeline import VariantResult, cluster_groups, run_group
from simk8s.results.files import ResultsWriter, Written, write_results
from simk8s.results.output import check_results_dir
from simk8s.results.report import comparison_frame, comparison_values, format_comparison
from simk8s.scenario import Scenario, load_scenario, load_variants, resolved_dict


@dataclass
class Experiment:
    name: str
    scenario: Any
    variants: list[VariantResult]
    out: Path | None = None
    write_note: str = ""  # what writing the results replaced or kept (for the terminal)

    def _rows(self) -> list[tuple[str, dict, str]]:
        return [(v.name, v.summary, v.scenario.cluster.kube_proxy.watch) for v in self.variants]

    def comparison(self, numeric: bool = False) -> pd.DataFrame:
        """Figures × variants: formatted text, or with `numeric=True` the numbers (floats;
        each row's unit in `.attrs["units"]`, e.g. "s", "ms", "B")."""
        return comparison_values(self._rows()) if numeric else comparison_frame(self._rows())

    def format(self) -> str:
        return format_comparison(self._rows())

    def variant(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"no variant {name!r}; have {', '.join(v.name for v in self.variants)}")


def resolved_document(scenario: Any, variants: list[tuple[str, Any]]) -> dict:
    """The scenario as resolved, each variant's full settings, and which of those its
    Kubernetes release chose (`releaseDefaults`: paths under `cluster`)."""
    doc = resolved_dict(scenario)
    doc["resolvedVariants"] = {name: resolved_dict(sc) for name, sc in variants}
    doc["releaseDefaults"] = {name: sorted(sc.cluster._chosen_by_release) for name, sc in variants}
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
    loaded: Scenario | None = None,
) -> Experiment:
    """Load, run every variant (or those named in `only`), write results/<name>/ unless write=False
    (a run of only some variants keeps the directory's other variants).

    `jobs` > 1 runs variants that need separate cluster runs in that many processes (see
    `simk8s.parallel`); their results then hold summaries and tables only (no live
    cluster, fan-out or fleet objects). The figures are the same either way.

    Raises ScenarioError for a bad scenario, UsageError for an unknown variant and
    OutputError for an output directory simk8s may not replace or cannot write — all
    before simulating anything. `loaded`: what `load_scenario(path, overrides)` returned
    already (a caller that checked the scenario first), so it is not loaded twice.
    """
    with fewer_gc_passes():  # loading and writing build and walk large live sets too
        return _run_scenario(path, overrides, only, out, write, progress, jobs, loaded)


def _run_scenario(path, overrides, only, out, write, progress, jobs, loaded) -> Experiment:
    scenario = loaded if loaded is not None else load_scenario(path, list(overrides))
    variants = load_variants(scenario)
    if only:
        unknown = sorted(set(only) - {n for n, _ in variants})
        if unknown:
            raise UsageError(f"no variant named {', '.join(unknown)}; have {', '.join(n for n, _ in variants)}")
        variants = [(n, sc) for n, sc in variants if n in only]
    target = out if out is not None else Path("results") / scenario.name  # "" stays "" (refused)
    inputs = scenario_inputs(path) if write else ()
    if write:  # probe the target before the (long) run
        check_results_dir(target, inputs=inputs)
    groups = cluster_groups(variants)
    resolved = resolved_document(scenario, variants) if write else {}
    order = {name: i for i, (name, _) in enumerate(variants)}
    written = None
    if jobs > 1 and len(groups) > 1 and sys.platform.startswith("linux"):
        results, written = _run_in_processes(scenario.name, groups, jobs, progress, target if write else None,
                                             resolved, inputs, order, keep_other_variants=bool(only))
    else:
        results = [r for group in groups for r in run_group(group, progress)]
    results.sort(key=lambda r: order[r.name])
    exp = Experiment(name=scenario.name, scenario=scenario, variants=results)
    if write and written is None:
        written = write_results(target, scenario.name, resolved, results, keep_other_variants=bool(only), inputs=inputs)
    if written is not None:
        exp.out, exp.write_note = written.path, written.note()
    return exp


def _run_in_processes(name: str, groups: list, jobs: int, progress: Any, target: str | Path | None, resolved: dict,
                      inputs: tuple[Path, ...], order: dict[str, int], *,
                      keep_other_variants: bool) -> tuple[list[VariantResult], Written | None]:
    """`simk8s.parallel`, each group's tables written as soon as it is done (while the
    other groups still compute) when `target` is set."""
    from simk8s.parallel import run_groups_in_processes  # forks (unsafe on macOS)

    if target is None:
        return run_groups_in_processes(groups, jobs, progress), None
    writer = ResultsWriter(target, name, inputs=inputs)

    def write_group(done: list[VariantResult]) -> None:
        for r in done:
            writer.add(r)

    try:
        results = run_groups_in_processes(groups, jobs, progress, on_group_done=write_group)
        ordered = sorted(results, key=lambda r: order[r.name])  # the summary lists them in this order
        return results, writer.finish(resolved, ordered, keep_other_variants=keep_other_variants)
    except BaseException:
        writer.discard()
        raise


def scenario_inputs(path: str | Path) -> tuple[Path, ...]:
    """The files a run reads: the scenario and the manifests it names (never outputs)."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())  # already validated by load_scenario
        manifests = (doc.get("manifests") if isinstance(doc, dict) else None) or []
        return (path, *(path.parent / m for m in manifests if isinstance(m, str)))
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return (path,)
