"""Fast paths give exactly what the plain code they replace gives (issue 16's speed-ups)."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest

from simk8s.controller.podutil import canonical_ip
from simk8s.proxy.fleet.order import stable_order
from simk8s.proxy.metrics import bucket_counts


def _parsed(ip: str) -> str | None:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def test_canonical_ip_fast_path_agrees_with_ipaddress():
    octets = ["0", "00", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "001", "1000"]
    rng = np.random.default_rng(7)
    cases = [".".join(rng.choice(octets, size=rng.integers(3, 6))) for _ in range(5000)]
    cases += ["10.64.0.1", "1.2.3.4 ", "١.2.3.4", "::1", "1234::5678:0000:1", "", "1.2.3.4/32"]
    assert [canonical_ip(c) for c in cases] == [_parsed(c) for c in cases]


@pytest.mark.parametrize("nodes", [1, 300, 32_767, 32_768, 100_000, 2**20])
def test_stable_order_is_a_stable_argsort(nodes):
    keys = np.random.default_rng(nodes).integers(0, nodes, 50_000)
    assert np.array_equal(stable_order(keys), np.argsort(keys, kind="stable"))


def test_bucket_counts_match_counting_after_a_sort():
    bounds = np.array([0.001, 0.002, 0.004, 0.5, 1.0, 2.0, 5.0, 60.0, 300.0])
    rng = np.random.default_rng(3)
    for _ in range(200):
        values = np.concatenate([
            rng.choice([0.0, 0.001, 0.5, 300.0, np.nan, np.inf, -np.inf], size=rng.integers(0, 20)),
            rng.exponential(3.0, size=rng.integers(0, 100)),
        ])
        ordered = np.sort(values)
        expected = np.append(np.searchsorted(ordered, bounds, side="right"), values.size)
        assert np.array_equal(bucket_counts(values, bounds), expected)
