"""`simk8s calibrate`: published measurements beside the model's figures; with --host and
--dataplane, this host's own netfilter prices and first-packet latency as a machine profile.
Registered on the `simk8s` group by simk8s/cli.py."""

from __future__ import annotations

import sys

import click

from simk8s.errors import UsageError


@click.command(short_help="Published measurements beside the model's figures; --host: this host's prices.")
@click.option("--host", is_flag=True, help="Time iptables-restore, iptables-save and nft on this host (root or "
              "CAP_NET_ADMIN; a network namespace of their own), fit the model's prices, write a machine profile.")
@click.option("--machine-profile", "profile", metavar="FILE", help="With --host: the profile to write (default "
              "machine-profile.yaml; only a file simk8s wrote is replaced). Alone: show that profile's fit.")
@click.option("--sizes", metavar="SxE,...", help="With --host: ruleset sizes as SERVICESxENDPOINTS (e.g. "
              "250x2,1000x8) instead of the default 250 to 9,100 Services.")
@click.option("--repeats", type=click.IntRange(1, 50), default=3, show_default=True,
              help="With --host: timed runs per size (their median is fitted).")
@click.option("--fit", is_flag=True, help="Refit the sync-cost prices from their published points and write "
              "the ones that moved into simk8s/proxy/cost_params.yaml.")
@click.option("--write", "write_to", metavar="FILE", help="Write the validation report (every published point, "
              "fit or prediction, and the tutorial's claims) to FILE, e.g. docs/validation.md.")
@click.option("--dataplane", is_flag=True, help="Time connect() through N Services' iptables and nftables rules "
              "between two network namespaces joined by a veth pair (root); fit the first-packet latency model "
              "into the profile's dataplane section (alone: the profile's sync prices are kept).")
@click.option("--services", metavar="N,...", help="With --dataplane: Service counts (default 1000,5000,10000,30000).")
def calibrate(host: bool, profile: str | None, sizes: str | None, repeats: int, fit: bool,
              write_to: str | None, dataplane: bool, services: str | None) -> None:
    """Published measurements beside the model's figures, with the error of each.
    With --host, this host's netfilter prices as a machine profile that a scenario names
    with cluster.kubeProxy.machine; with --dataplane, the first-packet latency through real
    rules into the same profile (docs/host-calibration.md)."""
    if fit or write_to is not None:
        if host or dataplane or sizes is not None or profile is not None or services is not None:
            raise UsageError("--fit and --write take no --host, --dataplane, --sizes, --services or --machine-profile")
        from simk8s.calibration.report import format_fit, refit
        from simk8s.calibration.validation_report import write

        if fit:
            click.echo(format_fit(refit()))
        if write_to is not None:
            s = write(write_to)
            click.echo(f"wrote {write_to}: predictions median error {s['median']:.0%}, worst {s['worst']:.0%}")
        return
    if services is not None and not dataplane:
        raise UsageError("--services needs --dataplane")
    if not host and not dataplane:
        if sizes is not None:
            raise UsageError("--sizes needs --host")
        if profile is not None:
            _show_profile(profile)
            return
        from simk8s.calibration.report import format_calibration

        click.echo(format_calibration())
        return
    if sizes is not None and not host:
        raise UsageError("--sizes needs --host")
    _calibrate_host(profile or "machine-profile.yaml", sizes, repeats, host, _service_counts(services) if dataplane else None)


def _service_counts(text: str | None) -> tuple[int, ...]:
    from simk8s.calibration.host_dataplane import DEFAULT_SERVICES

    if text is None:
        return DEFAULT_SERVICES
    counts = [t.strip() for t in text.split(",")]
    if not all(c.isdigit() and 1 <= int(c) <= 100_000 for c in counts):
        raise UsageError(f"--services: expected Service counts from 1 to 100000, e.g. 1000,5000; got {text!r}")
    return tuple(int(c) for c in counts)


def _show_profile(profile: str) -> None:
    import yaml

    from simk8s.calibration.host import format_host_report
    from simk8s.calibration.host_dataplane_fit import format_dataplane_report
    from simk8s.dataplane.latency import params_for_machine
    from simk8s.proxy.cost import MachineProfileError, load_machine_profile

    try:
        load_machine_profile(profile)
        params_for_machine(profile)
        with open(profile, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        shown = ([format_host_report(doc)] if doc.get("medians") else []) + (
            [format_dataplane_report(doc["dataplane"])] if "dataplane" in doc else [])
        click.echo("\n\n".join(shown))
    except (MachineProfileError, KeyError, TypeError) as err:
        raise UsageError(f"--machine-profile {profile}: {err}") from None


def _calibrate_host(profile: str, sizes: str | None, repeats: int, host: bool,
                    services: tuple[int, ...] | None) -> None:
    """--host, --dataplane or both; --dataplane alone keeps an existing profile's sync prices."""

    import yaml

    from simk8s.calibration import host_dataplane
    from simk8s.calibration.host import (
        calibrate_host,
        format_host_report,
        host_description,
        profile_text,
        sync_free_profile,
    )
    from simk8s.calibration.host_dataplane_fit import format_dataplane_report
    from simk8s.calibration.host_timing import DEFAULT_SIZES, TOOLS, Size, missing_privileges
    from simk8s.proxy.cost import PROFILE_MARKER
    from simk8s.results.output import check_output_file, first_line_is, write_file_atomically

    flag = " ".join(["--host"] * host + ["--dataplane"] * (services is not None))
    why = missing_privileges() if services is None else missing_privileges(tuple(dict.fromkeys(TOOLS + host_dataplane.TOOLS)))
    if why is not None:
        click.echo(f"simk8s: calibrate {flag} {why}", err=True)
        sys.exit(2)
    try:
        plan = tuple(Size.parse(t) for t in sizes.split(",")) if sizes else DEFAULT_SIZES
    except ValueError as err:
        raise UsageError(f"--sizes: {err}") from None

    target = check_output_file(profile, label="--machine-profile", owned=first_line_is(PROFILE_MARKER))  # before minutes of timing
    progress = lambda m: click.echo(f"timed {m}", err=True)  # noqa: E731
    # ours if it exists (checked above): one option alone keeps the other's section
    kept = yaml.safe_load(target.read_text(encoding="utf-8")) if target.exists() else {}
    if host:
        doc = calibrate_host(plan, repeats, progress=progress)
        if "dataplane" in kept:
            doc["dataplane"] = kept["dataplane"]
    else:
        doc = kept or sync_free_profile(host_description())
    if services is not None:
        doc["dataplane"] = host_dataplane.calibrate_dataplane(services, progress=progress)
    text = profile_text(doc)
    write_file_atomically(target, lambda tmp: tmp.write_text(text))
    shown = ([format_host_report(doc)] if host else []) + (
        [format_dataplane_report(doc["dataplane"])] if services is not None else [])
    click.echo("\n\n".join(shown))
    click.echo(f"wrote {target} (name it in a scenario: cluster.kubeProxy.machine: {target})")
