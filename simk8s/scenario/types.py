"""Annotated field types for the scenario models: YAML strings or numbers in, seconds /
bytes / bytes-per-second / per-second out; human units back out in JSON-mode dumps."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)
from pydantic.types import AllowInfNan

from .units import (
    IntOrPercent,
    format_bandwidth,
    format_duration,
    format_int_or_percent,
    format_quantity,
    format_rate,
    parse_bandwidth,
    parse_duration,
    parse_int_or_percent,
    parse_quantity,
    parse_rate,
)

_STRING_OR_NUMBER: dict[str, Any] = {"type": ["string", "number"]}

# Every numeric field declares its range where it is defined (Field ge/gt/le/lt); the
# loader words a value outside it as "must be from LOW to HIGH". The ranges keep runs
# finite and within what the simulation can hold; docs/scenario-schema.md lists them.
DAY = 86400.0
WEEK = 7 * DAY


def _not_bool(what: str) -> Any:
    def check(value: object) -> object:
        # YAML 1.1 reads yes/no/on/off/true as bools, and bool is an int in Python:
        # `nodes: true` must not mean one node.
        if isinstance(value, bool):
            raise ValueError(f"expected {what}, got the boolean {str(value).lower()} "
                             "(YAML reads true, yes and on as booleans)")
        return value

    return BeforeValidator(check)


Count = Annotated[int, _not_bool("a whole number")]
Number = Annotated[float, _not_bool("a number"), AllowInfNan(False)]

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, when_used="json"),
    WithJsonSchema({**_STRING_OR_NUMBER, "description": "duration: 500ms, 30s, 2m, 1h30m"}),
]


def _parse_duration_or_never(value: object) -> float:
    if isinstance(value, str) and value.strip() == "never":
        return math.inf
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"expected a duration like 30s or 1h, or never; got {value!r}") from None


def _format_duration_or_never(seconds: float) -> str:
    return "never" if math.isinf(seconds) else format_duration(seconds)


# A period that may be switched off: "never" → infinity (e.g. no periodic full sync).
DurationOrNever = Annotated[
    float,
    BeforeValidator(_parse_duration_or_never),
    PlainSerializer(_format_duration_or_never, when_used="json"),
    WithJsonSchema({**_STRING_OR_NUMBER, "description": "duration (30s, 1h) or never"}),
]
Bytes = Annotated[
    int,
    BeforeValidator(parse_quantity),
    PlainSerializer(format_quantity, when_used="json"),
    WithJsonSchema({**_STRING_OR_NUMBER, "description": "quantity: 1.5Mi, 10Gi, 100k"}),
]
Bandwidth = Annotated[
    float,
    BeforeValidator(parse_bandwidth),
    PlainSerializer(format_bandwidth, when_used="json"),
    WithJsonSchema({**_STRING_OR_NUMBER, "description": "bandwidth: 10Gbps, 1.25GBps"}),
]
Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    PlainSerializer(format_rate, when_used="json"),
    WithJsonSchema({**_STRING_OR_NUMBER, "description": "rate: 2000/s, 120/m, 5/h"}),
]
Percent = Annotated[
    IntOrPercent,
    PlainValidator(parse_int_or_percent),
    PlainSerializer(format_int_or_percent, when_used="json"),
    WithJsonSchema({"type": ["string", "integer"], "description": "25% or an absolute count"}),
]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _check_name(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"expected a lowercase name like 'backend' (a-z, 0-9 and '-', at most 63), got {value!r}"
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]


def _parse_ip(value: object) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ValueError(f"expected an IP address like 10.0.0.1, got {value!r}") from None


IPAddress = Annotated[str, BeforeValidator(_parse_ip)]


def _parse_cluster_ip(value: object) -> str | None:
    if value is None or value == "None":  # "None" → headless
        return value  # type: ignore[return-value]
    try:
        return _parse_ip(value)
    except ValueError:
        raise ValueError(f"expected an IP address or None (headless), got {value!r}") from None


ClusterIP = Annotated[str | None, PlainValidator(_parse_cluster_ip), PlainSerializer(lambda v: v)]


def _parse_cidr(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f"expected a CIDR like 10.64.0.0/10, got {value!r}")
    try:
        return ipaddress.ip_network(value.strip())
    except ValueError as exc:
        hint = " (host bits set)" if "host bits" in str(exc) else ""
        raise ValueError(f"expected a CIDR like 10.64.0.0/10, got {value!r}{hint}") from None


CIDR = Annotated[
    ipaddress.IPv4Network | ipaddress.IPv6Network,
    PlainValidator(_parse_cidr),
    PlainSerializer(str, when_used="json"),
    WithJsonSchema({"type": "string", "description": "CIDR: 10.64.0.0/10"}),
]


def _parse_port_ref(value: object) -> int | str | None:
    """Service targetPort: a port number or a container port name (IntOrString)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 65535:
            raise ValueError(f"expected a port number 1-65535 or a port name, got {value}")
        return value
    if isinstance(value, str) and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", value) and len(value) <= 15:
        return value
    raise ValueError(f"expected a port number 1-65535 or a port name like 'http', got {value!r}")


PortRef = Annotated[
    int | str | None,
    PlainValidator(_parse_port_ref),
    PlainSerializer(lambda v: v),
    WithJsonSchema({"type": ["integer", "string", "null"]}),
]


def _parse_node_ref(value: object) -> int | str:
    """A node name, or a count of nodes (lowest index first)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"expected a node name or a node count >= 1, got {value}")
        return value
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"expected a node name or a node count, got {value!r}")


NodeRef = Annotated[
    int | str,
    PlainValidator(_parse_node_ref),
    PlainSerializer(lambda v: v),
    WithJsonSchema({"type": ["integer", "string"]}),
]
