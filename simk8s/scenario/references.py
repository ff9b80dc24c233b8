"""References between scenario objects: by name, namespace/name or glob; duplicates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from .base import Loc
from .cluster import Watcher
from .copies import Expansion, is_glob, matches
from .events import Variant
from .services import ServiceSpec
from .workloads import Workload

_Keyed = TypeVar("_Keyed", ServiceSpec, Workload)
_Named = TypeVar("_Named", Watcher, Variant)


def find(ref: str, items: Iterable[_Keyed]) -> list[_Keyed]:
    """Objects named `ref` ("name" in any namespace, or "namespace/name", or a glob of either)."""
    if is_glob(ref):
        return [item for item in items if matches(ref, item.name, item.key)]
    if "/" in ref:
        return [item for item in items if item.key == ref]
    return [item for item in items if item.name == ref]


_KNOWN_SHOWN = 20  # names listed in a "no such object" message


def find_problem(ref: str, items: tuple[_Keyed, ...], kind: str) -> str | None:
    found = find(ref, items)
    if not found:
        names = [item.name for item in items[:_KNOWN_SHOWN]]
        if len(items) > _KNOWN_SHOWN:
            names.append(f"... {len(items)} in all")
        known = ", ".join(names) or "none defined"
        if is_glob(ref):
            return f"no {kind} matches {ref!r} (known: {known})"
        return f"no {kind} named {ref!r} (known: {known})"
    if len(found) > 1 and not is_glob(ref):
        return f"{ref!r} names several {kind}s; write namespace/name"
    return None


def duplicates(field: str, kind: str, items: tuple[_Keyed, ...], expansion: Expansion) -> list[tuple[Loc, str]]:
    first: dict[str, int] = {}
    problems: list[tuple[Loc, str]] = []
    for i, item in enumerate(items):
        if item.key in first:
            other = expansion.written_index(field, first[item.key])  # the entry as written
            problems.append(((field, i, "name"), f"duplicate {kind} {item.key} (also {field}.{other})"))
        first.setdefault(item.key, i)
    return problems


def duplicate_names(field: str, items: tuple[_Named, ...]) -> list[tuple[Loc, str]]:
    first: dict[str, int] = {}
    problems: list[tuple[Loc, str]] = []
    for i, item in enumerate(items):
        if item.name in first:
            problems.append(((field, i, "name"), f"duplicate name {item.name!r} (also {field}.{first[item.name]})"))
        first.setdefault(item.name, i)
    return problems
