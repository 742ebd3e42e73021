"""``fatigue-sim ble``: one virtual sensor on a bumble transport (a USB dongle, a serial
HCI controller, a VHCI device...), so a phone or PC can connect to it for real.

The transport spec is bumble's (``usb:0``, ``serial:/dev/ttyACM0``, ``vhci``, ``tcp-client:
HOST:PORT``...; https://google.github.io/bumble/transports/). The signal is the simulator's
(fatigue or tremor from ``--onset``) or, with ``--from FILE``, a recording read through
the monitor's own readers (``monitor.inputs.files.open_recording``), streamed at the real rate times
``--speed``, looping.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bumble.device import Device
from bumble.hci import Address
from bumble.transport import open_transport

from monitor.core.errors import MonitorError
from monitor.core.model import Modality
from monitor.inputs.files import open_recording
from simulators.ble.peripherals import (
    H10_RATES,
    VirtualGeneric,
    VirtualMyo,
    VirtualPeripheral,
    VirtualPolar,
)
from simulators.ble.signals import myo_emg, polar_acc

log = logging.getLogger(__name__)

NAMES = {"polar-h10": "Polar H10 5EB0C001", "myo": "Myo", "generic": "Fatigue Generic"}
#: Recording units -> the unit each virtual device streams (EMG mV, ACC m/s^2).
EMG_TO_MV = {"mV": 1.0, "uV": 1e-3, "µV": 1e-3, "V": 1e3}
ACC_TO_MS2 = {"m/s^2": 1.0, "m/s2": 1.0, "g": 9.80665, "mg": 9.80665e-3}


@dataclass(frozen=True, slots=True)
class Recorded:
    """One stream of a recording file, in the units the virtual devices stream."""

    modality: Modality
    fs: float
    data: npt.NDArray[np.float64]  # channels x samples


def load_recording(path: str | Path, kind: str) -> Recorded:
    """The stream of ``path`` that the device ``kind`` can carry, or ``MonitorError``
    saying why none can (one line)."""
    want: Modality = "acc" if kind == "polar-h10" else "emg"
    with open_recording(path) as rec:
        streams = rec.streams
        parts: dict[tuple[str, str], list[npt.NDArray[np.float32]]] = {}
        for block in rec.blocks(chunk_s=10.0):
            parts.setdefault(block.stream, []).append(block.data)
    usable = [s for s in streams if kind == "generic" or s.modality == want]
    if not usable:
        found = ", ".join(s.modality for s in streams) or "none"
        raise MonitorError(f"{path}: no {want} stream for --device {kind} (found: {found})")
    info = usable[0]
    data = np.concatenate(parts[(info.sensor, info.modality)], axis=1).astype(np.float64)
    table = ACC_TO_MS2 if info.modality == "acc" else EMG_TO_MV
    if info.unit not in table:
        raise MonitorError(
            f"{path}: unit {info.unit!r} of the {info.modality} stream is not one of "
            f"{', '.join(table)}"
        )
    data *= table[info.unit]
    if kind == "polar-h10" and (data.shape[0] != 3 or int(info.fs) not in H10_RATES):
        raise MonitorError(
            f"{path}: a Polar H10 streams 3 acc channels at {'/'.join(map(str, H10_RATES))} Hz;"
            f" the file has {data.shape[0]} at {info.fs:g} Hz"
        )
    if kind == "myo" and (data.shape[0] != 8 or info.fs != 200.0):
        raise MonitorError(
            f"{path}: a Myo streams 8 EMG channels at 200 Hz; "
            f"the file has {data.shape[0]} at {info.fs:g} Hz"
        )
    return Recorded(info.modality, info.fs, data)


def make_peripheral(
    kind: str,
    device: Any,
    duration_s: float,
    onset_s: float | None,
    speed: float,
    seed: int,
    recording: Recorded | None = None,
) -> VirtualPeripheral:
    """The virtual ``kind`` device on ``device``, streaming the simulator's signal or
    ``recording`` (from ``load_recording``)."""
    if kind not in NAMES:
        raise MonitorError(f"unknown device {kind!r}: one of {', '.join(NAMES)}")
    if recording is not None:
        x = recording.data
        if kind == "polar-h10":
            return VirtualPolar(device, x, fs=recording.fs, speed=speed)
        if kind == "myo":
            return VirtualMyo(device, x, speed=speed)
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        scale = peak / 30000.0 if peak > 0 else 1e-3  # int16 frames that hold the peak
        return VirtualGeneric(device, x, fs=recording.fs, speed=speed, scale=scale)
    if kind == "polar-h10":
        x = polar_acc(duration_s, onset_s, tremor_gain=6.0, noise_rms=0.02, seed=seed)
        return VirtualPolar(device, x, speed=speed)
    if kind == "myo":
        return VirtualMyo(device, myo_emg(duration_s, onset_s, seed=seed), speed=speed)
    emg = myo_emg(duration_s, onset_s, seed=seed, channels=2)
    return VirtualGeneric(device, emg, fs=200.0, speed=speed)


def generic_options(p: VirtualPeripheral) -> str:
    """The ``[[ble.devices]] options`` that read a ``VirtualGeneric`` (to print)."""
    if not isinstance(p, VirtualGeneric):
        return ""
    return (
        f'options = {{ notify_uuid = "{p.notify_uuid}", start_uuid = "{p.start_uuid}", '
        f'start_command = "{p.start.hex()}", channels = {p.signal.shape[0]}, '
        f'dtype = "int16", counter = "uint8", fs = {p.fs:g}, scale = {p.scale:.6g} }}'
    )


async def serve(args: argparse.Namespace) -> None:
    name = args.name or NAMES[args.device]
    recording = load_recording(args.recording, args.device) if args.recording else None
    try:
        transport = await open_transport(args.transport)
    except Exception as exc:  # each transport kind raises its own types (usb1, serial, OS)
        raise MonitorError(f"cannot open bumble transport {args.transport!r}: {exc}") from exc
    async with transport as (source, sink):
        device = Device.with_hci(name, Address(args.address), source, sink)
        peripheral = make_peripheral(
            args.device, device, args.duration, args.onset, args.speed, args.seed, recording
        )
        async with peripheral:
            what = f"{args.recording}" if recording is not None else "the simulator"
            print(
                f"advertising as {name!r} ({args.device}, {what}) on {args.transport}; Ctrl-C stops"
            )
            if options := generic_options(peripheral):
                print(f"monitor side: {options}")
            await asyncio.Event().wait()  # the signal loops: until interrupted


def run(args: argparse.Namespace) -> int:
    logging.getLogger("bumble").setLevel(logging.WARNING)
    asyncio.run(serve(args))
    return 0
