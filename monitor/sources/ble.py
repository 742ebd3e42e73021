"""BLE sensors through bleak: find, connect, start, receive, decode, reconnect.

``BleSource`` is an async context manager that owns one task, the connection loop, and an
async iterator of ``SampleBlock``. The loop finds the device (``BleakScanner``, by address
or advertised-name prefix), connects (``BleakClient``), runs the driver's start sequence
(subscribe to answer characteristics, write each command, judge each answer), subscribes
to the data characteristics and waits for the disconnection; then it waits a capped,
jittered backoff and starts again, start sequence included.

bleak delivers notifications through callbacks on the event loop. The callback only
appends ``(uuid, bytes, arrival time)`` to a bounded deque (the oldest is dropped and
counted when the consumer falls behind: a slow consumer never blocks the BLE stack) and
wakes the iterator; decoding happens in ``__anext__``, outside the callback.

A lost link is reported at once through ``on_lost`` (the service passes
``Pipeline.mark_lost``: ``signal_lost`` on the next tick; without it, silence raises it
after ``service.silence_s``), and the first blocks after the reconnection restore it;
drivers re-anchor their time on every connection, so the outage is a gap (windows
restart, detector baselines stay).

The bleak backend is injectable (``BleBackend``): tests pass the bumble one from
``simulators.ble``; production uses bleak's platform default.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from monitor.config import BleDevice, BleSettings
from monitor.decode.driver import BleDriver
from monitor.decode.registry import driver_for, make_driver
from monitor.errors import BleDeviceError, DecodeError, MonitorError
from monitor.model import SampleBlock
from monitor.sources.mqtt import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BleBackend:
    """bleak backend classes; ``None`` means bleak's default for this platform."""

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None


DEFAULT_BACKEND = BleBackend()
#: What the connection loop survives (and retries after a backoff). Anything else is a bug.
TRANSIENT = (BleakError, BleDeviceError, TimeoutError, OSError, EOFError)


class BleSource:
    """One configured BLE device as a source of ``SampleBlock``s.

    ``async with BleSource(...) as src: async for block in src: ...``. Counters:
    ``connections``, ``disconnects``, ``dropped`` (notifications lost to the bounded
    queue), ``decode_errors`` by reason; ``connected`` is set while streaming.
    """

    def __init__(
        self,
        device: BleDevice,
        settings: BleSettings,
        driver: BleDriver | None = None,
        backend: BleBackend = DEFAULT_BACKEND,
        clock: Callable[[], float] = time.time,
        key: str = "ble.devices[0]",
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.device = device
        # Told the moment the link drops (the pipeline then says signal_lost on its next
        # tick) instead of waiting for service.silence_s of silence.
        self.on_lost = on_lost
        self.settings = settings
        self.driver = driver or make_driver(device.driver, device.sensor, device.options, key)
        self.backend = backend
        self.clock = clock
        self.connected = asyncio.Event()
        self.connections = 0
        self.disconnects = 0
        self.dropped = 0
        self.decode_errors: Counter[str] = Counter()
        self.last_error: str = ""
        self._queue: deque[tuple[str, bytes, float]] = deque(maxlen=settings.queue_size)
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: BleakClient | None = None

    @property
    def sensor(self) -> str:
        return self.device.sensor

    def status(self) -> dict[str, object]:
        return {
            "connected": self.connected.is_set(),
            "connections": self.connections,
            "disconnects": self.disconnects,
            "dropped": self.dropped,
            "decode_errors": dict(self.decode_errors),
            "last_error": self.last_error,
        }

    # -- lifetime -------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"ble-{self.sensor}")
        # A crashed loop wakes the consumer, which then raises its exception.
        self._task.add_done_callback(lambda _task: self._ready.set())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SampleBlock:
        """The next decoded block; bad notifications are counted, logged and skipped."""
        while True:
            while not self._queue:
                task = self._task
                if task is None or task.cancelled():
                    raise StopAsyncIteration
                if task.done():
                    error = task.exception()
                    if error is not None:
                        raise error
                    raise StopAsyncIteration
                self._ready.clear()
                await self._ready.wait()
            uuid, payload, received = self._queue.popleft()
            try:
                return self.driver.decode(uuid, payload, received)
            except DecodeError as exc:
                n = self.decode_errors[exc.reason] = self.decode_errors[exc.reason] + 1
                if n in (1, 10, 100, 1000) or n % 10_000 == 0:
                    log.warning("%s: notification dropped (%d so far): %s", self.sensor, n, exc)

    # -- the connection loop --------------------------------------------------------------
    async def _run(self) -> None:
        backoff = Backoff(cap=self.settings.backoff_max_s)
        while True:
            try:
                await self._session(backoff)
                self.disconnects += 1
                if self.on_lost is not None:
                    self.on_lost(self.sensor)
                log.warning("%s: BLE link lost; reconnecting", self.sensor)
            except TRANSIENT as exc:
                self.last_error = str(exc) or type(exc).__name__
                log.warning("%s: %s", self.sensor, self.last_error)
            finally:
                self.connected.clear()
            delay = backoff.next()
            log.info("%s: next BLE attempt in %.1f s", self.sensor, delay)
            await asyncio.sleep(delay)

    async def _find(self) -> BLEDevice:
        want_address = self.device.address.lower()
        want_name = self.device.name.lower()

        def match(dev: BLEDevice, adv: AdvertisementData) -> bool:
            if want_address:
                return dev.address.lower() == want_address
            name = (adv.local_name or dev.name or "").lower()
            return name.startswith(want_name)

        if self.backend.scanner is None:
            found = await BleakScanner.find_device_by_filter(
                match, timeout=self.settings.scan_timeout_s
            )
        else:
            found = await BleakScanner.find_device_by_filter(
                match, timeout=self.settings.scan_timeout_s, backend=self.backend.scanner
            )
        if found is None:
            what = self.device.address or f"a device named {self.device.name!r}..."
            raise BleDeviceError(self.sensor, "scan", f"{what} not found")
        return found

    async def _session(self, backoff: Backoff) -> None:
        """One connection, from scan to disconnection."""
        target = await self._find()
        lost = asyncio.Event()
        client = BleakClient(
            target,
            disconnected_callback=lambda _client: lost.set(),
            timeout=self.settings.connect_timeout_s,
            backend=self.backend.client,
        )
        async with client:
            self.driver.restart()
            await self._start(client)
            for uuid in self.driver.data_uuids:
                await client.start_notify(uuid, self._notified)
            self.connections += 1
            self.connected.set()
            backoff.reset()
            log.info(
                "%s: streaming from %s (%s driver)", self.sensor, target.address, self.driver.name
            )
            await lost.wait()

    async def _start(self, client: BleakClient) -> None:
        answers: dict[str, asyncio.Queue[bytes]] = {}
        for uuid in self.driver.control_uuids:
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            answers[uuid.lower()] = queue

            def answered(
                _char: BleakGATTCharacteristic, data: bytearray, queue: asyncio.Queue[bytes] = queue
            ) -> None:
                queue.put_nowait(bytes(data))

            await client.start_notify(uuid, answered)
        for command in self.driver.start_commands():
            try:
                async with asyncio.timeout(self.settings.start_timeout_s):
                    await client.write_gatt_char(command.uuid, command.payload, response=True)
                    if command.response_uuid is not None:
                        answer = await answers[command.response_uuid.lower()].get()
                        self.driver.check_response(command, answer)
            except TimeoutError as exc:
                raise BleDeviceError(self.sensor, command.what, "no answer in time") from exc

    def _notified(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        """bleak's callback: enqueue and wake the consumer, nothing else."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1  # deque drops the oldest on append
        self._queue.append((char.uuid, bytes(data), self.clock()))
        self._ready.set()


@dataclass(frozen=True, slots=True)
class Found:
    """One advertising device, as ``fatigue-monitor scan`` lists it."""

    address: str
    name: str
    rssi: int
    driver: str | None


async def scan(seconds: float, backend: BleBackend = DEFAULT_BACKEND) -> list[Found]:
    """Devices heard in ``seconds``, strongest first, with the driver that would handle
    each. No adapter (no BlueZ, no radio, no permission) is a ``MonitorError`` with
    one line saying so, not a traceback."""
    try:
        if backend.scanner is None:
            heard = await BleakScanner.discover(timeout=seconds, return_adv=True)
        else:
            heard = await BleakScanner.discover(
                timeout=seconds, return_adv=True, backend=backend.scanner
            )
    except (BleakError, OSError) as exc:
        detail = str(exc) or type(exc).__name__
        raise MonitorError(
            f"BLE scan: no usable Bluetooth adapter ({type(exc).__name__}: {detail}); "
            "is there a radio, and is BlueZ (bluetoothd) running?"
        ) from exc
    found = [
        Found(
            dev.address,
            adv.local_name or dev.name or "",
            adv.rssi,
            driver_for(adv.local_name or dev.name, adv.service_uuids),
        )
        for dev, adv in heard.values()
    ]
    return sorted(found, key=lambda f: -f.rssi)
