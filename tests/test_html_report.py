"""The shareable report: a self-contained HTML page and its Markdown twin, checked in a
real headless browser (Debian's chromium; scripts/chromium installs it)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from simk8s.cli import main
from simk8s.experiment import run_scenario
from simk8s.results.html_report import HTML_NAME, MARKDOWN_NAME
from simk8s.results.output import MANIFEST, not_ours

QUICK = ROOT / "scenarios" / "quick.yaml"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "quick"
    run_scenario(QUICK, out=out)
    res = CliRunner().invoke(main, ["report", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_page_is_self_contained(reported):
    page = (reported / "report.html").read_text()
    assert "<script" not in page
    sources = re.findall(r"""src=['"]([^'"]+)""", page)
    assert len(sources) == 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"""(href|src)=['"]?(https?:|file:|//)""", page)
    for text in ("slices-ipvs", "programming latency p99", "Resolved scenario", "simk8s (results)", "30,330"):
        assert text in page


def test_markdown_twin_and_manifest(reported):
    md = (reported / MARKDOWN_NAME).read_text()
    assert "| figure | endpoints-iptables | slices-iptables | slices-ipvs | slices-nftables |" in md
    for name in ("egress", "npl", "failures", "rollout"):
        assert f"](report/{name}.png)" in md
        assert (reported / "report" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    listed = json.loads((reported / MANIFEST).read_text())["files"]
    assert {HTML_NAME, MARKDOWN_NAME, "report/npl.png"} <= set(listed)
    assert not_ours(reported) is None  # still a directory simk8s may replace


def test_report_refuses_what_is_not_results(tmp_path):
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "not a simk8s results directory" in res.output


def test_a_damaged_table_is_one_line_and_exit_2(reported, tmp_path):
    import shutil

    copy = tmp_path / "quick"
    shutil.copytree(reported, copy)
    for table in copy.glob("*/*.parquet"):
        table.write_bytes(b"PAR1 not a table PAR1")
    res = CliRunner().invoke(main, ["report", str(copy)])
    assert res.exit_code == 2 and res.output.startswith(f"simk8s: {copy}: a table cannot be read"), res.output


def test_run_writes_the_report(tmp_path):
    res = CliRunner().invoke(main, ["run", str(QUICK), "--variant", "slices-ipvs", "--out", str(tmp_path / "r"),
                                    "--report", "--quiet", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "report.html").is_file()
    # A later run of another variant keeps the first one's results, and so its report, rewritten.
    page = (tmp_path / "r" / "report.html").read_text()
    again = CliRunner().invoke(main, ["run", str(QUICK), "--variant", "slices-nftables", "--out", str(tmp_path / "r"),
                                      "--quiet", "--jobs", "1"])
    assert again.exit_code == 0, again.output
    assert "(rewritten: the directory had one)" in again.output
    rewritten = (tmp_path / "r" / "report.html").read_text()
    assert rewritten.count("slices-nftables") > page.count("slices-nftables")  # now in the table too
    assert "report.html" in (tmp_path / "r" / ".simk8s-results.json").read_text()


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        setup = subprocess.run([str(ROOT / "scripts" / "chromium")], capture_output=True, text=True, check=False)
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        if found is None:
            pytest.skip(f"chromium could not be installed here: {setup.stdout.strip() or setup.stderr.strip()}")
    return found


CHECK = """<script>window.addEventListener("load", () => {
  const d = document.createElement("div"); d.id = "simk8s-check";
  d.textContent = [...document.images].map(i => i.complete && i.naturalWidth > 0 ? "ok" : "broken").join(",");
  document.body.appendChild(d);
});</script>"""


def _browser(chromium: str, page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,2400",
         "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False, cwd=page.parent,
    )


def _page_problems(chromium: str, page: Path, tmp_path: Path) -> list[str]:
    """What a browser finds wrong with a page: console messages, images that did not load,
    a blank screenshot. The image check runs in a copy of the page (the report has no script)."""
    from PIL import Image

    probe = tmp_path / f"probe-{page.name}"
    probe.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    dom = _browser(chromium, probe, "--dump-dom")
    problems = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    found = re.search(r'id="simk8s-check">([^<]*)<', dom.stdout)
    if found is None:
        problems.append(f"the page did not finish loading: {dom.stderr[-300:]}")
    else:
        problems += [f"image {i} did not load" for i, s in enumerate(found.group(1).split(",")) if s == "broken"]
    shot = tmp_path / f"{page.stem}.png"
    _browser(chromium, page, f"--screenshot={shot}")
    grey = Image.open(shot).convert("L")
    counts = grey.histogram()
    drawn = 1 - max(counts) / sum(counts)  # the share of pixels not in the background colour
    if drawn < 0.01:
        problems.append(f"blank screenshot ({drawn:.2%} of it drawn)")
    return problems


def test_page_renders_in_chromium(reported, tmp_path):
    chromium = _chromium()
    assert _page_problems(chromium, reported / "report.html", tmp_path) == []


def test_the_browser_check_catches_a_broken_page(tmp_path):
    chromium = _chromium()
    bad = tmp_path / "bad" / "page.html"
    bad.parent.mkdir()
    bad.write_text("<!DOCTYPE html><html><body><img src='data:image/png;base64,AAAA'>"
                   "<script>console.error('boom')</script></body></html>")
    problems = _page_problems(chromium, bad, tmp_path)
    assert any("CONSOLE" in p and "boom" in p for p in problems)
    assert "image 0 did not load" in problems
    assert any(p.startswith("blank screenshot") for p in problems)
