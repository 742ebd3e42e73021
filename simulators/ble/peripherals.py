"""Virtual BLE sensors: bumble GATT servers that speak the devices' own protocols.

* ``VirtualPolar``: the PMD service; the control point answers start/stop requests for ACC
  (and refuses rates and ranges an H10 does not offer, by the documented status codes);
  data frames raw int16 (H10) or delta-compressed (Verity Sense style), timestamped in ns
  since 2000-01-01 with the time of the last sample.
* ``VirtualMyo``: the Myo command characteristic (set mode turns EMG on and off) and the
  four EMG characteristics in turn, two samples of 8 int8 per notification, 200 Hz.
* ``VirtualGeneric``: one notify characteristic of int16 frames with a uint8 counter,
  started by an optional command.

Each streams a signal (channels x samples, physical units) at its real rate times
``speed``. The device clock runs from power-on whether anyone listens or not, as on a
real sensor: samples sent while nobody subscribes are lost. ``drop()`` cuts the link from
the peripheral's side (the disconnect tests). A peripheral is an async context manager
that owns its streaming task.

Faults for tests: ``reject_writes`` (an ATT error code) makes every command write fail
with that error response; ``VirtualPolar.mute`` leaves start requests unanswered and
``VirtualPolar.status`` answers them with a control-point error code.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from bumble import att, gatt
from bumble.core import UUID, AdvertisingData

from monitor.core.errors import DecodeError
from monitor.core.model import G_MS2
from monitor.inputs.ble import myo, polar

log = logging.getLogger(__name__)

PROPS = gatt.Characteristic.Properties
POLAR_EPOCH_BASE_NS = 800_000_000 * 10**9  # the device clock at power-on: 2025-05-08
H10_RATES = (25, 50, 100, 200)
H10_RANGES = (2, 4, 8)


def _adv(name: str, service_uuid: str) -> tuple[bytes, bytes]:
    """Advertising data (flags, name) and scan response (128-bit service UUID)."""
    adv = AdvertisingData(
        [
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, name.encode()),
        ]
    )
    scan = AdvertisingData(
        [
            (
                AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                UUID(service_uuid).to_bytes(),
            )
        ]
    )
    return bytes(adv), bytes(scan)


class VirtualPeripheral:
    """Advertising, the streaming clock and link control common to the virtual sensors."""

    frame_samples = 1
    service_uuid = ""

    def __init__(
        self,
        device: Any,
        signal: npt.NDArray[np.floating[Any]],
        fs: float,
        speed: float = 1.0,
        loop: bool = True,
        hold: bool = False,
    ) -> None:
        self.device = device
        self.signal = np.asarray(signal, dtype=np.float64)
        self.fs = fs
        self.speed = speed
        self.loop = loop
        #: True: the clock (and the signal) wait for the first listener, as when a subject
        #: starts the task once the recording runs. The tests that time a detection in
        #: signal time use it, so a slow connection on a busy machine eats no signal.
        self.hold = hold
        self.streaming = False
        self.position = 0  # samples since power-on: the device clock
        self.sent = 0  # notifications sent
        self.starts = 0  # start commands honoured
        self.first_sent: int | None = None  # signal index of the first sample notified
        #: An ATT error code: every command write is refused with it (None: accepted).
        self.reject_writes: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.finished = asyncio.Event()

    @property
    def name(self) -> str:
        return str(self.device.name)

    @property
    def address(self) -> str:
        return str(self.device.public_address).split("/")[0]

    @property
    def listening(self) -> bool:
        return self.streaming and bool(self.device.connections)

    def services(self) -> list[Any]:
        raise NotImplementedError

    async def send(self, chunk: npt.NDArray[np.float64], end: int) -> None:
        """Notify one frame of samples ending at device-clock sample ``end``."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self.device.add_services(self.services())
        self.device.on("disconnection", self._on_disconnection)
        await self.device.power_on()
        adv, scan = _adv(self.name, self.service_uuid)
        # Every 100 ms (bumble's default is 1 s): a 1 s scan on a busy machine missed
        # a device now and then; real sensors advertise at 20 ms to 1 s.
        await self.device.start_advertising(
            advertising_data=adv,
            scan_response_data=scan,
            auto_restart=True,
            advertising_interval_min=100.0,
            advertising_interval_max=100.0,
        )
        self._task = asyncio.create_task(self._stream(), name=f"virtual-{self.name}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._task = None

    def _on_disconnection(self, *_: Any) -> None:
        self.streaming = False  # a real sensor stops its measurement when the link goes

    def refuse(self) -> None:
        """Called by the write handlers: the configured ATT error response, if any."""
        if self.reject_writes is not None:
            raise att.ATT_Error(self.reject_writes)

    def later(self, coro: Any) -> None:
        """Run ``coro`` after the current GATT request is answered (a kept task)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drop(self) -> None:
        """Cut every link from the peripheral's side; advertising restarts by itself."""
        for connection in list(self.device.connections.values()):
            await connection.disconnect()

    async def _stream(self) -> None:
        loop = asyncio.get_running_loop()
        n = self.frame_samples
        period = n / self.fs / self.speed
        tick = max(period, 0.01)  # wake at most 100 times a second; send what is due
        started = loop.time()
        total = self.signal.shape[1]
        while True:
            await asyncio.sleep(tick)
            if self.hold and self.first_sent is None and not self.listening:
                started = loop.time()
                continue
            due = int((loop.time() - started) / period)
            while self.position // n < due:
                start = self.position % total if self.loop else self.position
                if start + n > total:
                    if not self.loop:
                        self.finished.set()
                        return
                    start = 0
                chunk = self.signal[:, start : start + n]
                self.position += n
                if self.listening:
                    if self.first_sent is None:
                        self.first_sent = start
                    await self.send(chunk, self.position)
                    self.sent += 1


class VirtualPolar(VirtualPeripheral):
    """A Polar H10 (raw int16 frames) or, with ``compressed``, Verity-Sense-style frames.
    ``signal`` is acceleration in m/s^2, 3 x samples; its rate must be an H10 rate."""

    service_uuid = polar.PMD_SERVICE

    def __init__(
        self,
        device: Any,
        signal: npt.NDArray[np.floating[Any]],
        fs: float = 200.0,
        speed: float = 1.0,
        loop: bool = True,
        hold: bool = False,
        compressed: bool = False,
        frame_samples: int = 36,
        factor: float = 1.0,
    ) -> None:
        super().__init__(device, signal, fs, speed, loop, hold)
        self.compressed = compressed
        self.frame_samples = frame_samples
        #: The start response's factor: compressed frames carry milli-g / factor.
        self.factor = factor
        self.range_g = 8
        self.mute = False  # True: start requests get no answer
        self.status: int | None = None  # a status code to answer start requests with
        self.requests: list[bytes] = []  # every control point request, in order
        #: For each start request: was the data characteristic subscribed already?
        self.subscribed_at_start: list[bool] = []
        self.control: gatt.Characteristic[bytes] = gatt.Characteristic(
            polar.PMD_CONTROL,
            PROPS.READ | PROPS.WRITE | PROPS.INDICATE,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue[bytes](read=self._features, write=self._on_control),
        )
        self.data = gatt.Characteristic(
            polar.PMD_DATA, PROPS.NOTIFY, gatt.Characteristic.READABLE, b""
        )

    def services(self) -> list[Any]:
        return [gatt.Service(polar.PMD_SERVICE, [self.control, self.data])]

    def _features(self, connection: Any) -> bytes:
        return bytes([0x0F, 1 << polar.MEASUREMENT_ACC, 0])  # features: ACC available

    def answer(self, request: bytes) -> bytes:
        """The control point's answer to ``request`` (and its effect on streaming)."""
        if len(request) < 2:
            return bytes([polar.RESPONSE_CODE, request[0] if request else 0, 0, 4])
        op, kind = request[0], request[1]
        if op not in (polar.OP_GET_SETTINGS, polar.OP_START, polar.OP_STOP):
            return bytes([polar.RESPONSE_CODE, op, kind, 1])
        if kind != polar.MEASUREMENT_ACC:
            return bytes([polar.RESPONSE_CODE, op, kind, 3])
        if op == polar.OP_STOP:
            self.streaming = False
            return bytes([polar.RESPONSE_CODE, op, kind, 0, 0])
        if op == polar.OP_GET_SETTINGS:
            params = struct.pack("<BB4H", 0, 4, *H10_RATES) + struct.pack("<BBH", 1, 1, 16)
            params += struct.pack("<BB3H", 2, 3, *H10_RANGES)
            return bytes([polar.RESPONSE_CODE, op, kind, 0, 0]) + params
        try:
            settings = polar.parse_settings(request[2:])
        except DecodeError:
            return bytes([polar.RESPONSE_CODE, op, kind, 5])
        self.subscribed_at_start.append(self._data_subscribed())
        if self.status is not None:
            return bytes([polar.RESPONSE_CODE, op, kind, self.status])
        if self.streaming:
            return bytes([polar.RESPONSE_CODE, op, kind, 6])
        if settings.get(polar.SETTING_SAMPLE_RATE, [0])[0] != int(self.fs):
            return bytes([polar.RESPONSE_CODE, op, kind, 8])
        range_g = settings.get(polar.SETTING_RANGE, [8])[0]
        if range_g not in H10_RANGES:
            return bytes([polar.RESPONSE_CODE, op, kind, 9])
        self.range_g = range_g
        self.streaming = True
        self.starts += 1
        factor = struct.pack("<f", self.factor)
        return bytes([polar.RESPONSE_CODE, op, kind, 0, 0, polar.SETTING_FACTOR, 1]) + factor

    def _data_subscribed(self) -> bool:
        handle = self.data.handle
        return any(
            bool(cccds.get(handle, b"\0")[0] & 1)
            for cccds in self.device.gatt_server.subscribers.values()
        )

    def _on_control(self, connection: Any, value: bytes) -> None:
        self.refuse()
        self.requests.append(bytes(value))
        if self.mute:
            return
        was_streaming = self.streaming
        response = self.answer(bytes(value))
        starts = self.streaming and not was_streaming
        self.streaming = was_streaming and self.streaming  # a start: after the answer
        self.later(self._indicate(connection, response, starts))

    async def _indicate(self, connection: Any, response: bytes, start: bool) -> None:
        """The answer first, then the frames (as a real device: the factor comes first)."""
        await self.device.indicate_subscriber(connection, self.control, response)
        if start:
            self.streaming = True

    async def send(self, chunk: npt.NDArray[np.float64], end: int) -> None:
        limit = 32767
        milli_g = np.clip(np.rint(chunk / G_MS2 * 1000.0), -limit, limit).astype(np.int64)
        timestamp = POLAR_EPOCH_BASE_NS + round((end - 1) / self.fs * 1e9)
        samples = milli_g.T
        payload = (
            polar.encode_delta(timestamp, np.rint(samples / self.factor).astype(np.int64), block=12)
            if self.compressed
            else polar.encode_raw(timestamp, samples)
        )
        await self.device.notify_subscribers(self.data, payload)


class VirtualMyo(VirtualPeripheral):
    """A Myo armband; ``signal`` is EMG in mV, 8 x samples at 200 Hz; ``mv_per_count``
    maps it to the int8 counts the Myo sends."""

    service_uuid = myo.CONTROL_SERVICE
    frame_samples = 2

    def __init__(
        self,
        device: Any,
        signal: npt.NDArray[np.floating[Any]],
        speed: float = 1.0,
        loop: bool = True,
        hold: bool = False,
        mv_per_count: float = 0.02,
    ) -> None:
        super().__init__(device, signal, myo.FS, speed, loop, hold)
        self.mv_per_count = mv_per_count
        self.mode = bytes(3)
        self.command: gatt.Characteristic[bytes] = gatt.Characteristic(
            myo.COMMAND,
            PROPS.WRITE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue[bytes](write=self._on_command),
        )
        self.emg = [
            gatt.Characteristic(uuid, PROPS.NOTIFY, gatt.Characteristic.READABLE, b"")
            for uuid in myo.EMG_DATA
        ]

    def services(self) -> list[Any]:
        return [
            gatt.Service(myo.CONTROL_SERVICE, [self.command]),
            gatt.Service(myo.EMG_SERVICE, self.emg),
        ]

    def _on_command(self, connection: Any, value: bytes) -> None:
        self.refuse()
        value = bytes(value)
        if len(value) >= 2 and value[0] == myo.CMD_SET_MODE and value[1] == 3 and len(value) == 5:
            self.mode = value[2:5]
            self.streaming = value[2] in (myo.EMG_MODE_FILTERED, myo.EMG_MODE_RAW)
            self.starts += int(self.streaming)

    async def send(self, chunk: npt.NDArray[np.float64], end: int) -> None:
        counts = np.clip(np.rint(chunk / self.mv_per_count), -128, 127).astype(np.int8)
        payload = counts.T.tobytes()  # sample 1's 8 channels, then sample 2's
        char = self.emg[(end // 2) % 4]
        await self.device.notify_subscribers(char, payload)


class VirtualGeneric(VirtualPeripheral):
    """A custom board for the generic driver: int16 interleaved frames with a uint8
    counter on ``notify_uuid``, streaming once ``start`` is written to ``start_uuid``."""

    service_uuid = "0000ffe0-0000-1000-8000-00805f9b34fb"
    notify_uuid = "0000ffe1-0000-1000-8000-00805f9b34fb"
    start_uuid = "0000ffe2-0000-1000-8000-00805f9b34fb"
    start = b"\x01"

    def __init__(
        self,
        device: Any,
        signal: npt.NDArray[np.floating[Any]],
        fs: float = 500.0,
        speed: float = 1.0,
        loop: bool = True,
        hold: bool = False,
        scale: float = 0.001,
        frame_samples: int = 10,
    ) -> None:
        super().__init__(device, signal, fs, speed, loop, hold)
        self.scale = scale
        self.frame_samples = frame_samples
        self.counter = 0
        self.notify = gatt.Characteristic(
            self.notify_uuid, PROPS.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        self.control: gatt.Characteristic[bytes] = gatt.Characteristic(
            self.start_uuid,
            PROPS.WRITE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue[bytes](write=self._on_start),
        )

    def services(self) -> list[Any]:
        return [gatt.Service(self.service_uuid, [self.notify, self.control])]

    def _on_start(self, connection: Any, value: bytes) -> None:
        self.refuse()
        self.streaming = bytes(value) == self.start
        self.starts += int(self.streaming)

    async def send(self, chunk: npt.NDArray[np.float64], end: int) -> None:
        raw = np.clip(np.rint(chunk / self.scale), -32768, 32767).astype("<i2")
        payload = bytes([self.counter]) + raw.T.tobytes()
        self.counter = (self.counter + 1) % 256
        await self.device.notify_subscribers(self.notify, payload)
