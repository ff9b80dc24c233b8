"""The `simk8s` command: a thin shell over the Python API (simk8s.experiment and friends).

Scenario problems print `FILE:LINE: path: message` lines and exit with status 2.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures.process import BrokenProcessPool

import click

from simk8s import __version__
from simk8s.scenario import ScenarioError, load_scenario, load_variants


def _fail_scenario(err: ScenarioError) -> None:
    for line in err.lines:
        click.echo(line, err=True)
    sys.exit(2)


@click.group()
@click.version_option(__version__, prog_name="simk8s")
def main() -> None:
    """Simulate Kubernetes service networking: Endpoints vs EndpointSlices, kube-proxy modes, rollouts."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check scenario files; print every problem as FILE:LINE: path: message."""
    failed = False
    for f in files:
        try:
            sc = load_scenario(f)
            variants = load_variants(sc)
        except ScenarioError as err:
            failed = True
            for line in err.lines:
                click.echo(line, err=True)
            continue
        for w in getattr(sc, "warnings", ()) or ():
            click.echo(f"warning: {w}", err=True)
        click.echo(f"{f}: ok ({len(variants)} variant{'s' if len(variants) != 1 else ''}: {', '.join(n for n, _ in variants)})")
    if failed:
        sys.exit(2)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a scenario field, e.g. cluster.nodes=500.")
@click.option("--variant", "only", multiple=True, help="Run only this variant (repeatable).")
@click.option("--out", type=click.Path(file_okay=False), help="Results directory (default results/<name>).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for variants that need their own cluster run (default: the CPUs available).",
)
def run(
    scenario: str, overrides: tuple[str, ...], only: tuple[str, ...], out: str | None, progress: bool | None, jobs: int | None
) -> None:
    """Run a scenario (all its compare variants) and print the comparison."""
    from simk8s.experiment import run_scenario
    from simk8s.results.progress import ProgressBar

    try:
        loaded = load_scenario(scenario, list(overrides))  # fail fast, before any work
        load_variants(loaded)
    except ScenarioError as err:
        _fail_scenario(err)
    for w in getattr(loaded, "warnings", ()) or ():
        click.echo(f"warning: {w}", err=True)
    try:
        with ProgressBar(enabled=progress) as bar:
            exp = run_scenario(
                scenario, overrides=overrides, only=only, out=out, progress=bar.update, jobs=jobs or _cpus()
            )
    except ScenarioError as err:
        _fail_scenario(err)
    except KeyError as err:
        click.echo(f"simk8s: {err.args[0]}", err=True)
        sys.exit(2)
    except BrokenProcessPool:  # a worker died outright (e.g. killed for memory); nothing was written
        click.echo("simk8s: a variant's worker process died (out of memory?); try --jobs 1", err=True)
        sys.exit(1)
    click.echo(f"{exp.name}: {len(exp.variants)} variant(s), results in {exp.out}")
    click.echo(exp.format())
    failed = [v.name for v in exp.variants if v.summary["sim"]["exception"]]
    if failed:
        click.echo(f"simk8s: variant(s) failed: {', '.join(failed)} (see summary.json)", err=True)
        sys.exit(1)


@main.command()
@click.option("--pods", "pod_counts", multiple=True, type=int, default=(100, 1000, 2000, 5000, 10000, 20000),
              show_default=True, help="Pod counts to size (repeatable).")
@click.option("--long-names", is_flag=True, help="Long pod/namespace/node names (reference §5.5 'long').")
@click.option("--max-endpoints-per-slice", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--max-request-bytes", default="1.5Mi", show_default=True, help="etcd --max-request-bytes.")
def sizes(pod_counts: tuple[int, ...], long_names: bool, max_endpoints_per_slice: int, max_request_bytes: str) -> None:
    """Wire sizes of one Service's Endpoints and EndpointSlices, computed from their content."""
    from simk8s.results.sizes_report import format_sizes

    click.echo(format_sizes(pod_counts, long_names=long_names, max_per_slice=max_endpoints_per_slice,
                            max_request_bytes=max_request_bytes))


@main.command()
@click.argument("results", type=click.Path(exists=True, file_okay=False))
@click.option("--variant", help="Variant name (default: the first).")
@click.option("--node", required=True, help="Node name, e.g. node-3.")
@click.option("--at", "at", required=True, help="Simulated time, e.g. 2m30s.")
@click.option("--mode", type=click.Choice(["iptables", "ipvs", "nftables"]), help="Render as this mode.")
def rules(results: str, variant: str | None, node: str, at: str, mode: str | None) -> None:
    """Print what a node's kube-proxy had programmed at a time (re-runs the variant deterministically)."""
    from simk8s.results.inspect import node_rules
    from simk8s.scenario import parse_duration

    try:
        when = parse_duration(at)
    except ValueError as err:
        click.echo(f"--at: {err}", err=True)
        sys.exit(2)
    try:
        click.echo(node_rules(results, variant=variant, node=node, at=when, mode=mode), nl=False)
    except LookupError as err:
        click.echo(f"simk8s: {err.args[0]}", err=True)
        sys.exit(2)


@main.command()
def calibrate() -> None:
    """Published measurements beside the model's figures, with the error of each."""
    from simk8s.calibration.report import format_calibration

    click.echo(format_calibration())


@main.command()
@click.argument("checkfile", type=click.Path(exists=True, dir_okay=False))
def check(checkfile: str) -> None:
    """Run a scenario and hold its figures against committed limits (exit 1 if any is broken)."""
    from simk8s.results.check import format_checks, run_checks

    try:
        results = run_checks(checkfile, jobs=_cpus())
    except ValueError as err:
        click.echo(str(err), err=True)
        sys.exit(2)
    except ScenarioError as err:
        _fail_scenario(err)
    click.echo(format_checks(results))
    if not all(r.ok for r in results):
        sys.exit(1)


@main.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--param", "params", multiple=True, required=True, metavar="PATH=V1,V2,…",
              help="A scenario field and its values, e.g. cluster.kubeProxy.minSyncPeriod=0s,1s,10s (repeatable: grid).")
@click.option("--variant", "variants", multiple=True, help="Variants to run at each point (default: all).")
@click.option("--workers", type=int, help="Local worker processes (default: CPU count).")
@click.option("--dask", "dask_address", help="Run on a Dask cluster at this scheduler address.")
@click.option("--out", type=click.Path(dir_okay=False), help="Parquet file (default results/sweeps/<name>.parquet).")
def sweep(scenario: str, params: tuple[str, ...], variants: tuple[str, ...], workers: int | None,
          dask_address: str | None, out: str | None) -> None:
    """Run a scenario over a grid of parameter values; one row per (point, variant)."""
    from pathlib import Path

    from simk8s.sweep import sweep as run_sweep

    try:
        sc = load_scenario(scenario)
        grid = {}
        for p in params:
            key, _, values = p.partition("=")
            if not values:
                raise click.BadParameter(f"{p!r}: expected PATH=V1,V2", param_hint="--param")
            grid[key] = values.split(",")
            for v in grid[key]:
                try:  # validate every point before running any
                    load_scenario(scenario, [f"{key}={v}"])
                except ScenarioError as err:  # blame the --param value, not a --set the user never gave
                    raise ScenarioError(line.replace("--set:1:", f"--param {key}={v}:", 1) for line in err.lines) from None
    except ScenarioError as err:
        _fail_scenario(err)
    executor = None
    if dask_address:
        from dask.distributed import Client

        executor = Client(dask_address).get_executor()
    frame = run_sweep(scenario, grid, variants=variants, executor=executor, workers=workers)
    # Not inside results/<name>/: a `run` replaces that directory whole.
    target = Path(out) if out else Path("results") / "sweeps" / f"{sc.name}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(target)
    cols = [*grid, "variant", "kube_proxy.syncs", "network_programming_latency_s.p99", "dataplane.failed_total", "exception"]
    click.echo(frame[[c for c in cols if c in frame.columns]].to_string(index=False))
    click.echo(f"{len(frame)} rows → {target}")


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["main"]


def _cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
