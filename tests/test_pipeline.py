"""End to end: a small scenario through every stage; determinism; exact counters as regression signal."""

import json

import pandas as pd
import pytest
from conftest import ROOT

from simk8s.experiment import run_scenario
from simk8s.pipeline import run_variant
from simk8s.scenario import load_scenario, load_variants

QUICK = ROOT / "scenarios" / "quick.yaml"


def _strip_wall(summary: dict) -> dict:
    summary = json.loads(json.dumps(summary))
    for variant in summary["variants"].values():
        variant["sim"].pop("wall_s")
    return summary


def test_same_scenario_and_seed_give_identical_summary(tmp_path):
    a = run_scenario(QUICK, out=tmp_path / "a")
    run_scenario(QUICK, out=tmp_path / "b")
    sa = json.loads((tmp_path / "a" / "summary.json").read_text())
    sb = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert _strip_wall(sa) == _strip_wall(sb)
    assert a.format() != ""


def test_another_seed_changes_the_run(tmp_path):
    base = run_scenario(QUICK, write=False, only=["slices-iptables"])
    other = run_scenario(QUICK, overrides=["seed=7"], write=False, only=["slices-iptables"])
    assert base.variants[0].summary["dataplane"] != other.variants[0].summary["dataplane"]


@pytest.fixture(scope="module")
def quick_variants():
    sc = load_scenario(QUICK)
    return {name: run_variant(v, name) for name, v in load_variants(sc)}


def test_quick_exact_counters(quick_variants):
    """Noise-free regression signal: writes, watch events, syncs (update deliberately when the model changes)."""
    got = {
        name: (
            r.summary["apiserver"]["writes"]["Endpoints"],
            r.summary["apiserver"]["writes"]["EndpointSlice"],
            r.summary["apiserver"]["watch_events"]["Endpoints"],
            r.summary["apiserver"]["watch_events"]["EndpointSlice"],
            r.summary["kube_proxy"]["syncs"],
            r.summary["kube_proxy"]["full_syncs"],
            r.summary["sim"]["events"],
        )
        for name, r in quick_variants.items()
    }
    assert got == {
        # Release 1.36 (the default): the completion-gap runner (no burst of 2: 360 → 300
        # iptables syncs), IPVS with the v1alpha1 minSyncPeriod of 0 s (a sync per change:
        # 720 → 1180). kube-proxies already running (no startup sync); full syncs come at each
        # node's own hourly phase: none within iptables' 10 minutes, 4 nodes' for nftables.
        # Watch events: 20 kube-proxies per write of their kind, plus the controller-manager's
        # informer of each kind (one watcher: 37 Endpoints, 41 EndpointSlice events).
        "endpoints-iptables": (37, 41, 777, 41, 300, 0, got["endpoints-iptables"][6]),
        "slices-iptables": (37, 41, 37, 861, 300, 0, got["slices-iptables"][6]),
        "slices-ipvs": (37, 41, 37, 861, 1180, 0, got["slices-ipvs"][6]),
        "slices-nftables": (37, 41, 37, 861, 661, 4, got["slices-nftables"][6]),
    }
    # the control plane does not depend on the kube-proxy mode: identical event counts
    assert len({g[6] for g in got.values()}) == 1


def test_bytes_sent_equal_bytes_received(quick_variants):
    for r in quick_variants.values():
        writes = r.fanout.writes
        kind = r.fanout.proxy_kind
        sent = r.summary["apiserver"]["egress_bytes"][kind]
        per_node = writes[writes.kind == kind].bytes_proto.sum()
        # every kube-proxy and the controller-manager's informer of the kind: no one was cut off
        assert sent == per_node * (r.scenario.cluster.nodes + 1)
        assert r.fanout.watcher_bytes["bytes"].sum() == sum(r.summary["apiserver"]["egress_bytes"].values())
        assert r.fanout.egress_series.bytes.sum() == pytest.approx(sum(r.summary["apiserver"]["egress_bytes"].values()), rel=1e-9)


def test_rollout_completes_and_every_node_programs_the_final_state(quick_variants):
    for r in quick_variants.values():
        assert r.summary["rollout"]["completed"] == 1
        fleet = r.fleet.fleet
        import numpy as np

        n = r.scenario.cluster.nodes
        applied = fleet.applied_at(np.arange(n), np.full(n, r.scenario.duration))
        assert (applied == len(r.fleet.objects)).all()


def test_results_directory_layout(tmp_path):
    exp = run_scenario(QUICK, out=tmp_path / "quick", only=["slices-iptables"])
    out = tmp_path / "quick"
    assert exp.out == out
    assert (out / "scenario.resolved.yaml").exists()
    summary = json.loads((out / "summary.json").read_text())
    section = summary["variants"]["slices-iptables"]
    for key in ("sim", "rollout", "apiserver", "kube_proxy", "network_programming_latency_s", "dataplane"):
        assert key in section
    assert {"end_time_s", "events", "wall_s", "exception"} <= set(section["sim"])
    assert {"p50", "p90", "p99", "max"} <= set(section["network_programming_latency_s"])
    assert (out / "slices-iptables" / "pods.parquet").exists()
    assert (out / "slices-iptables" / "writes.parquet").exists()
    assert not list(tmp_path.glob(".quick.*"))  # no temporary directory left behind


def test_shared_cluster_stage_gives_the_same_figures_as_running_it_again(quick_variants):
    exp = run_scenario(QUICK, write=False)
    # every variant of quick differs only in kube-proxy settings: one cluster run serves all
    assert len({id(v.cluster) for v in exp.variants}) == 1
    # and the three that watch EndpointSlices one watch stage (the Endpoints variant its own)
    assert len({id(v.fanout) for v in exp.variants}) == 2
    for v in exp.variants:
        alone = _strip_wall({"variants": {v.name: quick_variants[v.name].summary}})
        shared = _strip_wall({"variants": {v.name: v.summary}})
        assert alone == shared


def _two_cluster_quick(tmp_path):
    """quick.yaml with its Endpoints variant on another control plane (a batch period):
    two groups of variants, so `jobs` > 1 uses worker processes."""
    path = tmp_path / "two-clusters.yaml"
    path.write_text(
        QUICK.read_text().replace(
            "{cluster.kubeProxy.watch: Endpoints}",
            "{cluster.kubeProxy.watch: Endpoints, cluster.controllerManager.endpointUpdatesBatchPeriod: 1s}",
        )
    )
    return path


def test_variants_in_processes_give_the_same_results(tmp_path):
    """--jobs: groups of variants that need separate cluster runs go to worker processes;
    summaries and every table are identical to one process."""
    path = _two_cluster_quick(tmp_path)
    from simk8s.pipeline import cluster_groups

    assert len(cluster_groups(load_variants(load_scenario(path)))) == 2  # the case under test
    seen = []
    one = run_scenario(path, out=tmp_path / "one", jobs=1)
    two = run_scenario(path, out=tmp_path / "two", jobs=2, progress=lambda *msg: seen.append(msg))
    assert [v.name for v in two.variants] == [v.name for v in one.variants]
    for a, b in zip(one.variants, two.variants, strict=True):
        assert _strip_wall({"variants": {"v": a.summary}}) == _strip_wall({"variants": {"v": b.summary}})
        assert a.tables.keys() == b.tables.keys()
        for name in a.tables:
            pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert two.variants[0].cluster is None  # only summaries and tables cross the process boundary
    # progress came back from both workers: every variant, each stage to its end (a variant
    # sharing its group's cluster run reports that stage done at once)
    names = {v.name for v in two.variants}
    assert {m[0] for m in seen} == names
    ended = {(m[0], m[1]) for m in seen if m[2] == m[3]}
    assert ended >= {(n, stage) for n in names for stage in ("cluster", "watch", "proxy", "dataplane")}
    sa = json.loads((tmp_path / "one" / "summary.json").read_text())
    sb = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert _strip_wall(sa) == _strip_wall(sb)
    assert list(sb["variants"]) == list(sa["variants"])
    # each group's files are written as it finishes: the same files, tables and metrics
    for v in one.variants:
        files = sorted(p.name for p in (tmp_path / "one" / v.name).iterdir())
        assert files == sorted(p.name for p in (tmp_path / "two" / v.name).iterdir())
        for f in files:
            a_file, b_file = tmp_path / "one" / v.name / f, tmp_path / "two" / v.name / f
            if f.endswith(".parquet"):
                pd.testing.assert_frame_equal(pd.read_parquet(a_file), pd.read_parquet(b_file))
            else:
                assert a_file.read_text() == b_file.read_text()


def test_full_sync_period_never_models_v126_kube_proxy():
    """`fullSyncPeriod: never` (v1.26–v1.32 iptables): no periodic full sync; resolved as
    "never"; the runner still forces a sync every hour. quick's nftables nodes otherwise run
    4 hourly full syncs at their own phases (test_quick_exact_counters)."""
    from simk8s.scenario import resolved_dict

    exp = run_scenario(QUICK, overrides=["cluster.kubeProxy.fullSyncPeriod=never"], write=False)
    assert resolved_dict(exp.scenario)["cluster"]["kubeProxy"]["fullSyncPeriod"] == "never"
    got = {v.name: (v.summary["kube_proxy"]["syncs"], v.summary["kube_proxy"]["full_syncs"]) for v in exp.variants}
    assert got == {  # the syncs of test_quick_exact_counters, none of them full
        "endpoints-iptables": (300, 0),
        "slices-iptables": (300, 0),
        "slices-ipvs": (1180, 0),
        "slices-nftables": (661, 0),
    }


def test_results_directory_is_readable_by_others_under_a_022_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        run_scenario(QUICK, out=tmp_path / "quick", only=["slices-iptables"])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "quick").stat().st_mode) == 0o755  # not mkdtemp's 0700


def test_syncs_table_rows_are_the_summarys_syncs_with_node_names(quick_variants):
    for r in quick_variants.values():
        syncs = r.tables["syncs"]
        assert len(syncs) == r.summary["kube_proxy"]["syncs"]  # no warm t = 0 placeholders
        assert (syncs.start > 0).all()
        assert list(syncs.node_name.astype(str)) == [f"node-{n}" for n in syncs.node]


def _die(group):
    import os

    os._exit(9)  # as if the kernel killed the worker


def test_a_worker_dying_outright_is_a_clear_message_and_writes_nothing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import simk8s.parallel
    from simk8s.cli import main

    path = _two_cluster_quick(tmp_path)
    monkeypatch.setattr(simk8s.parallel, "_run_group_light", _die)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(path), "--jobs", "2", "--out", str(out)])
    assert result.exit_code == 1
    assert result.output.endswith("simk8s: a worker process died (out of memory?); try --jobs 1\n")
    assert not out.exists()


def test_running_some_variants_keeps_the_others_in_the_results(tmp_path):
    out = tmp_path / "quick"
    run_scenario(QUICK, out=out)
    before = json.loads((out / "summary.json").read_text())
    (out / "slices-ipvs" / "syncs.parquet").unlink()  # so that a re-run is seen
    run_scenario(QUICK, out=out, only=["slices-ipvs"])
    after = json.loads((out / "summary.json").read_text())
    names = ["endpoints-iptables", "slices-iptables", "slices-ipvs", "slices-nftables"]
    assert list(after["variants"]) == names  # same order, the re-run one in its place
    assert _strip_wall(after) == _strip_wall(before)
    for name in names:
        assert (out / name / "syncs.parquet").exists()
    import yaml

    assert list(yaml.safe_load((out / "scenario.resolved.yaml").read_text())["resolvedVariants"]) == names
    # Overrides make it another scenario: the directory is replaced, nothing mixed in.
    run_scenario(QUICK, out=out, only=["slices-ipvs"], overrides=["cluster.kubeProxy.minSyncPeriod=10s"])
    assert list(json.loads((out / "summary.json").read_text())["variants"]) == ["slices-ipvs"]
    assert not (out / "slices-iptables").exists()


def test_unreadable_earlier_results_are_replaced_not_merged(tmp_path):
    from simk8s.results.output import write_manifest

    out = tmp_path / "quick"
    out.mkdir()
    (out / "summary.json").write_text("[]")
    (out / "scenario.resolved.yaml").write_text("")
    write_manifest(out)  # simk8s wrote them (say, an older version), so it may replace them
    run_scenario(QUICK, out=out, only=["slices-ipvs"])
    assert list(json.loads((out / "summary.json").read_text())["variants"]) == ["slices-ipvs"]


def test_gc_setting_survives_overlapping_runs():
    import gc

    from simk8s.gcpasses import THRESHOLDS
    from simk8s.pipeline import fewer_gc_passes

    before = gc.get_threshold()
    a, b = fewer_gc_passes(), fewer_gc_passes()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)  # the first out (another thread's run) while b still runs
    assert gc.get_threshold() == THRESHOLDS
    b.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_no_passes_while_a_stage_builds():
    import gc

    from simk8s.gcpasses import no_passes_while_building
    from simk8s.pipeline import fewer_gc_passes

    assert gc.isenabled()
    with no_passes_while_building():  # outside fewer_gc_passes: nothing changes
        assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    with fewer_gc_passes():
        with no_passes_while_building(), no_passes_while_building():  # overlapping stages
            assert not gc.isenabled()
            built = [[] for _ in range(10)]
        assert gc.isenabled() and gc.get_count()[0] < 10  # frozen: the young count restarts
        assert gc.get_freeze_count() >= len(built)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _fail(group):
    raise RuntimeError(f"boom in {group[0][0]}")


def test_a_failing_worker_raises_its_error(tmp_path, monkeypatch):
    import simk8s.parallel

    path = _two_cluster_quick(tmp_path)
    monkeypatch.setattr(simk8s.parallel, "_run_group_light", _fail)
    # both groups fail: the first failure to arrive is raised at once, whichever group it is
    with pytest.raises(RuntimeError, match=r"boom in (endpoints|slices)-iptables"):
        run_scenario(path, out=tmp_path / "out", jobs=2)
    assert not (tmp_path / "out").exists()
