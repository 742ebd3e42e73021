"""A thin asyncio face on paho-mqtt's own network thread: the monitor's MQTT client.

Why not aiomqtt here: the monitor's hot path needs two things aiomqtt offers only
through its private parts (``_on_message``, ``_client``): every received payload handed
straight to the ingest queue (at 10,000 messages/s the ``client.messages`` iterator's
per-message object, queue hop and wake-up cost about as much CPU as the batched tick),
and a QoS 0 publish that does not await. paho does both through its public API, and its
network loop (``loop_start``) runs in its own thread, so receiving and keep-alives never
wait for the event loop. The event loop awaits only what needs an answer: CONNACK,
SUBACK, and the PUBACK of QoS 1 messages, each a future resolved from paho's thread with
``call_soon_threadsafe``. A lost connection fails every pending future with
``LinkError`` and resolves ``disconnected()``, so the link's TaskGroup ends and the
reconnect loop takes over. One client per connection attempt, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

#: How long CONNACK, SUBACK and a QoS 1 PUBACK may take before the connection is
#: treated as broken.
REPLY_TIMEOUT_S = 30.0


class LinkError(Exception):
    """The broker refused us, did not answer, or the connection was lost."""


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: str
    qos: int = 1
    retain: bool = True


class PahoClient:
    """``async with PahoClient(...) as client``: connected on entry, disconnected on exit.
    ``on_payload(topic, payload)`` is called on paho's thread for every message."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        on_payload: Callable[[str, bytes], None],
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
        tls_context: ssl.SSLContext | None = None,
        will: Will | None = None,
        max_queued: int = 10_000,
    ) -> None:
        self.host, self.port, self.keepalive = host, port, keepalive
        self._on_payload = on_payload
        # reconnect_on_failure=False: paho's thread ends with the connection; the link's
        # own loop reconnects with a new client (two clients with one id would fight).
        self._paho = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            reconnect_on_failure=False,
        )
        if username:
            self._paho.username_pw_set(username, password or None)
        if tls_context is not None:
            self._paho.tls_set_context(tls_context)
        if will is not None:
            self._paho.will_set(will.topic, will.payload, will.qos, will.retain)
        self._paho.max_queued_messages_set(max_queued)
        # A callback that raised would end paho's thread without on_disconnect: the link
        # would wait for a disconnect that never comes.
        self._paho.suppress_exceptions = True
        self._paho.on_connect = self._on_connect
        self._paho.on_disconnect = self._on_disconnect
        self._paho.on_message = self._on_message
        self._paho.on_publish = self._on_publish
        self._paho.on_subscribe = self._on_subscribe
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = -1
        # Guards the three tables below, shared with paho's thread. Never held while
        # calling into paho: paho calls back into us holding its own locks.
        self._lock = threading.Lock()
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._early: set[int] = set()  # answered before their future was registered
        self._ignore: set[int] = set()  # QoS 0 sends: their on_publish answers nobody
        self._connack: asyncio.Future[None] | None = None
        # Resolved (with a result, never an exception: nobody may be waiting) when the
        # connection ends; ``lost_reason`` says why.
        self._lost: asyncio.Future[None] | None = None
        self.lost_reason = ""
        self._closed = False  # set with _fail_pending: no request may wait after it

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        loop = self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._connack = loop.create_future()
        self._lost = loop.create_future()
        try:
            # connect() resolves the name and opens the socket (and TLS): blocking.
            await asyncio.to_thread(self._paho.connect, self.host, self.port, self.keepalive)
            self._paho.loop_start()
        except (OSError, ValueError) as exc:
            self._close_socket()
            raise LinkError(f"cannot connect: {exc}") from exc
        except BaseException:
            self._close_socket()
            raise
        try:
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                await self._connack
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        try:
            self._paho.disconnect()
            # loop_stop joins paho's thread: not on the event loop, and not for ever (a
            # DISCONNECT stuck behind a full send buffer): then the socket is closed.
            stopping = asyncio.ensure_future(asyncio.to_thread(self._paho.loop_stop))
            done, _ = await asyncio.wait({stopping}, timeout=5.0)
            if not done:
                self._close_socket()
                await stopping
        finally:
            self._fail_pending(LinkError("disconnected"))
            # The callbacks tie paho's client to this object: let both go with the socket.
            for name in ("on_connect", "on_disconnect", "on_message", "on_publish", "on_subscribe"):
                setattr(self._paho, name, None)

    def _close_socket(self) -> None:
        sock = self._paho.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    async def disconnected(self) -> None:
        """Returns never; raises ``LinkError`` once the connection is lost. Also checks
        paho's own view once per keep-alive, in case its thread ended without saying so."""
        assert self._lost is not None
        period = max(1.0, float(self.keepalive or 30))
        while not self._lost.done():
            await asyncio.wait({self._lost}, timeout=period)
            if not self._lost.done() and not self._paho.is_connected():
                self.lost_reason = self.lost_reason or "connection lost (network thread ended)"
                break
        raise LinkError(self.lost_reason or "connection lost")

    # -- requests --------------------------------------------------------------------
    async def subscribe(self, topic: str, qos: int = 0) -> None:
        def send() -> tuple[int, int | None]:
            rc, mid = self._paho.subscribe(topic, qos)
            return rc, mid

        await self._request(send)

    async def publish(
        self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False
    ) -> None:
        """Sent (QoS 0) or acknowledged by the broker (QoS 1)."""
        if qos == 0:
            if not self.publish_nowait(topic, payload, retain):
                raise LinkError("not connected")
            return
        await self._request(lambda: self._publish_mid(topic, payload, qos, retain))

    def publish_nowait(self, topic: str, payload: str | bytes, retain: bool = False) -> bool:
        """Queue a QoS 0 message and return at once; False when paho refused it (not
        connected). Safe from any thread."""
        info = self._paho.publish(topic, payload, 0, retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        with self._lock:  # its on_publish may have come already, or come later
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._ignore.add(info.mid)
        return True

    def _publish_mid(
        self, topic: str, payload: str | bytes, qos: int, retain: bool
    ) -> tuple[int, int | None]:
        info = self._paho.publish(topic, payload, qos, retain)
        return (info.rc, info.mid)

    async def _request(self, send: Callable[[], tuple[int, int | None]]) -> None:
        """Send, register the mid's future (its answer may have come already: then it is
        in ``_early``), and wait for the answer."""
        assert self._loop is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        rc, mid = send()
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise LinkError(f"request refused: {mqtt.error_string(rc)}")
        with self._lock:
            if self._closed:
                raise LinkError(self.lost_reason or "connection lost")
            if mid in self._early:
                self._early.discard(mid)
                fut.set_result(None)
            else:
                self._pending[mid] = fut
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            await fut

    # -- paho's thread -----------------------------------------------------------------
    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = message.payload
        try:
            self._on_payload(
                message.topic, payload if isinstance(payload, bytes) else bytes(payload)
            )
        except Exception:  # one payload, never the connection
            log.exception("payload on %r not taken", message.topic[:100])

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self._resolve(self._connack, LinkError(f"broker refused the connection: {reason}"))
        else:
            self._resolve(self._connack, None)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        error = LinkError(f"connection lost: {reason}")
        self.lost_reason = str(error)
        self._resolve(self._connack, error)
        self._resolve(self._lost, None)
        self._fail_pending(error)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._answered(mid)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        refused = [c for c in codes if getattr(c, "is_failure", False)]
        error = LinkError(f"subscription refused: {refused[0]}") if refused else None
        self._answered(mid, error)

    def _answered(self, mid: int, error: LinkError | None = None) -> None:
        with self._lock:
            if mid in self._ignore:
                self._ignore.discard(mid)
                return
            fut = self._pending.pop(mid, None)
            if fut is None:
                self._early.add(mid)  # (a refused early SUBACK shows as no data, logged)
                if error is not None:
                    log.error("%s", error)
                return
        self._resolve(fut, error)

    def _fail_pending(self, error: LinkError) -> None:
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, {}
            self._early.clear()
            self._ignore.clear()
        for fut in pending.values():
            self._resolve(fut, error)

    def _resolve(self, fut: asyncio.Future[None] | None, error: LinkError | None) -> None:
        """Set a future from any thread (once; later calls are ignored)."""
        if fut is None or self._loop is None or self._loop.is_closed():
            return

        def settle() -> None:
            if fut.done():
                return
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)

        if threading.get_ident() == self._loop_thread:
            settle()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(settle)
