"""Cost parameters: the published prices (cost_params.yaml) and machine profiles over them.

A machine profile (`simk8s calibrate --host`, docs/host-calibration.md) carries the tool
prices measured on one host; they replace the published ones of the same name.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike

PARAMS_PATH = Path(__file__).parent.parent / "cost_params.yaml"
MODES = ("iptables", "ipvs", "nftables")
KINDS = ("full", "partial")


@dataclass(frozen=True)
class CostParams:
    raw: dict[str, Any]

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self.raw[key]


@lru_cache(maxsize=4)
def load_params(path: str | None = None) -> CostParams:
    """The published parameters: `simk8s.proxy.cost.PARAMS_PATH` (set it, then
    `load_params.cache_clear()`, to run the model on another file)."""
    default = getattr(importlib.import_module("simk8s.proxy.cost"), "PARAMS_PATH", PARAMS_PATH)
    with open(path or default, encoding="utf-8") as fh:
        return CostParams(yaml.safe_load(fh))


#: First line of every machine profile; `simk8s calibrate --host` replaces only such files.
PROFILE_MARKER = "# simk8s machine profile, written by `simk8s calibrate --host`"
PROFILE_KIND = "MachineProfile"
#: What a machine profile may set: the prices of the tools, measured on its host. The
#: proxier's own compute (t_compute_per_object), listing, t_fixed and cpu_fraction stay
#: published. An nftables profile's transaction prices (S², S, E) replace the published
#: transaction (q_tx × W², nftables.py).
PROFILE_PARAMS = {
    "iptables": ("t_restore_per_line", "t_restore_per_line_sq", "t_save_per_line"),
    "nftables": ("c_service_sq", "c_service", "c_endpoint"),
}


class MachineProfileError(ValueError):
    """A machine profile that is missing, unreadable or not one simk8s wrote."""


def load_machine_profile(path: str | os.PathLike[str]) -> CostParams:
    """The published parameters with a machine profile's measured prices over them."""
    path = os.fspath(path)
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise MachineProfileError(f"no such machine profile: {path}") from None
    except OSError as err:
        raise MachineProfileError(f"cannot read machine profile {path}: {err.strerror or err}") from None
    return _load_profile(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load_profile(path: str, _mtime_ns: int, _size: int) -> CostParams:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except IsADirectoryError:
        raise MachineProfileError(f"machine profile {path} is a directory") from None
    except OSError as err:
        raise MachineProfileError(f"cannot read machine profile {path}: {err.strerror or err}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise MachineProfileError(f"machine profile {path} is not YAML ({type(err).__name__})") from None
    if not isinstance(doc, dict) or doc.get("kind") != PROFILE_KIND or not isinstance(doc.get("params"), dict):
        raise MachineProfileError(f"{path} is not a machine profile (expected `kind: {PROFILE_KIND}` "
                                  "and `params`, as `simk8s calibrate --host` writes)")
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in load_params().raw.items()}
    for mode, key, value in profile_numbers(path, "params.", doc["params"], PROFILE_PARAMS, "prices", "measured price"):
        raw[mode][key] = value
    if doc["params"].get("nftables"):
        # The host's measured transaction shape replaces the published one, not adds to it.
        raw["nftables"]["q_tx"] = 0.0
    return CostParams(raw)


def profile_numbers(path: str, where: str, groups: Mapping[str, Any], allowed: Mapping[str, tuple[str, ...]], noun: str,
                    item: str) -> Iterator[tuple[str, str, float]]:
    """(group, key, value) of a machine profile's section of numbers per group, each checked:
    a known group holding a mapping, a known key, a finite number >= 0 (MachineProfileError)."""
    for group, values in groups.items():
        names = allowed.get(group)
        if names is None or not isinstance(values, dict):
            raise MachineProfileError(f"machine profile {path}: {where}{group}: expected one of "
                                      f"{', '.join(allowed)} with a mapping of {noun}")
        for key, value in values.items():
            if key not in names:
                raise MachineProfileError(f"machine profile {path}: {where}{group}.{key}: not a {item} "
                                          f"(expected {', '.join(names)})")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise MachineProfileError(f"machine profile {path}: {where}{group}.{key}: expected a "
                                          f"number >= 0, got {value!r}")
            yield group, key, float(value)


def params_for_machine(profile: str | None) -> CostParams:
    """Parameters of a scenario: published, or with the named machine profile over them."""
    return load_params() if profile is None else load_machine_profile(profile)


def resolve(params: CostParams | None) -> CostParams:
    """The given parameters, or the published ones."""
    return params if params is not None else load_params()


def as_array(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def total(phases: dict[str, np.ndarray]) -> np.ndarray:
    """Sum of a sync's phases, in the order the proxier runs them."""
    out = np.zeros(())
    for seconds in phases.values():
        out = out + seconds
    return np.asarray(out, dtype=np.float64)
