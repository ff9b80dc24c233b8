"""Sweeps that lose nothing: resolved scenarios travel to workers, finished points are kept
and reused, failures count, and every executor gives the same table."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ROOT

from simk8s.cli import main
from simk8s.scenario import load_scenario
from simk8s.sweep import PointStore, run_sweep, sweep, typed_value

QUICK = ROOT / "scenarios" / "quick.yaml"
GRID = {"cluster.kubeProxy.minSyncPeriod": ["0s", "10s"], "seed": [1, 2]}


def without_wall_time(frame):
    return frame.drop(columns=[c for c in frame.columns if c.endswith("wall_s")])


class Elsewhere(Executor):
    """Runs each call in another working directory, as a Dask worker started elsewhere would."""

    def __init__(self, folder):
        self.folder = folder
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        future = Future()
        here = os.getcwd()
        os.chdir(self.folder)
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        finally:
            os.chdir(here)
        return future


def test_workers_need_no_scenario_file(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    frame = sweep("scenarios/quick.yaml", GRID, variants=["slices-iptables"], executor=Elsewhere(tmp_path))
    assert frame["exception"].isna().all(), frame["exception"].tolist()
    assert len(frame) == 4


def test_dask_and_local_processes_give_identical_tables():
    from dask.distributed import Client, LocalCluster

    with ProcessPoolExecutor(2) as pool:
        local = sweep(QUICK, GRID, variants=["slices-iptables"], executor=pool)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        distributed = sweep(QUICK, GRID, variants=["slices-iptables"], executor=client.get_executor())
    pd.testing.assert_frame_equal(without_wall_time(local), without_wall_time(distributed))


def test_cli_dask_address_matches_local_run(tmp_path):
    from dask.distributed import Client, LocalCluster

    args = ["sweep", str(QUICK), "--param", "seed=1,2", "--variant", "slices-ipvs"]
    local = CliRunner().invoke(main, [*args, "--jobs", "1", "--out", str(tmp_path / "local.parquet")])
    assert local.exit_code == 0, local.output
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster):
        remote = CliRunner().invoke(main, [*args, "--dask", cluster.scheduler_address, "--out", str(tmp_path / "dask.parquet")])
    assert remote.exit_code == 0, remote.output
    pd.testing.assert_frame_equal(without_wall_time(pd.read_parquet(tmp_path / "local.parquet")),
                                  without_wall_time(pd.read_parquet(tmp_path / "dask.parquet")))


def test_missing_dask_is_a_one_line_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if not installed
    out = CliRunner().invoke(main, ["sweep", str(QUICK), "--param", "seed=1", "--dask", "tcp://127.0.0.1:1",
                                    "--out", str(tmp_path / "s.parquet")])
    assert out.exit_code == 2
    assert out.output == "simk8s: --dask needs Dask: pip install 'simk8s[dask]'\n"


def test_an_interrupted_sweep_reruns_only_the_missing_points(tmp_path):
    points = tmp_path / "s.points.parquet"

    def interrupt_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with ThreadPoolExecutor(1) as serial, pytest.raises(KeyboardInterrupt):
        sweep(QUICK, GRID, variants=["slices-iptables"], executor=serial, points_store=points, progress=interrupt_after_two)
    assert len(PointStore(points).blobs) == 2

    counting = Elsewhere(tmp_path)
    resumed = run_sweep(QUICK, GRID, variants=["slices-iptables"], executor=counting, points_store=points)
    assert (resumed.reused, counting.submitted, resumed.failed) == (2, 2, 0)
    with ThreadPoolExecutor(1) as serial:
        whole = sweep(QUICK, GRID, variants=["slices-iptables"], executor=serial)
    pd.testing.assert_frame_equal(without_wall_time(resumed.frame), without_wall_time(whole))
    # and a third run has nothing left to do
    again = Elsewhere(tmp_path)
    assert run_sweep(QUICK, GRID, variants=["slices-iptables"], executor=again, points_store=points).reused == 4
    assert again.submitted == 0


def test_a_sweep_killed_halfway_finishes_only_the_missing_points(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    seeds = ",".join(str(s) for s in range(1, 9))
    cmd = [sys.executable, "-m", "simk8s.cli", "sweep", str(QUICK), "--param", f"seed={seeds}",
           "--variant", "slices-iptables", "--jobs", "1", "--out", str(tmp_path / "s.parquet")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    points = tmp_path / "s.points.parquet"

    def finished():
        return len(PointStore(points).blobs) if points.exists() else 0

    try:
        while proc.poll() is None and finished() < 2:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    kept = finished()
    if kept == 8:
        pytest.skip("the sweep finished before it could be killed")
    assert not (tmp_path / "s.parquet").exists()
    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert f"8 points, 8 rows, {kept} reused from an earlier run" in rerun.stdout
    whole = CliRunner().invoke(main, [*cmd[3:-1], str(tmp_path / "whole.parquet")])
    assert whole.exit_code == 0, whole.output
    pd.testing.assert_frame_equal(without_wall_time(pd.read_parquet(tmp_path / "s.parquet")),
                                  without_wall_time(pd.read_parquet(tmp_path / "whole.parquet")))


def test_failed_points_are_rows_and_exit_1_with_a_count(tmp_path):
    # each value loads alone; nftables before 1.29 does not
    args = ["sweep", str(QUICK), "--param", "cluster.kubeProxy.mode=nftables", "--variant", "slices-iptables"]
    some = CliRunner().invoke(main, [*args, "--param", 'cluster.kubernetesVersion="1.20","1.30"', "--out", str(tmp_path / "a.parquet")])
    assert some.exit_code == 1
    assert some.output.endswith(f"simk8s: 1 of 2 points failed (see the exception column of {tmp_path / 'a.parquet'})\n")
    frame = pd.read_parquet(tmp_path / "a.parquet")
    assert frame["cluster.kubernetesVersion"].tolist() == ["1.20", "1.30"]
    assert "nftables mode needs Kubernetes 1.29 or later" in frame["exception"][0]
    assert pd.isna(frame["exception"][1])
    every = CliRunner().invoke(main, [*args, "--param", 'cluster.kubernetesVersion="1.20"', "--out", str(tmp_path / "b.parquet")])
    assert every.exit_code == 1
    assert "simk8s: 1 of 1 points failed" in every.output


def test_swept_values_are_typed():
    frame = sweep(QUICK, {"cluster.kubeProxy.minSyncPeriod": ["500ms", "2s"], "cluster.nodes": [5]},
                  variants=["slices-iptables"], executor=ThreadPoolExecutor(1))
    assert frame["cluster.kubeProxy.minSyncPeriod_s"].tolist() == [0.5, 2.0]
    assert frame["cluster.nodes"].tolist() == [5, 5]
    assert frame["cluster.nodes"].dtype == "int64"
    sc = load_scenario(QUICK, ["cluster.apiserver.egressBandwidth=1Gbps", "cluster.etcd.maxRequestBytes=1Mi"])
    assert typed_value(sc, "cluster.apiserver.egressBandwidth") == ("bytes_per_s", 125_000_000.0)
    assert typed_value(sc, "cluster.etcd.maxRequestBytes") == ("bytes", 1024**2)
    assert typed_value(sc, "traffic.0.rate") == ("per_s", 50.0)
    assert typed_value(sc, "seed") == (None, 1)


def test_a_points_store_of_someone_elses_is_refused(tmp_path):
    theirs = tmp_path / "s.points.parquet"
    theirs.write_text("mine")
    out = CliRunner().invoke(main, ["sweep", str(QUICK), "--param", "seed=1", "--out", str(tmp_path / "s.parquet")])
    assert out.exit_code == 2
    assert out.output == f"simk8s: --out {theirs}: exists and was not written by simk8s; choose another path\n"
    assert theirs.read_text() == "mine"
