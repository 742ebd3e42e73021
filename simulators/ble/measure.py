"""How fast the in-process BLE link carries a virtual Myo through the monitor's source.

``python -m simulators.ble.measure [SPEED...]``: for each speed (times real time), stream
4000 samples from a ``VirtualMyo`` through ``BleSource`` on the bumble backend and print
samples/s, notifications/s and notifications dropped. The figures in docs/devices.md.
"""

from __future__ import annotations

import asyncio
import sys
import time

from monitor.core.source_settings import BleDevice, BleSettings
from monitor.inputs.ble.source import BleSource
from simulators.ble.air import VirtualAir
from simulators.ble.backend import bumble_backend
from simulators.ble.peripherals import VirtualMyo
from simulators.ble.signals import myo_emg


async def measure(speed: float, samples: int = 4000) -> str:
    x = myo_emg(30.0)
    async with VirtualAir() as air, VirtualMyo(air.new_device("Myo"), x, speed=speed):
        device = BleDevice(driver="myo", sensor="arm", name="Myo")
        source = BleSource(device, BleSettings(scan_timeout_s=3.0), backend=bumble_backend(air))
        async with source:
            n = 0
            started = 0.0
            async for block in source:
                if n == 0:
                    started = time.perf_counter()
                n += block.n_samples
                if n >= samples:
                    break
            elapsed = time.perf_counter() - started
    return (
        f"speed {speed:g}: {n / elapsed:.0f} samples/s, {n / 2 / elapsed:.0f} notifications/s, "
        f"dropped {source.dropped}"
    )


def main(argv: list[str]) -> int:
    for speed in [float(a) for a in argv] or [1.0, 10.0, 20.0]:
        print(asyncio.run(measure(speed)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
