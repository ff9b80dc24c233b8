"""YAML text → plain data plus the node tree, so errors can name the line they are on.

PyYAML's plain data has lost its line numbers; the composed node tree keeps them. We
compose once, check for duplicate keys (which `safe_load` would silently merge), then
construct the data from the same nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import error_line
from .yamlbounds import BoundedLoader, LimitError, check_text

Loc = Sequence[str | int]


@dataclass(frozen=True)
class YamlDocument:
    data: Any
    node: yaml.Node | None


class YamlParseError(Exception):
    """The text is not (well-formed) YAML; ``lines`` are ready-made error lines."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


def parse_documents(text: str, file: str) -> list[YamlDocument]:
    """All documents of a (multi-document) YAML text, each with its node tree, within the
    limits of yamlbounds (size, characters, nesting, aliases, number length)."""
    refused = check_text(text, "file")
    if refused is not None:
        raise YamlParseError([_error_line(file, refused)])
    loader = BoundedLoader(text)
    documents: list[YamlDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # check_node() said there is one; only for the type checker
                break
            duplicates = _duplicate_keys(node, file)
            if duplicates:
                raise YamlParseError(duplicates)
            documents.append(YamlDocument(loader.construct_document(node), node))
    except yaml.MarkedYAMLError as exc:
        raise YamlParseError([_error_line(file, exc)]) from None
    except (yaml.YAMLError, RecursionError) as exc:  # no position known
        raise YamlParseError([error_line(file, None, "", f"not valid YAML: {_one_line(exc)}")]) from None
    finally:
        loader.dispose()
    return documents


def parse_value(text: str) -> Any:
    """One YAML value (a `--set` value), within the same limits. Raises ValueError with a
    one-line reason."""
    refused = check_text(text, "value")
    if refused is not None:
        raise ValueError(_problem(refused))
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        raise ValueError(_problem(exc)) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ValueError(f"not valid YAML: {_one_line(exc)}") from None
    finally:
        loader.dispose()


def _problem(exc: yaml.MarkedYAMLError) -> str:
    text = exc.problem or exc.context or "malformed YAML"
    return text if isinstance(exc, LimitError) else f"not valid YAML: {text}"


def _error_line(file: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    return error_line(file, mark.line + 1 if mark else None, "", _problem(exc))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _duplicate_keys(root: yaml.Node, file: str) -> list[str]:
    found: list[tuple[int, str]] = []
    stack: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())]
    seen_nodes: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:  # aliases share nodes
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is None or key == "<<":  # merge keys may repeat
                    continue
                line = key_node.start_mark.line + 1
                if key in first_line:
                    message = f"duplicate key (first defined at line {first_line[key]})"
                    found.append((line, error_line(file, line, dotted((*path, key)), message)))
                else:
                    first_line[key] = line
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return [text for _, text in sorted(found)]


def dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def locate(root: yaml.Node | None, loc: Loc, aliases: dict[str, str] | None = None) -> int | None:
    """1-based line of the node at `loc` — the key's line for mapping entries — or of the
    nearest ancestor that exists. `aliases` maps snake_case names to the camelCase
    keys a user may have written instead."""
    if root is None:
        return None
    node: yaml.Node = root
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value in _spellings(part, aliases):
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _spellings(part: str | int, aliases: dict[str, str] | None) -> tuple[str, ...]:
    text = str(part)
    if aliases and text in aliases:
        return (text, aliases[text])
    return (text,)


def node_at(root: yaml.Node | None, loc: Loc) -> yaml.Node | None:
    """The node exactly at `loc`, or None."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value
                         if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return None
    return node
