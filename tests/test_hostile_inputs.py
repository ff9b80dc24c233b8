"""Bad and hostile input across every command: a one-line answer, the right exit status,
no traceback, and no file changed outside a temporary results directory.

Each case runs in a sandbox directory holding a copy of quick.yaml (`scen.yaml`) and a few
user files; the sandbox is fingerprinted before and after. Cases that need a scenario
loaded run the loader only — every one fails before any simulation starts.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from simk8s.cli import main

QUICK = (ROOT / "scenarios" / "quick.yaml").read_text()
CHECK_HEAD = "scenario: scen.yaml\nchecks:\n"


@dataclass
class Case:
    id: str
    args: list[str]
    exit: int
    first: str  # the first message line starts with this
    files: dict[str, str | bytes] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()


def _resolved(doc: object) -> str:
    return json.dumps(doc)  # JSON is YAML


BOMB = "[" + ", ".join(
    f"&{a} [{', '.join([f'*{b}'] * 9) if b else ', '.join(['x'] * 9)}]" for a, b in zip("abcdef", ["", *"abcde"], strict=True)
) + "]"  # each level nine times the one before: 9^6 values from 200 characters
RESULTS_USER = {"mydata/thesis.txt": "years of work\n", "mydata/figures/plot.csv": "1,2\n"}
OLD_SIMK8S = {  # a results directory simk8s wrote (manifest), plus a file of the user's
    "res/summary.json": '{"simk8s_version": "0.1.0", "variants": {}}',
    "res/.simk8s-results.json": '{"files": ["summary.json"]}',
    "res/notes.txt": "mine\n",
}

CASES = [
    # --- run: output paths (the data-loss cases first) ---
    Case("run-out-user-dir", ["run", "scen.yaml", "--out", "mydata"], 2,
         "simk8s: --out mydata: exists and is not a simk8s results directory", RESULTS_USER),
    Case("run-out-cwd", ["run", "scen.yaml", "--out", "."], 2, "simk8s: --out .: is the current directory or holds it"),
    Case("run-out-parent-of-cwd", ["run", "scen.yaml", "--out", ".."], 2,
         "simk8s: --out ..: is the current directory or holds it"),
    Case("run-out-empty", ["run", "scen.yaml", "--out", ""], 2, "simk8s: --out: empty path"),
    Case("run-out-under-a-file", ["run", "scen.yaml", "--out", "afile/out"], 2,
         "simk8s: --out afile/out: cannot write there", {"afile": "x\n"}),
    Case("run-out-in-proc", ["run", "scen.yaml", "--out", "/proc/simk8s-results"], 2,
         "simk8s: --out /proc/simk8s-results: cannot write there"),
    Case("run-out-is-a-file", ["run", "scen.yaml", "--out", "afile"], 2,
         "Error: Invalid value for '--out': Directory 'afile' is a file", {"afile": "x\n"}),
    Case("run-out-holds-the-input", ["run", "inputs/scen.yaml", "--out", "inputs"], 2,
         "simk8s: --out inputs: holds the input inputs/scen.yaml", {"inputs/scen.yaml": QUICK}),
    Case("run-out-simk8s-dir-with-a-user-file", ["run", "scen.yaml", "--out", "res"], 2,
         "simk8s: --out res: holds notes.txt, which simk8s did not write", OLD_SIMK8S),
    Case("run-out-dotdot-normalised", ["run", "scen.yaml", "--out", "mydata/missing/.."], 2,
         "simk8s: --out mydata: exists and is not a simk8s results directory", RESULTS_USER),
    Case("run-out-bad-manifest", ["run", "scen.yaml", "--out", "res"], 2,
         "simk8s: --out res: its .simk8s-results.json is unreadable",
         {"res/.simk8s-results.json": "{", "res/x.parquet": "x"}),
    # --- run: scenario and arguments ---
    Case("run-missing-scenario", ["run", "nope.yaml"], 2, "nope.yaml: no such file"),
    Case("run-scenario-is-a-dir", ["run", "adir"], 2, "Error: Invalid value for 'SCENARIO'", dirs=("adir",)),
    Case("run-empty-scenario", ["run", "empty.yaml"], 2, "empty.yaml", {"empty.yaml": ""}),
    Case("run-scenario-is-a-list", ["run", "list.yaml"], 2, "list.yaml:1", {"list.yaml": "- a\n- b\n"}),
    Case("run-scenario-bad-yaml", ["run", "bad.yaml"], 2, "bad.yaml:2: not valid YAML", {"bad.yaml": "a: [1,\nb: }\n"}),
    Case("run-scenario-not-utf8", ["run", "latin.yaml"], 2, "latin.yaml", {"latin.yaml": b"name: caf\xe9\n\xff\xfe"}),
    Case("run-set-without-equals", ["run", "scen.yaml", "--set", "cluster.nodes"], 2, "--set"),
    Case("run-set-unknown-field", ["run", "scen.yaml", "--set", "cluster.nodez=5"], 2,
         "--set:1: cluster.nodez: unknown field (did you mean 'nodes'?)"),
    Case("run-set-word-for-count", ["run", "scen.yaml", "--set", "cluster.nodes=many"], 2, "--set:1: cluster.nodes"),
    Case("run-unknown-variant", ["run", "scen.yaml", "--variant", "nope"], 2, "simk8s: no variant named nope"),
    Case("run-jobs-zero", ["run", "scen.yaml", "--jobs", "0"], 2, "Error: Invalid value for '--jobs'"),
    Case("run-jobs-negative", ["run", "scen.yaml", "--jobs", "-3"], 2, "Error: Invalid value for '--jobs'"),
    Case("run-jobs-word", ["run", "scen.yaml", "--jobs", "all"], 2, "Error: Invalid value for '--jobs'"),
    Case("run-no-scenario", ["run"], 2, "Error: Missing argument 'SCENARIO'"),
    # --- run: YAML the parser would choke on, values that cannot be simulated ---
    Case("run-nul-byte", ["run", "nul.yaml"], 2, "nul.yaml:1: control character U+0000", {"nul.yaml": b"name: a\x00b\n"}),
    Case("run-deep-nesting", ["run", "deep.yaml"], 2, "deep.yaml:1: nested more than 100 levels deep",
         {"deep.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n"}),
    Case("run-bool-count", ["run", "b.yaml"], 2, "b.yaml:7: cluster.nodes: expected a whole number, got the boolean true",
         {"b.yaml": QUICK.replace("nodes: 20", "nodes: true")}),
    Case("run-set-alias-bomb", ["run", "scen.yaml", "--set", "cluster.zones=" + BOMB], 2,
         "--set:1: value '[&a [x, x, x, x, x, x, x, x, x], &b ["),
    Case("run-set-huge-duration", ["run", "scen.yaml", "--set", "duration=1e400s"], 2, "--set:1: duration: expected a duration"),
    Case("run-set-rate-too-high", ["run", "scen.yaml", "--set", "traffic.0.rate=1000000000/s"], 2,
         "--set:1: traffic.0.rate: must be from 0/s to 1000000/s"),
    Case("run-set-min-sync-above-sync", ["run", "scen.yaml", "--set", "cluster.kubeProxy.minSyncPeriod=40s"], 2,
         "--set:1: cluster.kubeProxy.minSyncPeriod: must not exceed syncPeriod (30s), got 40s"),
    Case("sweep-param-bool", ["sweep", "scen.yaml", "--param", "cluster.nodes=true"], 2,
         "--param cluster.nodes=true: cluster.nodes: expected a whole number, got the boolean true"),
    # --- validate ---
    Case("validate-missing", ["validate", "nope.yaml"], 2, "nope.yaml: no such file"),
    Case("validate-set-out-of-range", ["validate", "scen.yaml", "--set", "cluster.nodes=0"], 2,
         "--set:1: cluster.nodes: must be from 1 to 100000, got 0"),
    Case("validate-dir", ["validate", "adir"], 2, "Error: Invalid value for 'FILES...'", dirs=("adir",)),
    Case("validate-duplicate-keys", ["validate", "dup.yaml"], 2, "dup.yaml:2: name: duplicate key",
         {"dup.yaml": "name: a\nname: b\n"}),
    Case("validate-exponent-integer", ["validate", "exp.yaml"], 2,
         "exp.yaml:7: cluster.apiserver.watchChanSize: Input should be a valid integer, unable to parse string as an "
         "integer, got '1e9' (YAML reads a number like 1e9 as text: write it out, e.g. 1000000000)",
         {"exp.yaml": QUICK.replace("cluster:\n", "cluster:\n  apiserver: {watchChanSize: 1e9}\n", 1)}),
    Case("validate-empty-machine", ["validate", "m.yaml"], 2,
         "m.yaml:7: cluster.kubeProxy.machine: must name a machine profile file (written by `simk8s calibrate --host`), "
         "got an empty string", {"m.yaml": QUICK.replace("cluster:\n", "cluster:\n  kubeProxy: {machine: \"\"}\n", 1)}),
    Case("validate-tab-indent", ["validate", "tab.yaml"], 2, "tab.yaml:2: not valid YAML",
         {"tab.yaml": "name: a\n\tseed: 1\n"}),
    Case("unknown-command", ["simulate", "scen.yaml"], 2, "Error: No such command 'simulate'"),
    # --- sizes ---
    Case("sizes-negative-pods", ["sizes", "--pods", "-5"], 2, "Error: Invalid value for '--pods'"),
    Case("sizes-zero-pods", ["sizes", "--pods", "0"], 2, "Error: Invalid value for '--pods'"),
    Case("sizes-word-pods", ["sizes", "--pods", "lots"], 2, "Error: Invalid value for '--pods'"),
    Case("sizes-too-many-pods", ["sizes", "--pods", "100000000"], 2, "Error: Invalid value for '--pods'"),
    Case("sizes-bad-quantity", ["sizes", "--max-request-bytes", "12qq"], 2,
         "Error: Invalid value for --max-request-bytes: expected a quantity"),
    Case("sizes-tiny-limit", ["sizes", "--max-request-bytes", "1"], 2,
         "Error: Invalid value for --max-request-bytes: expected 1Ki … 1Ti"),
    Case("sizes-slice-zero", ["sizes", "--max-endpoints-per-slice", "0"], 2,
         "Error: Invalid value for '--max-endpoints-per-slice'"),
    Case("sizes-slice-huge", ["sizes", "--max-endpoints-per-slice", "5000"], 2,
         "Error: Invalid value for '--max-endpoints-per-slice'"),
    # --- rules ---
    Case("rules-empty-results", ["rules", "adir", "--node", "node-0", "--at", "1m"], 2,
         "simk8s: adir: not a simk8s results directory (no scenario.resolved.yaml)", dirs=("adir",)),
    Case("rules-corrupt-resolved", ["rules", "r", "--node", "node-0", "--at", "1m"], 2,
         "simk8s: r/scenario.resolved.yaml: unreadable (", {"r/scenario.resolved.yaml": "a: [\n"}),
    Case("rules-resolved-not-a-mapping", ["rules", "r", "--node", "node-0", "--at", "1m"], 2,
         "simk8s: r/scenario.resolved.yaml: no resolved variants", {"r/scenario.resolved.yaml": "- 1\n- 2\n"}),
    Case("rules-resolved-variants-a-list", ["rules", "r", "--node", "node-0", "--at", "1m"], 2,
         "simk8s: r/scenario.resolved.yaml: no resolved variants", {"r/scenario.resolved.yaml": "resolvedVariants: [1]\n"}),
    Case("rules-resolved-variant-invalid", ["rules", "r", "--node", "node-0", "--at", "1m"], 2,
         "simk8s: r/scenario.resolved.yaml: variant 'a' does not validate",
         {"r/scenario.resolved.yaml": _resolved({"resolvedVariants": {"a": {"cluster": {"nodes": "x"}}}})}),
    Case("rules-results-is-a-file", ["rules", "afile", "--node", "node-0", "--at", "1m"], 2,
         "Error: Invalid value for 'RESULTS'", {"afile": "x"}),
    Case("rules-results-missing", ["rules", "nope", "--node", "node-0", "--at", "1m"], 2,
         "Error: Invalid value for 'RESULTS'"),
    Case("rules-bad-at", ["rules", "adir", "--node", "node-0", "--at", "soon"], 2,
         "Error: Invalid value for --at: expected a duration", dirs=("adir",)),
    Case("rules-no-node", ["rules", "adir", "--at", "1m"], 2, "Error: Missing option '--node'", dirs=("adir",)),
    # --- check ---
    Case("check-missing-file", ["check", "nope.yaml"], 2, "Error: Invalid value for 'CHECKFILE'"),
    Case("check-bad-yaml", ["check", "c.yaml"], 2, "c.yaml:2: not valid YAML", {"c.yaml": "scenario: [\nchecks: }\n"}),
    Case("check-empty", ["check", "c.yaml"], 2, "c.yaml:", {"c.yaml": ""}),
    Case("check-a-list", ["check", "c.yaml"], 2, "c.yaml:1: expected a mapping", {"c.yaml": "- 1\n"}),
    Case("check-two-documents", ["check", "c.yaml"], 2, "c.yaml: expected one YAML document, found 2",
         {"c.yaml": "a: 1\n---\nb: 2\n"}),
    Case("check-unknown-top-key", ["check", "c.yaml"], 2, "c.yaml:4: chekcs: unknown field (did you mean 'checks'?)",
         {"c.yaml": CHECK_HEAD + "  - {variant: slices-ipvs, figure: kube_proxy.syncs, max: 1}\nchekcs: []\n"}),
    Case("check-checks-a-mapping", ["check", "c.yaml"], 2, "c.yaml:2: checks: expected a non-empty list",
         {"c.yaml": "scenario: scen.yaml\nchecks: {a: 1}\n"}),
    Case("check-limit-key-typo", ["check", "c.yaml"], 2, "c.yaml:3: checks.0.mx: unknown field (did you mean 'max'?)",
         {"c.yaml": CHECK_HEAD + "  - {variant: slices-ipvs, figure: kube_proxy.syncs, mx: 1}\n"}),
    Case("check-limit-a-word", ["check", "c.yaml"], 2, "c.yaml:3: checks.0.max: expected a finite number, got 'lots'",
         {"c.yaml": CHECK_HEAD + "  - {variant: slices-ipvs, figure: kube_proxy.syncs, max: lots}\n"}),
    Case("check-limit-infinite", ["check", "c.yaml"], 2, "c.yaml:3: checks.0.max: expected a finite number, got inf",
         {"c.yaml": CHECK_HEAD + "  - {variant: slices-ipvs, figure: kube_proxy.syncs, max: .inf}\n"}),
    Case("check-limit-a-bool", ["check", "c.yaml"], 2, "c.yaml:3: checks.0.min: expected a finite number, got True",
         {"c.yaml": CHECK_HEAD + "  - {variant: slices-ipvs, figure: kube_proxy.syncs, min: yes}\n"}),
    Case("check-entry-a-word", ["check", "c.yaml"], 2, "c.yaml:3: checks.0: expected a mapping",
         {"c.yaml": CHECK_HEAD + "  - everything\n"}),
    Case("check-no-limit", ["check", "c.yaml"], 2, "c.yaml:3: checks.0: needs max and/or min",
         {"c.yaml": CHECK_HEAD + "  - {variant: slices-ipvs, figure: kube_proxy.syncs}\n"}),
    Case("check-scenario-missing", ["check", "c.yaml"], 2, "c.yaml:1: scenario: no such file: gone.yaml",
         {"c.yaml": "scenario: gone.yaml\nchecks:\n  - {variant: a, figure: b, max: 1}\n"}),
    Case("check-set-not-a-list", ["check", "c.yaml"], 2, "c.yaml:2: set: expected a list of PATH=VALUE overrides",
         {"c.yaml": "scenario: scen.yaml\nset: cluster.nodes=3\nchecks:\n  - {variant: a, figure: b, max: 1}\n"}),
    Case("check-unknown-variant", ["check", "c.yaml"], 2, "c.yaml:3: checks.0.variant: no variant 'slices-ipvx'",
         {"c.yaml": CHECK_HEAD + "  - {variant: slices-ipvx, figure: kube_proxy.syncs, max: 1}\n"}),
    Case("check-bad-set-in-file", ["check", "c.yaml"], 2, "--set:1: cluster.nodez: unknown field",
         {"c.yaml": "scenario: scen.yaml\nset: [cluster.nodez=3]\nchecks:\n  - {variant: a, figure: b, max: 1}\n"}),
    # --- sweep ---
    Case("sweep-out-is-the-input", ["sweep", "scen.yaml", "--param", "seed=1,2", "--out", "scen.yaml"], 2,
         "simk8s: --out scen.yaml: is the input scen.yaml; an input is never an output"),
    Case("sweep-out-a-dir", ["sweep", "scen.yaml", "--param", "seed=1", "--out", "adir"], 2,
         "simk8s: --out adir: is a directory or a link", dirs=("adir",)),
    Case("sweep-out-user-file", ["sweep", "scen.yaml", "--param", "seed=1", "--out", "data.parquet"], 2,
         "simk8s: --out data.parquet: exists and was not written by simk8s", {"data.parquet": "not parquet"}),
    Case("sweep-out-under-a-file", ["sweep", "scen.yaml", "--param", "seed=1", "--out", "afile/s.parquet"], 2,
         "simk8s: --out afile/s.parquet: cannot write there", {"afile": "x"}),
    Case("sweep-out-empty", ["sweep", "scen.yaml", "--param", "seed=1", "--out", ""], 2, "simk8s: --out: empty path"),
    Case("sweep-jobs-zero", ["sweep", "scen.yaml", "--param", "seed=1", "--jobs", "0"], 2,
         "Error: Invalid value for '--jobs'"),
    Case("sweep-workers-negative", ["sweep", "scen.yaml", "--param", "seed=1", "--workers", "-1"], 2,
         "Error: Invalid value for '--workers'"),
    Case("sweep-unknown-variant", ["sweep", "scen.yaml", "--param", "seed=1", "--variant", "nope"], 2,
         "simk8s: --variant: no variant named nope"),
    Case("sweep-param-without-values", ["sweep", "scen.yaml", "--param", "seed"], 2,
         "Error: Invalid value for --param: 'seed': expected PATH=V1,V2"),
    Case("sweep-param-bad-value", ["sweep", "scen.yaml", "--param", "cluster.nodes=3,many"], 2,
         "--param cluster.nodes=many: cluster.nodes"),
    Case("sweep-param-unknown-field", ["sweep", "scen.yaml", "--param", "cluster.nodez=3"], 2,
         "--param cluster.nodez=3: cluster.nodez: unknown field"),
    Case("sweep-missing-scenario", ["sweep", "nope.yaml", "--param", "seed=1"], 2, "Error: Invalid value for 'SCENARIO'"),
    # calibrate --write replaces only a validation report simk8s wrote, and checks before the work
    Case("calibrate-write-user-file", ["calibrate", "--write", "notes.txt"], 2,
         "simk8s: --write notes.txt: exists and was not written by simk8s", {"notes.txt": "my notes\n"}),
    Case("calibrate-write-a-dir", ["calibrate", "--write", "adir"], 2,
         "simk8s: --write adir: is a directory or a link", dirs=("adir",)),
    Case("calibrate-write-the-scenario", ["calibrate", "--write", "scen.yaml"], 2,
         "simk8s: --write scen.yaml: exists and was not written by simk8s"),
    # frontier: a limit on a figure no run has, and a --max below the start, are refused
    Case("frontier-max-below-start", ["frontier", "scen.yaml", "--grow", "workloads.0.replicas", "--limit", "npl.p99=2s",
                                      "--max", "1", "--out", "f.parquet", "--quiet", "--jobs", "1"], 2,
         "simk8s: --max 1 is below the first value probed"),
]


def _fingerprint(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _message_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(("Usage:", "Try '"))]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_gets_one_clear_line(case: Case, tmp_path: Path) -> None:
    sandbox = tmp_path / "work" / "here"
    sandbox.mkdir(parents=True)
    (sandbox / "scen.yaml").write_text(QUICK)
    for name, content in case.files.items():
        path = sandbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)  # type: ignore[operator]
    for name in case.dirs:
        (sandbox / name).mkdir()
    before = _fingerprint(tmp_path)
    cwd = os.getcwd()
    os.chdir(sandbox)
    try:
        result = CliRunner().invoke(main, case.args)
    finally:
        os.chdir(cwd)
    assert result.exit_code == case.exit, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = _message_lines(result.stderr)
    assert lines and lines[0].startswith(case.first), result.stderr
    assert _fingerprint(tmp_path) == before  # nothing written, nothing lost


def test_the_corpus_covers_every_command() -> None:
    commands = {c.args[0] for c in CASES}
    assert {"run", "validate", "sizes", "rules", "check", "sweep"} <= commands
    assert len(CASES) >= 60


def test_a_link_inside_a_results_directory_is_refused_and_its_target_untouched(tmp_path):
    """A results directory whose variant folder was replaced by a link to the user's data:
    replacing it would hard-link (or copy) the user's files into the results and list them
    as simk8s's own. Refused, nothing changed."""
    out = tmp_path / "res"
    quick = str(ROOT / "scenarios" / "quick.yaml")
    assert CliRunner().invoke(main, ["run", quick, "--variant", "slices-ipvs", "--out", str(out)]).exit_code == 0
    user = tmp_path / "userdata"
    user.mkdir()
    (user / "precious.txt").write_text("mine\n")
    import shutil

    shutil.rmtree(out / "slices-ipvs")
    (out / "slices-ipvs").symlink_to(user, target_is_directory=True)
    before = _fingerprint(tmp_path)
    result = CliRunner().invoke(main, ["run", quick, "--variant", "slices-iptables", "--out", str(out)])
    assert result.exit_code == 2
    assert "holds a link, slices-ipvs, which simk8s never writes" in result.stderr
    assert _fingerprint(tmp_path) == before and (user / "precious.txt").stat().st_nlink == 1


def test_a_user_directory_is_refused_without_walking_it(tmp_path, monkeypatch):
    """No manifest and no summary.json: refused at once, whatever is below (a home directory)."""
    from pathlib import Path as P

    home = tmp_path / "home"
    (home / "deep" / "er").mkdir(parents=True)
    (home / "deep" / "er" / "f").write_text("x")

    def no_walk(self, pattern):
        raise AssertionError("walked the user's directory")

    monkeypatch.setattr(P, "rglob", no_walk)
    from simk8s.results.output import not_ours

    assert not_ours(home) == "exists and is not a simk8s results directory (no .simk8s-results.json)"


def test_check_update_through_a_link_rewrites_the_real_file(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    target = real / "c.yaml"
    target.write_text(f"scenario: {ROOT / 'scenarios' / 'quick.yaml'}\nchecks:\n"
                      "  - {variant: slices-ipvs, figure: apiserver.writes.Endpoints, value: 1}\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    result = CliRunner().invoke(main, ["check", str(link), "--update"])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and "value: 37}" in target.read_text()
