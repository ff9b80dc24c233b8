"""The Prometheus export: real names and buckets, parsed back by prometheus-client's own
parsers, and sums that agree with the simulation's exact figures."""

import math

import pytest
from click.testing import CliRunner
from conftest import ROOT
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from simk8s.cli import main
from simk8s.experiment import run_scenario
from simk8s.proxy.metrics import NPL_BUCKETS, SYNC_DURATION_BUCKETS
from simk8s.results.metrics import VariantRun, exposition, families, metric_value, runs_in_directory

QUICK = ROOT / "scenarios" / "quick.yaml"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "quick"
    exp = run_scenario(QUICK, out=out)
    return exp, out


def by_name(text, parse):
    return {f.name: f for f in parse(text)}


def test_the_exposition_parses_back_with_real_names_and_buckets(quick):
    exp, out = quick
    text = (out / "slices-iptables" / "metrics.prom").read_text()
    fams = by_name(text, parse_prometheus)
    npl = fams["kubeproxy_network_programming_duration_seconds"]
    assert npl.type == "histogram"
    les = [s.labels["le"] for s in npl.samples if s.name.endswith("_bucket")]
    assert [float(le) for le in les[:-1]] == list(NPL_BUCKETS) and les[-1] == "+Inf"
    samples = {s.name: s.value for s in npl.samples if not s.name.endswith("_bucket")}
    summary = exp.variant("slices-iptables").summary
    assert samples["kubeproxy_network_programming_duration_seconds_count"] == summary["network_programming_latency_s"]["samples"]
    sync = fams["kubeproxy_sync_proxy_rules_duration_seconds"]
    assert [float(s.labels["le"]) for s in sync.samples if s.name.endswith("_bucket")][:-1] == list(SYNC_DURATION_BUCKETS)
    sync_count = next(s.value for s in sync.samples if s.name.endswith("_count"))
    assert sync_count == summary["kube_proxy"]["syncs"]
    # iptables from v1.28: the full/partial split adds up to all syncs
    full = next(s.value for s in fams["kubeproxy_sync_full_proxy_rules_duration_seconds"].samples if s.name.endswith("_count"))
    partial = next(s.value for s in fams["kubeproxy_sync_partial_proxy_rules_duration_seconds"].samples if s.name.endswith("_count"))
    assert full + partial == sync_count and full == summary["kube_proxy"]["full_syncs"]
    requests = fams["apiserver_request"]  # the parser drops a counter's _total from the family name
    assert {s.labels["resource"] for s in requests.samples} == {"endpoints", "endpointslices"}
    assert sum(s.value for s in requests.samples if s.labels["resource"] == "endpointslices") == summary["apiserver"]["writes"]["EndpointSlice"]
    sizes = fams["apiserver_watch_events_sizes"]
    count = next(s.value for s in sizes.samples if s.name.endswith("_count") and s.labels["kind"] == "EndpointSlice")
    total = next(s.value for s in sizes.samples if s.name.endswith("_sum") and s.labels["kind"] == "EndpointSlice")
    assert count == summary["apiserver"]["watch_events"]["EndpointSlice"]
    assert total == summary["apiserver"]["egress_bytes"]["EndpointSlice"]


def test_openmetrics_parses_and_variants_are_labelled(quick):
    _, out = quick
    result = CliRunner().invoke(main, ["metrics", str(out), "--openmetrics"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("# EOF\n")
    fams = by_name(result.output, parse_openmetrics)
    variants = {s.labels["variant"] for s in fams["kubeproxy_network_programming_duration_seconds"].samples}
    assert variants == {"endpoints-iptables", "slices-iptables", "slices-ipvs", "slices-nftables"}
    one = CliRunner().invoke(main, ["metrics", str(out), "--variant", "slices-ipvs"])
    assert one.exit_code == 0
    assert "variant=" not in one.output
    assert "kubeproxy_sync_full_proxy_rules_duration_seconds" not in one.output  # an iptables-only metric


def test_sums_equal_the_simulations_exact_totals():
    exp = run_scenario(QUICK, write=False, jobs=1)
    for v in exp.variants:
        fams = families(VariantRun.from_result(v))
        npl = metric_value(fams, "kubeproxy_network_programming_duration_seconds_sum")
        assert npl == pytest.approx(v.fleet.fleet.npl.total, rel=1e-9), v.name
        assert metric_value(fams, "kubeproxy_network_programming_duration_seconds_count") == v.fleet.fleet.npl.count


def test_in_memory_and_read_back_give_the_same_exposition(quick):
    exp, out = quick
    back = runs_in_directory(out)
    for v in exp.variants:
        assert exposition(families(back[v.name])) == exposition(families(VariantRun.from_result(v)))


def test_histogram_quantile_reads_the_buckets_like_promql(quick):
    exp, out = quick
    fams = families(runs_in_directory(out, "slices-iptables")["slices-iptables"])
    p99 = metric_value(fams, "kubeproxy_network_programming_duration_seconds", 0.99)
    exact = exp.variant("slices-iptables").summary["network_programming_latency_s"]["p99"]
    # interpolated inside a 1 s bucket: within that bucket of the exact value
    assert math.floor(exact) <= p99 <= math.ceil(exact)


def test_metrics_of_a_directory_that_is_not_results_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["metrics", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == f"simk8s: {tmp_path}: not a simk8s results directory (no summary.json)\n"
