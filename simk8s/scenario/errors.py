"""The one exception a scenario problem raises: every problem found, one line each."""

from __future__ import annotations

from collections.abc import Iterable


class ScenarioError(Exception):
    """A scenario (or one of its manifests, or a --set override) is invalid.

    ``lines`` holds every problem found, each as ``FILE:LINE: dotted.path: message``
    (``FILE:LINE: message`` when no path applies, ``FILE: message`` when no line does).
    The CLI prints each line and exits with status 2.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines: list[str] = list(lines)
        super().__init__("\n".join(self.lines))


def error_line(file: str, line: int | None, path: str, message: str) -> str:
    """Format one problem as ``FILE:LINE: path: message``, on one line: characters that
    are not printable (a newline inside a YAML key) are shown escaped."""
    where = file if line is None else f"{file}:{line}"
    text = f"{where}: {path}: {message}" if path else f"{where}: {message}"
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Problems(ValueError):
    """Raised by cross-field validators: several problems, each at a location relative to
    the model being validated. The loader expands it into one error line per problem."""

    def __init__(self, items: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.items = items
        super().__init__("; ".join(
            f"{'.'.join(map(str, loc))}: {msg}" if loc else msg for loc, msg in items
        ))
