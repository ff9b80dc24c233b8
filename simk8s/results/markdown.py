"""`simk8s check --markdown`: the checks as a Markdown table, fit for a CI job summary
(e.g. appended to GitHub Actions' $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

from pathlib import Path

from simk8s.results.check import CheckRun, _num
from simk8s.results.output import check_output_file, first_line_is, write_file_atomically

MARKER = "<!-- written by simk8s check -->"  # first line: a file simk8s may replace


def check_markdown(run: CheckRun) -> str:
    failed = sum(not r.ok for r in run.results)
    verdict = f"{failed} of {len(run.results)} checks failed" if failed else f"all {len(run.results)} checks passed"
    lines = [
        MARKER,
        f"### simk8s check `{_cell(run.file.name)}`: {verdict}",
        "",
        f"Scenario `{_cell(run.scenario_name)}`.",
        "",
        "| | variant | figure | value | limit | why |",
        "| --- | --- | --- | ---: | --- | --- |",
    ]
    for r in run.results:
        value = "none" if r.value is None else _num(r.value)
        lines.append(f"| {'✅' if r.ok else '❌'} | {_cell(r.variant)} | `{_cell(r.figure)}` | {value} | "
                     f"{_cell(r.limit_text())} | {_cell(r.problem())} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a table cell: pipes escaped, one line."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").split())


written_by_simk8s = first_line_is(MARKER)


def check_markdown_target(target: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    return check_output_file(target, inputs=inputs, label="--markdown", owned=written_by_simk8s)


def write_markdown(run: CheckRun, target: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    path = check_markdown_target(target, inputs)
    text = check_markdown(run)
    write_file_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
