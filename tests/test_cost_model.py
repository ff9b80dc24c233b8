"""Sync-cost model: shape (monotone, partial < full, vectorized) and calibration bounds."""

import math

import numpy as np
import pytest

from simk8s.calibration.sync_cost import calibration_table, fit_parameters, render_calibration_table
from simk8s.proxy import cost
from simk8s.proxy.fleet_stage import make_cost_fn

P = np.array([100, 1_000, 8_100, 20_000])
E = 10 * P


@pytest.mark.parametrize("mode", cost.MODES)
def test_partial_cheaper_than_full_and_vectorized(mode):
    full = cost.sync_seconds(mode, "full", P, E)
    part = cost.sync_seconds(mode, "partial", P, E, changed_ports=1, changed_endpoints=10)
    assert full.shape == part.shape == (4,)
    assert np.all(part < full)
    assert np.all(np.diff(full) > 0) and np.all(np.diff(part) > 0)  # monotone in cluster size
    assert np.all(cost.cpu_seconds(mode, full) <= full + 1e-12)


@pytest.mark.parametrize("mode", cost.MODES)
def test_monotone_in_changed_objects_and_speed(mode):
    changed = np.array([0, 1, 10, 100])
    t = cost.sync_seconds(mode, "partial", 5_000, 50_000, changed_ports=changed, changed_endpoints=10 * changed)
    assert np.all(np.diff(t) > 0)
    slow = cost.sync_seconds(mode, "full", 5_000, 50_000, speed=np.array([1.0, 2.0]))
    assert slow[1] == pytest.approx(2 * slow[0])


def test_iptables_lines_and_cleanup():
    full = cost.iptables_lines("full", P, E)
    part = cost.iptables_lines("partial", P, E, changed_ports=2, changed_endpoints=20)
    assert np.all(np.diff(full) > 0) and np.all(part < full)
    assert float(cost.iptables_lines("partial", 10, 100, changed_ports=10, changed_endpoints=100)) == float(
        cost.iptables_lines("full", 10, 100))  # everything changed = full restore input
    with_save = cost.iptables_sync_seconds("partial", 8_100, 68_000, cleanup=True)
    without = cost.iptables_sync_seconds("partial", 8_100, 68_000, cleanup=False)
    assert with_save > without
    mixed = cost.iptables_sync_seconds("partial", 8_100, 68_000, cleanup=np.array([True, False]))
    assert mixed.tolist() == pytest.approx([float(with_save), float(without)])
    assert float(cost.iptables_lines("partial", 10, 100, deleted_chains=3)) == float(cost.iptables_lines("partial", 10, 100)) + 6


def test_stage_cost_fn_charges_iptables_save_only_when_the_fleet_says_cleanup():
    fn = make_cost_fn("iptables")
    k = 4
    full = np.array([True, True, False, False])
    cleanup = np.array([True, False, True, False])
    args = (full, np.zeros(k, bool), np.full(k, 3), np.full(k, 40), np.full(k, 8_100), np.full(k, 68_000),
            np.full(k, 1.5))  # fmt: skip
    got = fn(*args, cleanup=cleanup)
    want = [float(cost.iptables_sync_seconds(kind, 8_100, 68_000, 0, 3, 40, cleanup=c, speed=1.5))
            for kind, c in (("full", True), ("full", False), ("partial", True), ("partial", False))]  # fmt: skip
    assert got.tolist() == want
    with pytest.raises(ValueError, match="cleanup"):
        fn(*args)  # iptables needs the fleet's schedule (FleetConfig.cleanup_period)
    assert make_cost_fn("ipvs")(*args).shape == (k,)  # other modes have no such flag


def test_cli_and_ipvs_op_models_are_monotone():
    assert np.all(np.diff(cost.iptables_cli_seconds(np.array([8, 4e4, 1.6e5]))) > 0)
    assert np.all(np.diff(cost.iptables_cli_seconds(np.array([4, 400, 8e4]), "flftuu_2019")) > 0)
    assert np.all(np.diff(cost.ipvs_op_seconds(np.array([1, 5_000, 20_000]))) > 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        cost.sync_seconds("userspace", "full", 1, 1)
    with pytest.raises(ValueError, match="kind must be one of"):
        cost.iptables_lines("half", 1, 1)


def test_yaml_values_are_the_fit():
    p = cost.load_params().raw
    for key, fitted in fit_parameters().items():
        node = p
        for part in key.split("."):
            node = node[part]
        assert node == pytest.approx(float(fitted), rel=2e-3), key


def test_calibration_rows_within_bounds():
    df = calibration_table()
    bounded = df[df["error_bound"].notna()]
    assert set(bounded["confidence"]) <= {"H", "M"}
    assert set(bounded["row"]) == {"1", "2", "3", "7", "8", "15", "17", "18", "19", "20", "30", "31"}
    for _, r in bounded.iterrows():
        assert abs(r["rel_error"]) <= r["error_bound"] + 1e-9, (r["row"], r["quantity"], r["rel_error"])
    row8 = df[(df["row"] == "8") & (df["quantity"].str.startswith("sync"))].iloc[0]
    assert 17.5 * 0.98 <= row8["simulated"] <= 21.4


def test_calibration_lists_rows_checked_elsewhere():
    df = calibration_table()
    elsewhere = set(df[df["status"].str.startswith("checked elsewhere")]["row"])
    assert {"10", "11", "13", "22", "24", "25", "27", "28", "29"} <= elsewhere
    assert df[df["row"].isin(["10", "22"])]["simulated"].isna().all()
    text = render_calibration_table(df)
    assert "checked elsewhere (fleet)" in text and "+12.5%" in text


def test_least_squares_rows_report_their_fit_quality():
    df = calibration_table()
    row5 = df[df["row"] == "5"]["rel_error"].abs()
    row6 = df[df["row"] == "6"]["rel_error"].abs()
    assert row5.median() < 0.25 and row6.median() < 0.05  # L rows: reported, loosely held
    assert all(math.isfinite(v) for v in row5)
