"""Dotted-path overrides (`--set cluster.kubeProxy.mode=ipvs`, `compare[].set`) on plain data.

Paths are camelCase schema paths; list items are addressed by index (`workloads.0.replicas`).
Missing intermediate mappings are created, so an unknown key ends up in the data and the
schema reports it as an unknown field at exactly that path.
"""

from __future__ import annotations

from typing import Any

from .yamlsource import parse_value


def split_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def loc_of(parts: tuple[str, ...]) -> tuple[str | int, ...]:
    """The pydantic-style location of a path: digits become list indices."""
    return tuple(int(p) if p.isdigit() else p for p in parts)


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """`dotted.path=value` → (path parts, value parsed as a YAML scalar or flow collection).
    Raises ValueError with a one-line reason."""
    path, sep, value_text = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ValueError(f"expected PATH=VALUE, got {text!r}")
    parts = split_path(path)
    if any(not part for part in parts):
        raise ValueError(f"empty element in path {path!r}")
    try:
        value = parse_value(value_text) if value_text.strip() else None
    except ValueError as exc:
        raise ValueError(f"value {_shown(value_text)}: {exc}") from None
    return parts, value


def _shown(text: str, limit: int = 60) -> str:
    """A value as quoted in a message: repr, shortened."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} characters)"


def apply_setting(data: dict[str, Any], parts: tuple[str, ...], value: Any) -> str | None:
    """Set `value` at `parts` inside `data` (mutated). Returns an error message, or None."""
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        here = ".".join(parts[:depth]) or "the top level"
        if isinstance(node, list):
            if not part.isdigit():
                return f"{here} is a list: address its items by index, got {part!r}"
            index = int(part)
            if index >= len(node):
                return f"{here} has no item {index} (it has {len(node)})"
            key: int | str = index
        elif isinstance(node, dict):
            key = part
        else:
            return f"{here} is a single value, not a mapping or a list"
        if last:
            node[key] = value
            return None
        child = node.get(key) if isinstance(node, dict) else node[key]
        if child is None:
            if parts[depth + 1].isdigit():  # a list index into nothing
                return f"{'.'.join(parts[:depth + 1])} has no item {parts[depth + 1]} (it is empty)"
            child = node[key] = {}
        node = child
    return None
