"""Writing a run's results directory: all or nothing.

Everything is written into a temporary sibling directory first and swapped into place at
the end, so an interrupted or failed run never leaves a half-written results directory and
never destroys the previous one before the new one is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simk8s import __version__


def write_results(out: Path, scenario_name: str, resolved: dict, variants: list[Any]) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700); results are for sharing
        (tmp / "scenario.resolved.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
        summary = {
            "scenario": scenario_name,
            "simk8s_version": __version__,
            "variants": {v.name: v.summary for v in variants},
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
        for v in variants:
            vdir = tmp / v.name
            vdir.mkdir()
            for name, frame in v.tables.items():
                if isinstance(frame, pd.DataFrame) and not frame.empty:
                    _to_parquet(frame, vdir / f"{name}.parquet", scenario_name, v.name)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _to_parquet(frame: pd.DataFrame, path: Path, scenario: str, variant: str) -> None:
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("string")
    frame.attrs = {"scenario": scenario, "variant": variant, "simk8s_version": __version__}
    frame.to_parquet(path, index=False)


def _swap_into_place(tmp: Path, out: Path) -> None:
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
