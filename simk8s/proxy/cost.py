"""Sync-duration and CPU model of kube-proxy per mode and sync kind.

Every function takes numpy arrays (one entry per node) or scalars and returns arrays; no
Python loops, so the fleet can evaluate thousands of nodes per call (hot path). `speed`
is the per-node slowness multiplier the fleet draws (1.0 = the calibration machines).

Model (parameters and their sources in cost_params.yaml; fitted by
simk8s/calibration/sync_cost.py; what each term stands for: docs/model.md "Cost model"):
- iptables: T = t_fixed [+ t_full_extra] + t_compute × (ports + endpoints)
            + t_restore × lines_written [+ t_restore_sq × lines_written²]
            [+ t_save × nat lines when stale-chain cleanup runs]
- IPVS:     T = t_fixed + t_reconcile × VS + t_op(VS) × netlink ops for changes
            + t_restore × static lines   (every IPVS syncProxyRules reconciles all VSs)
- nftables: T = t_fixed + t_compute × (services + endpoints)
            + full:    c_s × S² [+ c_svc × S] + c_e × E
            + partial: c_s × (2·S·ΔS) [+ c_svc × ΔS] + c_e × ΔE   (marginal cost of the
                                                   changed part, kubernetes/kubernetes#126013)
The bracketed terms are 0 in the published parameters; a machine profile written by
`simk8s calibrate --host` (docs/host-calibration.md) sets them, with the tool prices it
measured on its host, over the published parameters (`load_machine_profile`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike

PARAMS_PATH = Path(__file__).with_name("cost_params.yaml")
MODES = ("iptables", "ipvs", "nftables")
KINDS = ("full", "partial")


@dataclass(frozen=True)
class CostParams:
    raw: dict[str, Any]

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self.raw[key]


@lru_cache(maxsize=4)
def load_params(path: str | None = None) -> CostParams:
    with open(path or PARAMS_PATH, encoding="utf-8") as fh:
        return CostParams(yaml.safe_load(fh))


#: First line of every machine profile; `simk8s calibrate --host` replaces only such files.
PROFILE_MARKER = "# simk8s machine profile, written by `simk8s calibrate --host`"
PROFILE_KIND = "MachineProfile"
#: What a machine profile may set: the prices of the tools, measured on its host. The
#: proxier's own compute (t_compute_per_object), t_fixed and cpu_fraction stay published.
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
    for mode, values in doc["params"].items():
        allowed = PROFILE_PARAMS.get(mode)
        if allowed is None or not isinstance(values, dict):
            raise MachineProfileError(f"machine profile {path}: params.{mode}: expected one of "
                                      f"{', '.join(PROFILE_PARAMS)} with a mapping of prices")
        for key, value in values.items():
            if key not in allowed:
                raise MachineProfileError(f"machine profile {path}: params.{mode}.{key}: not a measured "
                                          f"price (expected {', '.join(allowed)})")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise MachineProfileError(f"machine profile {path}: params.{mode}.{key}: expected a "
                                          f"number >= 0, got {value!r}")
            raw[mode][key] = float(value)
    return CostParams(raw)


def params_for_machine(profile: str | None) -> CostParams:
    """Parameters of a scenario: published, or with the named machine profile over them."""
    return load_params() if profile is None else load_machine_profile(profile)


def _p(params: CostParams | None) -> CostParams:
    return params if params is not None else load_params()


def _a(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


# --- iptables ---------------------------------------------------------------------------

def iptables_lines(
    kind: str,
    n_ports: ArrayLike,
    n_endpoints: ArrayLike,
    n_empty_ports: ArrayLike = 0,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    deleted_chains: ArrayLike = 0,
    localhost_nodeports: bool = False,
) -> np.ndarray:
    """iptables-restore input lines for ClusterIP/Cluster-policy ports (counts as in rulecount.py).

    full: everything. partial (KEP-3453): the whole filter table, nat KUBE-SERVICES / KUBE-NODEPORTS /
    KUBE-POSTROUTING / KUBE-MARK-MASQ, and the SVC+SEP chains of changed ports
    (`changed_ports` with endpoints, `changed_endpoints` summed over them).
    `deleted_chains`: stale chains flushed and deleted (2 lines each) this sync.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    lh = int(localhost_nodeports)
    empty = _a(n_empty_ports)
    p = _a(n_ports) - empty
    e = _a(n_endpoints)
    filter_lines = 2 + (5 + lh) + (3 + lh) + empty
    nat_fixed = 2 + 4 + 5  # header+COMMIT, 4 chain lines, 5 fixed rules
    services_rules = p  # one KUBE-SERVICES jump per ClusterIP port with endpoints
    if kind == "full":
        per_service = 2 * p + 4 * e  # SVC chain line + masq rule; per endpoint SEP line, jump, 2 SEP rules
    else:
        per_service = 2 * _a(changed_ports) + 4 * _a(changed_endpoints)
    return filter_lines + nat_fixed + services_rules + per_service + 2 * _a(deleted_chains)


def iptables_save_lines(n_ports: ArrayLike, n_endpoints: ArrayLike, n_empty_ports: ArrayLike = 0) -> np.ndarray:
    """Lines `iptables-save -t nat` prints for stale-chain cleanup (all kube nat chains)."""
    p = _a(n_ports) - _a(n_empty_ports)
    e = _a(n_endpoints)
    return 2 + 4 + 5 + 3 * p + 4 * e


def iptables_sync_seconds(
    kind: str,
    n_ports: ArrayLike,
    n_endpoints: ArrayLike,
    n_empty_ports: ArrayLike = 0,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    cleanup: ArrayLike = True,
    deleted_chains: ArrayLike = 0,
    speed: ArrayLike = 1.0,
    params: CostParams | None = None,
) -> np.ndarray:
    """Duration of one iptables sync. `cleanup`: an iptables-save for stale chains runs
    (every sync normally; once per syncPeriod in large-cluster mode, kubernetes/kubernetes#110334
    — the caller decides)."""
    q = _p(params)["iptables"]
    lines = iptables_lines(kind, n_ports, n_endpoints, n_empty_ports, changed_ports,
                           changed_endpoints, deleted_chains)
    t = (q["t_fixed"] + (q["t_full_extra"] if kind == "full" else 0.0)
         + q["t_compute_per_object"] * (_a(n_ports) + _a(n_endpoints))
         + q["t_restore_per_line"] * lines
         + q.get("t_restore_per_line_sq", 0.0) * lines * lines  # superlinear restores (iptables-nft)
         + np.where(np.asarray(cleanup, dtype=bool),
                    q["t_save_per_line"] * iptables_save_lines(n_ports, n_endpoints, n_empty_ports), 0.0))
    return t * _a(speed)


def iptables_cli_seconds(n_rules: ArrayLike, profile: str = "huawei_2017",
                         params: CostParams | None = None) -> np.ndarray:
    """2017–2019 latency of adding rules with the `iptables` CLI; not a sync model.

    Profiles: docs/references.md [huawei-2017] and [flftuu-2019]."""
    q = _p(params)["iptables_cli"][profile]
    r = _a(n_rules)
    if profile == "huawei_2017":
        return q["t0"] + q["a"] * r ** q["b"]
    return q["t0"] + q["k"] * r


# --- IPVS -------------------------------------------------------------------------------

def ipvs_op_seconds(n_virtual_servers: ArrayLike, params: CostParams | None = None) -> np.ndarray:
    """One netlink add/delete; grows slowly with table size (docs/references.md [flftuu-2019])."""
    q = _p(params)["ipvs"]
    return q["t_op0"] + q["t_op_per_vs"] * _a(n_virtual_servers)


def ipvs_ops(changed_ports: ArrayLike, changed_endpoints: ArrayLike, params: CostParams | None = None) -> np.ndarray:
    q = _p(params)["ipvs"]
    return q["ops_per_new_port"] * _a(changed_ports) + q["ops_per_endpoint"] * _a(changed_endpoints)


def ipvs_sync_seconds(
    kind: str,
    n_virtual_servers: ArrayLike,
    n_real_servers: ArrayLike,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    speed: ArrayLike = 1.0,
    params: CostParams | None = None,
) -> np.ndarray:
    """One IPVS sync: reconcile every VS (netlink gets), apply ops for the changes, restore
    the static iptables part. `full` (first sync) creates every VS and real server."""
    q = _p(params)["ipvs"]
    vs = _a(n_virtual_servers)
    if kind == "full":
        ops = q["ops_per_new_port"] * vs + q["ops_per_endpoint"] * _a(n_real_servers)
    elif kind == "partial":
        ops = ipvs_ops(changed_ports, changed_endpoints, params)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    restore = _p(params)["iptables"]["t_restore_per_line"] * q["static_restore_lines"]
    t = q["t_fixed"] + q["t_reconcile_per_vs"] * vs + ipvs_op_seconds(vs, params) * ops + restore
    return t * _a(speed)


# --- nftables ---------------------------------------------------------------------------

def nftables_sync_seconds(
    kind: str,
    n_services: ArrayLike,
    n_endpoints: ArrayLike,
    changed_services: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    speed: ArrayLike = 1.0,
    params: CostParams | None = None,
) -> np.ndarray:
    """One nftables sync: O(changed) transaction for partial syncs (kubernetes/kubernetes#126013),
    a superlinear full transaction at startup / after failures / hourly (kubernetes/kubernetes#139513,
    #135639)."""
    q = _p(params)["nftables"]
    s, e = _a(n_services), _a(n_endpoints)
    base = q["t_fixed"] + q["t_compute_per_object"] * (s + e)
    c_svc = q.get("c_service", 0.0)  # per-Service price; only machine profiles set it
    if kind == "full":
        tx = q["c_service_sq"] * s * s + q["c_endpoint"] * e + c_svc * s
    elif kind == "partial":
        ds = np.minimum(_a(changed_services), s)
        tx = q["c_service_sq"] * (2.0 * s * ds) + q["c_endpoint"] * _a(changed_endpoints) + c_svc * ds
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return (base + tx) * _a(speed)


# --- common -----------------------------------------------------------------------------

def sync_seconds(
    mode: str,
    kind: str,
    n_ports: ArrayLike,
    n_endpoints: ArrayLike,
    changed_ports: ArrayLike = 0,
    changed_endpoints: ArrayLike = 0,
    *,
    n_empty_ports: ArrayLike = 0,
    cleanup: ArrayLike = True,
    speed: ArrayLike = 1.0,
    params: CostParams | None = None,
) -> np.ndarray:
    """Mode dispatcher for ClusterIP-only clusters (one VS per port in IPVS; services = ports
    in nftables). Use the per-mode functions for richer service mixes."""
    if mode == "iptables":
        return iptables_sync_seconds(kind, n_ports, n_endpoints, n_empty_ports, changed_ports,
                                     changed_endpoints, cleanup=cleanup, speed=speed, params=params)
    if mode == "ipvs":
        return ipvs_sync_seconds(kind, n_ports, n_endpoints, changed_ports, changed_endpoints,
                                 speed=speed, params=params)
    if mode == "nftables":
        return nftables_sync_seconds(kind, n_ports, n_endpoints, changed_ports, changed_endpoints,
                                     speed=speed, params=params)
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def cpu_seconds(mode: str, sync_secs: ArrayLike, params: CostParams | None = None) -> np.ndarray:
    """CPU time of syncs ≈ duration × the mode's documented cpu_fraction."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return _a(sync_secs) * _p(params)[mode]["cpu_fraction"]
