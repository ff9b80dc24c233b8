"""Limits on YAML input, checked before or while it is parsed, so that no file or `--set`
value can make the loader recurse too deep, expand without end, or hang.

- size: at most MAX_TEXT_CHARS characters of text;
- characters: what YAML allows (tab, line breaks, printable Unicode), found before PyYAML's
  reader refuses them without a line number;
- nesting: at most MAX_DEPTH levels of collections (PyYAML's composer recurses per level);
- aliases: `*name` may be used, but the values they stand for may not add up to more than
  MAX_ALIAS_VALUES (a "billion laughs" bomb expands exponentially once the data is walked);
- numbers: a plain integer or float of at most MAX_NUMBER_CHARS characters (Python refuses
  to convert an integer of more than 4300 digits; such a value is never a real setting).

Every refusal is a `LimitError` with the line it is on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.error import Mark

MAX_TEXT_CHARS = 8 * 2**20
MAX_TEXT_BYTES = 4 * MAX_TEXT_CHARS  # UTF-8: at most 4 bytes a character
MAX_DEPTH = 100
MAX_ALIAS_VALUES = 50_000
MAX_NUMBER_CHARS = 50

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class LimitError(yaml.MarkedYAMLError):
    """The input is YAML, but beyond what a scenario may contain."""

    def __init__(self, problem: str, mark: Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def check_text(text: str, what: str) -> LimitError | None:
    """Size and characters; `what` names the input in messages ("file", "value")."""
    if len(text) > MAX_TEXT_CHARS:
        return LimitError(f"{len(text) / 2**20:.1f} Mi characters of text: a {what} is limited to "
                          f"{MAX_TEXT_CHARS // 2**20} Mi", None)
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad is None:
        return None
    line = text.count("\n", 0, bad.start())
    column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1)
    mark = Mark(what, bad.start(), line, column, None, 0)
    return LimitError(f"control character U+{ord(bad.group()):04X} at column {column + 1} "
                      "(YAML allows tab, line breaks and printable characters only)", mark)


def read_text(path: Path, what: str = "file") -> str:
    """A file's text, read no further than the size limit allows (a device such as
    /dev/zero, or a huge file, is never read to its end), newlines as in text mode.
    Raises OSError, UnicodeDecodeError, or LimitError when it is too large."""
    with path.open("rb") as stream:
        data = stream.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise LimitError(f"more than {MAX_TEXT_BYTES // 2**20} MiB: a {what} is limited to "
                         f"{MAX_TEXT_CHARS // 2**20} Mi characters", None)
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with the limits above, and every failure of a value's
    constructor (`!!int abc`, `!!timestamp x`) reported as a YAML error on its line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._alias_values = 0
        self._sizes: dict[int, int] = {}  # id(node) → values it stands for, aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            self._alias_values += self._sizes.get(id(node), 1)
            if self._alias_values > MAX_ALIAS_VALUES:
                raise LimitError(f"aliases here stand for more than {MAX_ALIAS_VALUES:,} values "
                                 "(an alias bomb?); write the values out instead",
                                 _pure(event.start_mark))
            return node
        if isinstance(event, yaml.CollectionStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise LimitError(f"nested more than {MAX_DEPTH} levels deep", _pure(event.start_mark))
        node = super().compose_node(parent, index)
        if isinstance(event, yaml.CollectionStartEvent):
            self._depth -= 1
        if node is None:
            return None
        self._sizes[id(node)] = self._size(node)
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _FLOAT_TAG) \
                and len(node.value) > MAX_NUMBER_CHARS:
            raise LimitError(f"a number of {len(node.value)} characters: numbers are limited to "
                             f"{MAX_NUMBER_CHARS}", node.start_mark)
        return node

    def _size(self, node: yaml.Node) -> int:
        if isinstance(node, yaml.SequenceNode):
            return 1 + sum(self._sizes.get(id(item), 1) for item in node.value)
        if isinstance(node, yaml.MappingNode):
            return 1 + sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
        return 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError, KeyError, IndexError):
            kind = node.tag.rsplit(":", 1)[-1]
            text = node.value if isinstance(node, yaml.ScalarNode) else ""
            shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "..."
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown} as a value of type {kind}", node.start_mark) from None


def _pure(mark: object) -> Mark | None:
    """The position of an event (always a pure-Python Mark: BoundedLoader is pure Python)."""
    return mark if isinstance(mark, Mark) else None
