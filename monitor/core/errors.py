"""One root exception for everything the monitor raises on purpose.

Callers catch ``MonitorError`` at the edge (the CLI turns it into a one-line message and
exit code 2); subclasses carry the structured fields a caller needs to decide, and build
their message from them so that every message names what was wrong and where.
"""

from __future__ import annotations

from pathlib import Path

# Settings whose values never appear in a message (logs, terminals, CI output).
SECRET_KEYS = frozenset({"password", "token"})


class MonitorError(Exception):
    """Root of every error the monitor raises deliberately."""


class ConfigError(MonitorError):
    """A configuration key has a bad value; names the key, the value and what was expected."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        # A secret's value never reaches a message (logs, terminals, CI output).
        shown = "***" if key.rsplit(".", 1)[-1] in SECRET_KEYS else repr(value)
        super().__init__(f"config {key} = {shown}: {expected}")


class RecordingError(MonitorError):
    """A recording file cannot be read; names the file and the problem in one line."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class SampleBlockError(MonitorError):
    """A block of samples is inconsistent (shape, rate, modality)."""

    def __init__(self, sensor: str, problem: str) -> None:
        self.sensor = sensor
        self.problem = problem
        super().__init__(f"sensor {sensor!r}: {problem}")


class DecodeError(MonitorError):
    """A payload could not be decoded into a SampleBlock; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str, sensor: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.sensor = sensor
        where = f"sensor {sensor!r}: " if sensor else ""
        super().__init__(f"{where}{reason}: {detail}")


class EventFormatError(MonitorError):
    """Event JSON that does not match the contract."""


class SettingsError(MonitorError):
    """Signal-processing settings that cannot work for a stream (e.g. a band above Nyquist)."""

    def __init__(self, stream: str, problem: str) -> None:
        self.stream = stream
        self.problem = problem
        super().__init__(f"{stream}: {problem}")


class BleDeviceError(MonitorError):
    """A BLE device refused or failed a step of its start sequence, or cannot be reached.

    ``step`` names what was attempted (e.g. ``start ACC``), ``reason`` the device's answer
    by name (e.g. ``ERROR_INVALID_SAMPLE_RATE``) or the transport's complaint.
    """

    def __init__(self, device: str, step: str, reason: str) -> None:
        self.device = device
        self.step = step
        self.reason = reason
        super().__init__(f"BLE device {device!r}: {step}: {reason}")
