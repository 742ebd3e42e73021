"""Errors the simulators raise on purpose.

Both derive from ``MonitorError`` (so one ``except`` at a CLI edge catches everything) and
from ``ValueError`` (so plain Python callers that validate input the usual way still work).
"""

from __future__ import annotations

from pathlib import Path

from monitor.core.errors import MonitorError


class ScenarioError(MonitorError, ValueError):
    """A generation parameter is out of range; names the parameter, its value and the rule."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        super().__init__(f"{name} = {value!r}: {expected}")


def require(ok: bool, name: str, value: object, expected: str) -> None:
    """Raise ``ScenarioError(name, value, expected)`` unless ``ok``: one line per rule."""
    if not ok:
        raise ScenarioError(name, value, expected)


class UnknownFormatError(MonitorError, ValueError):
    """A file name whose extension no writer handles; names the extension and the choices."""

    def __init__(self, path: str | Path, extension: str, known: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.extension = extension
        self.known = known
        shown = extension or "(none)"
        super().__init__(
            f"{self.path}: unknown file extension {shown!r}; use one of {', '.join(known)}"
        )


class TruthFormatError(MonitorError, ValueError):
    """A truth JSON document that does not follow docs/truth-format.md."""
