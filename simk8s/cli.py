"""The `simk8s` command: a thin shell over the Python API (simk8s.experiment and friends).

Every answer to a problem is a line, never a traceback: scenario problems print
`FILE:LINE: path: message` lines, other problems `simk8s: message`. Exit status: 0 ok,
1 a run failed or a check broke its limit, 2 bad input (scenario, arguments, output path),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM). `--debug` shows the traceback of an
unexpected error.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import click

from simk8s import __version__
from simk8s.cli_calibrate import calibrate
from simk8s.errors import RunError, SimK8sError, Terminated, UsageError
from simk8s.gcpasses import fewer_gc_passes, no_collections_at_exit
from simk8s.scenario import ScenarioError, load_scenario, load_variants

REPORT_TO = "the simk8s issue tracker"
JOBS = click.IntRange(min=1, max=256)
no_collections_at_exit()  # the process ends after one command: no GC pass over its leftovers


class _Guarded(click.Group):
    """Turns every exception into one line and an exit status (see the module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except ScenarioError as err:
            for line in err.lines:
                click.echo(line, err=True)
            ctx.exit(2)
        except SimK8sError as err:
            click.echo(f"simk8s: {err}", err=True)
            ctx.exit(err.exit_code)
        except BrokenProcessPool:  # a worker died outright (e.g. killed for memory); nothing was written
            click.echo("simk8s: a worker process died (out of memory?); try --jobs 1", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            # Results are swapped in whole: the old directory, or the complete new one.
            click.echo("\nsimk8s: interrupted", err=True)
            ctx.exit(130)
        except Terminated:
            click.echo("simk8s: terminated", err=True)
            ctx.exit(143)
        except MemoryError:
            click.echo("simk8s: out of memory; try a smaller scenario or --jobs 1", err=True)
            ctx.exit(1)
        except OSError as err:
            from simk8s.results.output import describe_os_error

            click.echo(f"simk8s: {describe_os_error(err)}", err=True)
            ctx.exit(1)
        except Exception as err:
            if (ctx.obj or {}).get("debug"):
                raise
            click.echo(
                f"simk8s: internal error: {type(err).__name__}: {err}\n"
                f"This is a bug in simk8s; please report it to {REPORT_TO} with the command and the scenario "
                "(run again with --debug for the traceback).",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=_Guarded, context_settings={"max_content_width": 100})
@click.version_option(__version__, prog_name="simk8s")
@click.option("--debug", is_flag=True, envvar="SIMK8S_DEBUG", help="Show the traceback of an unexpected error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Simulate Kubernetes service networking: Endpoints vs EndpointSlices, kube-proxy modes, rollouts."""
    from simk8s.workers import terminate_on_sigterm

    ctx.obj = {"debug": debug}
    terminate_on_sigterm()


@main.command(short_help="Check scenario files (every problem as FILE:LINE).")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Check with this override applied, as `run --set` would (repeatable).")
def validate(files: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check scenario files; print every problem as FILE:LINE: path: message (exit 2 if any)."""
    failed = False
    for f in files:
        try:
            sc = load_scenario(f, list(overrides))
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


@main.command(short_help="Run a scenario and print the comparison.")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a scenario field, e.g. cluster.nodes=500.")
@click.option("--variant", "only", multiple=True, help="Run only this variant (repeatable); the results keep the others.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Results directory (default results/<name>). Replaced only if simk8s wrote it; any other existing "
    "non-empty directory is refused.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--jobs", type=JOBS, default=None, help="Processes for variants that need their own cluster run (default: the CPUs available).")
@click.option("--report", "report", is_flag=True, help="Also write the shareable report (HTML page and Markdown twin) into the results (see `simk8s report`).")
def run(
    scenario: str, overrides: tuple[str, ...], only: tuple[str, ...], out: str | None, progress: bool | None,
    quiet: bool, jobs: int | None, report: bool,
) -> None:
    """Run a scenario (all its compare variants, or those given with --variant), write its
    results directory and print the comparison."""
    from simk8s.experiment import run_scenario
    from simk8s.results.progress import ProgressBar

    with fewer_gc_passes():  # validating 10,000 copies builds a large live set too
        loaded = load_scenario(scenario, list(overrides))  # fail fast, before any work
        load_variants(loaded)
    for w in getattr(loaded, "warnings", ()) or ():
        click.echo(f"warning: {w}", err=True)
    # A run of some variants keeps the others' results: it keeps their report too, rewritten.
    had_report = bool(only) and (Path(out if out else Path("results") / loaded.name) / "report.html").is_file()
    with ProgressBar(enabled=False if quiet else progress) as bar:
        exp = run_scenario(scenario, overrides=overrides, only=only, out=out, progress=bar.update,
                           jobs=jobs or _cpus(), loaded=loaded)
    click.echo(f"{exp.name}: {len(exp.variants)} variant(s), results in {exp.out}")
    if exp.write_note:
        click.echo(f"({exp.write_note})")
    click.echo(exp.format())
    if (report or had_report) and exp.out is not None:
        from simk8s.results.html_report import write_report

        page, _twin = write_report(exp.out)
        click.echo(f"report: {page}" + ("" if report else " (rewritten: the directory had one)"))
    failed = [v.name for v in exp.variants if v.summary["sim"]["exception"]]
    if failed:
        raise RunError(f"variant(s) failed: {', '.join(failed)} (see summary.json)")


@main.command(short_help="Wire sizes of Endpoints and EndpointSlices.")
@click.option("--pods", "pod_counts", multiple=True, type=click.IntRange(1, 500_000),
              default=(100, 1000, 2000, 5000, 10000, 20000), show_default=True, help="Pod counts to size (repeatable).")
@click.option("--long-names", is_flag=True, help="Long pod/namespace/node names (63-character DNS labels, as in docs/sizes.md).")
@click.option("--max-endpoints-per-slice", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--max-request-bytes", default="1.5Mi", show_default=True, help="etcd --max-request-bytes.")
def sizes(pod_counts: tuple[int, ...], long_names: bool, max_endpoints_per_slice: int, max_request_bytes: str) -> None:
    """Wire sizes of one Service's Endpoints and EndpointSlices, computed from their content,
    and the pod count at which an untruncated Endpoints object crosses etcd's limit."""
    from simk8s.results.sizes_report import format_sizes
    from simk8s.scenario import parse_quantity

    try:
        limit = parse_quantity(max_request_bytes)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--max-request-bytes") from None
    if not 1024 <= limit <= 2**40:
        raise click.BadParameter(f"expected 1Ki … 1Ti, got {max_request_bytes}", param_hint="--max-request-bytes")
    click.echo(format_sizes(pod_counts, long_names=long_names, max_per_slice=max_endpoints_per_slice,
                            max_request_bytes=max_request_bytes))


@main.command(short_help="What a node's kube-proxy had programmed at a time.")
@click.argument("results", type=click.Path(exists=True, file_okay=False))
@click.option("--variant", help="Variant name (default: the first).")
@click.option("--node", required=True, help="Node name, e.g. node-3.")
@click.option("--at", "at", required=True, help="Simulated time, e.g. 2m30s.")
@click.option("--mode", type=click.Choice(["iptables", "ipvs", "nftables"]), help="Render as this mode.")
@click.option("--all", "all_services", is_flag=True,
              help="The complete ruleset: the static background Services too (made-up names and addresses).")
def rules(results: str, variant: str | None, node: str, at: str, mode: str | None, all_services: bool) -> None:
    """Print what a node's kube-proxy had programmed at a time (iptables-save, ipvsadm or nft
    listing), re-running the variant of a results directory deterministically."""
    from simk8s.results.inspect import node_rules
    from simk8s.scenario import parse_duration

    try:
        when = parse_duration(at)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--at") from None
    try:
        text = node_rules(results, variant=variant, node=node, at=when, mode=mode, all_services=all_services)
    except LookupError as err:
        raise UsageError(err.args[0]) from None
    click.echo(text, nl=not text.endswith("\n"))


@main.command(short_help="A run's kube-proxy and apiserver metrics (Prometheus text).")
@click.argument("results", type=click.Path(exists=True, file_okay=False))
@click.option("--variant", help="Only this variant, without a `variant` label (default: every variant, labelled).")
@click.option("--openmetrics", is_flag=True, help="OpenMetrics 1.0 text (ends with # EOF) instead of Prometheus 0.0.4.")
def metrics(results: str, variant: str | None, openmetrics: bool) -> None:
    """Print a results directory's metrics as a cluster's /metrics would have shown them:
    kube-proxy's and the apiserver's names, labels and buckets, summed over all nodes.
    `simk8s run` also writes each variant's as <variant>/metrics.prom."""
    from simk8s.results.metrics import exposition, families, runs_in_directory, with_variant_label

    try:
        runs = runs_in_directory(results, variant)
    except LookupError as err:
        raise UsageError(err.args[0]) from None
    if variant is not None:
        text = exposition(families(runs[variant]), openmetrics=openmetrics)
    else:
        text = exposition(with_variant_label({n: families(r) for n, r in runs.items()}), openmetrics=openmetrics)
    click.echo(text, nl=False)


main.add_command(calibrate)


@main.command(short_help="Release-dependent behaviours (docs/versions.md).")
@click.option("--write", "target", help="Write the table to this file (only a file simk8s generated is replaced).")
def versions(target: str | None) -> None:
    """The settings each Kubernetes release chooses (cluster.kubernetesVersion), with sources."""
    from simk8s.results.output import check_output_file, first_line_is, write_file_atomically
    from simk8s.results.versions_report import GENERATED, versions_markdown

    text = versions_markdown()
    if target is None:
        click.echo(text, nl=False)
        return

    path = check_output_file(target, label="--write", owned=first_line_is(GENERATED))
    write_file_atomically(path, lambda tmp: tmp.write_text(text))
    click.echo(f"wrote {path}")


@main.command(short_help="CI guard: a run's figures against committed limits and baselines.")
@click.argument("checkfile", type=click.Path(exists=True, dir_okay=False))
@click.option("--junit-xml", "junit_xml", metavar="FILE", help="Also write a JUnit XML report (one test case per check).")
@click.option("--markdown", metavar="FILE", help="Also write a Markdown table (e.g. for $GITHUB_STEP_SUMMARY).")
@click.option("--perfdata", metavar="DIR", help="Also write ClusterLoader2 PerfData JSON for perfdash (one file per measurement).")
@click.option("--update", is_flag=True, help="Rewrite every baseline `value` in CHECKFILE from this run (tolerances and "
              "limits stay); exit 0.")
@click.option("--jobs", type=JOBS, default=None, help="Processes for variants that need their own cluster run (default: the CPUs available).")
def check(checkfile: str, junit_xml: str | None, markdown: str | None, perfdata: str | None, update: bool,
          jobs: int | None) -> None:
    """Run a scenario and hold its figures against committed limits and baselines; exit 1
    if any check fails.

    \b
    The check file (YAML):
      scenario: ../scenarios/rolling-2000.yaml   # relative to the check file
      set: [cluster.nodes=3000]                   # optional --set overrides
      tolerance: {relative: 0.01}                 # default for checks with a baseline value
      checks:
        - {variant: slices-iptables, figure: kube_proxy.cpu_seconds_total, max: 300000}
        - {variant: slices-iptables, figure: kube_proxy.syncs, value: 1180, relative: 0.05}
        - {variant: slices-iptables, metric: kubeproxy_network_programming_duration_seconds,
           quantile: 0.99, max: 30}

    A figure is a dotted key of summary.json, or a Prometheus metric (see `simk8s metrics`):
    with `quantile`, histogram_quantile over the run; without, the sum of its samples
    (`labels` selects some). Each check has `max`, `min`, a baseline `value` (with
    `relative` and/or `absolute` tolerance), or several.
    """
    from simk8s.results.check import format_checks, load_checks, run_check_file, update_baselines
    from simk8s.results.junit import check_junit_target, write_junit
    from simk8s.results.markdown import check_markdown_target, write_markdown
    from simk8s.results.perfdata import check_perfdata_dir, write_perfdata

    doc = load_checks(checkfile)
    inputs = (checkfile, doc["scenario"])
    # Every output is probed before the (long) run.
    if junit_xml is not None:
        check_junit_target(junit_xml, inputs)
    if markdown is not None:
        check_markdown_target(markdown, inputs)
    if perfdata is not None:
        check_perfdata_dir(perfdata, load_scenario(doc["scenario"], doc.get("set", [])).name, inputs)
    if update:  # the file itself is rewritten (through a link, its target), probed now
        from pathlib import Path

        from simk8s.results.output import probe_writable

        probe_writable(Path(os.path.realpath(checkfile)).parent, "--update", Path(checkfile))
    run = run_check_file(checkfile, jobs=jobs or _cpus())
    click.echo(format_checks(run.results))
    if junit_xml is not None:
        click.echo(f"wrote {write_junit(run, junit_xml, inputs)}")
    if markdown is not None:
        click.echo(f"wrote {write_markdown(run, markdown, inputs)}")
    if perfdata is not None:
        for path in write_perfdata(run, perfdata, inputs):
            click.echo(f"wrote {path}")
    if update:
        moved = update_baselines(os.path.realpath(checkfile), run.results)
        for line in moved:
            click.echo(f"updated {line}")
        click.echo(f"{checkfile}: {len(moved)} baseline value(s) moved" if moved else f"{checkfile}: every baseline value already matches")
        return
    failed = [r for r in run.results if not r.ok]
    if failed:
        click.echo(f"simk8s: {len(failed)} of {len(run.results)} checks failed:", err=True)
        for r in failed:
            click.echo(f"  {r.variant}: {r.problem()}", err=True)
        sys.exit(1)


@main.command(short_help="Run a scenario over a grid of parameter values.")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--param", "params", multiple=True, required=True, metavar="PATH=V1,V2,…",
              help="A scenario field and its values, e.g. cluster.kubeProxy.minSyncPeriod=0s,1s,10s (repeatable: grid).")
@click.option("--variant", "variants", multiple=True, help="Variants to run at each point (default: all).")
@click.option("--jobs", type=JOBS, help="Local worker processes (default: the CPUs available).")
@click.option("--workers", "workers", type=JOBS, hidden=True)  # the old name of --jobs
@click.option("--dask", "dask_address", help="Run on a Dask cluster at this scheduler address (needs simk8s[dask]).")
@click.option("--out", help="Parquet file (default results/sweeps/<name>.parquet); replaced only if simk8s wrote it. "
              "Finished points are kept beside it in <name>.points.parquet, so a rerun runs only the missing ones.")
@click.option("--progress/--no-progress", default=None, help="Progress bar counting points (default: on a terminal).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sweep(scenario: str, params: tuple[str, ...], variants: tuple[str, ...], jobs: int | None, workers: int | None,
          dask_address: str | None, out: str | None, progress: bool | None, quiet: bool) -> None:
    """Run a scenario over a grid of parameter values; one row per (point, variant).

    Each finished point is written as it finishes; a rerun of the same sweep (same
    scenario, values and simk8s version) reuses them and runs only the rest. Swept
    durations, sizes and rates get a typed column too (`<path>_s`, `_bytes`, `_per_s`).
    Exit 1 when any point failed (its row holds the error)."""
    from pathlib import Path

    from simk8s.experiment import scenario_inputs
    from simk8s.results.output import check_output_file, parquet_written_by_simk8s
    from simk8s.scenario.overrides import parse_override
    from simk8s.sweep import PointStore, run_sweep, write_sweep

    sc = load_scenario(scenario)
    have = [name for name, _ in load_variants(sc)]
    unknown = [v for v in variants if v not in have]
    if unknown:
        raise UsageError(f"--variant: no variant named {', '.join(unknown)}; have {', '.join(have)}")
    grid: dict[str, list[Any]] = {}
    for p in params:
        key, _, values = p.partition("=")
        if not key or not values:
            raise click.BadParameter(f"{p!r}: expected PATH=V1,V2", param_hint="--param")
        grid[key] = []
        for v in values.split(","):
            try:  # validate every point before running any
                load_scenario(scenario, [f"{key}={v}"])
            except ScenarioError as err:  # blame the --param value, not a --set the user never gave
                raise ScenarioError(line.replace("--set:1:", f"--param {key}={v}:", 1) for line in err.lines) from None
            grid[key].append(parse_override(f"{key}={v}")[1])  # typed as YAML reads it: 20 → 20, 10s → "10s"
    # Not inside results/<name>/: a `run` replaces that directory whole.
    target = out if out is not None else Path("results") / "sweeps" / f"{sc.name}.parquet"  # "" is refused
    inputs = scenario_inputs(scenario)
    check_output_file(target, inputs=inputs, owned=parquet_written_by_simk8s)  # before the runs
    table = Path(target)
    store = PointStore(table.with_name(f"{table.stem}.points.parquet"), inputs=inputs)  # refused before the runs too
    from contextlib import ExitStack

    from simk8s.results.progress import PointsBar

    with ExitStack() as stack:
        executor = _dask_executor(stack, dask_address)
        bar = stack.enter_context(PointsBar(enabled=False if quiet else progress))
        result = run_sweep(scenario, grid, variants=variants, executor=executor, workers=jobs or workers or _cpus(),
                           points_store=store.path, progress=bar.update)
    frame = result.frame
    write_sweep(frame, target, inputs=inputs)
    cols = [*grid, "variant", "kube_proxy.syncs", "network_programming_latency_s.p99", "dataplane.failed_total", "exception"]
    click.echo(frame[[c for c in cols if c in frame.columns]].to_string(index=False))
    reused = f", {result.reused} reused from an earlier run" if result.reused else ""
    click.echo(f"{result.points} points, {len(frame)} rows{reused} → {target}")
    if result.failed:
        raise RunError(f"{result.failed} of {result.points} points failed (see the exception column of {target})")


@main.command(short_help="A results directory as one self-contained HTML page (and Markdown).")
@click.argument("results", type=click.Path(exists=True, file_okay=False))
def report(results: str) -> None:
    """Write RESULTS/report.html (comparison table, plots embedded, resolved scenario,
    versions; no script, nothing loaded from elsewhere) and its Markdown twin
    (plots in RESULTS/report/), and list them in the directory's manifest."""
    from pyarrow import ArrowException

    from simk8s.results.html_report import write_report

    try:
        page, twin = write_report(results)
    except LookupError as err:
        raise UsageError(err.args[0]) from None
    except ArrowException as err:  # a table damaged or not written by simk8s
        raise UsageError(f"{results}: a table cannot be read: {str(err).splitlines()[0]}") from None
    click.echo(f"wrote {page} and {twin}")


@main.command(short_help="The largest value of one dimension that keeps every limit, per variant.")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--grow", required=True, metavar="PATH", help="A numeric scenario field to grow, e.g. workloads.0.replicas or cluster.nodes.")
@click.option("--limit", "limits", multiple=True, required=True, metavar="NAME=MAX",
              help="A limit to keep (repeatable): npl.p99=5s, failed.ratio=1%, etcd.rejections=0, egress=20GB, "
              "proxy.cpu_per_node=30s, sync.p99=1s, or any summary figure (kube_proxy.syncs=5000).")
@click.option("--variant", "variants", multiple=True, help="Variants to search (default: all).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="A fixed scenario value for every probe (repeatable).")
@click.option("--start", type=float, help="First value probed (default: the scenario's).")
@click.option("--max", "highest", type=float, help="Stop growing here (default: 1024 × start).")
@click.option("--jobs", type=JOBS, help="Local worker processes (default: the CPUs available).")
@click.option("--dask", "dask_address", help="Run on a Dask cluster at this scheduler address (needs simk8s[dask]).")
@click.option("--out", help="Probes as Parquet (default results/frontiers/<name>.parquet; the plot beside it as .png); "
              "finished probes are kept in <name>.points.parquet, so a rerun runs only the missing ones.")
@click.option("--progress/--no-progress", default=None, help="Probe counter (default: on a terminal).")
@click.option("--quiet", is_flag=True, help="No progress, only the table.")
def frontier(scenario: str, grow: str, limits: tuple[str, ...], variants: tuple[str, ...], overrides: tuple[str, ...], start: float | None,
             highest: float | None, jobs: int | None, dask_address: str | None, out: str | None,
             progress: bool | None, quiet: bool) -> None:
    """Per variant, the largest value of --grow that keeps every --limit: doubling from the
    scenario's value until a limit breaks, then bisecting. Prints the table, writes the probes
    and a plot of each limit's figure against the dimension."""
    from pathlib import Path

    from simk8s.experiment import scenario_inputs
    from simk8s.frontier import frontier as search
    from simk8s.frontier import parse_limit
    from simk8s.frontier.output import check_frontier_plot, write_frontier_plot
    from simk8s.results.output import check_output_file, parquet_written_by_simk8s
    from simk8s.results.progress import PointsBar
    from simk8s.scenario.overrides import parse_override
    from simk8s.sweep import PointStore, write_sweep

    parsed = []
    for text in limits:
        try:
            parsed.append(parse_limit(text))
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--limit") from None
    sc = load_scenario(scenario, list(overrides))  # bad --set values: FILE:LINE answers now
    fixed = {o.partition("=")[0].strip(): parse_override(o)[1] for o in overrides}
    target = Path(out) if out is not None else Path("results") / "frontiers" / f"{sc.name}.parquet"
    inputs = scenario_inputs(scenario)
    check_output_file(target, inputs=inputs, owned=parquet_written_by_simk8s)  # before the runs
    check_frontier_plot(target.with_suffix(".png"), inputs)
    store = PointStore(target.with_name(f"{target.stem}.points.parquet"), inputs=inputs)
    from contextlib import ExitStack

    with ExitStack() as stack:
        executor = _dask_executor(stack, dask_address)
        bar = stack.enter_context(PointsBar(enabled=False if quiet else progress, desc="frontier"))
        try:
            result = search(scenario, grow, parsed, variants=variants, overrides=fixed, start=start, highest=highest,
                            executor=executor, workers=jobs or _cpus(), points_store=store.path, progress=bar.update)
        except ValueError as err:
            raise UsageError(str(err)) from None
    write_sweep(result.probes, target, inputs=inputs)
    plot = write_frontier_plot(result, target.with_suffix(".png"), inputs=inputs)
    click.echo(result.format())
    reused = f", {result.reused} reused from an earlier run" if result.reused else ""
    click.echo(f"{result.points} sizes probed ({len(result.probes)} variant runs){reused} → {target}, plot {plot}")


def _dask_executor(stack: Any, address: str | None) -> Any:
    """An executor on the Dask cluster at `address` (closed with `stack`); None: local processes."""
    if not address:
        return None
    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError("--dask needs Dask: pip install 'simk8s[dask]'") from None
    return stack.enter_context(Client(address)).get_executor()


def _cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["main"]
