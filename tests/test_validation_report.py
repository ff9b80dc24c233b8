"""docs/validation.md: regenerated from the model, never stale, fit/prediction split visible."""

import shutil

from click.testing import CliRunner
from conftest import ROOT

from simk8s.calibration import report, validation_report
from simk8s.calibration.validation import summary, validation_frame
from simk8s.cli import main

REPORT = ROOT / "docs" / "validation.md"


def test_committed_report_matches_its_inputs():
    text = REPORT.read_text(encoding="utf-8")
    assert validation_report.committed_fingerprint(text) == validation_report.fingerprint(), (
        "docs/validation.md is stale: run `simk8s calibrate --write docs/validation.md`")


def test_report_lists_every_group_roles_and_the_prediction_summary():
    df = validation_frame(fleet=False)  # the fleet rows (KEP-3453 replay) are the slow part
    s = summary(df)
    assert s["prediction"] >= (s["fit"] + s["prediction"]) / 3  # at least a third held back
    assert set(df["group"]) == {"sync cost", "first packet", "sizes and fan-out", "rule counts"}
    text = validation_report.render(df)
    assert "**Predictions: median error" in text and "## The tutorial's claims, checked" in text
    assert text.count("\n### \u201c") == 6
    committed = REPORT.read_text(encoding="utf-8")
    assert "## NPL" in committed and "| 10 | iptables NPL, full restores |" in committed


def test_fit_rewrites_only_prices_that_moved(tmp_path):
    path = tmp_path / "cost_params.yaml"
    shutil.copy(report.cost.PARAMS_PATH, path)
    before = path.read_text(encoding="utf-8")
    rows = report.refit(path)
    assert path.read_text(encoding="utf-8") == before  # the committed file is the fit
    assert {k for k, _, _ in rows} >= {"nftables.q_tx", "ipvs.t_netlink_msg", "iptables.t_restore_per_line"}
    path.write_text(before.replace("q_tx: 1.014e-08", "q_tx: 3e-08"), encoding="utf-8")
    report.refit(path)
    assert "q_tx: 1.014e-08" in path.read_text(encoding="utf-8")
    report.cost.load_params.cache_clear()


def test_cli_fit_and_write_take_no_host_options():
    result = CliRunner().invoke(main, ["calibrate", "--fit", "--host"])
    assert result.exit_code == 2 and "--fit and --write" in result.output


def test_every_point_has_a_unit_in_the_terminal_table():
    """The `simk8s calibrate` table names each figure's unit (and percentile): every metric
    in the validation points maps to one of the units the table may show."""
    units = {m: report.unit_of(m) for m in validation_frame(fleet=False)["metric"].unique()}
    assert units["s"] == "s" and units["MB ('>1 MB')"] == "MB"
    assert units["first_packet_ms_p99"] == "ms p99"
    assert report.unit_of("p90 s") == "s p90"
    known = {"s", "ms", "MB", "GB", "TB", "KB", "pods", "rules", "cores"}
    assert all(u.split()[0] in known for u in units.values()), units
