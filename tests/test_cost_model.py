"""Sync-cost model: shape (monotone, partial < full, vectorized), exact operation counts on
small states, release eras, and the fit against its published points."""

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


# --- exact counts on small states ---------------------------------------------------------

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


def test_iptables_counts_on_two_services():
    # 2 ports × 3 endpoints: filter 2 + 5 + 3 lines, nat 11 fixed + 2 KUBE-SERVICES jumps
    # + per port (SVC chain + masq) 2 × 2 + per endpoint 4 × 6.
    assert float(cost.iptables_lines("full", 2, 6)) == 10 + 11 + 2 + 4 + 24
    # partial, one port changed with its 3 endpoints: the same minus the other port's chains
    assert float(cost.iptables_lines("partial", 2, 6, 0, 1, 3)) == 10 + 11 + 2 + 2 + 12
    assert float(cost.iptables_save_lines(2, 6)) == 11 + 3 * 2 + 4 * 6
    q = cost.load_params()["iptables"]
    ph = cost.iptables_phases("partial", 2, 6, 0, 1, 3, cleanup=False)
    assert float(ph["compute"]) == pytest.approx(q["t_compute_per_object"] * 8)  # every port and endpoint
    assert float(ph["restore"]) == pytest.approx(q["t_restore_per_line"] * 37)
    assert float(ph["save"]) == 0.0 and float(ph["full_extra"]) == 0.0
    assert float(cost.iptables_phases("full", 2, 6)["full_extra"]) == q["t_full_extra"]


def test_ipvs_reads_every_virtual_and_real_server_on_every_sync():
    # 2 virtual servers with 3 + 2 real servers and 1 weight-0 real server still draining:
    # 2 gets per virtual server + one message per real server dumped.
    assert float(cost.ipvs_netlink_reads(2, 5, 1)) == 2 * 2 + 5 + 1
    q = cost.load_params()["ipvs"]
    idle = cost.ipvs_phases("partial", 2, 5, 0, 0, n_terminating=1)
    assert float(idle["netlink_reads"]) == pytest.approx(q["t_netlink_msg"] * 10)
    assert float(idle["ops"]) == 0.0  # nothing changed: no writes, but the reads remain
    one = cost.ipvs_phases("partial", 2, 5, 0, 1)
    assert float(one["ops"]) == pytest.approx(float(cost.ipvs_op_seconds(2)) * q["ops_per_endpoint"])
    full = cost.ipvs_phases("full", 2, 5)
    assert float(full["ops"]) == pytest.approx(float(cost.ipvs_op_seconds(2)) * (3 * 2 + 5))
    # grows with real servers at a fixed number of changes (the O(all real servers) sync)
    t = cost.ipvs_sync_seconds("partial", 1_000, np.array([1_000, 10_000, 100_000]), 0, 1)
    assert np.all(np.diff(t) > 0)


def test_nftables_transaction_lines_per_object():
    # ClusterIP Service: set element, map element, chain add + flush, 2 rules = 6;
    # endpoint: chain add + flush, 2 rules = 4.
    assert float(cost.nftables_tx_lines("full", 2, 3)) == 2 * 6 + 3 * 4
    assert float(cost.nftables_tx_lines("partial", 2, 3, 1, 1)) == 6 + 4


def test_nftables_partial_cost_is_o_changed_apart_from_the_table_reads():
    q = cost.load_params()["nftables"]
    s, e = 2, 3
    w = q["w_service"] * s + e
    assert float(cost.table_weight(s, e)) == pytest.approx(w)
    ph = cost.nftables_phases("partial", s, e, 1, 1, release=(1, 35))
    assert float(ph["compute"]) == pytest.approx(q["t_compute_per_object"] * 5)
    assert float(ph["list"]) == 0.0  # names listing (1.29–1.35) is inside compute
    want = q["t_tx_per_table_object"] * w + q["q_tx"] * 2 * w * (q["w_service"] + 1)
    assert float(ph["transaction"]) == pytest.approx(want)
    # the transaction grows with what changed, the listing (1.36+) with the table
    big = 40_000
    tx = [float(cost.nftables_phases("partial", big, big, 1, k)["transaction"]) for k in (1, 11, 21)]
    assert tx[2] - tx[1] == pytest.approx(tx[1] - tx[0]) and tx[1] > tx[0]  # linear in changed endpoints
    full = cost.nftables_phases("full", s, e)
    assert float(full["transaction"]) == pytest.approx(q["q_tx"] * w * w)


def test_nftables_release_eras():
    s, e = 44_125, 44_152
    old = cost.nftables_phases("partial", s, e, 1, 1, release=(1, 35))
    new = cost.nftables_phases("partial", s, e, 1, 1, release=(1, 36))
    assert float(old["list"]) == 0.0 and float(new["list"]) > 60.0  # ListAll every sync from 1.36
    # endpoint chains of a changed Service: all rewritten before 1.33, only the added ones from it
    assert cost.written_endpoints(500, 2, (1, 32)) == 500
    assert cost.written_endpoints(500, 2, (1, 33)) == 2


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


def test_stage_cost_fn_nftables_writes_by_release():
    k = 1
    args = (np.zeros(k, bool), np.zeros(k, bool), np.full(k, 1), np.full(k, 400), np.full(k, 2_000),
            np.full(k, 20_000), np.ones(k))  # fmt: skip
    diff = np.full(k, 2)
    old = make_cost_fn("nftables", release=(1, 32))(*args, endpoint_changes=diff)
    new = make_cost_fn("nftables", release=(1, 33))(*args, endpoint_changes=diff)
    assert old[0] == pytest.approx(float(cost.nftables_sync_seconds("partial", 2_000, 20_000, 1, 400, release=(1, 32))))
    assert new[0] == pytest.approx(float(cost.nftables_sync_seconds("partial", 2_000, 20_000, 1, 2, release=(1, 33))))
    assert new[0] < old[0]


def test_cli_and_ipvs_op_models_are_monotone():
    assert np.all(np.diff(cost.iptables_cli_seconds(np.array([8, 4e4, 1.6e5]))) > 0)
    assert np.all(np.diff(cost.iptables_cli_seconds(np.array([4, 400, 8e4]), "flftuu_2019")) > 0)
    assert np.all(np.diff(cost.ipvs_op_seconds(np.array([1, 5_000, 20_000]))) > 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        cost.sync_seconds("userspace", "full", 1, 1)
    with pytest.raises(ValueError, match="kind must be one of"):
        cost.iptables_lines("half", 1, 1)
    with pytest.raises(ValueError, match="kind must be one of"):
        cost.nftables_phases("half", 1, 1)


# --- the fit ------------------------------------------------------------------------------

def test_yaml_values_are_the_fit():
    p = cost.load_params().raw
    for key, fitted in fit_parameters().items():
        node = p
        for part in key.split("."):
            node = node[part]
        assert node == pytest.approx(float(fitted), rel=2e-3), key


def test_fit_points_are_reproduced_and_predictions_are_held_back():
    df = calibration_table()
    fit = df[df["role"] == "fit"]
    exact = fit[fit["row"].isin(["1", "2", "3", "15", "18", "18b", "19", "20"])]
    assert (exact["rel_error"].abs() < 2e-3).all(), exact[["row", "what", "rel_error"]]
    pred = df[df["role"] == "prediction"]
    assert len(pred) >= len(df) / 3
    assert set(pred["row"]) >= {"4", "5", "6", "8b", "15b", "17", "18c"}
    row8 = df[(df["row"] == "8") & (df["what"] == "iptables full sync")].iloc[0]
    assert 17.5 * 0.98 <= row8["simulated"] <= 21.4
    text = render_calibration_table(df)
    assert "prediction" in text and "+12.5%" in text


def test_least_squares_rows_report_their_fit_quality():
    df = calibration_table()
    row5 = df[df["row"] == "5"]["rel_error"].abs()
    row6 = df[df["row"] == "6"]["rel_error"].abs()
    assert row5.median() < 0.25 and row6.median() < 0.05  # L rows: reported, loosely held
    assert all(math.isfinite(v) for v in row5)
