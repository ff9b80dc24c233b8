"""`simk8s check` reports: JUnit XML, Markdown and ClusterLoader2 PerfData that their own
parsers accept; baselines with tolerances; `--update` that rewrites only the values."""

import json
import textwrap

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import ROOT
from junitparser import Failure, JUnitXml
from markdown_it import MarkdownIt

from simk8s.cli import main
from simk8s.results.check import CheckResult, load_checks
from simk8s.scenario import ScenarioError

QUICK = ROOT / "scenarios" / "quick.yaml"

# clusterloader2/pkg/measurement/util/perftype.go (kubernetes/perf-tests): PerfData and DataItem
PERFDATA_SCHEMA = {
    "type": "object",
    "required": ["version", "dataItems"],
    "properties": {
        "version": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "dataItems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["data", "unit"],
                "additionalProperties": False,
                "properties": {
                    "data": {"type": "object", "additionalProperties": {"type": "number"}},
                    "unit": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    },
    "additionalProperties": False,
}


def check_file(tmp_path, body, name="checks.yaml"):
    path = tmp_path / name
    path.write_text(f"scenario: {QUICK}\n" + textwrap.dedent(body))
    return path


def test_reports_are_accepted_by_their_parsers(tmp_path):
    path = check_file(tmp_path, """\
        checks:
          - {variant: slices-iptables, figure: kube_proxy.syncs, max: 10}
          - {variant: slices-iptables, metric: kubeproxy_network_programming_duration_seconds, quantile: 0.99, max: 30}
          - {variant: slices-ipvs, figure: kube_proxy.sync_seconds.p99, value: 0.072163, relative: 0.01}
        """)
    junit, md, perf = tmp_path / "j.xml", tmp_path / "summary.markdown", tmp_path / "p"
    out = CliRunner().invoke(main, ["check", str(path), "--junit-xml", str(junit), "--markdown", str(md), "--perfdata", str(perf)])
    assert out.exit_code == 1, out.output
    assert "1 of 3 checks failed" in out.output

    xml = JUnitXml.fromfile(str(junit))
    cases = [c for suite in xml for c in suite]
    assert [c.name for c in cases] == [
        "slices-iptables: kube_proxy.syncs",
        "slices-iptables: histogram_quantile(0.99, kubeproxy_network_programming_duration_seconds)",
        "slices-ipvs: kube_proxy.sync_seconds.p99",
    ]
    failure = cases[0].result[0]
    assert isinstance(failure, Failure)
    assert failure.message == "kube_proxy.syncs = 300, above the maximum 10"
    assert [c.is_passed for c in cases] == [False, True, True]

    tokens = MarkdownIt("commonmark").enable("table").parse(md.read_text())
    assert sum(t.type == "table_open" for t in tokens) == 1
    assert sum(t.type == "tr_open" for t in tokens) == 1 + 3  # header + one row per check
    cells = [t.content for t in tokens if t.type == "inline"]
    assert "kube_proxy.syncs = 300, above the maximum 10" in cells

    files = sorted(p.name for p in perf.iterdir())
    assert files == ["NetworkProgrammingLatency_simk8s_quick.json", "SyncProxyRulesLatency_simk8s_quick.json"]
    for name in files:
        doc = json.loads((perf / name).read_text())
        jsonschema.validate(doc, PERFDATA_SCHEMA)
        assert {item["unit"] for item in doc["dataItems"]} == {"ms"}
        assert all(set(item["data"]) == {"Perc50", "Perc90", "Perc99"} for item in doc["dataItems"])
        assert {item["labels"]["variant"] for item in doc["dataItems"]} == {"slices-iptables", "slices-ipvs"}


def test_reports_never_replace_a_users_file(tmp_path):
    path = check_file(tmp_path, "checks:\n  - {variant: slices-iptables, figure: kube_proxy.syncs, max: 1000}\n")
    mine = tmp_path / "notes.markdown"
    mine.write_text("my notes\n")
    out = CliRunner().invoke(main, ["check", str(path), "--markdown", str(mine)])
    assert out.exit_code == 2
    assert out.output == f"simk8s: --markdown {mine}: exists and was not written by simk8s; choose another path\n"
    assert mine.read_text() == "my notes\n"
    # ... but one it wrote is
    ours = tmp_path / "ours.markdown"
    for _ in range(2):
        assert CliRunner().invoke(main, ["check", str(path), "--markdown", str(ours)]).exit_code == 0


def test_update_rewrites_only_the_values(tmp_path):
    path = check_file(tmp_path, """\
        tolerance: {relative: 0.05}   # a comment that stays
        checks:
          - {variant: slices-iptables, figure: kube_proxy.syncs, value: 1}
          - variant: slices-iptables
            metric: apiserver_request_total
            labels: {resource: endpointslices}
            value: 2   # and this one
            absolute: 3
          - {variant: slices-iptables, figure: dataplane.failed_total, max: 1000}
        """)
    before = path.read_text()
    out = CliRunner().invoke(main, ["check", str(path)])
    assert out.exit_code == 1
    out = CliRunner().invoke(main, ["check", str(path), "--update"])
    assert out.exit_code == 0, out.output
    assert "updated slices-iptables: kube_proxy.syncs: 1 → 300" in out.output
    after = path.read_text()
    assert after == before.replace("value: 1}", "value: 300}").replace("value: 2 ", "value: 41 ")
    assert CliRunner().invoke(main, ["check", str(path)]).exit_code == 0


def test_tolerances():
    base = {"variant": "v", "figure": "f", "min": None, "max": None, "baseline": 100.0}
    assert CheckResult(value=104.9, relative=0.05, **base).ok
    assert not CheckResult(value=105.1, relative=0.05, **base).ok
    assert CheckResult(value=107.0, relative=0.05, absolute=8.0, **base).ok  # the wider allowance wins
    assert not CheckResult(value=100.5, **base).ok  # no tolerance: exactly
    assert CheckResult(value=100.0, **base).ok
    assert not CheckResult(value=None, relative=1.0, **base).ok
    moved = CheckResult(value=120.0, relative=0.01, **base)
    assert moved.problem() == "f = 120, moved +20 (+20.00%) from the baseline 100 (tolerance ±1%)"


def test_check_file_problems_are_file_line(tmp_path):
    path = check_file(tmp_path, """\
        tolerance: {relativ: 0.1}
        checks:
          - {variant: slices-iptables, figure: kube_proxy.syncs, metric: x, max: 1}
          - {variant: slices-iptables, figure: kube_proxy.syncs, quantile: 0.5, max: 1}
          - {variant: slices-iptables, metric: x, quantile: 2, max: 1}
          - {variant: slices-iptables, figure: kube_proxy.syncs, relative: 0.1, max: 1}
          - {variant: slices-iptables, figure: kube_proxy.syncs, value: 1, absolute: -1}
        """)
    with pytest.raises(ScenarioError) as err:
        load_checks(path)
    assert err.value.lines == [
        f"{path}:2: tolerance.relativ: unknown field (did you mean 'relative'?) (have relative, absolute)",
        f"{path}:4: checks.0: needs a figure (a summary key) or a metric (a Prometheus name), not both",
        f"{path}:5: checks.1.quantile: a quantile goes with a metric (a histogram)",
        f"{path}:6: checks.2.quantile: expected a number between 0 and 1, got 2",
        f"{path}:7: checks.3.relative: a tolerance goes with a baseline `value`",
        f"{path}:8: checks.4.absolute: expected a number ≥ 0, got -1",
    ]


def test_an_unknown_metric_is_a_clear_error(tmp_path):
    path = check_file(tmp_path, "checks:\n  - {variant: slices-ipvs, metric: kubeproxy_network_programming_duration_second, quantile: 0.9, max: 1}\n")
    out = CliRunner().invoke(main, ["check", str(path)])
    assert out.exit_code == 2
    assert out.output == (
        f"{path}:3: checks.0.metric: no histogram 'kubeproxy_network_programming_duration_second' in this run "
        "(did you mean 'kubeproxy_network_programming_duration_seconds'?) (see `simk8s metrics`)\n"
    )
