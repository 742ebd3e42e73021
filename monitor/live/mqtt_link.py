"""The MQTT connection: subscribe to sensor topics, feed the pipeline, publish results.

aiomqtt does not reconnect by itself, so ``MqttLink.run`` is a loop: connect (with the
Last Will ``offline`` on the status topic), subscribe, announce ``online`` (only then: a
client that waits for the retained ``online`` may publish at once and be heard), set
``ready``, then receive and publish in one TaskGroup until the connection fails; wait a
capped, jittered backoff and start again. Credentials come from ``mqtt.username`` /
``mqtt.password`` or else from the broker URL; logs show the URL without the password.
Received payloads go straight into ``Pipeline.submit`` (a bounded queue, never blocking);
decoding happens in the tick, in batches. Publishing only ever happens while connected;
alerts wait in the store's outbox meanwhile, so an outage loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt

from monitor.core.backoff import Backoff
from monitor.core.broker_url import broker_url
from monitor.core.config import MqttSettings
from monitor.live.pipeline import Pipeline
from monitor.live.publisher import STATUS_TOPIC, MqttPublisher

log = logging.getLogger(__name__)


class IngestClient(aiomqtt.Client):
    """aiomqtt's client, with each received message handed to ``on_payload`` inside
    paho's read handler instead of being queued for ``client.messages``.

    Why: at 10,000 messages/s the iterator's per-message ``Message`` object, asyncio
    queue hop and wake-up task cost about as much CPU as the whole batched tick
    (measured: 47 -> 31 µs per message for receive alone). ``client.messages`` still
    works for disconnect detection: it raises ``MqttError`` when the connection drops,
    it just never yields a message.
    """

    def __init__(self, *args: Any, on_payload: Callable[[str, bytes], None], **kwargs: Any) -> None:
        self._on_payload = on_payload
        super().__init__(*args, **kwargs)

    def publish_nowait(self, topic: str, payload: str | bytes) -> bool:
        """Queue a QoS 0 message in paho's outgoing queue and return at once.

        Why: for QoS 0 there is nothing to wait for, yet aiomqtt's ``publish`` is a
        coroutine with a semaphore; 500 feature messages per tick cost 22 ms that way
        and 2 ms this way. False when paho refused it (not connected). paho does not
        bound this queue for QoS 0; what bounds it is the publisher's awaiting of the
        QoS 1 messages that follow, whose PUBACKs come back only after it drained."""
        info = self._client.publish(topic, payload, 0, False)
        return bool(info.rc == mqtt.MQTT_ERR_SUCCESS)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        payload = message.payload
        self._on_payload(message.topic, payload if isinstance(payload, bytes) else bytes(payload))


class MqttLink:
    def __init__(
        self,
        settings: MqttSettings,
        pipeline: Pipeline,
        publisher: MqttPublisher,
        wakeup: asyncio.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.publisher = publisher
        self.wakeup = wakeup
        self.clock = clock
        url = broker_url(settings.broker)
        self.host, self.port = url.host, url.port
        self.tls = url.tls or settings.tls
        self.username = settings.username or url.username
        self.password = settings.password or url.password
        self.client_id = unique_client_id(settings.client_id)
        self.connected = asyncio.Event()
        # Set once the first subscription is in place (and stays set): "ready" for
        # whoever started the service.
        self.ready = asyncio.Event()
        self.connections = 0
        self.disconnects = 0

    @property
    def url(self) -> str:
        """The broker as logs show it: no credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def _client(self) -> IngestClient:
        """A new client for each connection attempt (aiomqtt clients are single-use)."""
        s = self.settings
        tls_context = None
        if self.tls:
            tls_context = ssl.create_default_context(cafile=s.ca_file or None)
            if s.cert_file:
                tls_context.load_cert_chain(s.cert_file, s.key_file or None)
        return IngestClient(
            self.host,
            self.port,
            identifier=self.client_id,
            username=self.username or None,
            password=self.password or None,
            keepalive=s.keepalive_s,
            tls_context=tls_context,
            will=aiomqtt.Will(STATUS_TOPIC, "offline", qos=1, retain=True),
            clean_session=True,
            max_queued_outgoing_messages=10_000,
            on_payload=self._submit,
        )

    def _submit(self, topic: str, payload: bytes) -> None:
        self.pipeline.submit(topic, payload, self.clock())

    async def run(self) -> None:
        backoff = Backoff(cap=self.settings.backoff_max_s)
        while True:
            try:
                async with self._client() as client:
                    # Publishing is pipelined (gather): many calls in flight are intended.
                    client.pending_calls_threshold = 100_000
                    self.connections += 1
                    backoff.reset()
                    for topic in self.settings.topics:
                        await client.subscribe(topic, qos=0)
                    await client.publish(STATUS_TOPIC, "online", qos=1, retain=True)
                    log.info(
                        "connected to %s as %s, subscribed to %s",
                        self.url,
                        self.client_id,
                        ", ".join(self.settings.topics),
                    )
                    self.connected.set()
                    self.ready.set()
                    try:
                        async with asyncio.TaskGroup() as tg:
                            tg.create_task(self._receive(client), name="mqtt-receive")
                            tg.create_task(self._publish(client), name="mqtt-publish")
                    finally:
                        self.connected.clear()
                        # Best effort on the way out; if the connection is gone, the Last
                        # Will says "offline" for us.
                        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                            async with asyncio.timeout(1.0):
                                await client.publish(STATUS_TOPIC, "offline", qos=1, retain=True)
            except* aiomqtt.MqttError as group:
                self.disconnects += 1
                delay = backoff.next()
                log.warning(
                    "%s unavailable (%s); retrying in %.1f s", self.url, group.exceptions[0], delay
                )
                await asyncio.sleep(delay)

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Payloads reach the pipeline through ``IngestClient``'s callback; this task only
        ends the connection's TaskGroup when aiomqtt reports a disconnect."""
        async for _ in client.messages:
            pass

    async def _publish(self, client: IngestClient) -> None:
        while True:
            await self.publisher.flush(client)
            await self.wakeup.wait()
            self.wakeup.clear()


def unique_client_id(configured: str) -> str:
    """``configured``, or ``fatigue-monitor-<host>-<6 hex>``: two monitors on one broker
    with one id throw each other off in turn (the broker drops the older connection), and
    the retained status flaps between online and offline."""
    if configured:
        return configured
    import secrets
    import socket

    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
    return f"fatigue-monitor-{host}-{secrets.token_hex(3)}"
