"""Writing a run's results directory: all or nothing, and never over a user's files.

Everything is written into a temporary sibling directory first and swapped into place at
the end, so an interrupted or failed run never leaves a half-written results directory and
never destroys the previous one before the new one is complete. Only a directory simk8s
wrote (its manifest lists every file, see `simk8s.results.output`) is ever replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simk8s import __version__
from simk8s.errors import OutputError
from simk8s.results.metrics import write_variant_metrics
from simk8s.results.output import check_results_dir, not_ours, umask, write_manifest


@dataclass
class Written:
    """What a write did, for the terminal: where, and what it replaced or kept."""

    path: Path
    replaced: bool = False  # an earlier results directory was there
    kept: list[str] = field(default_factory=list)  # its variants carried over (run --variant)

    def note(self) -> str:
        if self.kept:
            return f"kept variant(s) {', '.join(self.kept)} of the earlier run in {self.path}"
        return f"replaced the earlier results in {self.path}" if self.replaced else ""


def write_results(
    out: str | Path,
    scenario_name: str,
    resolved: dict,
    variants: list[Any],
    *,
    keep_other_variants: bool = False,
    inputs: tuple[str | Path, ...] = (),
) -> Written:
    """Write (or replace) `out`. `keep_other_variants`: variants that the existing directory
    holds and this run did not run stay (summary, resolved scenario, tables), as for
    `simk8s run --variant` — only when that directory came from the same resolved scenario
    (file and overrides) and simk8s version; otherwise it is replaced whole.

    Raises OutputError (before writing anything) when `out` is not a directory simk8s may
    replace or cannot be written; `inputs` are files that must not be inside it."""
    writer = ResultsWriter(out, scenario_name, inputs=inputs)
    try:
        for v in variants:
            writer.add(v)
        return writer.finish(resolved, variants, keep_other_variants=keep_other_variants)
    except BaseException:
        writer.discard()
        raise


class ResultsWriter:
    """`write_results` in steps: each variant's tables and metrics as soon as it is done
    (`add`; a parallel run writes one group's while another still computes), then the
    summary, manifest and swap into place (`finish`), or `discard` on failure."""

    def __init__(self, out: str | Path, scenario_name: str, *, inputs: tuple[str | Path, ...] = ()) -> None:
        self.out = check_results_dir(out, inputs=inputs)
        self.scenario_name = scenario_name
        self.replaced = self.out.is_dir() and any(self.out.iterdir())
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        try:
            self.tmp.chmod(0o777 & ~umask())  # mkdtemp makes it private (0700); results are for sharing
        except BaseException:
            self.discard()
            raise

    def add(self, v: Any) -> None:
        vdir = self.tmp / v.name
        vdir.mkdir()
        for name, frame in v.tables.items():
            if isinstance(frame, pd.DataFrame) and not frame.empty:
                _to_parquet(frame, vdir / f"{name}.parquet", self.scenario_name, v.name)
        write_variant_metrics(vdir, v)  # metrics.prom: the run as Prometheus would have scraped it

    def finish(self, resolved: dict, variants: list[Any], *, keep_other_variants: bool = False) -> Written:
        """Every variant of `variants` must have been added."""
        written = Written(self.out, replaced=self.replaced)
        tmp = self.tmp
        summaries = {v.name: v.summary for v in variants}
        if keep_other_variants:
            resolved, summaries = _merge_previous(self.out, self.scenario_name, resolved, summaries, tmp)
            written.kept = [n for n in summaries if n not in {v.name for v in variants}]
        (tmp / "scenario.resolved.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
        summary = {"scenario": self.scenario_name, "simk8s_version": __version__, "variants": summaries}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
        write_manifest(tmp)
        _swap_into_place(tmp, self.out)
        return written

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _merge_previous(out: Path, scenario_name: str, resolved: dict, summaries: dict, tmp: Path) -> tuple[dict, dict]:
    """Carry the variants of an earlier run of the same scenario into `tmp` (hard links to
    its tables), in their earlier order; this run's variants replace theirs in place."""
    try:
        old = json.loads((out / "summary.json").read_text())
        old_resolved = yaml.safe_load((out / "scenario.resolved.yaml").read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return resolved, summaries  # nothing readable to keep
    if not isinstance(old, dict) or not isinstance(old_resolved, dict):
        return resolved, summaries
    old_variants = old.get("variants")
    old_docs = old_resolved.get("resolvedVariants")
    if not isinstance(old_variants, dict) or not isinstance(old_docs, dict):
        return resolved, summaries

    per_variant = ("resolvedVariants", "releaseDefaults")  # keyed by variant name

    def base(doc: dict) -> dict:
        return {k: v for k, v in doc.items() if k not in per_variant}

    # Only variants of the very same scenario (file, overrides, simk8s) sit side by side.
    if (
        old.get("scenario") != scenario_name
        or old.get("simk8s_version") != __version__
        or base(old_resolved) != yaml.safe_load(yaml.safe_dump(base(resolved)))  # as it was written
    ):
        return resolved, summaries
    new_docs = resolved.get("resolvedVariants") or {}
    order = [*old_variants, *(n for n in summaries if n not in old_variants)]
    merged = {n: summaries.get(n, old_variants.get(n)) for n in order}
    docs = {n: new_docs[n] if n in new_docs else old_docs[n] for n in order if n in new_docs or n in old_docs}
    new_chosen, old_chosen = resolved.get("releaseDefaults") or {}, old_resolved.get("releaseDefaults") or {}
    chosen = {n: new_chosen[n] if n in new_chosen else old_chosen[n] for n in order if n in new_chosen or n in old_chosen}
    for name in old_variants:
        if name not in summaries and (out / name).is_dir():
            shutil.copytree(out / name, tmp / name, symlinks=True, copy_function=_link_or_copy)
    return {**resolved, "resolvedVariants": docs, "releaseDefaults": chosen}, merged


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # the old directory goes away at the swap; its files live on here
    except OSError:
        shutil.copy2(src, dst)


def _to_parquet(frame: pd.DataFrame, path: Path, scenario: str, variant: str) -> None:
    frame = frame.copy(deep=False)  # own attrs and converted columns; the data is not copied
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("string")
    frame.attrs = {"scenario": scenario, "variant": variant, "simk8s_version": __version__}
    # Floats (times, durations) are nearly all distinct: a dictionary page would be built
    # and thrown away. The frame read back is the same.
    dictionary = [str(c) for c in frame.columns if frame[c].dtype.kind != "f"]
    frame.to_parquet(path, index=False, use_dictionary=dictionary)


def _swap_into_place(tmp: Path, out: Path) -> None:
    why = not_ours(out) if out.is_dir() else None
    if why:  # something of the user's arrived there while the simulation ran: keep it
        raise OutputError(f"--out {out}: {why}; nothing was replaced")
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load_summary(path: Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    return json.loads(path.read_text())
