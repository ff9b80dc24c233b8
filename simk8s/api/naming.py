"""Timestamps and generated names as the apiserver renders them.

Simulation times are float seconds since the start of the run; the run starts at a fixed
epoch, 2026-01-01T00:00:00Z, so rendered timestamps (annotations, managedFields) have
realistic lengths and are identical across machines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH_UNIX_SECONDS = int(EPOCH.timestamp())  # 1767225600

# Alphabet of apimachinery's utilrand.String (used by generateName): no vowels, no
# look-alike characters.
GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATE_NAME_SUFFIX_LEN = 5
MAX_NAME_LEN = 253  # DNS-1123 subdomain


def _nanos(t: float) -> int:
    return round(t * 1_000_000_000)


@lru_cache(maxsize=1 << 14)
def _whole_seconds(secs: int) -> str:
    """"2026-01-01T00:00:05" for a whole second of the run (writes share seconds: cached)."""
    return (EPOCH + timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S")


def rfc3339nano(t: float) -> str:
    """Go's time.RFC3339Nano in UTC: fraction with trailing zeros trimmed ("…05.1Z")."""
    ns = _nanos(t)
    secs, frac = divmod(ns, 1_000_000_000)
    base = _whole_seconds(secs)
    if frac == 0:
        return base + "Z"
    return f"{base}.{frac:09d}".rstrip("0") + "Z"


def rfc3339(t: float) -> str:
    """metav1.Time JSON form: whole seconds, UTC ("2026-01-01T00:00:05Z")."""
    return _whole_seconds(_nanos(t) // 1_000_000_000) + "Z"


def metav1_time(t: float) -> float:
    """A time as a ``metav1.Time`` field carries it through the API: whole seconds (its JSON
    form is RFC 3339 without a fraction; its protobuf form sends only seconds and reads
    nanos as 0: ``staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/time.go``,
    ``time_proto.go``). The run's epoch is a whole second, so this is the floor."""
    return float(math.floor(t))


def parse_rfc3339(text: str) -> float:
    """Inverse of rfc3339nano / rfc3339 (seconds since the simulation epoch)."""
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (stamp - EPOCH).total_seconds()


def unix_seconds(t: float) -> int:
    return EPOCH_UNIX_SECONDS + _nanos(t) // 1_000_000_000


def slice_name_prefix(service_name: str) -> str:
    """``getEndpointSlicePrefix`` (``staging/src/k8s.io/endpointslice/utils.go``): "<svc>-",
    or "<svc>" when the dash would make it invalid."""
    prefix = service_name + "-"
    return prefix if len(prefix) <= MAX_NAME_LEN else service_name


class SequentialNames:
    """generateName stand-in that needs no randomness: suffixes bbbbb, bbbbc, …

    Deterministic and collision-free; the lead may use RandomNames for realism.
    """

    def __init__(self) -> None:
        self._next = 0

    def __call__(self, prefix: str) -> str:
        n = self._next
        self._next += 1
        chars = []
        base = len(GENERATE_NAME_ALPHABET)
        for _ in range(GENERATE_NAME_SUFFIX_LEN):
            n, r = divmod(n, base)
            chars.append(GENERATE_NAME_ALPHABET[r])
        return prefix[: MAX_NAME_LEN - GENERATE_NAME_SUFFIX_LEN] + "".join(reversed(chars))


class RandomNames:
    """generateName as the apiserver does it: 5 random characters from the alphabet.

    Simplification: a collision is re-drawn here; the real apiserver fails the create
    with AlreadyExists and the controller retries.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def __call__(self, prefix: str) -> str:
        while True:
            idx = self._rng.integers(0, len(GENERATE_NAME_ALPHABET), GENERATE_NAME_SUFFIX_LEN)
            name = prefix[: MAX_NAME_LEN - GENERATE_NAME_SUFFIX_LEN] + "".join(
                GENERATE_NAME_ALPHABET[i] for i in idx
            )
            if name not in self._used:
                self._used.add(name)
                return name


NameFor = Callable[[str], str]
