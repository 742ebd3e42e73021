"""Settings of the live sources that talk to devices: BLE sensors, Lab Streaming Layer
streams and BrainFlow boards.

Why apart from ``config.py``: each source kind brings its own tables and checks, and the
BLE devices' checks need the driver registry (the one declared exception to the layer
rules), which the rest of the settings never should.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.core.errors import ConfigError
from monitor.core.tables import positive

_SENSOR_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def _unique_sensors(sensors: list[str], key: str, what: str) -> None:
    """Each device's sensor id is valid (it goes into MQTT topics) and its own."""
    seen: set[str] = set()
    for i, sensor in enumerate(sensors):
        if not _SENSOR_ID.match(sensor):
            raise ConfigError(f"{key}[{i}].sensor", sensor, "1-64 of A-Z a-z 0-9 _ . : -")
        if sensor in seen:
            raise ConfigError(f"{key}[{i}].sensor", sensor, f"already used by another {what}")
        seen.add(sensor)


@dataclass(frozen=True, slots=True)
class BleDevice:
    """One ``[[ble.devices]]`` entry: which driver, which device, what to call the stream.
    ``options`` is the driver's own table (docs/devices.md); the driver validates it."""

    driver: str = "generic"
    sensor: str = ""
    name: str = ""
    address: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BleSettings:
    devices: tuple[BleDevice, ...] = ()
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    start_timeout_s: float = 15.0
    stall_s: float = 5.0
    backoff_max_s: float = 30.0
    queue_size: int = 2000

    def validate(self, key: str) -> None:
        # Imported here: the drivers use this module's ``build`` for their options.
        from monitor.inputs.ble.registry import make_driver

        for name in (
            "scan_timeout_s",
            "connect_timeout_s",
            "start_timeout_s",
            "stall_s",
            "backoff_max_s",
        ):
            positive(f"{key}.{name}", getattr(self, name))
        if self.queue_size < 10:
            raise ConfigError(f"{key}.queue_size", self.queue_size, "at least 10")
        _unique_sensors([d.sensor for d in self.devices], f"{key}.devices", "device")
        for i, dev in enumerate(self.devices):
            at = f"{key}.devices[{i}]"
            if not (dev.name or dev.address):
                raise ConfigError(f"{at}.name", dev.name, "a name (prefix) or an address")
            make_driver(dev.driver, dev.sensor, dev.options, at)


@dataclass(frozen=True, slots=True)
class LslStream:
    """One Lab Streaming Layer stream to ingest: an LSL predicate (``type='EMG'``,
    ``name='Delsys'``), and optionally the sensor id (default: the stream's name) and the
    modality (default: from the stream type)."""

    predicate: str
    sensor: str | None = None
    modality: str | None = None


@dataclass(frozen=True, slots=True)
class LslSettings:
    streams: tuple[LslStream, ...] = ()
    resolve_timeout_s: float = 2.0
    stall_s: float = 5.0
    backoff_max_s: float = 10.0
    #: Publish events as an LSL marker stream (always on when streams are configured).
    event_outlet: bool = False
    #: With the event stream, the features too (``fatigue-monitor-features``).
    features_outlet: bool = True

    def validate(self, key: str) -> None:
        for name in ("resolve_timeout_s", "stall_s", "backoff_max_s"):
            positive(f"{key}.{name}", getattr(self, name))
        for i, st in enumerate(self.streams):
            at = f"{key}.streams[{i}]"
            if not st.predicate.strip():
                raise ConfigError(f"{at}.predicate", st.predicate, "an LSL predicate")
            if st.sensor is not None and not _SENSOR_ID.match(st.sensor):
                raise ConfigError(f"{at}.sensor", st.sensor, "1-64 of A-Z a-z 0-9 _ . : -")
            if st.modality not in (None, "emg", "acc"):
                raise ConfigError(f"{at}.modality", st.modality, "emg or acc")


@dataclass(frozen=True, slots=True)
class BrainFlowBoard:
    """One ``[[brainflow.boards]]`` entry (docs/inputs.md).

    ``board``: BrainFlow's board id or name (``SYNTHETIC_BOARD``, ``CYTON_BOARD``, 0,
    ``PLAYBACK_FILE_BOARD``); ``params``: the fields of BrainFlow's input parameters
    (``serial_port``, ``mac_address``, ``ip_address``, ``ip_port``, ``serial_number``,
    ``file``, ``master_board``, ``other_info``, ``timeout``); ``emg_channels``: which of
    the board's EMG (ExG) rows to analyse, 0-based, empty for all (EEG boards list every
    electrode as EMG); ``acc``: also analyse its accelerometer rows; ``acc_unit``: what
    they are in (``g`` for OpenBCI boards, converted to m/s^2); ``commands``: strings for
    ``config_board`` after the session is prepared (board set-up, ``loopback_true``)."""

    board: str | int = "SYNTHETIC_BOARD"
    sensor: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    emg: bool = True
    emg_channels: tuple[int, ...] = ()
    acc: bool = True
    acc_unit: str = "g"
    commands: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BrainFlowSettings:
    boards: tuple[BrainFlowBoard, ...] = ()
    poll_s: float = 0.05
    stall_s: float = 5.0
    backoff_max_s: float = 10.0

    def validate(self, key: str) -> None:
        for name in ("poll_s", "stall_s", "backoff_max_s"):
            positive(f"{key}.{name}", getattr(self, name))
        _unique_sensors([b.sensor for b in self.boards], f"{key}.boards", "board")
        for i, b in enumerate(self.boards):
            at = f"{key}.boards[{i}]"
            if not (b.emg or b.acc):
                raise ConfigError(f"{at}.emg", b.emg, "emg or acc (or both) must be on")
            if any(c < 0 for c in b.emg_channels):
                raise ConfigError(f"{at}.emg_channels", list(b.emg_channels), "0-based indices")
            if b.acc_unit not in ("g", "mg", "m/s^2"):
                raise ConfigError(f"{at}.acc_unit", b.acc_unit, "g, mg or m/s^2")
