"""Regression checks for CI: figures of a run against limits a platform team commits.

A check file (YAML):

    scenario: ../scenarios/rolling-2000.yaml     # relative to the check file
    set: [cluster.nodes=3000]                     # optional overrides
    checks:
      - {variant: slices-iptables, figure: kube_proxy.cpu_seconds_total, max: 300000}
      - {variant: slices-iptables, figure: network_programming_latency_s.p99, max: 30}
      - {variant: endpoints-iptables, figure: apiserver.rejected_writes.Endpoints, max: 0}

`simk8s check FILE` runs the scenario (only the variants named), prints each figure beside
its limit and exits 1 if any limit is broken.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simk8s.sweep import flatten


@dataclass
class CheckResult:
    variant: str
    figure: str
    value: float | None
    min: float | None
    max: float | None

    @property
    def ok(self) -> bool:
        if self.value is None:
            return False
        return (self.min is None or self.value >= self.min) and (self.max is None or self.value <= self.max)


def load_checks(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or "scenario" not in doc or not isinstance(doc.get("checks"), list):
        raise ValueError(f"{path}: expected a mapping with `scenario:` and a list `checks:`")
    doc["scenario"] = str((path.parent / doc["scenario"]).resolve())
    for i, c in enumerate(doc["checks"]):
        if not isinstance(c, dict) or "variant" not in c or "figure" not in c or ("max" not in c and "min" not in c):
            raise ValueError(f"{path}: checks.{i}: needs variant, figure and max and/or min")
    return doc


def run_checks(path: str | Path, *, jobs: int = 1) -> list[CheckResult]:
    """Run the check file's scenario (named variants only). ValueError, before any run, for
    a variant the scenario lacks, and after it for a figure its summary lacks."""
    from simk8s.experiment import run_scenario
    from simk8s.scenario import load_scenario, load_variants

    doc = load_checks(path)
    have = [name for name, _ in load_variants(load_scenario(doc["scenario"], doc.get("set", [])))]
    for i, c in enumerate(doc["checks"]):
        if c["variant"] not in have:
            raise ValueError(f"{path}: checks.{i}.variant: no variant {c['variant']!r}{_did_you_mean(c['variant'], have)}"
                             f" (have {', '.join(have)})")
    variants = sorted({c["variant"] for c in doc["checks"]})
    exp = run_scenario(doc["scenario"], overrides=doc.get("set", []), only=variants, write=False, jobs=jobs)
    figures = {v.name: flatten(v.summary) for v in exp.variants}
    for i, c in enumerate(doc["checks"]):
        known = figures[c["variant"]]
        if c["figure"] not in known:
            raise ValueError(f"{path}: checks.{i}.figure: no figure {c['figure']!r} in the summary"
                             f"{_did_you_mean(c['figure'], list(known))} (figures are summary.json's dotted keys)")
    results = []
    for c in doc["checks"]:
        value = figures[c["variant"]][c["figure"]]
        results.append(CheckResult(c["variant"], c["figure"], None if value is None else float(value), c.get("min"), c.get("max")))
    return results


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_checks(results: list[CheckResult]) -> str:
    lines = []
    for r in results:
        limit = " ".join(x for x in (f">= {r.min}" if r.min is not None else "", f"<= {r.max}" if r.max is not None else "") if x)
        lines.append(f"{'ok  ' if r.ok else 'FAIL'} {r.variant}: {r.figure} = {r.value} ({limit})")
    return "\n".join(lines)
