"""pydantic's validation errors → the loader's one-line messages, worded for a scenario's
author: schema paths, "unknown field (did you mean …?)", and a value outside its field's
declared range as "must be from LOW to HIGH" in the field's own unit."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Callable
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, PlainSerializer, ValidationError
from pydantic.fields import FieldInfo

from .base import Loc as SchemaLoc
from .base import schema_models
from .errors import Problems
from .model import Scenario
from .units import format_bandwidth, format_duration, format_quantity, format_rate
from .yamlsource import Loc

_EXPONENT = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+")  # 1e9, 2.5E6: text to YAML 1.1 without a dot
Problem = tuple[SchemaLoc, str]  # hashable: problems are compared as a set


def problems_of(exc: ValidationError) -> list[Problem]:
    """Every error of a validation, as (location, message); Problems raised by cross-field
    checks become one entry per problem."""
    found: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        error = err.get("ctx", {}).get("error")
        if isinstance(error, Problems):
            found += [((*loc, *sub), message) for sub, message in error.items]
        else:
            found.append((loc, _message(err["type"], err["msg"], loc, err.get("input"))))
    return found


def _message(kind: str, text: str, loc: Loc, value: Any) -> str:
    if kind == "extra_forbidden":
        return "unknown field" + _suggestion(loc)
    if kind == "missing":
        return "missing required field"
    if kind in _RANGE_ERRORS:
        info = _field_at(loc)
        if info is not None:
            return range_message(info, value)
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    if text.startswith("Input should") and ", got" not in text:
        text += f", got {describe(value)}"
    if kind == "int_parsing" and isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):
        # PyYAML reads YAML 1.1, where a float needs a dot: 1e9 stays the string "1e9"
        text += " (YAML reads a number like 1e9 as text: write it out, e.g. 1000000000)"
    return text



def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _suggestion(loc: Loc) -> str:
    allowed = _allowed_keys(loc[:-1])
    key = str(loc[-1])
    by_lower = {name.lower(): name for name in allowed}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys the schema allows in the mapping at `loc`."""
    current = _type_at(loc)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _field_at(loc: Loc) -> FieldInfo | None:
    """The schema field at `loc` (the last part names it), or None."""
    if not loc:
        return None
    model = _type_at(loc[:-1])
    if isinstance(model, type) and issubclass(model, BaseModel):
        return _field_named(model, loc[-1])
    return None


def _type_at(loc: Loc) -> Any:
    """The schema type of the value at `loc` (Optional and Annotated unwrapped)."""
    current: Any = Scenario
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = _field_named(current, part)
            if info is None:
                return None
            current = info.annotation
        elif get_origin(current) in (tuple, list):
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
    return _unwrap(current)


def _field_named(model: type[BaseModel], part: str | int) -> FieldInfo | None:
    return next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)


# --- ranges -----------------------------------------------------------------------------

_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
_UNIT_FORMATS: dict[object, Callable[[Any], str]] = {
    f: f for f in (format_duration, format_rate, format_bandwidth, format_quantity)
}


def field_range(info: FieldInfo) -> str:
    """A field's declared range in words and in its own unit: "from 1 to 50000",
    "more than 0s and at most 168h"; "" when it declares none."""
    low: Any = None
    high: Any = None
    low_word, high_word = "at least", "at most"
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low, low_word = item.gt, "more than"
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high, high_word = item.lt, "less than"
    shown = _formatter(info)
    if low is not None and high is not None:
        if low_word == "at least" and high_word == "at most":
            return f"from {shown(low)} to {shown(high)}"
        return f"{low_word} {shown(low)} and {high_word} {shown(high)}"
    if low is not None:
        return f"{low_word} {shown(low)}"
    if high is not None:
        return f"{high_word} {shown(high)}"
    return ""


def range_message(info: FieldInfo, value: Any) -> str:
    return f"must be {field_range(info)}, got {_formatter(info)(value)}"


def _formatter(info: FieldInfo) -> Callable[[Any], str]:
    # A unit type's serializer is in the field's metadata, or inside its Optional[...].
    inner = [a for a in get_args(info.annotation) if get_origin(a) is Annotated]
    for item in [*info.metadata, *(m for a in inner for m in get_args(a)[1:])]:
        unit_format = _UNIT_FORMATS.get(item.func) if isinstance(item, PlainSerializer) else None
        if unit_format is not None:
            return lambda v: unit_format(v) if isinstance(v, int | float) else repr(v)
    return _plain


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value) if isinstance(value, int | float) else repr(value)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(tp) if a is not type(None)]
            if len(options) != 1:
                return tp
            tp = options[0]
        else:
            return tp


def _snake_names() -> dict[str, str]:
    """camelCase alias → snake_case name for every schema field (YAML may use either)."""
    names: dict[str, str] = {}
    for obj in schema_models():
        for name, info in obj.model_fields.items():
            if info.alias and info.alias != name:
                names[info.alias] = name
    return names


SNAKE_NAMES = _snake_names()


def schema_ranges() -> list[tuple[str, str]]:
    """(path, range in words) for every field that declares a range, in schema order;
    list items as `[]` (docs/scenario-schema.md lists them)."""
    rows: list[tuple[str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            path = prefix + (info.alias or name)
            if field_range(info):
                rows.append((path, field_range(info)))
            inner = _unwrap(info.annotation)
            if get_origin(inner) in (tuple, list):
                inner, path = _unwrap(get_args(inner)[0]), path + "[]"
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                walk(inner, path + ".")

    walk(Scenario, "")
    return rows
