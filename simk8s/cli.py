"""The `simk8s` command: a thin shell over the Python API (simk8s.experiment and friends).

Scenario problems print `FILE:LINE: path: message` lines and exit with status 2.
"""

from __future__ import annotations

import sys

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
def run(scenario: str, overrides: tuple[str, ...], only: tuple[str, ...], out: str | None, progress: bool | None) -> None:
    """Run a scenario (all its compare variants) and print the comparison."""
    from simk8s.experiment import run_scenario
    from simk8s.results.progress import ProgressBar

    try:
        load_variants(load_scenario(scenario, list(overrides)))  # fail fast, before any work
    except ScenarioError as err:
        _fail_scenario(err)
    try:
        with ProgressBar(enabled=progress) as bar:
            exp = run_scenario(scenario, overrides=overrides, only=only, out=out, progress=bar.update)
    except ScenarioError as err:
        _fail_scenario(err)
    except KeyError as err:
        click.echo(f"simk8s: {err.args[0]}", err=True)
        sys.exit(2)
    click.echo(f"{exp.name}: {len(exp.variants)} variant(s), results in {exp.out}")
    click.echo(exp.format())
    failed = [v.name for v in exp.variants if v.summary["sim"]["exception"]]
    if failed:
        click.echo(f"simk8s: variant(s) failed: {', '.join(failed)} (see summary.json)", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["main"]
