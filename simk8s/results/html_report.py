"""`simk8s report RESULTS` (and `run --report`): a results directory as one self-contained
HTML page — comparison table, plots embedded as data: URIs, the resolved scenario,
versions — and a Markdown twin whose plots are PNG files beside it.

Both are written into the results directory and added to its manifest, so the directory
stays one simk8s may replace. The page has no script and loads nothing from elsewhere.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simk8s.errors import OutputError
from simk8s.results.report_data import ReportData, load_report_data

STEM = "report"  # report.html, its Markdown twin (the same stem), the twin's images in report/
HTML_NAME, MARKDOWN_NAME, IMAGES_DIR = f"{STEM}.html", f"{STEM}.md", STEM
MARKER = "<!-- written by simk8s report -->"

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;background:#fff}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f0f0}
img{max-width:100%;display:block;margin:1em 0}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}
h1{margin-bottom:0}.sub{color:#555}"""


@dataclass
class Plot:
    key: str  # file name stem
    title: str
    png: bytes


def report_plots(data: ReportData) -> list[Plot]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from simk8s.results import plots

    variants: list[Any] = data.variants
    makers: list[tuple[str, str, Callable[[Any], Any]]] = [
        ("egress", "apiserver egress to watchers", lambda ax: plots.plot_egress(variants, ax=ax)),
        ("npl", "network programming latency", lambda ax: plots.plot_npl_cdf(variants, ax=ax)),
        ("failures", "failed connections", lambda ax: plots.plot_failures(variants, ax=ax)),
    ]
    if variants:
        makers.append(("rollout", f"rollout ({variants[0].name})", lambda ax: plots.plot_rollout(variants[0], ax=ax)))
    out = []
    for key, title, make in makers:
        fig, ax = plt.subplots(figsize=(9, 3.8))
        try:
            make(ax)
            fig.tight_layout()
            sink = io.BytesIO()
            fig.savefig(sink, format="png", dpi=90)
        finally:
            plt.close(fig)
        out.append(Plot(key, title, sink.getvalue()))
    return out


def _comparison(data: ReportData) -> Any:
    from simk8s.results.report import comparison_frame, shown_rows

    rows = [(v.name, v.summary, v.watch) for v in data.variants]
    frame = comparison_frame(rows)
    return frame[shown_rows(frame)]


def _settings(data: ReportData) -> list[tuple[str, list[str]]]:
    keys = list(data.variants[0].settings) if data.variants else []
    return [(k, [v.settings.get(k, "–") for v in data.variants]) for k in keys]


def render_html(data: ReportData, plots: list[Plot]) -> str:
    e = html.escape
    names = [v.name for v in data.variants]
    head = "".join(f"<th>{e(n)}</th>" for n in names)
    table = _comparison(data)
    body = "".join(
        f"<tr><th style='text-align:left;padding-left:{2 if str(label).startswith('  ') else 0.5}em'>{e(str(label).strip())}</th>"
        + "".join(f"<td class='n'>{e(str(c))}</td>" for c in row) + "</tr>"
        for label, row in zip(table.index, table.to_numpy().tolist(), strict=True)
    )
    settings = "".join(f"<tr><th style='text-align:left'>{e(k)}</th>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>"
                       for k, cells in _settings(data))
    images = "".join(
        f"<h3>{e(p.title)}</h3><img alt='{e(p.title)}' src='data:image/png;base64,{base64.b64encode(p.png).decode()}'>"
        for p in plots
    )
    versions = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in data.versions.items())
    return (
        f"<!DOCTYPE html>\n{MARKER}\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>simk8s: {e(data.name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(data.name)}</h1><p class='sub'>{e(data.description)}</p>"
        f"<h2>Variants</h2><table><tr><th></th>{head}</tr>{settings}</table>"
        f"<h2>Comparison</h2><table><tr><th>figure</th>{head}</tr>{body}</table>"
        f"<h2>Plots</h2>{images}"
        f"<h2>Versions</h2><table>{versions}</table>"
        f"<h2>Resolved scenario</h2><details><summary>scenario.resolved.yaml</summary><pre>{e(data.resolved_yaml)}</pre></details>"
        "</body></html>\n"
    )


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_label(label: str) -> str:
    """A comparison row's label; a sub-row ("  of which full") stays indented."""
    return ("&nbsp;&nbsp;" if label.startswith("  ") else "") + _cell(label.strip())


def render_markdown(data: ReportData, plots: list[Plot]) -> str:
    names = [v.name for v in data.variants]
    lines = [MARKER, f"# {data.name}", "", data.description, "", "## Variants", "",
             "| | " + " | ".join(map(_cell, names)) + " |", "| --- |" + " --- |" * len(names)]
    lines += [f"| {_cell(k)} | " + " | ".join(map(_cell, cells)) + " |" for k, cells in _settings(data)]
    table = _comparison(data)
    lines += ["", "## Comparison", "", "| figure | " + " | ".join(map(_cell, names)) + " |",
              "| --- |" + " ---: |" * len(names)]
    lines += [f"| {_md_label(str(label))} | " + " | ".join(_cell(str(c)) for c in row) + " |"
              for label, row in zip(table.index, table.to_numpy().tolist(), strict=True)]
    lines += ["", "## Plots", ""]
    lines += [f"![{p.title}]({IMAGES_DIR}/{p.key}.png)\n" for p in plots]
    lines += ["## Versions", "", "| | |", "| --- | --- |"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in data.versions.items()]
    lines += ["", "## Resolved scenario", "", "```yaml", data.resolved_yaml.rstrip("\n"), "```", ""]
    return "\n".join(lines)


def _bytes_writer(data: bytes) -> Callable[[Path], object]:
    return lambda tmp: tmp.write_bytes(data)


def write_report(results: str | Path) -> tuple[Path, Path]:
    """Write the page, its Markdown twin and the twin's PNGs into `results` (a directory simk8s
    wrote) and list them in its manifest. LookupError when it is not a results directory,
    OutputError when it holds files simk8s did not write."""
    from simk8s.results.output import not_ours, write_file_atomically, write_manifest

    folder = Path(results)
    data = load_report_data(folder)
    why = not_ours(folder)
    if why:
        raise OutputError(f"{folder}: {why}; the report is written only into a results directory simk8s wrote")
    plots = report_plots(data)
    images = folder / IMAGES_DIR
    images.mkdir(exist_ok=True)
    for p in plots:
        write_file_atomically(images / f"{p.key}.png", _bytes_writer(p.png))
    page, twin = folder / HTML_NAME, folder / MARKDOWN_NAME
    text = render_html(data, plots)
    write_file_atomically(page, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    md = render_markdown(data, plots)
    write_file_atomically(twin, lambda tmp: tmp.write_text(md, encoding="utf-8"))
    write_manifest(folder)
    return page, twin
