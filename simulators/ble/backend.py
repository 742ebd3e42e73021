"""A bleak backend built on bumble, so the monitor's production bleak code path runs over a
real BLE host stack with no hardware.

bleak takes backend classes (``BleakScanner(backend=...)``, ``BleakClient(backend=...)``)
and constructs them itself, so the classes must know their radio without a global:
``bumble_backend(air)`` makes a pair of subclasses bound to one ``VirtualAir``. The
scanner turns bumble advertisements into bleak ``AdvertisementData``; the client maps
bleak's calls onto bumble's GATT client (discover, read, write, subscribe) and reports
an unsolicited disconnection through bleak's disconnected callback, as the platform
backends do. Every bumble error (an ATT error response, a dropped link, a bumble
timeout) leaves the backend as ``BleakError``, bleak's error contract, so the monitor
sees the exception types a platform backend would raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import core, gatt
from bumble.device import Peer
from bumble.hci import Address

from monitor.inputs.ble.source import BleBackend
from simulators.ble.air import VirtualAir

log = logging.getLogger(__name__)

ATT_MTU = 247  # what phones and PCs negotiate; PMD frames need more than the default 23

_PROPERTY_NAMES: tuple[tuple[int, CharacteristicPropertyName], ...] = (
    (gatt.Characteristic.Properties.BROADCAST, "broadcast"),
    (gatt.Characteristic.Properties.READ, "read"),
    (gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (gatt.Characteristic.Properties.WRITE, "write"),
    (gatt.Characteristic.Properties.NOTIFY, "notify"),
    (gatt.Characteristic.Properties.INDICATE, "indicate"),
    (gatt.Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (gatt.Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)


def uuid_str(value: Any) -> str:
    """A bumble UUID (16-bit or 128-bit) -> bleak's form: lower-case 128-bit text."""
    return str(uuid.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


@contextlib.contextmanager
def bleak_errors(what: str) -> Iterator[None]:
    """Re-raise any bumble error as ``BleakError`` (what a bleak backend may raise)."""
    try:
        yield
    except core.BaseBumbleError as exc:
        raise BleakError(f"bumble: {what}: {exc}") from exc


def bumble_backend(air: VirtualAir) -> BleBackend:
    """bleak backend classes bound to ``air``, for ``BleSource(backend=...)``."""

    class Scanner(BumbleScanner):
        radio = air

    class Client(BumbleClient):
        radio = air

    return BleBackend(scanner=Scanner, client=Client)


class BumbleScanner(BaseBleakScanner):
    radio: VirtualAir

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._device: Any = None

    def _on_advertisement(self, adv: Any) -> None:
        data = adv.data
        name_raw = data.get(core.AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
            core.AdvertisingData.SHORTENED_LOCAL_NAME
        )
        name = name_raw.decode() if isinstance(name_raw, bytes) else name_raw
        uuids: list[str] = []
        for kind in (
            core.AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            core.AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            core.AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        ):
            uuids.extend(uuid_str(u) for u in data.get(kind) or [])
        if not self.is_allowed_uuid(uuids):
            return
        address = str(adv.address).split("/")[0]
        advertisement = AdvertisementData(
            local_name=name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=int(adv.rssi),
            platform_data=(adv,),
        )
        device = self.create_or_update_device(address, address, name, adv.address, advertisement)
        self.call_detection_callbacks(device, advertisement)

    async def start(self) -> None:
        self.seen_devices = {}
        with bleak_errors("start scanning"):
            self._device = await self.radio.central()
            self._device.on("advertisement", self._on_advertisement)
            await self._device.start_scanning(filter_duplicates=False)

    async def stop(self) -> None:
        if self._device is not None:
            self._device.remove_listener("advertisement", self._on_advertisement)
            if self._device.scanning:
                with bleak_errors("stop scanning"):
                    await self._device.stop_scanning()


class BumbleClient(BaseBleakClient):
    radio: VirtualAir

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        details = (
            address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._peer_address: Any = details if isinstance(details, Address) else None
        self._connection: Any = None
        self._peer: Any = None
        self._closing = False
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return str(self.address)

    @property
    def mtu_size(self) -> int:
        return int(self._connection.att_mtu) if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        with bleak_errors("power on the central"):
            central = await self.radio.central()
        target = self._peer_address or Address(self.address)
        try:
            async with asyncio.timeout(self._timeout), self.radio.connect_lock:
                connection = await central.connect(target)
                self._connection = connection
                self._closing = False
                connection.on("disconnection", self._on_disconnection)
                peer = Peer(connection)
                await peer.request_mtu(ATT_MTU)
                await peer.discover_all()  # type: ignore[no-untyped-call]
                self._peer = peer
                self.services = self._collect(peer)
        except core.BaseBumbleError as exc:
            await self._drop()
            raise BleakError(f"bumble: {exc}") from exc
        except BaseException:
            await self._drop()
            raise

    async def _drop(self, quiet: bool = True) -> None:
        if self._connection is not None:
            self._closing = True
            connection, self._connection = self._connection, None
            try:
                await connection.disconnect()
            except core.BaseBumbleError as exc:
                if connection.handle in connection.device.connections and not quiet:
                    raise BleakError(f"bumble: disconnect: {exc}") from exc
                log.debug("disconnect of %s: %s", self.address, exc)  # already gone

    def _on_disconnection(self, reason: int) -> None:
        unsolicited = not self._closing
        self._connection = None
        self._peer = None
        if unsolicited and self._disconnected_callback is not None:
            self._disconnected_callback()

    def _collect(self, peer: Any) -> BleakGATTServiceCollection:
        services = BleakGATTServiceCollection()
        for svc in peer.services:
            service = BleakGATTService(svc, svc.handle, uuid_str(svc.uuid))
            services.add_service(service)
            for ch in svc.characteristics:
                props = [name for bit, name in _PROPERTY_NAMES if ch.properties & bit]
                char = BleakGATTCharacteristic(
                    ch, ch.handle, uuid_str(ch.uuid), props, lambda: self.mtu_size - 3, service
                )
                services.add_characteristic(char)
                for d in ch.descriptors:
                    services.add_descriptor(
                        BleakGATTDescriptor(d, d.handle, uuid_str(d.type), char)
                    )
        return services

    def _require_peer(self) -> Any:
        if self._peer is None:
            raise BleakError("not connected")
        return self._peer

    async def disconnect(self) -> None:
        try:
            await self._drop(quiet=False)
        finally:
            self._peer = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not supported by the bumble test backend")

    async def unpair(self) -> None:
        raise BleakError("pairing is not supported by the bumble test backend")

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        with bleak_errors(f"read {characteristic.uuid}"):
            return bytearray(await peer.read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        with bleak_errors(f"read descriptor {descriptor.uuid}"):
            return bytearray(await peer.read_value(descriptor.obj))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._require_peer()
        with bleak_errors(f"write {characteristic.uuid}"):
            await peer.write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        peer = self._require_peer()
        with bleak_errors(f"write descriptor {descriptor.uuid}"):
            await peer.write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._require_peer()

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = deliver  # kept for stop_notify
        with bleak_errors(f"subscribe to {characteristic.uuid}"):
            await peer.subscribe(characteristic.obj, deliver, prefer_notify=True)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        with bleak_errors(f"unsubscribe from {characteristic.uuid}"):
            await peer.unsubscribe(
                characteristic.obj, self._subscribers.pop(characteristic.handle, None)
            )
