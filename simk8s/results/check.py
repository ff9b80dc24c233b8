"""Regression checks for CI: figures of a run against limits and baselines a team commits.

A check file (YAML):

    scenario: ../scenarios/rolling-2000.yaml     # relative to the check file
    set: [cluster.nodes=3000]                     # optional overrides
    tolerance: {relative: 0.01}                   # optional default for checks with a `value`
    checks:
      # a limit on a summary figure (summary.json's dotted key)
      - {variant: slices-iptables, figure: kube_proxy.cpu_seconds_total, max: 300000}
      # a baseline: the figure must stay within the tolerance of `value`
      - {variant: slices-iptables, figure: kube_proxy.syncs, value: 1180, relative: 0.05}
      # a Prometheus metric, as histogram_quantile(0.99, …) over the whole run would give it
      - {variant: slices-iptables, metric: kubeproxy_network_programming_duration_seconds,
         quantile: 0.99, max: 30}
      - {variant: endpoints-iptables, metric: apiserver_request_total,
         labels: {resource: endpoints, code: "500"}, max: 0}

Each check has `max`, `min`, a baseline `value`, or several. A baseline passes when
|run − value| ≤ max(absolute, relative × |value|); with neither tolerance (on the check or
the file's `tolerance:`) it must match exactly. `simk8s check --update` rewrites every
`value` from a run and keeps everything else of the file as written.

`simk8s check FILE` runs the scenario (only the variants named), prints each figure beside
its limit and exits 1 if any check fails.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simk8s.sweep import flatten

CHECK_KEYS = ("scenario", "set", "tolerance", "checks")
CHECK_ENTRY_KEYS = ("variant", "figure", "metric", "quantile", "labels", "min", "max", "value", "relative", "absolute")
TOLERANCE_KEYS = ("relative", "absolute")


@dataclass
class CheckResult:
    variant: str
    figure: str  # the summary key, or the metric as a PromQL expression
    value: float | None
    min: float | None
    max: float | None
    baseline: float | None = None
    relative: float | None = None
    absolute: float | None = None
    index: int = 0  # position in the check file's `checks`

    @property
    def allowed(self) -> float:
        """How far the value may move from the baseline."""
        if self.baseline is None:
            return 0.0
        return max(self.absolute or 0.0, (self.relative or 0.0) * abs(self.baseline))

    @property
    def within_limits(self) -> bool:
        if self.value is None:
            return False
        return (self.min is None or self.value >= self.min) and (self.max is None or self.value <= self.max)

    @property
    def near_baseline(self) -> bool:
        if self.baseline is None:
            return True
        if self.value is None:
            return False
        # the float noise of printing and reading the baseline back is never a regression
        return abs(self.value - self.baseline) <= self.allowed + 1e-12 * max(1.0, abs(self.baseline))

    @property
    def ok(self) -> bool:
        return self.within_limits and self.near_baseline

    def limit_text(self) -> str:
        """The limits and baseline as one short phrase: `<= 30`, `1180 ± 5%`."""
        parts = [f">= {_num(self.min)}" if self.min is not None else "", f"<= {_num(self.max)}" if self.max is not None else ""]
        if self.baseline is not None:
            parts.append(f"{_num(self.baseline)} {self.tolerance_text()}")
        return ", ".join(p for p in parts if p)

    def tolerance_text(self) -> str:
        shown = [f"±{_num(self.relative * 100)}%" if self.relative else "", f"±{_num(self.absolute)}" if self.absolute else ""]
        return " or ".join(s for s in shown if s) or "exactly"

    def problem(self) -> str:
        """Why the check failed ('' when it passed): the figure, its value and the limit."""
        if self.value is None:
            return f"{self.figure}: no value in this run (limit {self.limit_text()})"
        if self.min is not None and self.value < self.min:
            return f"{self.figure} = {_num(self.value)}, below the minimum {_num(self.min)}"
        if self.max is not None and self.value > self.max:
            return f"{self.figure} = {_num(self.value)}, above the maximum {_num(self.max)}"
        if not self.near_baseline:
            assert self.baseline is not None
            moved = self.value - self.baseline
            pct = f" ({moved / self.baseline:+.2%})" if self.baseline else ""
            return (f"{self.figure} = {_num(self.value)}, moved {moved:+.6g}{pct} from the baseline "
                    f"{_num(self.baseline)} (tolerance {self.tolerance_text()})")
        return ""


def _num(x: float | None) -> str:
    if x is None:
        return "none"
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:.6g}"


@dataclass
class CheckRun:
    """A check file's run: its results, and each variant's data (for the reports)."""

    file: Path
    scenario_name: str
    results: list[CheckResult]
    runs: dict[str, Any] = field(default_factory=dict)  # variant → simk8s.results.metrics.VariantRun


def _label(c: Mapping[str, Any]) -> str:
    """How a check's figure is shown: the summary key, or a PromQL expression."""
    if "figure" in c:
        return str(c["figure"])
    selector = ",".join(f'{k}="{v}"' for k, v in sorted((c.get("labels") or {}).items()))
    series = f"{c['metric']}{{{selector}}}" if selector else str(c["metric"])
    if c.get("quantile") is not None:
        return f"histogram_quantile({c['quantile']}, {series})"
    return series


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

    def unknown_keys(mapping: Mapping[Any, Any], allowed: tuple[str, ...], loc: tuple[str | int, ...]) -> None:
        for key in mapping:
            if key not in allowed:
                problem((*loc, str(key)), f"unknown field{_did_you_mean(str(key), list(allowed))} (have {', '.join(allowed)})")

    def tolerances(mapping: Mapping[Any, Any], loc: tuple[str | int, ...]) -> None:
        for key in TOLERANCE_KEYS:
            if key in mapping and not (_is_limit(mapping[key]) and mapping[key] >= 0):
                problem((*loc, key), f"expected a number ≥ 0, got {mapping[key]!r}")

    if not isinstance(doc, dict):
        raise ScenarioError([error_line(file, locate(root, ()), "", "expected a mapping with `scenario:` and a list `checks:`")])
    unknown_keys(doc, CHECK_KEYS, ())
    scenario = doc.get("scenario")
    if not isinstance(scenario, str) or not scenario:
        problem(("scenario",), "expected the scenario file's path (relative to the check file)")
    elif not (path.parent / scenario).is_file():
        problem(("scenario",), f"no such file: {scenario}")
    overrides = doc.get("set", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        problem(("set",), "expected a list of PATH=VALUE overrides")
    default = doc.get("tolerance", {})
    if not isinstance(default, dict):
        problem(("tolerance",), "expected a mapping {relative, absolute}")
        default = {}
    else:
        unknown_keys(default, TOLERANCE_KEYS, ("tolerance",))
        tolerances(default, ("tolerance",))
    checks = doc.get("checks")
    if not isinstance(checks, list) or not checks:
        problem(("checks",), "expected a non-empty list of checks")
        checks = []
    for i, c in enumerate(checks):
        if not isinstance(c, dict):
            problem(("checks", i), "expected a mapping {variant, figure or metric, max, min and/or value}")
            continue
        unknown_keys(c, CHECK_ENTRY_KEYS, ("checks", i))
        if not isinstance(c.get("variant"), str) or not c.get("variant"):
            problem(("checks", i, "variant"), "expected a variant name")
        if ("figure" in c) == ("metric" in c):
            problem(("checks", i), "needs a figure (a summary key) or a metric (a Prometheus name), not both")
        for key in ("figure", "metric"):
            if key in c and (not isinstance(c[key], str) or not c[key]):
                problem(("checks", i, key), f"expected a {key} name")
        if "quantile" in c and "metric" not in c:
            problem(("checks", i, "quantile"), "a quantile goes with a metric (a histogram)")
        elif "quantile" in c and not (_is_limit(c["quantile"]) and 0 < c["quantile"] < 1):
            problem(("checks", i, "quantile"), f"expected a number between 0 and 1, got {c['quantile']!r}")
        if "labels" in c and "metric" not in c:
            problem(("checks", i, "labels"), "labels go with a metric")
        elif "labels" in c and not (isinstance(c["labels"], dict) and all(isinstance(k, str) and isinstance(v, str | int)
                                                                           and not isinstance(v, bool)
                                                                           for k, v in c["labels"].items())):
            problem(("checks", i, "labels"), "expected a mapping of label names to values")
        if not any(k in c for k in ("min", "max", "value")):
            problem(("checks", i), "needs max and/or min, or a baseline value")
        for key in ("min", "max"):
            if key in c and not _is_limit(c[key]):
                problem(("checks", i, key), f"expected a finite number, got {c[key]!r}")
        if "value" in c and c["value"] is not None and not _is_limit(c["value"]):
            problem(("checks", i, "value"), f"expected a finite number (or null), got {c['value']!r}")
        tolerances(c, ("checks", i))
        for key in TOLERANCE_KEYS:
            if key in c and "value" not in c:
                problem(("checks", i, key), "a tolerance goes with a baseline `value`")
    if problems or not isinstance(scenario, str):
        raise ScenarioError(problems)
    # Where each check's names are, for the errors found once the scenario is known.
    where = {(i, key): f"{file}:{locate(root, ('checks', i, key))}: checks.{i}.{key}"
             for i in range(len(checks)) for key in ("variant", "figure", "metric")}
    return {**doc, "scenario": str((path.parent / scenario).resolve()), "set": overrides, "checks": checks,
            "tolerance": default, "where": where, "file": file}


def _is_limit(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def run_checks(path: str | Path, *, jobs: int = 1) -> list[CheckResult]:
    """Run the check file's scenario (named variants only) and hold its figures to the checks."""
    return run_check_file(path, jobs=jobs).results


def run_check_file(path: str | Path, *, jobs: int = 1) -> CheckRun:
    """Run the check file's scenario (named variants only). ScenarioError, before any run,
    for a variant the scenario lacks, and after it for a figure or metric the run lacks."""
    from simk8s.experiment import run_scenario
    from simk8s.results.metrics import VariantRun, families, metric_value, sample_names
    from simk8s.scenario import ScenarioError, load_scenario, load_variants

    doc = load_checks(path)
    have = [name for name, _ in load_variants(load_scenario(doc["scenario"], doc.get("set", [])))]
    for i, c in enumerate(doc["checks"]):
        if c["variant"] not in have:
            raise ScenarioError([f"{doc['where'][i, 'variant']}: no variant {c['variant']!r}"
                                 f"{_did_you_mean(c['variant'], have)} (have {', '.join(have)})"])
    variants = sorted({c["variant"] for c in doc["checks"]})
    exp = run_scenario(doc["scenario"], overrides=doc.get("set", []), only=variants, write=False, jobs=jobs)
    runs = {v.name: VariantRun.from_result(v) for v in exp.variants}
    figures = {v.name: flatten(v.summary) for v in exp.variants}
    metrics = {name: families(run) for name, run in runs.items()} if any("metric" in c for c in doc["checks"]) else {}
    results = []
    for i, c in enumerate(doc["checks"]):
        if "figure" in c:
            known = figures[c["variant"]]
            if c["figure"] not in known:
                raise ScenarioError([f"{doc['where'][i, 'figure']}: no figure {c['figure']!r} in the summary"
                                     f"{_did_you_mean(c['figure'], list(known))} (figures are summary.json's dotted keys)"])
            raw = known[c["figure"]]
            if raw is not None and not _is_number(raw):
                raise ScenarioError([f"{doc['where'][i, 'figure']}: figure {c['figure']!r} is not a number ({raw!r})"])
            value = None if raw is None else float(raw)
        else:
            fams = metrics[c["variant"]]
            labels = {k: str(v) for k, v in (c.get("labels") or {}).items()}
            try:
                value = metric_value(fams, c["metric"], c.get("quantile"), labels)
            except KeyError:
                names = sample_names(fams) if c.get("quantile") is None else [f.name for f in fams if f.type == "histogram"]
                what = "histogram" if c.get("quantile") is not None else "metric"
                raise ScenarioError([f"{doc['where'][i, 'metric']}: no {what} {c['metric']!r} in this run"
                                     f"{_did_you_mean(c['metric'], names)} (see `simk8s metrics`)"]) from None
        own = {k: c[k] for k in TOLERANCE_KEYS if k in c}
        tol = own if own else (doc["tolerance"] if "value" in c else {})
        results.append(CheckResult(
            c["variant"], _label(c), value, c.get("min"), c.get("max"),
            baseline=None if c.get("value") is None else float(c["value"]),
            relative=tol.get("relative"), absolute=tol.get("absolute"), index=i,
        ))
    return CheckRun(Path(path), exp.name, results, runs)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_checks(results: list[CheckResult]) -> str:
    lines = []
    for r in results:
        lines.append(f"{'ok  ' if r.ok else 'FAIL'} {r.variant}: {r.figure} = {r.value} ({r.limit_text()})")
    return "\n".join(lines)


def update_baselines(path: str | Path, results: list[CheckResult]) -> list[str]:
    """Rewrite each check's `value` in the check file with this run's figure, keeping every
    other byte of the file (comments, layout, tolerances, limits). Returns one line per
    value that moved."""
    from simk8s.results.output import write_file_atomically
    from simk8s.scenario.yamlsource import node_at, parse_documents

    path = Path(path)
    text = path.read_text()
    root = parse_documents(text, str(path))[0].node
    edits: list[tuple[int, int, str]] = []
    moved: list[str] = []
    for r in results:
        node = node_at(root, ("checks", r.index, "value"))
        if node is None:
            continue  # a limit-only check: limits are policy, not a baseline
        new = "null" if r.value is None else _yaml_number(r.value)
        if text[node.start_mark.index:node.end_mark.index] != new:  # as written, not float noise
            moved.append(f"{r.variant}: {r.figure}: {_num(r.baseline)} → {_num(r.value)}")
        edits.append((node.start_mark.index, node.end_mark.index, new))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    write_file_atomically(path, lambda tmp: tmp.write_text(text))
    return moved


def _yaml_number(x: float) -> str:
    # 12 significant digits: readable, and within the 1e-12 that near_baseline forgives
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:.12g}"
