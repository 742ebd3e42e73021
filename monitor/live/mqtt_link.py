"""The MQTT connection: subscribe to sensor topics, feed the pipeline, publish results.

A client (``paho_client.PahoClient``) serves one connection, so ``MqttLink.run`` is a
loop: connect (with the
Last Will ``offline`` on the status topic), subscribe, announce ``online`` (only then: a
client that waits for the retained ``online`` may publish at once and be heard), set
``ready``, then receive and publish in one TaskGroup until the connection fails; wait a
capped, jittered backoff and start again. Credentials come from ``mqtt.username`` /
``mqtt.password`` or else from the broker URL; logs show the URL without the password.
Received payloads go straight into ``Pipeline.submit`` from paho's network thread (a
bounded, locked queue, never blocking); decoding happens in the tick, in batches.
Publishing only ever happens while connected; alerts wait in the store's outbox
meanwhile, so an outage loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Callable

from monitor.core.backoff import Backoff
from monitor.core.broker_url import broker_url
from monitor.core.config import MqttSettings
from monitor.live.paho_client import LinkError, PahoClient, Will
from monitor.live.pipeline import Pipeline
from monitor.live.publisher import STATUS_TOPIC, MqttPublisher

log = logging.getLogger(__name__)


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

    def _client(self) -> PahoClient:
        """A new client for each connection attempt."""
        s = self.settings
        tls_context = None
        if self.tls:
            tls_context = ssl.create_default_context(cafile=s.ca_file or None)
            if s.cert_file:
                tls_context.load_cert_chain(s.cert_file, s.key_file or None)
        return PahoClient(
            self.host,
            self.port,
            client_id=self.client_id,
            username=self.username or None,
            password=self.password or None,
            keepalive=s.keepalive_s,
            tls_context=tls_context,
            will=Will(STATUS_TOPIC, "offline", qos=1, retain=True),
            max_queued=10_000,
            on_payload=self._submit,
        )

    def _submit(self, topic: str, payload: bytes) -> None:
        self.pipeline.submit(topic, payload, self.clock())

    async def run(self) -> None:
        backoff = Backoff(cap=self.settings.backoff_max_s)
        while True:
            try:
                async with self._client() as client:
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
                        with contextlib.suppress(LinkError, TimeoutError):
                            async with asyncio.timeout(1.0):
                                await client.publish(STATUS_TOPIC, "offline", qos=1, retain=True)
            except* (LinkError, TimeoutError) as group:
                self.disconnects += 1
                delay = backoff.next()
                log.warning(
                    "%s unavailable (%s); retrying in %.1f s", self.url, group.exceptions[0], delay
                )
                await asyncio.sleep(delay)

    async def _receive(self, client: PahoClient) -> None:
        """Payloads reach the pipeline from paho's thread (``on_payload``); this task
        only ends the connection's TaskGroup when the connection is lost."""
        await client.disconnected()

    async def _publish(self, client: PahoClient) -> None:
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
