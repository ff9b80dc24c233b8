"""How the two wire encodings count bytes: protobuf (proto2, as Kubernetes' generated
marshallers write it) and compact JSON (as Go's ``encoding/json`` writes it).

Protobuf: every field is a tag (1 byte for field numbers below 16) followed by a varint,
or by a varint length and that many bytes (strings, bytes, embedded messages); see
https://protobuf.dev/programming-guides/encoding/. JSON: Go escapes ``<``, ``>`` and ``&``
as ``\\u003c`` … (HTML-safe by default); see https://pkg.go.dev/encoding/json#Marshal.

Short names, because the per-kind arithmetic reads like the encoding: ``pstr`` a string
field, ``pmsg`` a length-delimited field around a body, ``jstr`` a JSON string literal,
``jm`` a JSON object member, ``jobj``/``jarr_sum`` an object/array around members.
"""

from __future__ import annotations

import json
import re
from typing import Any


def varint_len(n: int) -> int:
    """Bytes of a protobuf varint; negative int32/int64 take 10 bytes."""
    if n < 0:
        return 10
    if n < 0x80:
        return 1
    return (n.bit_length() + 6) // 7


def blen(s: str) -> int:
    """UTF-8 bytes of a string (both encodings carry strings as UTF-8)."""
    return len(s) if s.isascii() else len(s.encode())


def pstr(s: str) -> int:
    """Length-delimited string field with a 1-byte tag (field number < 16)."""
    n = blen(s)
    return 1 + varint_len(n) + n


def pmsg(body: int, tag_len: int = 1) -> int:
    """Embedded message / bytes field framing: tag + length varint + body."""
    return tag_len + varint_len(body) + body


# Printable ASCII that Go's encoder writes as is: everything from space to ~ except " \ < > &.
JSON_PLAIN = re.compile(r"[ !#-%'-;=?-\[\]-~]*")


def jstr(s: str) -> int:
    """Bytes of a JSON string literal as Go's encoder writes it (HTML-escaping on)."""
    if JSON_PLAIN.fullmatch(s) is not None:
        return len(s) + 2
    out = json.dumps(s, ensure_ascii=False)
    extra = 5 * sum(s.count(c) for c in "<>&")  # Go writes \u003c, \u003e, \u0026
    return len(out.encode()) + extra


def jm(key: str, value_size: int) -> int:
    """One object member: "key":value."""
    return len(key) + 3 + value_size


def jobj(members: list[int]) -> int:
    """An object of members (sizes): braces and the commas between them."""
    return 2 + sum(members) + max(len(members) - 1, 0)


def jarr_sum(total: int, count: int) -> int:
    """An array of ``count`` values whose sizes add up to ``total``."""
    return 2 + total + max(count - 1, 0)


def jint(n: int) -> int:
    return len(str(n))


def jbool(b: bool) -> int:
    return 4 if b else 5  # true / false


def dumps(obj: Any) -> str:
    """Compact JSON text in insertion order (the caller orders keys as Go would)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def go_len(text: str) -> int:
    """Bytes of Python's compact JSON text as Go would write it (HTML-escaped <, >, &)."""
    n = len(text) if text.isascii() else len(text.encode())
    return n + 5 * (text.count("<") + text.count(">") + text.count("&"))

