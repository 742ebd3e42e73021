"""Just enough MQTT 3.1.1 to publish QoS 0 messages in batches, for the virtual fleet.

Why not aiomqtt here: the load test runs the fleet on the same 2-core machine as the
monitor it measures, and every CPU second the fleet spends is taken from the monitor.
Through aiomqtt each publish is a coroutine, a paho packet object and an event-loop
round trip: measured 0.77 of a core for 6,000 messages/s, more than the broker and
nearly as much as the monitor. Here a step's messages are encoded as PUBLISH packets
and written with one ``write``: a few microseconds per message. The monitor itself keeps
using aiomqtt; this speaks only the small, stable subset a sensor needs (CONNECT,
CONNACK, PUBLISH at QoS 0, PINGREQ, DISCONNECT).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Iterable
from types import TracebackType
from typing import Self

CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class MqttPublishError(ConnectionError):
    """The broker refused or dropped the connection."""


def _length(n: int) -> bytes:
    """MQTT's variable-length 'remaining length' field."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def publish_packet(topic: str, payload: bytes) -> bytes:
    """One PUBLISH packet at QoS 0, not retained."""
    body = _string(topic) + payload
    return b"\x30" + _length(len(body)) + body


def connect_packet(client_id: str, keepalive_s: int) -> bytes:
    # Protocol name, level 4 (3.1.1), flags: clean session only, then the keep-alive.
    variable = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive_s)
    body = variable + _string(client_id)
    return b"\x10" + _length(len(body)) + body


class Qos0Publisher:
    """``async with Qos0Publisher(host, port, "id") as pub: await pub.publish_many(...)``.

    Keeps the connection alive with PINGREQ and reads (and discards) what the broker
    sends, so the socket's receive buffer never fills. A lost connection surfaces as
    ``MqttPublishError`` on the next publish.
    """

    def __init__(self, host: str, port: int, client_id: str, keepalive_s: int = 60) -> None:
        self.host, self.port, self.client_id, self.keepalive_s = host, port, client_id, keepalive_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lost: BaseException | None = None

    async def __aenter__(self) -> Self:
        try:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise MqttPublishError(f"mqtt://{self.host}:{self.port}: {exc}") from exc
        self._writer.write(connect_packet(self.client_id, self.keepalive_s))
        await self._writer.drain()
        try:
            async with asyncio.timeout(10):
                ack = await self._reader.readexactly(4)
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            await self._close()
            raise MqttPublishError(f"mqtt://{self.host}:{self.port}: no CONNACK") from exc
        if ack[0] != 0x20 or ack[3] != 0:
            await self._close()
            reason = CONNACK_CODES.get(ack[3], f"code {ack[3]}")
            raise MqttPublishError(f"mqtt://{self.host}:{self.port} refused: {reason}")
        self._tasks = [
            asyncio.create_task(self._drain_incoming(), name="qos0-read"),
            asyncio.create_task(self._ping(), name="qos0-ping"),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._writer is not None and self._lost is None:
            with contextlib.suppress(OSError):
                self._writer.write(b"\xe0\x00")  # DISCONNECT: no Last Will, a clean goodbye
                await self._writer.drain()
        await self._close()

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None

    async def _drain_incoming(self) -> None:
        assert self._reader is not None
        while True:
            data = await self._reader.read(65536)
            if not data:
                self._lost = MqttPublishError("the broker closed the connection")
                return

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.keepalive_s / 2))
            await self.publish_raw(b"\xc0\x00")

    async def publish_raw(self, data: bytes) -> None:
        if self._lost is not None:
            raise self._lost
        if self._writer is None:
            raise MqttPublishError("not connected")
        self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError as exc:
            self._lost = MqttPublishError(f"connection lost: {exc}")
            raise self._lost from exc

    async def publish_many(self, messages: Iterable[tuple[str, bytes]]) -> int:
        """Publish the messages in order, with one write; returns how many."""
        packets = [publish_packet(topic, payload) for topic, payload in messages]
        if packets:
            await self.publish_raw(b"".join(packets))
        return len(packets)

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        if qos != 0:
            raise ValueError("Qos0Publisher publishes at QoS 0 only")
        await self.publish_many([(topic, payload)])
