"""Units: parsing, formatting, exact round trips, and the messages for bad input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simk8s.scenario import (
    IntOrPercent,
    format_bandwidth,
    format_duration,
    format_quantity,
    format_rate,
    parse_bandwidth,
    parse_duration,
    parse_int_or_percent,
    parse_quantity,
    parse_rate,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("2m3.5s", 123.5),
        ("100ms", 0.1),
        ("250us", 0.00025),
        (45, 45.0),
        (0.25, 0.25),
        ("12", 12.0),
        (" 10s ", 10.0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("30 sec", "expected a duration like 30s, 500ms or 1h, got '30 sec'"),
        ("10", None),
        ("1d", "expected a duration like 30s, 500ms or 1h, got '1d'"),
        ("-5s", "expected a duration like 30s, 500ms or 1h, got '-5s'"),
        (-1, "expected a duration like 30s, 500ms or 1h, got -1 (must be >= 0)"),
        (True, "expected a duration like 30s, 500ms or 1h, got true"),
        ([1], "expected a duration like 30s, 500ms or 1h, got list [1]"),
    ],
)
def test_parse_duration_errors(value, message):
    if message is None:
        assert parse_duration(value) == 10.0
        return
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.5, "500ms"), (0.1, "100ms"), (30, "30s"), (90, "1m30s"), (90.5, "1m30.5s"),
     (3600, "1h"), (5400, "1h30m"), (3601, "1h1s"), (86400, "24h"), (0.0015, "1.5ms"),
     (1e-9, "0.000000001s")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [("1.5Mi", 1572864), ("10Gi", 10 * 2**30), ("100k", 100_000), ("2M", 2_000_000),
     ("1.5e3", 1500), ("1Ki", 1024), ("3Ti", 3 * 2**40), (1024, 1024), ("512", 512),
     ("1.3Ki", 1332), (1.5, 2), ("0", 0)],
)
def test_parse_quantity(text, nbytes):
    assert parse_quantity(text) == nbytes


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5 MB", "expected a quantity like 1.5Mi, 10Gi, 100k or 2M, got '1.5 MB'"),
        ("10GiB", "expected a quantity like 1.5Mi, 10Gi, 100k or 2M, got '10GiB'"),
        ("-1Mi", "expected a quantity like 1.5Mi, 10Gi, 100k or 2M, got '-1Mi'"),
        (-3, "expected a quantity like 1.5Mi, 10Gi, 100k or 2M, got -3 (must be >= 0)"),
        (False, "expected a quantity like 1.5Mi, 10Gi, 100k or 2M, got false"),
    ],
)
def test_parse_quantity_errors(value, message):
    with pytest.raises(ValueError) as info:
        parse_quantity(value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(0, "0"), (1024, "1Ki"), (1572864, "1.5Mi"), (3 * 2**20, "3Mi"), (10 * 2**30, "10Gi"),
     (100_000, "100k"), (2_000_000, "2M"), (1000, "1k"), (1332, "1332"), (1234567, "1234567")],
)
def test_format_quantity(nbytes, text):
    assert format_quantity(nbytes) == text
    assert parse_quantity(text) == nbytes


@pytest.mark.parametrize(
    ("text", "bytes_per_second"),
    [("10Gbps", 1.25e9), ("1.25GBps", 1.25e9), ("800Mbps", 1e8), ("100Kbps", 12500.0),
     ("100kbps", 12500.0), ("1Tbps", 1.25e11), ("8bps", 1.0), (1000, 1000.0)],
)
def test_parse_bandwidth(text, bytes_per_second):
    assert parse_bandwidth(text) == bytes_per_second


@pytest.mark.parametrize("value", ["10 gigabit", "10Gb", "fast", "-1Gbps"])
def test_parse_bandwidth_errors(value):
    with pytest.raises(ValueError) as info:
        parse_bandwidth(value)
    assert str(info.value) == f"expected a bandwidth like 10Gbps, 800Mbps or 1.25GBps, got {value!r}"


@pytest.mark.parametrize(
    ("bytes_per_second", "text"),
    [(1.25e9, "10Gbps"), (1e8, "800Mbps"), (12500.0, "100kbps"), (1.0, "8bps"), (0.0, "0bps"),
     (1 / 3, "0.3333333333333333Bps")],
)
def test_format_bandwidth(bytes_per_second, text):
    assert format_bandwidth(bytes_per_second) == text
    assert parse_bandwidth(text) == bytes_per_second


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("2000/s", 2000.0), ("120/m", 2.0), ("5/h", 5 / 3600), ("0/h", 0.0), ("1.5/s", 1.5), (3, 3.0)],
)
def test_parse_rate(text, per_second):
    assert parse_rate(text) == per_second


@pytest.mark.parametrize("value", ["lots", "5 per second", "5/d", "/s"])
def test_parse_rate_errors(value):
    with pytest.raises(ValueError) as info:
        parse_rate(value)
    assert str(info.value) == f"expected a rate like 2000/s, 120/m or 5/h, got {value!r}"


@pytest.mark.parametrize(
    ("per_second", "text"),
    [(2000.0, "2000/s"), (2.0, "2/s"), (5 / 3600, "5/h"), (1 / 60, "1/m"), (7 / 60, "7/m"),
     (0.0, "0/s"), (1 / 7, "0.14285714285714285/s")],
)
def test_format_rate(per_second, text):
    assert format_rate(per_second) == text
    assert parse_rate(text) == per_second


@pytest.mark.parametrize(
    ("value", "parsed", "surge_of_10", "unavailable_of_10"),
    [("25%", IntOrPercent(25, True), 3, 2), (3, IntOrPercent(3), 3, 3), ("0", IntOrPercent(0), 0, 0),
     ("100%", IntOrPercent(100, True), 10, 10)],
)
def test_int_or_percent(value, parsed, surge_of_10, unavailable_of_10):
    result = parse_int_or_percent(value)
    assert result == parsed
    # maxSurge rounds up, maxUnavailable rounds down
    assert result.scaled(10, round_up=True) == surge_of_10
    assert result.scaled(10, round_up=False) == unavailable_of_10


@pytest.mark.parametrize("value", ["25 percent", "-5%", "2.5%", -1, True, "%"])
def test_int_or_percent_errors(value):
    with pytest.raises(ValueError, match="expected an integer or a percentage like 25%"):
        parse_int_or_percent(value)


# --- exact round trips for any value (what the resolved-scenario echo relies on) ---------

finite = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(finite)
def test_duration_round_trip(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=0, max_value=2**62))
def test_quantity_round_trip(nbytes):
    assert parse_quantity(format_quantity(nbytes)) == nbytes


@given(finite)
def test_bandwidth_round_trip(bytes_per_second):
    assert parse_bandwidth(format_bandwidth(bytes_per_second)) == bytes_per_second


@given(finite)
def test_rate_round_trip(per_second):
    assert parse_rate(format_rate(per_second)) == per_second
