"""Kubernetes-style units: parse human strings into seconds/bytes/rates, and format back.

Inside the simulator time is float seconds, sizes are int bytes, bandwidth is float
bytes per second and rates are float events per second. Every ``format_*`` function
is the exact inverse of its ``parse_*`` function (``parse(format(x)) == x``), so a
resolved scenario echoed to disk reloads to an equal Scenario.

These run once per scenario load, not on a hot path.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = [
    "IntOrPercent",
    "format_bandwidth",
    "format_duration",
    "format_int_or_percent",
    "format_quantity",
    "format_rate",
    "parse_bandwidth",
    "parse_duration",
    "parse_int_or_percent",
    "parse_quantity",
    "parse_rate",
]

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
MAX_QUANTITY = 2**63 - 1  # bytes: what Kubernetes' resource.Quantity.Value() can return (int64)
MAX_INT_OR_PERCENT = 1_000_000  # maxSurge / maxUnavailable, as a count or a percentage


def _reject_bool(value: object, what: str) -> None:
    # YAML 1.1 turns `yes`/`on` into True; bool is an int subclass in Python.
    if isinstance(value, bool):
        raise ValueError(f"expected {what}, got {str(value).lower()}")


def _as_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected {what}, got {type(value).__name__} {_shown(value)}")
    return value.strip()


def _finite(value: int | float) -> bool:
    """A number a float can hold (an int of 400 digits cannot)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _check_number(value: int | float, what: str) -> None:
    if not _finite(value):
        raise ValueError(f"expected {what}, got {_shown(value)} (not a finite number)")
    if value < 0:
        raise ValueError(f"expected {what}, got {_shown(value)} (must be >= 0)")


def _finite_float(result: float, value: object, what: str) -> float:
    # "1e400" or 400 digits of text parse to infinity: nothing a simulation can run.
    if not math.isfinite(result):
        raise ValueError(f"expected {what}, got {_shown(value)} (too large)")
    return result


def _shown(value: object, limit: int = 40) -> str:
    """repr(value), shortened: a message quotes the start of a long value."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits has no repr
        return f"an integer of {value.bit_length() if isinstance(value, int) else 0:,} bits"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


# --- durations --------------------------------------------------------------------------

_DURATION_WHAT = "a duration like 30s, 500ms or 1h"
# Divisors rather than float factors so "100ms" gives exactly 0.1.
_DURATION_UNITS: dict[str, tuple[int, int]] = {  # unit -> (multiplier, divisor)
    "h": (3600, 1),
    "m": (60, 1),
    "s": (1, 1),
    "ms": (1, 1000),
    "us": (1, 1_000_000),
    "µs": (1, 1_000_000),
    "ns": (1, 1_000_000_000),
}
_DURATION_PART = re.compile(rf"({_NUMBER})(h|ms|m|s|us|µs|ns)")
_DURATION_FULL = re.compile(rf"(?:{_NUMBER}(?:h|ms|m|s|us|µs|ns))+")


def parse_duration(value: object) -> float:
    """`500ms`, `30s`, `2m`, `1h`, `1h30m` (Go time.ParseDuration style) or a bare number of
    seconds → float seconds. Negative durations are rejected."""
    _reject_bool(value, _DURATION_WHAT)
    if isinstance(value, int | float):
        _check_number(value, _DURATION_WHAT)
        return float(value)
    text = _as_text(value, _DURATION_WHAT)
    if re.fullmatch(_NUMBER, text):
        return _finite_float(float(text), value, _DURATION_WHAT)
    if not _DURATION_FULL.fullmatch(text):
        raise ValueError(f"expected {_DURATION_WHAT}, got {_shown(value)}")
    total = 0.0
    for number, unit in _DURATION_PART.findall(text):
        mult, div = _DURATION_UNITS[unit]
        total += float(number) * mult / div if div > 1 else float(number) * mult
    return _finite_float(total, value, _DURATION_WHAT)


def format_duration(seconds: float) -> str:
    """Float seconds → `1h30m`, `1m30s`, `500ms`, `0s` (exact inverse of parse_duration)."""
    candidate = _duration_candidate(seconds)
    if parse_duration(candidate) == seconds:
        return candidate
    return f"{_plain(Decimal(repr(seconds)))}s"  # fallback that always round-trips


def _duration_candidate(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    if seconds == int(seconds):
        whole = int(seconds)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
        return "".join(parts)
    if seconds < 1:
        millis = Decimal(repr(seconds)) * 1000
        return f"{_plain(millis)}ms"
    whole = int(seconds)
    head = _duration_candidate(float(whole - whole % 60)) if whole >= 60 else ""
    return f"{head}{_plain(Decimal(repr(seconds)) - (whole - whole % 60))}s"


def _plain(number: Decimal) -> str:
    """Decimal without exponent or trailing zeros: 1.50 → '1.5', 2E+1 → '20'."""
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- quantities (bytes) -----------------------------------------------------------------

_QUANTITY_WHAT = "a quantity like 1.5Mi, 10Gi, 100k or 2M"
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(rf"({_NUMBER})(?:(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)|[eE]([+-]?\d+))?")


def parse_quantity(value: object) -> int:
    """Kubernetes resource quantity → int bytes. Binary suffixes Ki Mi Gi Ti Pi Ei,
    decimal k M G T P E, exponents (`1.5e3`), bare numbers. A fractional byte count is
    rounded up, as resource.Quantity.Value() does."""
    _reject_bool(value, _QUANTITY_WHAT)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected {_QUANTITY_WHAT}, got {_shown(value)} (must be >= 0)")
        return _bounded_quantity(Decimal(value), value)
    if isinstance(value, float):
        _check_number(value, _QUANTITY_WHAT)
        return _bounded_quantity(Decimal(repr(value)), value)
    text = _as_text(value, _QUANTITY_WHAT)
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise ValueError(f"expected {_QUANTITY_WHAT}, got {_shown(value)}")
    number, suffix, exponent = match.groups()
    try:
        amount = Decimal(number)
        if suffix:
            amount *= _BINARY.get(suffix) or _DECIMAL[suffix]
        elif exponent:
            if abs(int(exponent)) > 100:  # 1e999999999 would be a billion-digit integer
                raise InvalidOperation
            amount = amount.scaleb(int(exponent))
    except (InvalidOperation, ValueError):
        raise ValueError(f"expected {_QUANTITY_WHAT}, got {_shown(value)} (too large)") from None
    return _bounded_quantity(amount, value)


def _bounded_quantity(amount: Decimal, value: object) -> int:
    if amount > MAX_QUANTITY:
        raise ValueError(f"expected {_QUANTITY_WHAT}, got {_shown(value)} (more than 8Ei)")
    return math.ceil(amount)


def format_quantity(nbytes: int) -> str:
    """Int bytes → the shortest of `1.5Mi`, `100k`, `1332` that parses back exactly
    (binary suffixes win ties)."""
    candidates = [str(nbytes)]
    for table in (_DECIMAL, _BINARY):
        for suffix, factor in table.items():
            scaled = Decimal(nbytes) / factor
            # at most 3 decimals keeps it readable; the parse check keeps it exact
            if scaled >= 1 and scaled == scaled.quantize(Decimal("0.001")):
                text = f"{_plain(scaled)}{suffix}"
                if parse_quantity(text) == nbytes:
                    candidates.append(text)
    return min(reversed(candidates), key=len)


# --- bandwidth --------------------------------------------------------------------------

_BANDWIDTH_WHAT = "a bandwidth like 10Gbps, 800Mbps or 1.25GBps"
_BANDWIDTH_PREFIX = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BANDWIDTH = re.compile(rf"({_NUMBER})\s*([kKMGT]?)(bps|Bps|bit/s|B/s)")


def parse_bandwidth(value: object) -> float:
    """`10Gbps`, `800Mbps`, `100Kbps` (bits/s) or `1.25GBps` (bytes/s) → float BYTES per
    second. Prefixes are decimal, as network speeds are. A bare number is bytes/s."""
    _reject_bool(value, _BANDWIDTH_WHAT)
    if isinstance(value, int | float):
        _check_number(value, _BANDWIDTH_WHAT)
        return float(value)
    text = _as_text(value, _BANDWIDTH_WHAT)
    if re.fullmatch(_NUMBER, text):
        return _finite_float(float(text), value, _BANDWIDTH_WHAT)
    match = _BANDWIDTH.fullmatch(text)
    if not match:
        raise ValueError(f"expected {_BANDWIDTH_WHAT}, got {_shown(value)}")
    number, prefix, unit = match.groups()
    amount = Decimal(number) * _BANDWIDTH_PREFIX[prefix]
    if unit in ("bps", "bit/s"):
        amount /= 8
    return _finite_float(float(amount), value, _BANDWIDTH_WHAT)


def format_bandwidth(bytes_per_second: float) -> str:
    """Float bytes/s → `10Gbps` (bits) when exact, else `…Bps`, else a bare number."""
    if bytes_per_second == 0:
        return "0bps"
    exact = Decimal(repr(bytes_per_second))
    for amount, unit in ((exact * 8, "bps"), (exact, "Bps")):
        for prefix in ("T", "G", "M", "k", ""):
            scaled = amount / _BANDWIDTH_PREFIX[prefix]
            if scaled >= 1 and scaled == scaled.quantize(Decimal("0.001")):
                text = f"{_plain(scaled)}{prefix}{unit}"
                if parse_bandwidth(text) == bytes_per_second:
                    return text
    return f"{_plain(Decimal(repr(bytes_per_second)))}Bps"


# --- rates ------------------------------------------------------------------------------

_RATE_WHAT = "a rate like 2000/s, 120/m or 5/h"
_RATE_PER = {"s": 1, "m": 60, "h": 3600}
_RATE = re.compile(rf"({_NUMBER})\s*/\s*(s|m|h)")


def parse_rate(value: object) -> float:
    """`2000/s`, `120/m`, `5/h` or a bare number (per second) → float per second."""
    _reject_bool(value, _RATE_WHAT)
    if isinstance(value, int | float):
        _check_number(value, _RATE_WHAT)
        return float(value)
    text = _as_text(value, _RATE_WHAT)
    if re.fullmatch(_NUMBER, text):
        return _finite_float(float(text), value, _RATE_WHAT)
    match = _RATE.fullmatch(text)
    if not match:
        raise ValueError(f"expected {_RATE_WHAT}, got {_shown(value)}")
    number, per = match.groups()
    divisor = _RATE_PER[per]
    return _finite_float(float(number) / divisor if divisor > 1 else float(number), value, _RATE_WHAT)


def format_rate(per_second: float) -> str:
    """Float per second → the shortest of `2000/s`, `120/m`, `5/h` that parses back exactly."""
    candidates = []
    for per, divisor in _RATE_PER.items():
        text = f"{_plain(Decimal(repr(round(per_second * divisor, 3))))}/{per}"
        if parse_rate(text) == per_second:
            candidates.append(text)
    if not candidates:
        return f"{_plain(Decimal(repr(per_second)))}/s"
    return min(candidates, key=len)


# --- IntOrPercent -----------------------------------------------------------------------

_PERCENT_WHAT = "an integer or a percentage like 25%"


@dataclass(frozen=True, slots=True)
class IntOrPercent:
    """Kubernetes IntOrString as used by maxSurge/maxUnavailable: an absolute count or a
    percentage of a total."""

    value: int
    percent: bool = False

    def scaled(self, total: int, round_up: bool) -> int:
        """Absolute value for `total` replicas. Kubernetes rounds maxSurge up and
        maxUnavailable down (intstr.GetScaledValueFromIntOrPercent)."""
        if not self.percent:
            return self.value
        product = self.value * total
        return -(-product // 100) if round_up else product // 100

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


def parse_int_or_percent(value: object) -> IntOrPercent:
    """`25%` or a non-negative int → IntOrPercent."""
    if isinstance(value, IntOrPercent):
        return value
    _reject_bool(value, _PERCENT_WHAT)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected {_PERCENT_WHAT}, got {_shown(value)} (must be >= 0)")
        return _bounded_int_or_percent(IntOrPercent(value), value)
    if isinstance(value, str):
        text = value.strip()
        match = re.fullmatch(r"(\d{1,20})%", text)
        if match:
            return _bounded_int_or_percent(IntOrPercent(int(match.group(1)), percent=True), value)
        if re.fullmatch(r"\d{1,20}", text):
            return _bounded_int_or_percent(IntOrPercent(int(text)), value)
    raise ValueError(f"expected {_PERCENT_WHAT}, got {_shown(value)}")


def _bounded_int_or_percent(result: IntOrPercent, value: object) -> IntOrPercent:
    if result.value > MAX_INT_OR_PERCENT:
        raise ValueError(f"expected {_PERCENT_WHAT}, got {_shown(value)} "
                         f"(at most {MAX_INT_OR_PERCENT:,}{'%' if result.percent else ''})")
    return result


def format_int_or_percent(value: IntOrPercent) -> int | str:
    return str(value) if value.percent else value.value
