"""BLE sensors through bleak: find, connect, start, receive, decode, reconnect.

``BleSource`` is an async context manager that owns one task, the connection loop, and an
async iterator of ``SampleBlock``. The loop finds the device (``BleakScanner``, by address
or advertised-name prefix), connects (``BleakClient``), subscribes to the answer and data
characteristics, runs the driver's start sequence (write each command, judge each answer)
and waits for the disconnection or a stall (no notification for ``ble.stall_s``); then it
waits a capped, jittered backoff and starts again, start sequence included.

The whole connect/subscribe/start phase is bounded by ``ble.start_timeout_s``. Every
failure of a session is retried after the backoff: BLE and device errors and timeouts
are expected (``last_error``), anything else is a bug in a driver or backend, logged with
its traceback and counted (``failures``), but it never ends the loop of this device (nor
the service); only cancellation does. The backoff is reset only after a session streamed
for ``stable_s`` (10 s), so a link that connects and drops at once is retried with growing
delays.

bleak delivers notifications through callbacks on the event loop. The callback only
appends ``(uuid, bytes, arrival time)`` to a bounded deque (the oldest is dropped and
counted when the consumer falls behind: a slow consumer never blocks the BLE stack) and
wakes the iterator; decoding happens in ``__anext__``, outside the callback. Dropped
notifications are reported to the driver (``lost``) before the next one is decoded, and
a new connection (``restart``) only when its first notification is decoded, so the
pipeline sees a gap exactly where data is missing, never a splice.

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
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import NamedTuple, Self

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from monitor.core.backoff import Backoff
from monitor.core.errors import BleDeviceError, DecodeError, MonitorError
from monitor.core.model import SampleBlock
from monitor.core.ratelog import RateLimitedLog
from monitor.core.source_settings import BleDevice, BleSettings
from monitor.inputs.ble.driver import BleDriver
from monitor.inputs.ble.registry import driver_for, make_driver

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BleBackend:
    """bleak backend classes; ``None`` means bleak's default for this platform."""

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None


DEFAULT_BACKEND = BleBackend()
#: Expected failures of a session (retried after a backoff, reported in ``last_error``).
#: Anything else is a bug, retried too, but logged with its traceback and counted.
TRANSIENT = (BleakError, BleDeviceError, TimeoutError, OSError, EOFError)
#: A session that streamed this long resets the reconnect backoff.
STABLE_S = 10.0


class _Note(NamedTuple):
    """One queued notification."""

    uuid: str
    payload: bytes
    received: float  # wall clock, for drivers without a clock of their own
    session: int  # which connection it came from
    lost_before: int  # notifications dropped just before this one


@dataclass(frozen=True, slots=True)
class BleStatus:
    """One device's link, for the stats message and ``/metrics``: a snapshot, so the
    reader never sees counters change under it."""

    connected: bool
    attempts: int
    connections: int
    disconnects: int
    stalls: int
    failures: int
    dropped: int
    decode_errors: dict[str, int]
    last_error: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class BleSource:
    """One configured BLE device as a source of ``SampleBlock``s.

    ``async with BleSource(...) as src: async for block in src: ...``. Counters:
    ``attempts`` (sessions begun), ``connections`` (sessions that streamed),
    ``disconnects`` (streaming links lost or stalled), ``stalls``, ``failures``
    (unexpected errors), ``dropped`` (notifications lost to the bounded queue),
    ``decode_errors`` by reason; ``connected`` is set while streaming.
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
        stable_s: float = STABLE_S,
    ) -> None:
        self.device = device
        # Told the moment the link drops (the pipeline then says signal_lost on its next
        # tick) instead of waiting for service.silence_s of silence.
        self.on_lost = on_lost
        self.settings = settings
        self.driver = driver or make_driver(device.driver, device.sensor, device.options, key)
        self.backend = backend
        self.clock = clock
        self.stable_s = stable_s
        self.backoff = Backoff(cap=settings.backoff_max_s)
        self.connected = asyncio.Event()
        self.attempts = 0
        self.connections = 0
        self.disconnects = 0
        self.stalls = 0
        self.failures = 0
        self.dropped = 0
        self.decode_errors: Counter[str] = Counter()
        self._warn = RateLimitedLog(log)
        self.last_error: str = ""
        self._queue: deque[_Note] = deque(maxlen=settings.queue_size)
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session_id = 0  # of the connection now streaming
        self._decoded_session = 0  # of the last notification decoded
        self._lost_carry = 0  # undecodable notifications, reported with the next one
        self._first_rx: float | None = None  # loop time of this session's notifications
        self._last_rx = 0.0
        self._step = ""

    @property
    def sensor(self) -> str:
        return self.device.sensor

    def status(self) -> BleStatus:
        return BleStatus(
            connected=self.connected.is_set(),
            attempts=self.attempts,
            connections=self.connections,
            disconnects=self.disconnects,
            stalls=self.stalls,
            failures=self.failures,
            dropped=self.dropped,
            decode_errors=dict(self.decode_errors),
            last_error=self.last_error,
        )

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
            note = self._queue.popleft()
            if note.session != self._decoded_session:
                self._decoded_session = note.session
                self._lost_carry = 0  # the new anchor covers it
                self.driver.restart()  # the first notification of a new connection
            lost = note.lost_before + self._lost_carry
            if lost:
                self._lost_carry = 0
                self.driver.lost(lost)
            try:
                return self.driver.decode(note.uuid, note.payload, note.received)
            except DecodeError as exc:
                self._lost_carry += 1  # its samples are missing: a hole, not a splice
                n = self.decode_errors[exc.reason] = self.decode_errors[exc.reason] + 1
                self._warn.warn(
                    exc.reason, self.sensor, f"{self.sensor}: notification dropped ({n}): {exc}"
                )

    # -- the connection loop --------------------------------------------------------------
    async def _run(self) -> None:
        """Sessions one after the other, for ever: only cancellation ends the loop."""
        while True:
            self._first_rx = None
            try:
                await self._session()
            except TRANSIENT as exc:
                self.last_error = str(exc) or type(exc).__name__
                log.warning("%s: %s", self.sensor, self.last_error)
            except Exception as exc:  # a bug (driver, backend): this device retries
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: BLE session failed unexpectedly; retrying", self.sensor)
            finally:
                streamed = self.connected.is_set()
                self.connected.clear()
            if streamed:
                self.disconnects += 1
                if self.on_lost is not None:
                    self.on_lost(self.sensor)
                log.warning("%s: BLE link lost; reconnecting", self.sensor)
            first = self._first_rx
            if first is not None and self._last_rx - first >= self.stable_s:
                self.backoff.reset()  # it streamed long enough: a fresh problem
            delay = self.backoff.next()
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

    async def _session(self) -> None:
        """One connection, from scan to disconnection (or stall)."""
        self.attempts += 1
        target = await self._find()
        lost = asyncio.Event()
        client = BleakClient(
            target,
            disconnected_callback=lambda _client: lost.set(),
            timeout=self.settings.connect_timeout_s,
            backend=self.backend.client,
        )
        limit = self.settings.start_timeout_s
        try:
            try:
                async with asyncio.timeout(limit):
                    self._step = "connect"
                    await client.connect()
                    self._session_id += 1
                    await self._start(client)
            except TimeoutError as exc:
                raise BleDeviceError(self.sensor, self._step, f"not done in {limit:g} s") from exc
            self.connections += 1
            self.connected.set()
            log.info(
                "%s: streaming from %s (%s driver)", self.sensor, target.address, self.driver.name
            )
            await self._watch(lost)
        finally:
            await self._close(client)

    async def _watch(self, lost: asyncio.Event) -> None:
        """Until the link drops, or no notification came for ``stall_s`` (then return:
        the caller disconnects and starts again)."""
        stall = self.settings.stall_s
        self._last_rx = max(self._last_rx, time.monotonic())
        while not lost.is_set():
            quiet_for = time.monotonic() - self._last_rx
            if quiet_for >= stall:
                self.stalls += 1
                self.last_error = f"no data for {stall:g} s: restarting the link"
                log.warning("%s: %s", self.sensor, self.last_error)
                return
            try:
                async with asyncio.timeout(stall - quiet_for):
                    await lost.wait()
            except TimeoutError:
                pass

    async def _close(self, client: BleakClient) -> None:
        """Disconnect, best effort and bounded: the link may be gone already."""
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s):
                await client.disconnect()
        except Exception as exc:
            log.debug("%s: disconnect: %s", self.sensor, exc)

    async def _start(self, client: BleakClient) -> None:
        """Subscribe to the answers and the data (before the start commands, as the
        vendors' SDKs do: the first frames follow the start at once), then the commands."""
        answers: dict[str, asyncio.Queue[bytes]] = {}
        for uuid in self.driver.control_uuids:
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            answers[uuid.lower()] = queue

            def answered(
                _char: BleakGATTCharacteristic, data: bytearray, queue: asyncio.Queue[bytes] = queue
            ) -> None:
                queue.put_nowait(bytes(data))

            self._step = f"subscribe to {uuid}"
            await client.start_notify(uuid, answered)
        for uuid in self.driver.data_uuids:
            self._step = f"subscribe to {uuid}"
            await client.start_notify(uuid, self._notified)
        pending = deque(self.driver.start_commands())
        while pending:
            command = pending.popleft()
            self._step = command.what
            await client.write_gatt_char(command.uuid, command.payload, response=True)
            if command.response_uuid is not None:
                answer = await answers[command.response_uuid.lower()].get()
                pending.extendleft(reversed(self.driver.check_response(command, answer)))

    def _notified(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        """bleak's callback: enqueue and wake the consumer, nothing else."""
        queue = self._queue
        now = time.monotonic()
        if self._first_rx is None:
            self._first_rx = now
        self._last_rx = now
        note = _Note(char.uuid, bytes(data), self.clock(), self._session_id, 0)
        if len(queue) == queue.maxlen:
            self.dropped += 1
            oldest = queue.popleft()
            queue.append(note)
            head = queue[0]  # follows the dropped one: the driver must see the hole
            queue[0] = head._replace(lost_before=head.lost_before + oldest.lost_before + 1)
        else:
            queue.append(note)
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
