"""An in-process radio: bumble devices on one ``LocalLink``, each with its own virtual
controller, so peripherals and the monitor's central talk real HCI, L2CAP, ATT and GATT.

``VirtualAir`` owns the link and hands out devices with distinct addresses; it is an
async context manager that powers every device it made off on exit. ``central()`` is
the one central device (like a host's adapter) that the bleak backend of
``simulators.ble.backend`` scans and connects with.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any, Self

from bumble import core
from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

log = logging.getLogger(__name__)


class VirtualAir:
    def __init__(self) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self._devices: list[Any] = []
        self._controllers: dict[int, Controller] = {}
        self._next = 1
        self._central: Any = None
        self._central_lock = asyncio.Lock()
        #: Serialises LE connection attempts: bumble allows one pending connection.
        self.connect_lock = asyncio.Lock()

    def new_device(self, name: str) -> Any:
        """A bumble ``Device`` with its own controller on this link (not yet powered on)."""
        address = f"F0:00:00:00:{self._next >> 8:02X}:{self._next & 0xFF:02X}"
        self._next += 1
        controller = Controller(name, link=self.link, public_address=address)
        device = Device(
            name=name,
            address=Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        self._devices.append(device)
        self._controllers[id(device)] = controller
        return device

    async def away(self, device: Any, seconds: float) -> None:
        """Take ``device`` out of range for ``seconds``: its links drop (from its side)
        and nobody hears its advertisements until it is back."""
        for connection in list(device.connections.values()):
            await connection.disconnect()
        controller = self._controllers[id(device)]
        self.link.remove_controller(controller)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.link.add_controller(controller)

    async def central(self) -> Any:
        """The monitor side's adapter, powered on at first use."""
        async with self._central_lock:
            if self._central is None:
                device = self.new_device("fatigue-monitor")
                await device.power_on()
                self._central = device
            return self._central

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for device in reversed(self._devices):
            if device.powered_on:
                try:
                    await device.power_off()
                except core.BaseBumbleError as exc:  # best effort: the link is going away
                    log.debug("power off %s: %s", device.name, exc)
        self._devices.clear()
        self._central = None
