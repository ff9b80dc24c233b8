"""Progress you can see (one bar per variant across its stages; quiet when not asked) and
plots people can read (titles, scaled units, every variant distinguishable)."""

import io
import math
import sys

import pytest
from conftest import ROOT

from simk8s.experiment import run_scenario
from simk8s.results import plots
from simk8s.results.progress import PointsBar, ProgressBar

QUICK = ROOT / "scenarios" / "quick.yaml"


@pytest.fixture(scope="module")
def quick():
    return run_scenario(QUICK, write=False)


def test_quiet_unless_a_terminal_or_asked(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "")
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert not ProgressBar().enabled and not PointsBar().enabled
    assert ProgressBar(enabled=True).enabled

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert ProgressBar().enabled
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not ProgressBar().enabled and not PointsBar().enabled


def test_one_bar_per_variant_across_stages(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with ProgressBar(enabled=True) as bar:
        bar.update("a", "cluster", 300, 600)
        first = bar._bars["a"]
        assert first.n == 0.5 and "cluster" in first.desc
        bar.update("b", "cluster", 600, 600)
        bar.update("a", "cluster", 600, 600)
        bar.update("a", "proxy", 0, 600)
        assert bar._bars["a"] is first and first.n == 2  # the same bar, two stages done
        assert "kube-proxy" in first.desc
        bar.update("a", "dataplane", 600, 600)
        assert "a" not in bar._bars  # done: its line is freed
        assert set(bar._lines) == {"a", "b"}
    assert "kube-proxy" in err.getvalue() or "data path" in err.getvalue()


def test_points_bar_learns_its_total(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delenv("TQDM_DISABLE", raising=False)  # tqdm reads it too
    with PointsBar(enabled=True, desc="frontier") as bar:
        bar.update(0, 4)
        bar.update(4, 4)
        bar.update(4, 6)
        assert bar._bar is not None and (bar._bar.n, bar._bar.total) == (4, 6)


def test_plots_have_titles_scaled_units_and_distinct_variants(quick):
    ax = plots.plot_egress(quick.variants)
    assert ax.get_title()
    assert ax.get_ylabel() == "egress (kB/s)"  # quick's peak is a few hundred kB/s
    assert ax.get_xlabel() == "simulated time (min)"  # a 10-minute run
    lines = ax.get_lines()
    # the three EndpointSlice variants send the same bytes: one line, all three named
    assert [line.get_label() for line in lines] == ["endpoints-iptables", "slices-iptables = slices-ipvs = slices-nftables"]
    assert len({(line.get_linestyle(), line.get_marker()) for line in lines}) == len(lines)
    assert len({line.get_linewidth() for line in lines}) == len(lines)  # wide under narrow: coinciding lines show
    rollout = plots.plot_rollout(quick.variants[1])
    assert quick.variants[1].name in rollout.get_title()
    for make in (plots.plot_npl_cdf, plots.plot_failures):
        assert make(quick.variants).get_title()


def test_identical_lines_are_drawn_once_and_named_together():
    merged = plots.same_lines([("a", [0, 1], [1, 2]), ("b", [0, 1], [1, 2.5]), ("c", [0, 1], [1, 2])])
    assert [name for name, _x, _y in merged] == ["a = c", "b"]


def test_units_scale_to_the_data():
    assert plots.byte_scale(3.2e9) == (1e9, "GB")
    assert plots.byte_scale(999) == (1.0, "B")
    assert plots.time_scale(0.2) == (1e-3, "ms")
    assert plots.time_scale(600) == (60.0, "min")
    assert plots.time_scale(7 * 3600) == (3600.0, "h")


def test_comparison_also_has_numbers(quick):
    text, numbers = quick.comparison(), quick.comparison(numeric=True)
    assert list(numbers.columns) == list(text.columns) and list(numbers.index) == list(text.index)
    assert numbers.loc["connections", "slices-ipvs"] == 30330.0
    assert text.loc["connections", "slices-ipvs"] == "30,330"
    units = numbers.attrs["units"]
    assert set(units) == set(numbers.index)
    assert (units["programming latency p99"], units["first packet p99"], units["apiserver egress (kube-proxy's kind)"],
            units["connections"], units["cross-zone connections"], units["cross-zone price"],
            units["backend load max/mean"]) == ("s", "ms", "B", "count", "ratio", "USD", "ratio")
    assert math.isnan(numbers.loc["DNS answers (ExternalName)"].iloc[0]) or numbers.loc["DNS answers (ExternalName)"].iloc[0] == 0
