"""Interrupted and starved runs: Ctrl-C, SIGTERM, a killed parent, a full disk.

Whatever stops a run, the previous results stay as they were and no partial file is left;
worker processes never outlive the command. These tests start real processes and send
real signals; they wait on conditions (CPU time used, processes gone), never on a clock
reading taken as a performance figure.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from simk8s.cli import main

QUICK = ROOT / "scenarios" / "quick.yaml"
# quick at 3000 nodes and 2000 replicas: several seconds of simulation per cluster run.
HEAVY = ["--set", "cluster.nodes=3000", "--set", "workloads.0.replicas=2000"]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids |= {int(k) for k in (task / "children").read_text().split()}
    return kids


def _wait_for(condition, what: str, limit_s: float = 120.0) -> None:
    """Poll until `condition()` holds; the limit only keeps a broken run from hanging CI."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _simk8s(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    return subprocess.Popen([sys.executable, "-m", "simk8s.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _two_clusters(tmp_path: Path) -> Path:
    """quick.yaml whose Endpoints variant needs its own cluster run: two worker processes."""
    path = tmp_path / "two.yaml"
    path.write_text(QUICK.read_text().replace(
        "{cluster.kubeProxy.watch: Endpoints}",
        "{cluster.kubeProxy.watch: Endpoints, cluster.controllerManager.endpointUpdatesBatchPeriod: 1s}",
    ))
    return path


@pytest.fixture
def previous_results(tmp_path: Path) -> Path:
    out = tmp_path / "res"
    result = CliRunner().invoke(main, ["run", str(QUICK), "--variant", "slices-ipvs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(("sig", "code", "jobs"), [
    (signal.SIGINT, 130, "1"), (signal.SIGTERM, 143, "1"), (signal.SIGINT, 130, "2"), (signal.SIGTERM, 143, "2"),
])
def test_a_signal_during_run_keeps_the_previous_results(tmp_path, previous_results, sig, code, jobs):
    scenario = _two_clusters(tmp_path)
    before = _fingerprint(tmp_path)
    proc = _simk8s("run", str(scenario), *HEAVY, "--jobs", jobs, "--out", "res", cwd=tmp_path)
    if jobs == "2":
        _wait_for(lambda: len(_children(proc.pid)) >= 2, "two workers")
        workers = _children(proc.pid)
        busy = lambda: sum(_cpu_seconds(w) for w in workers if Path(f"/proc/{w}").exists())  # noqa: E731
    else:
        busy = lambda: _cpu_seconds(proc.pid)  # noqa: E731
    _wait_for(lambda: busy() >= 2.0 or proc.poll() is not None, "the simulation to start")
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == ("simk8s: interrupted" if sig == signal.SIGINT else "simk8s: terminated")
    assert _fingerprint(tmp_path) == before  # previous results intact; no temporary directory left
    if jobs == "2":
        _wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), "the workers to stop")


def test_workers_die_with_their_parent(tmp_path):
    proc = _simk8s("run", str(_two_clusters(tmp_path)), *HEAVY, "--jobs", "2", "--out", "res", cwd=tmp_path)
    _wait_for(lambda: len(_children(proc.pid)) >= 2, "two workers")
    workers = _children(proc.pid)
    proc.kill()  # SIGKILL: the parent runs no cleanup at all
    proc.communicate()

    def gone(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state == "Z"  # killed, waiting for init to reap it

    _wait_for(lambda: all(gone(w) for w in workers), "orphaned workers to die")


def test_a_signal_during_sweep_keeps_the_previous_table(tmp_path):
    table = tmp_path / "s.parquet"
    quick = ["sweep", str(QUICK), "--variant", "slices-ipvs", "--out", str(table)]
    first = CliRunner().invoke(main, [*quick, "--param", "seed=1"])
    assert first.exit_code == 0, first.output
    before = _fingerprint(tmp_path)
    proc = _simk8s("sweep", str(QUICK), "--variant", "slices-ipvs", "--param", "cluster.nodes=2999,3000",
                   "--param", "workloads.0.replicas=2000", "--jobs", "2", "--out", str(table), cwd=tmp_path)
    _wait_for(lambda: len(_children(proc.pid)) >= 1, "a worker")
    workers = _children(proc.pid)
    _wait_for(lambda: sum(_cpu_seconds(w) for w in workers if Path(f"/proc/{w}").exists()) >= 2.0
              or proc.poll() is not None, "the runs to start")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert _fingerprint(tmp_path) == before


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "res/x.parquet")


def test_a_full_disk_is_one_line_and_keeps_the_previous_results(tmp_path, previous_results, monkeypatch):
    import simk8s.results.files

    before = _fingerprint(tmp_path)
    monkeypatch.setattr(simk8s.results.files, "_to_parquet", _no_space)
    result = CliRunner().invoke(main, ["run", str(QUICK), "--variant", "slices-ipvs", "--out", str(previous_results)])
    assert result.exit_code == 1
    assert result.stderr == "simk8s: res/x.parquet: no space left on the device\n"
    assert _fingerprint(tmp_path) == before


def test_a_full_disk_during_a_sweep_leaves_no_partial_file(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    table = tmp_path / "s.parquet"
    args = ["sweep", str(QUICK), "--variant", "slices-ipvs", "--param", "seed=1", "--jobs", "1", "--out", str(table)]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = _fingerprint(tmp_path)

    def half_then_full(table_, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half a table")
        _no_space()

    monkeypatch.setattr(pq, "write_table", half_then_full)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "no space left on the device" in result.stderr
    assert _fingerprint(tmp_path) == before  # the old table as it was, no .tmp beside it
    assert json.dumps(sorted(os.listdir(tmp_path))) == json.dumps(sorted(before))
