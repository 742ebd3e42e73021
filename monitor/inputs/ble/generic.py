"""A configurable BLE sensor: one notify characteristic of little-endian sample frames.

For a custom board, this is the first resort: describe the frame in the config and no
code is needed (docs/devices.md). A notification is::

    [counter (uint8 or uint16 LE), if configured] | samples...

where the samples are interleaved by sample (channel 1, 2, ... of sample 1, then of
sample 2, ...) as ``int16``, ``int24`` or ``float32`` little-endian, and the physical value
is ``raw * scale``. A notification holds any whole number of samples.

With a counter (one per notification, wrapping), ``seq`` follows it unwrapped, so a lost
notification shows as a gap; without one, notifications are counted and the host's
arrival time anchors ``t0``, as for the Myo, and notifications the source had to drop
leave a hole in ``seq`` (``lost``), so windows never span them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from monitor.core.errors import BleDeviceError, ConfigError, DecodeError
from monitor.core.model import Modality, SampleBlock
from monitor.core.tables import build
from monitor.inputs.ble.driver import Command, Timeline

DTYPE_SIZES = {"int16": 2, "int24": 3, "float32": 4}
COUNTER_SIZES = {"none": 0, "uint8": 1, "uint16": 2}
MAX_CHANNELS = 64


@dataclass(frozen=True, slots=True)
class GenericOptions:
    """``[[ble.devices]] options`` of the ``generic`` driver."""

    notify_uuid: str = ""
    service_uuid: str = ""
    modality: Literal["emg", "acc"] = "emg"
    channels: int = 1
    dtype: Literal["int16", "int24", "float32"] = "int16"
    scale: float = 1.0
    fs: float = 1000.0
    unit: str = "mV"
    counter: Literal["none", "uint8", "uint16"] = "none"
    start_uuid: str = ""
    start_command: str = ""  # hex, e.g. "0103"

    def validate(self, key: str) -> None:
        if not self.notify_uuid:
            raise ConfigError(f"{key}.notify_uuid", self.notify_uuid, "the notify char UUID")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise ConfigError(f"{key}.channels", self.channels, f"1..{MAX_CHANNELS}")
        if not (math.isfinite(self.scale) and self.scale != 0):
            raise ConfigError(f"{key}.scale", self.scale, "a finite number other than 0")
        if not (math.isfinite(self.fs) and 0 < self.fs <= 100_000):
            raise ConfigError(f"{key}.fs", self.fs, "a sample rate in (0, 100000] Hz")
        try:
            command = bytes.fromhex(self.start_command)
        except ValueError as exc:
            raise ConfigError(f"{key}.start_command", self.start_command, "hex bytes") from exc
        if command and not self.start_uuid:
            raise ConfigError(f"{key}.start_uuid", self.start_uuid, "needed by start_command")


class GenericSensor:
    name = "generic"

    def __init__(self, sensor: str, options: GenericOptions) -> None:
        self.sensor = sensor
        self.options = options
        self.modality: Modality = options.modality
        self.fs = options.fs
        self.channel_names = _channel_names(options.modality, options.channels)
        self.timeline = Timeline(options.fs)
        self._size = DTYPE_SIZES[options.dtype]
        self._header = COUNTER_SIZES[options.counter]
        self._last_counter: int | None = None
        self._next_t0 = 0.0
        self.missed = 0  # notifications the counter says never arrived

    @classmethod
    def from_options(cls, sensor: str, options: Mapping[str, Any], key: str) -> GenericSensor:
        opts = build(GenericOptions, options, key)
        opts.validate(key)
        return cls(sensor, opts)

    @property
    def data_uuids(self) -> Sequence[str]:
        return (self.options.notify_uuid.lower(),)

    @property
    def control_uuids(self) -> Sequence[str]:
        return ()

    def start_commands(self) -> Sequence[Command]:
        if not self.options.start_command:
            return ()
        payload = bytes.fromhex(self.options.start_command)
        return (Command(self.options.start_uuid.lower(), payload, "start command"),)

    def check_response(self, command: Command, payload: bytes) -> Sequence[Command]:
        raise BleDeviceError(self.sensor, command.what, "the generic driver expects no answer")

    def restart(self) -> None:
        self.timeline.restart()
        self._last_counter = None

    def lost(self, notifications: int) -> None:
        # With a counter, the next notification's counter shows the hole by itself.
        if not self._header:
            self.timeline.lost(notifications)

    def _samples(self, body: bytes) -> np.ndarray[Any, np.dtype[np.float32]]:
        step = self._size * self.options.channels
        if not body or len(body) % step:
            raise DecodeError(
                "bad_length",
                f"{len(body)} sample bytes, not a whole number of {step}-byte samples",
                self.sensor,
            )
        if self.options.dtype == "int24":
            raw = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            values = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
            values = np.where(values >= 1 << 23, values - (1 << 24), values)
        else:
            values = np.frombuffer(body, dtype="<i2" if self._size == 2 else "<f4")
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf are refused just below
            x = values.reshape(-1, self.options.channels).T.astype(np.float64) * self.options.scale
        if not np.all(np.isfinite(x)):
            raise DecodeError("bad_value", "non-finite sample", self.sensor)
        return x.astype(np.float32)

    def decode(self, uuid: str, payload: bytes, received: float) -> SampleBlock:
        payload = bytes(payload)
        if len(payload) <= self._header:
            raise DecodeError("truncated", f"{len(payload)} bytes", self.sensor)
        data = self._samples(payload[self._header :])
        n = data.shape[1]
        if self._header:
            seq, t0 = self._counted(int.from_bytes(payload[: self._header], "little"), n, received)
        else:
            seq, t0 = self.timeline.next(n, received)
        return SampleBlock(
            self.sensor,
            self.modality,
            self.fs,
            t0,
            seq,
            self.channel_names,
            self.options.unit,
            data,
        )

    def _counted(self, counter: int, n: int, received: float) -> tuple[int, float]:
        """Unwrap the device counter; lost notifications advance seq and time."""
        if self._last_counter is not None:
            step = (counter - self._last_counter) % (1 << (8 * self._header))
            if step == 0:
                raise DecodeError("duplicate", f"counter {counter} repeated", self.sensor)
            if step > 1:  # lost notifications, assumed to hold as many samples as this one
                self.missed += step - 1
                self.timeline.skip(step - 1, n)
        self._last_counter = counter
        return self.timeline.next(n, received)


def _channel_names(modality: str, n: int) -> tuple[str, ...]:
    if modality == "acc" and n == 3:
        return ("acc_x", "acc_y", "acc_z")
    return tuple(f"{modality}_{i + 1}" for i in range(n))
