"""First-packet latency of a new connection through a Service VIP.

Only the first packet of a connection is matched against kube-proxy's rules; conntrack
carries the rest, so keepalive divides the cost by requests per connection (as Tigera's
iptables-vs-IPVS comparison shows, docs/references.md [tigera-2019]). The parameters and
their sources live in latency_params.yaml; the model is written there too. A machine
profile's `dataplane` section (`simk8s calibrate --dataplane`, docs/host-calibration.md)
replaces the base and iptables terms measured on one host (`params_for_machine`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import yaml

from simk8s.proxy.cost import MachineProfileError
from simk8s.proxy.cost.params import profile_numbers

PARAMS_PATH = Path(__file__).with_name("latency_params.yaml")

# Rules an iptables service chain adds around the statistic rules (iptables syncProxyRules):
SVC_MASQ_RULES = 1  # the masquerade rule at the top of KUBE-SVC-*
SEP_RULES = 2  # hairpin masquerade + DNAT in KUBE-SEP-*


@dataclass(frozen=True)
class LatencyParams:
    shift: float
    median: float
    sigma: float
    rule_ns: float
    table_fraction: float
    jitter: float
    ipvs_scale: float


@cache
def load_params(path: str | None = None) -> LatencyParams:
    raw = yaml.safe_load(Path(path or PARAMS_PATH).read_text())
    return LatencyParams(
        shift=float(raw["base"]["shift"]),
        median=float(raw["base"]["median"]),
        sigma=float(raw["base"]["sigma"]),
        rule_ns=float(raw["iptables"]["rule_ns"]),
        table_fraction=float(raw["iptables"]["table_fraction"]),
        jitter=float(raw["iptables"]["jitter"]),
        ipvs_scale=float(raw["ipvs"]["scale"]),
    )


#: What a machine profile's `dataplane.params` may set (`simk8s calibrate --dataplane`,
#: simk8s/calibration/host_dataplane_fit.py); the spread (sigma, jitter) and IPVS stay published.
PROFILE_PARAMS = {"base": ("shift", "median"), "iptables": ("rule_ns", "table_fraction")}


def params_for_machine(profile: str | None) -> LatencyParams:
    """A scenario's data-plane parameters: published, or a machine profile's over them."""
    if profile is None:
        return load_params()
    try:
        stat = os.stat(profile)
    except OSError as err:
        raise MachineProfileError(f"cannot read machine profile {profile}: {err.strerror or err}") from None
    return _profile_params(os.fspath(profile), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _profile_params(path: str, _mtime_ns: int, _size: int) -> LatencyParams:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as err:
        raise MachineProfileError(f"cannot read machine profile {path}: {type(err).__name__}") from None
    section = doc.get("dataplane") if isinstance(doc, dict) else None
    if section is None:
        return load_params()  # a profile of sync prices only
    values = section.get("params") if isinstance(section, dict) else None
    if not isinstance(values, dict):
        raise MachineProfileError(f"machine profile {path}: dataplane: expected a mapping with `params`")
    new = {key: value for _group, key, value in
           profile_numbers(path, "dataplane.params.", values, PROFILE_PARAMS, "numbers", "fitted parameter")}
    return replace(load_params(), **new)


def base_latency(n: int, params: LatencyParams, rng: np.random.Generator) -> np.ndarray:
    """Kernel + network round trip that every mode pays (shifted lognormal, ms)."""
    return params.shift + params.median * np.exp(params.sigma * rng.standard_normal(n))


def service_chain_rules(
    chain_index: np.ndarray, pool_length: np.ndarray, affinity_hit_rank: np.ndarray | None
) -> np.ndarray:
    """nat rules walked inside the service and endpoint chains by routed flows.

    Masquerade rule, then (ClientIP affinity) one recent-check rule per endpoint up to the one
    that matched (``affinity_hit_rank`` ≥ 0) or all E of them on a miss, then statistic rules
    up to the chosen endpoint (``chain_index`` + 1, ≈ (E+1)/2 on average), then the SEP
    chain's 2 rules. Rows with ``chain_index`` < 0 reached no service chain: 0.
    """
    routed = chain_index >= 0
    if affinity_hit_rank is None:
        chain = SVC_MASQ_RULES + chain_index + 1 + SEP_RULES
    else:
        hit = affinity_hit_rank >= 0
        chain = np.where(
            hit,
            SVC_MASQ_RULES + affinity_hit_rank + 1 + SEP_RULES,
            SVC_MASQ_RULES + pool_length + chain_index + 1 + SEP_RULES,
        )
    return np.where(routed, chain, 0).astype(np.int64)


def iptables_rules_walked(
    service_ports_total: int, chain_rules: np.ndarray, walk_all: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """nat rules a new connection evaluates in iptables mode (KUBE-SERVICES is walked linearly).

    KUBE-SERVICES: the service's rule sits at a uniform position in [1, N] because rules are
    emitted in Go map order (syncProxyRules iterates svcPortMap), which changes at every
    sync, so it is redrawn per
    connection. Flows in ``walk_all`` (external NodePort traffic; rejected or dropped flows,
    which have no nat rule) walk all N rules. ``chain_rules`` comes from `service_chain_rules`.
    """
    pos = rng.integers(1, service_ports_total + 1, size=len(chain_rules))
    pos = np.where(walk_all, service_ports_total, pos)
    return (pos + chain_rules).astype(np.int64)


def first_packet_ms(
    mode: str,
    *,
    rules_walked: np.ndarray,
    service_ports_total: int,
    rng: np.random.Generator,
    params: LatencyParams | None = None,
) -> np.ndarray:
    """First-packet latency (ms) per connection. ``rules_walked`` matters for iptables only."""
    p = params or load_params()
    n = len(rules_walked)
    base = base_latency(n, p, rng)
    if mode == "iptables":
        walk = rules_walked + p.table_fraction * service_ports_total
        jitter = np.exp(p.jitter * rng.standard_normal(n) - 0.5 * p.jitter**2)
        return base + p.rule_ns * 1e-6 * walk * jitter
    if mode == "nftables":
        return base  # one verdict-map lookup, ~O(1) (nftables `service-ips` vmap)
    if mode == "ipvs":
        return base * p.ipvs_scale  # hash-table lookup, O(1) (IPVS service table)
    raise ValueError(f"unknown kube-proxy mode {mode!r}")
