"""Thalmic Labs Myo armband: 8 channels of surface EMG at 200 Hz.

Source: Thalmic Labs' public Bluetooth protocol header ``myohw.h``
(github.com/thalmiclabs/myo-bluetooth), written from its description, not its code.
All UUIDs share the base ``d506XXXX-a904-deb9-4748-2c7f4a124842``:

* control service ``0x0001``, command characteristic ``0x0401`` (write): a command is
  ``command (1) | payload size (1) | payload``. Set mode is
  ``0x01 | 3 | emg_mode | imu_mode | classifier_mode``; ``emg_mode`` 0x02 sends filtered
  EMG, 0x03 raw (unfiltered) EMG; we send ``0x01 03 03 00 00`` (raw EMG, no IMU, no
  classifier). ``0x09 | 1 | 1`` (set sleep mode: never sleep) keeps it streaming while
  the arm is still.
* EMG data service ``0x0005``, characteristics ``0x0105``, ``0x0205``, ``0x0305``,
  ``0x0405`` (notify): each notification is two consecutive samples of 8 signed 8-bit
  values (``int8 sample1[8]; int8 sample2[8]``). The four characteristics take turns, so
  one notification every 10 ms in all and 200 samples/s.

The values are unitless ADC counts (no calibration is published), so the unit is
``counts``; the fatigue features are ratios and frequencies and do not need volts. The
Myo has no clock and no counter in the EMG notifications: ``seq`` counts notifications and
``t0`` follows the host's arrival time of the first notification after each connection
(and after notifications lost by the source, which also leave a hole in ``seq``).

At 200 Hz the EMG band ends at 100 Hz (Nyquist); the band-pass is clipped to 0.45 fs = 90
Hz (monitor/dsp/filters.py), so MDF is computed over 20-90 Hz instead of 20-450 Hz.
docs/devices.md says what that means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.core.errors import BleDeviceError, DecodeError
from monitor.core.model import Modality, SampleBlock
from monitor.core.tables import build
from monitor.inputs.ble.driver import Command, Timeline


def myo_uuid(short: int) -> str:
    return f"d506{short:04x}-a904-deb9-4748-2c7f4a124842"


CONTROL_SERVICE = myo_uuid(0x0001)
COMMAND = myo_uuid(0x0401)
EMG_SERVICE = myo_uuid(0x0005)
EMG_DATA = tuple(myo_uuid(0x0105 + 0x100 * k) for k in range(4))

CMD_SET_MODE = 0x01
CMD_SET_SLEEP_MODE = 0x09
EMG_MODE_NONE = 0x00
EMG_MODE_FILTERED = 0x02
EMG_MODE_RAW = 0x03
FS = 200.0
CHANNELS = tuple(f"emg_{i + 1}" for i in range(8))


def set_mode(emg_mode: int = EMG_MODE_RAW, imu_mode: int = 0, classifier_mode: int = 0) -> bytes:
    return bytes([CMD_SET_MODE, 3, emg_mode, imu_mode, classifier_mode])


def never_sleep() -> bytes:
    return bytes([CMD_SET_SLEEP_MODE, 1, 1])


def parse_emg(payload: bytes) -> np.ndarray[Any, np.dtype[np.int8]]:
    """One notification -> int8 array (8 channels, 2 samples)."""
    if len(payload) != 16:
        raise DecodeError("bad_length", f"{len(payload)} bytes, a Myo EMG notification is 16")
    return np.frombuffer(bytes(payload), dtype=np.int8).reshape(2, 8).T


@dataclass(frozen=True, slots=True)
class MyoOptions:
    """``[[ble.devices]] options`` of the ``myo`` driver."""

    filtered: bool = False
    never_sleep: bool = True

    def validate(self, key: str) -> None:
        return None


class MyoEmg:
    name = "myo"

    def __init__(self, sensor: str, options: MyoOptions | None = None) -> None:
        self.sensor = sensor
        self.modality: Modality = "emg"
        self.options = options or MyoOptions()
        self.fs = FS
        self.timeline = Timeline(FS)

    @classmethod
    def from_options(cls, sensor: str, options: Mapping[str, Any], key: str) -> MyoEmg:
        opts = build(MyoOptions, options, key)
        opts.validate(key)
        return cls(sensor, opts)

    @property
    def data_uuids(self) -> Sequence[str]:
        return EMG_DATA

    @property
    def control_uuids(self) -> Sequence[str]:
        return ()

    def start_commands(self) -> Sequence[Command]:
        mode = EMG_MODE_FILTERED if self.options.filtered else EMG_MODE_RAW
        cmds = [Command(COMMAND, set_mode(mode), "set mode (EMG on)")]
        if self.options.never_sleep:
            cmds.append(Command(COMMAND, never_sleep(), "set sleep mode (never)"))
        return tuple(cmds)

    def check_response(self, command: Command, payload: bytes) -> Sequence[Command]:
        # The Myo acknowledges a command by the write response alone.
        raise BleDeviceError(self.sensor, command.what, "the Myo sends no command answers")

    def restart(self) -> None:
        self.timeline.restart()

    def lost(self, notifications: int) -> None:
        self.timeline.lost(notifications)

    def decode(self, uuid: str, payload: bytes, received: float) -> SampleBlock:
        if uuid.lower() not in EMG_DATA:
            raise DecodeError("bad_characteristic", f"{uuid} is not a Myo EMG char", self.sensor)
        try:
            data = parse_emg(payload)
        except DecodeError as exc:
            raise DecodeError(exc.reason, exc.detail, self.sensor) from exc
        seq, t0 = self.timeline.next(2, received)
        return SampleBlock(
            self.sensor, "emg", FS, t0, seq, CHANNELS, "counts", data.astype(np.float32)
        )
