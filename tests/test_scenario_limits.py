"""The limits checked at load: ranges as documented, the memory estimate's terms, and the
YAML bounds at their edges (the corpus in tests/bad_scenarios holds the refusals)."""

import re
from pathlib import Path

import pytest

from simk8s.scenario import ScenarioError, load_scenario, load_variants, memory
from simk8s.scenario.messages import schema_ranges
from simk8s.scenario.yamlbounds import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_NUMBER_CHARS
from simk8s.scenario.yamlsource import parse_documents, parse_value

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def test_every_declared_range_is_in_the_schema_doc():
    doc = (ROOT / "docs" / "scenario-schema.md").read_text()
    rows = dict(re.findall(r"^\| `([^`]+)` \| (.+) \|$", doc, flags=re.MULTILINE))
    for path, words in schema_ranges():
        assert rows.get(path) == words, path


def test_at_the_limits_is_still_accepted():
    assert parse_value("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert parse_value("9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)
    # 9 aliases of a list of 5,000 values: 45,000 values through aliases, under 50,000.
    items = ", ".join(["x"] * 4999)
    doc = f"a: &a [{items}]\nb: [{', '.join(['*a'] * 9)}]\n"
    assert MAX_ALIAS_VALUES > 9 * 5000
    (document,) = parse_documents(doc, "edge.yaml")
    assert len(document.data["b"]) == 9


def test_anchors_used_a_few_times_are_fine(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: anchors\n"
        "probe: &probe {initialDelaySeconds: 2, periodSeconds: 5}\n"
        "workloads:\n"
        "  - {name: a, readinessProbe: *probe}\n"
        "  - {name: b, readinessProbe: *probe}\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.lines == [f"{path}:2: probe: unknown field"]  # the anchors themselves were read


def test_shipped_scenarios_fit_their_estimates():
    for path in sorted(SCENARIOS.glob("*.yaml")):
        limit = 12 if path.name == "scale-100k.yaml" else 2  # GiB; 100,000 nodes: issue 16's bound
        for _, variant in load_variants(load_scenario(path)):
            assert memory.estimate_memory(variant).total < limit * 2**30, path


def test_estimate_terms_for_rolling_2000():
    (_, variant), *_ = load_variants(load_scenario(SCENARIOS / "rolling-2000.yaml"))
    estimate = memory.estimate_memory(variant)
    assert estimate.pods == 4000  # 2000 at t = 0, 2000 more from the rollout
    assert estimate.connections == 2000 * 540  # 1m .. 10m at 2000/s
    # EndpointSlice writes: the rollout's 6 changes per pod (12,000) stay under 20 QPS × 30m.
    assert estimate.node_writes == 3000 * 12_000
    assert estimate.total == (memory.BASE_BYTES + 4000 * memory.POD_BYTES
                              + 1_080_000 * memory.CONNECTION_BYTES + 36_000_000 * memory.NODE_WRITE_BYTES)
    assert estimate.largest == (("cluster", "nodes"), "12,000 writes to 3,000 watchers at ~4 B")


def test_memory_problem_only_above_what_is_available():
    sc = load_scenario(SCENARIOS / "quick.yaml")
    needed = memory.estimate_memory(sc).total
    assert memory.memory_problem(sc, available=needed) is None
    loc, message = memory.memory_problem(sc, available=needed - 1)
    assert loc == ("traffic", 0, "rate")
    assert message.startswith("the run needs at least 0.2 GiB of memory (mostly 30,000 connections")


def test_memory_refusal_of_a_copied_workload_points_at_the_entry_as_written(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\n"
        "cluster: {nodes: 5000}\n"
        "workloads:\n"
        "  - {name: small, replicas: 1}\n"
        "  - {name: app, copies: 1000, replicas: 500}\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.lines == [
        f"{path}:5: workloads.1.replicas: the run needs at least 1.6 GiB of memory "
        "(mostly 500,001 pods at ~3 KiB), more than the 1.0 GiB available",
    ]


def test_unknown_available_memory_skips_the_check(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    sc = load_scenario(SCENARIOS / "quick.yaml", ["traffic.0.rate=1000000/s"])
    assert sc.traffic[0].rate == 1_000_000
