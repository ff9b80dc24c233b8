"""`copies: N` on Services and workloads, and glob references in traffic: expansion of the
plain scenario data before validation, and the way back (written locations, compact dump).

Rule (docs/scenario-schema.md, "Copies"): copy i (i from 0) of an object written with
``copies: N`` is that object with ``-<i>`` appended to its name and to every *value* of a
workload's ``labels`` and ``selector`` and of a Service's ``selector`` (keys, Service labels
and annotations are unchanged). So copy i of a Service selects exactly copy i of a workload
that the Service as written selects. A traffic entry whose ``service`` is a glob (``*``,
``?``, ``[``) becomes one entry per matching Service, in Service order, each at the written
rate. Names are DNS labels, so a reference with a glob character is never a plain name.

Expansion works on plain data (dicts and lists, as read from YAML) and never raises: an
entry it cannot expand (``copies`` not a positive int, no string name, a glob matching
nothing) is left as written for the schema to report at its own location.
"""

from __future__ import annotations

import bisect
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_COPIES = 100_000
GLOB_CHARS = frozenset("*?[")
COPIED_FIELDS = ("services", "workloads")
EXPANDED_FIELDS = ("services", "workloads", "traffic")
# Per field: the mappings whose values get the copy suffix.
_SUFFIXED = {"services": ("selector",), "workloads": ("labels", "selector")}

Loc = tuple[str | int, ...]


def is_glob(ref: str) -> bool:
    return any(c in GLOB_CHARS for c in ref)


def matches(ref: str, name: str, key: str) -> bool:
    """Does a reference (name, namespace/name, or a glob of either) name this object?"""
    target = key if "/" in ref else name
    return fnmatch.fnmatchcase(target, ref) if is_glob(ref) else target == ref


@dataclass(frozen=True, slots=True)
class Group:
    """Written entry ``written`` of a list became items ``start .. start + count - 1``."""

    written: int
    start: int
    count: int
    copied: bool  # from `copies` (names and labels suffixed), else from a traffic glob
    pattern: str | None = None  # the traffic glob as written


@dataclass
class Expansion:
    """How the written lists map to the expanded ones (only lists that changed are kept)."""

    groups: dict[str, list[Group]] = field(default_factory=dict)
    _starts: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def group_of(self, list_field: str, index: int) -> Group | None:
        groups = self.groups.get(list_field)
        if not groups:
            return None
        starts = self._starts.get(list_field)
        if starts is None:
            starts = self._starts[list_field] = [g.start for g in groups]
        k = bisect.bisect_right(starts, index) - 1
        return groups[k] if k >= 0 else None

    def written_loc(self, loc: Loc) -> tuple[Loc, Group | None]:
        """The location as written, and the group when it lies inside an expanded entry."""
        if len(loc) >= 2 and loc[0] in self.groups and isinstance(loc[1], int):
            group = self.group_of(str(loc[0]), loc[1])
            if group is not None:
                return (loc[0], group.written, *loc[2:]), (group if group.count > 1 or group.pattern else None)
        return loc, None

    def written_index(self, list_field: str, index: int) -> int:
        group = self.group_of(list_field, index)
        return index if group is None else group.written

    def consistent(self, list_field: str, items: Sequence[Any]) -> bool:
        """Do these (validated) items still look like the expansion recorded here?"""
        groups = self.groups.get(list_field)
        if not groups or groups[-1].start + groups[-1].count != len(items):
            return False
        for g in groups:
            if g.copied:
                base = _unsuffix(items[g.start].name)
                if items[g.start + g.count - 1].name != f"{base}-{g.count - 1}":
                    return False
        return True

    def compact(self, list_field: str, firsts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The written form from one dumped item per group (its first): copies are folded
        back into copy 0 with `copies: N` (suffix `-0` removed), traffic globs restored."""
        out: list[dict[str, Any]] = []
        for g, first in zip(self.groups[list_field], firsts, strict=True):
            if g.copied:
                out.append(_uncopy(list_field, first, g.count))
            elif g.pattern is not None:
                out.append({**first, "service": g.pattern})
            else:
                out.append(first)
        return out


def valid_copies(value: Any) -> int | None:
    """`copies` as the expander accepts it (the schema reports anything else)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_COPIES:
        return value
    return None


def expand(data: Any) -> tuple[Any, Expansion]:
    """Expand `copies` and traffic globs in scenario data (not mutated; unchanged parts shared)."""
    expansion = Expansion()
    if not isinstance(data, dict):
        return data, expansion
    out = dict(data)
    for list_field in COPIED_FIELDS:
        items = data.get(list_field)
        if isinstance(items, (list, tuple)) and any(_copies_of(i) != 1 for i in items):
            out[list_field], expansion.groups[list_field] = _expand_copies(list_field, items)
    traffic = data.get("traffic")
    if isinstance(traffic, (list, tuple)) and any(_glob_ref(t) for t in traffic):
        services = out.get("services")
        out["traffic"], expansion.groups["traffic"] = _expand_traffic(list(traffic), services if isinstance(services, (list, tuple)) else [])
    return out, expansion


def _copies_of(item: Any) -> Any:
    return item.get("copies", 1) if isinstance(item, dict) else getattr(item, "copies", 1)


def _expand_copies(list_field: str, items: Sequence[Any]) -> tuple[list[Any], list[Group]]:
    expanded: list[Any] = []
    groups: list[Group] = []
    for written, item in enumerate(items):
        if hasattr(item, "model_dump") and getattr(item, "copies", 1) != 1:
            item = item.model_dump(mode="json", by_alias=True)  # a model built in Python
        count = valid_copies(item.get("copies", 1)) if isinstance(item, dict) else None
        name = item.get("name") if isinstance(item, dict) else None
        if count is None or count == 1 or not isinstance(name, str):
            groups.append(Group(written, len(expanded), 1, copied=False))
            expanded.append(item)
            continue
        groups.append(Group(written, len(expanded), count, copied=True))
        template = {k: v for k, v in item.items() if k != "copies"}
        suffixed = [k for k in _SUFFIXED[list_field] if isinstance(template.get(k), dict)]
        for i in range(count):
            copy = dict(template)
            copy["name"] = f"{name}-{i}"
            for key in suffixed:
                copy[key] = {k: f"{v}-{i}" if isinstance(v, str) else v for k, v in template[key].items()}
            expanded.append(copy)
    return expanded, groups


def _glob_ref(item: Any) -> str | None:
    ref = item.get("service") if isinstance(item, dict) else getattr(item, "service", None)
    return ref if isinstance(ref, str) and is_glob(ref) else None


def _expand_traffic(traffic: list[Any], services: Sequence[Any]) -> tuple[list[Any], list[Group]]:
    keys = []
    for s in services:
        if hasattr(s, "key"):  # a ServiceSpec built in Python
            keys.append((s.name, s.key))
        elif isinstance(s, dict) and isinstance(s.get("name"), str):
            keys.append((s["name"], f"{s.get('namespace', 'default')}/{s['name']}"))
    expanded: list[Any] = []
    groups: list[Group] = []
    for written, item in enumerate(traffic):
        pattern = _glob_ref(item)
        found = [key if "/" in pattern else name for name, key in keys if matches(pattern, name, key)] if pattern else []
        if not found:
            groups.append(Group(written, len(expanded), 1, copied=False))
            expanded.append(item)
            continue
        groups.append(Group(written, len(expanded), len(found), copied=False, pattern=pattern))
        if hasattr(item, "model_dump"):  # a Traffic built in Python
            item = item.model_dump(mode="json", by_alias=True)
        expanded.extend({**item, "service": ref} for ref in found)
    return expanded, groups


def _uncopy(list_field: str, first: dict[str, Any], count: int) -> dict[str, Any]:
    """Dumped copy 0 → the entry as written with `copies: count` (suffix `-0` removed)."""
    out = dict(first)
    out["name"] = _unsuffix(first["name"])
    for key in _SUFFIXED[list_field]:
        if isinstance(first.get(key), dict):
            out[key] = {k: _unsuffix(v) for k, v in first[key].items()}
    out["copies"] = count
    return out


def _unsuffix(value: str) -> str:
    return value[:-2] if value.endswith("-0") else value
