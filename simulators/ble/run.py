"""``fatigue-sim ble``: one virtual sensor on a bumble transport (a USB dongle, a serial
HCI controller, a VHCI device...), so a phone or PC can connect to it for real.

The transport spec is bumble's (``usb:0``, ``serial:/dev/ttyACM0``, ``vhci``, ``tcp-client:
HOST:PORT``...; https://google.github.io/bumble/transports/). The signal is the simulator's
(fatigue or tremor from ``--onset``), streamed at the real rate times ``--speed``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from bumble.device import Device
from bumble.hci import Address
from bumble.transport import open_transport

from monitor.errors import MonitorError
from simulators.ble.peripherals import VirtualGeneric, VirtualMyo, VirtualPeripheral, VirtualPolar
from simulators.ble.signals import myo_emg, polar_acc

log = logging.getLogger(__name__)

NAMES = {"polar-h10": "Polar H10 5EB0C001", "myo": "Myo", "generic": "Fatigue Generic"}


def make_peripheral(
    kind: str, device: Any, duration_s: float, onset_s: float | None, speed: float, seed: int
) -> VirtualPeripheral:
    if kind == "polar-h10":
        x = polar_acc(duration_s, onset_s, tremor_gain=6.0, noise_rms=0.02, seed=seed)
        return VirtualPolar(device, x, speed=speed)
    if kind == "myo":
        return VirtualMyo(device, myo_emg(duration_s, onset_s, seed=seed), speed=speed)
    emg = myo_emg(duration_s, onset_s, seed=seed, channels=2)
    return VirtualGeneric(device, emg, fs=200.0, speed=speed)


async def serve(args: argparse.Namespace) -> None:
    name = args.name or NAMES[args.device]
    try:
        transport = await open_transport(args.transport)
    except Exception as exc:  # each transport kind raises its own types (usb1, serial, OS)
        raise MonitorError(f"cannot open bumble transport {args.transport!r}: {exc}") from exc
    async with transport as (source, sink):
        device = Device.with_hci(name, Address(args.address), source, sink)
        peripheral = make_peripheral(
            args.device, device, args.duration, args.onset, args.speed, args.seed
        )
        async with peripheral:
            print(f"advertising as {name!r} ({args.device}) on {args.transport}; Ctrl-C stops")
            await asyncio.Event().wait()  # the signal loops: until interrupted


def run(args: argparse.Namespace) -> int:
    logging.getLogger("bumble").setLevel(logging.WARNING)
    asyncio.run(serve(args))
    return 0
