"""`simk8s calibrate`: every published point beside the model's figure; `--fit`: the prices.

The points and their roles come from validation.py (docs/validation.md is the same table,
written by `calibrate --write`). `--fit` refits the sync-cost prices from their points
(sync_cost.fit_parameters) and writes the ones that moved into cost_params.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from simk8s.calibration.sync_cost import fit_parameters
from simk8s.calibration.validation import summary, validation_frame
from simk8s.proxy import cost

TOLERANCE = 2e-3  # a stored price within this relative distance of its refit is left as written


def format_calibration() -> str:
    """One section per group, fit for a 100-column terminal."""
    frame = validation_frame()
    out = []
    for group, part in frame.groupby("group", sort=False):
        shown = pd.DataFrame({
            "row": part["row"],
            "what": part["what"].str.slice(0, 44),
            "published": part["published"].map(_figure),
            "simulated": part["simulated"].map(_figure),
            "unit": part["metric"].map(unit_of),
            "error": part["rel_error"].map(lambda e: "" if pd.isna(e) else f"{e:+.0%}"),
            "role": part["role"],
        })
        out += [f"== {group} ==", shown.to_string(index=False), ""]
    s = summary(frame)
    out.append(f"Predictions ({s['prediction']} points held out of every fit): median error {s['median']:.0%}, "
               f"worst {s['worst']:.0%}; {s['fit']} fit points.")
    out.append('Rows are numbered as docs/model.md "Published figures" lists them; docs/validation.md has sources.')
    return "\n".join(out)


def unit_of(metric: str) -> str:
    """The unit of a validation point's `metric`, with its percentile if it has one
    ("p99 s" → "s p99", "first_packet_ms_p50" → "ms p50", "MB ('>1 MB')" → "MB")."""
    words = metric.split()
    if len(words) > 1 and re.fullmatch(r"p\d\d", words[0]):
        return f"{words[1]} {words[0]}"
    pct = re.search(r"_(p\d\d)$", metric)
    if "_ms" in metric:
        return "ms" + (f" {pct.group(1)}" if pct else "")
    if metric.startswith("cpu_cores"):
        return "cores"
    if metric.startswith("rules"):
        return "rules"
    return words[0] if words else ""


def _figure(x: float | None) -> str:
    if x is None or pd.isna(x):
        return ""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def refit(path: Path = cost.PARAMS_PATH, *, write: bool = True) -> list[tuple[str, float, float]]:
    """(parameter, stored, refit) for every fitted price; prices further than TOLERANCE from
    their refit are rewritten in place (comments kept) when `write`."""
    lines = path.read_text(encoding="utf-8").split("\n")
    stored = yaml.safe_load("\n".join(lines))
    rows, moved = [], False
    for key, value in fit_parameters().items():
        node = stored
        for part in key.split("."):
            node = node[part]
        rows.append((key, float(node), float(value)))
        if write and abs(float(node) / float(value) - 1.0) > TOLERANCE:
            i = _line_of(lines, key.split("."))
            head = re.match(r"^\s*\w+:\s*", lines[i])
            assert head is not None  # _line_of found "key:" on this line
            lines[i] = head.group(0) + f"{float(value):.4g}" + re.sub(r"^\S+", "", lines[i][head.end():])
            moved = True
    if moved:
        path.write_text("\n".join(lines), encoding="utf-8")
        cost.load_params.cache_clear()
    return rows


def _line_of(lines: list[str], parts: list[str]) -> int:
    i = 0
    for depth, part in enumerate(parts):
        pattern = re.compile(rf"^{'  ' * depth}{re.escape(part)}:")
        while not pattern.match(lines[i]):
            i += 1
    return i


def format_fit(rows: list[tuple[str, float, float]]) -> str:
    out = [f"{'parameter':<34} {'stored':>12} {'refit':>12}"]
    out += [f"{k:<34} {a:>12.4g} {b:>12.4g}" + ("  (rewritten)" if abs(a / b - 1) > TOLERANCE else "")
            for k, a, b in rows]
    out.append("Which points fixed each price: the comments of cost_params.yaml and docs/validation.md.")
    return "\n".join(out)
