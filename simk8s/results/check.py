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
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


CHECK_KEYS = ("scenario", "set", "checks")
CHECK_ENTRY_KEYS = ("variant", "figure", "min", "max")


def load_checks(path: str | Path) -> dict[str, Any]:
    """Read and validate a check file. ScenarioError (FILE:LINE: path: message lines) for
    any problem, every problem at once."""
    from simk8s.scenario import ScenarioError
    from simk8s.scenario.errors import error_line
    from simk8s.scenario.yamlsource import YamlParseError, locate, parse_documents

    path = Path(path)
    file = str(path)
    try:
        docs = parse_documents(path.read_text(), file)
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError([f"{file}: cannot be read ({err})"]) from None
    except YamlParseError as err:
        raise ScenarioError(err.lines) from None
    except RecursionError:
        raise ScenarioError([f"{file}: not valid YAML: nested too deeply"]) from None
    if len(docs) != 1:
        raise ScenarioError([f"{file}: expected one YAML document, found {len(docs)}"])
    doc, root = docs[0].data, docs[0].node
    problems: list[str] = []

    def problem(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(error_line(file, locate(root, loc), ".".join(map(str, loc)), message))

    if not isinstance(doc, dict):
        raise ScenarioError([error_line(file, locate(root, ()), "", "expected a mapping with `scenario:` and a list `checks:`")])
    for key in doc:
        if key not in CHECK_KEYS:
            problem((str(key),), f"unknown field{_did_you_mean(str(key), list(CHECK_KEYS))} (have {', '.join(CHECK_KEYS)})")
    scenario = doc.get("scenario")
    if not isinstance(scenario, str) or not scenario:
        problem(("scenario",), "expected the scenario file's path (relative to the check file)")
    elif not (path.parent / scenario).is_file():
        problem(("scenario",), f"no such file: {scenario}")
    overrides = doc.get("set", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        problem(("set",), "expected a list of PATH=VALUE overrides")
    checks = doc.get("checks")
    if not isinstance(checks, list) or not checks:
        problem(("checks",), "expected a non-empty list of checks")
        checks = []
    for i, c in enumerate(checks):
        if not isinstance(c, dict):
            problem(("checks", i), "expected a mapping {variant, figure, max and/or min}")
            continue
        for key in c:
            if key not in CHECK_ENTRY_KEYS:
                problem(("checks", i, str(key)),
                        f"unknown field{_did_you_mean(str(key), list(CHECK_ENTRY_KEYS))} (have {', '.join(CHECK_ENTRY_KEYS)})")
        for key in ("variant", "figure"):
            if not isinstance(c.get(key), str) or not c.get(key):
                problem(("checks", i, key), f"expected a {key} name")
        if "min" not in c and "max" not in c:
            problem(("checks", i), "needs max and/or min")
        for key in ("min", "max"):
            if key in c and not _is_limit(c[key]):
                problem(("checks", i, key), f"expected a finite number, got {c[key]!r}")
    if problems or not isinstance(scenario, str):
        raise ScenarioError(problems)
    # Where each check's names are, for the errors found once the scenario is known.
    where = {(i, key): f"{file}:{locate(root, ('checks', i, key))}: checks.{i}.{key}"
             for i in range(len(checks)) for key in ("variant", "figure")}
    return {**doc, "scenario": str((path.parent / scenario).resolve()), "set": overrides, "checks": checks,
            "where": where}


def _is_limit(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def run_checks(path: str | Path, *, jobs: int = 1) -> list[CheckResult]:
    """Run the check file's scenario (named variants only). ScenarioError, before any run,
    for a variant the scenario lacks, and after it for a figure its summary lacks."""
    from simk8s.experiment import run_scenario
    from simk8s.scenario import ScenarioError, load_scenario, load_variants

    doc = load_checks(path)
    have = [name for name, _ in load_variants(load_scenario(doc["scenario"], doc.get("set", [])))]
    for i, c in enumerate(doc["checks"]):
        if c["variant"] not in have:
            raise ScenarioError([f"{doc['where'][i, 'variant']}: no variant {c['variant']!r}"
                                 f"{_did_you_mean(c['variant'], have)} (have {', '.join(have)})"])
    variants = sorted({c["variant"] for c in doc["checks"]})
    exp = run_scenario(doc["scenario"], overrides=doc.get("set", []), only=variants, write=False, jobs=jobs)
    figures = {v.name: flatten(v.summary) for v in exp.variants}
    for i, c in enumerate(doc["checks"]):
        known = figures[c["variant"]]
        if c["figure"] not in known:
            raise ScenarioError([f"{doc['where'][i, 'figure']}: no figure {c['figure']!r} in the summary"
                                 f"{_did_you_mean(c['figure'], list(known))} (figures are summary.json's dotted keys)"])
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
