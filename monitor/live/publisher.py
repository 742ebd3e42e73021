"""What the monitor publishes, and how it drains its alert outbox (contract topics).

* ``fatigue/{sensor}/alerts``: QoS 1, not retained, one Event JSON per message, sent from
  the store's outbox and marked published only once the broker acknowledged it.
* ``fatigue/{sensor}/state``: QoS 1, retained, every channel's current state.
* ``fatigue/{sensor}/features``: QoS 0, the latest features of each stream per tick.
* ``fatigue/monitor/status``: retained ``online``; the Last Will says ``offline``.
* ``fatigue/monitor/stats``: QoS 0, once a second, the service's counters (messages, drops,
  decode errors by reason, gaps, backlog, tick time): for operators and load tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from monitor.core.model import Event, FeatureFrame
from monitor.core.ratelog import RateLimitedLog
from monitor.live.latest import LatestFrames
from monitor.outputs.outbox import Outbox
from monitor.outputs.store import Store

log = logging.getLogger(__name__)

STATUS_TOPIC = "fatigue/monitor/status"
STATS_TOPIC = "fatigue/monitor/stats"
CONSUMER = "mqtt"  # this publisher's name in the LatestFrames registry


class Publisher(Protocol):
    """The part of an MQTT client the publisher needs (``monitor.live.paho_client.PahoClient``
    has it: an awaited publish plus a non-waiting QoS 0 send)."""

    async def publish(
        self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False
    ) -> None: ...

    def publish_nowait(self, topic: str, payload: str | bytes) -> bool:
        """Queue a QoS 0 message without awaiting anything; False when it was refused."""
        ...


def features_payload(frame: FeatureFrame) -> str:
    """The features message of one frame (docs/protocol.md)."""
    return json.dumps(frame.to_dict(), separators=(",", ":"))


class MqttPublisher:
    """Collects what a tick produced and publishes it when a connection is up."""

    def __init__(
        self, store: Store, outbox: Outbox | None = None, latest: LatestFrames | None = None
    ) -> None:
        self.store = store
        self.outbox = outbox
        # Features: the newest frame of each stream since the last flush, from the
        # service's registry (the store and the API read the same frames).
        self.latest = latest if latest is not None else LatestFrames((CONSUMER,))
        # Sent and acknowledged, but the store could not mark them (disk full, I/O
        # error): never sent again by this process, marked once the store takes it.
        self._unmarked: set[str] = set()
        self._states: dict[str, dict[str, Any]] = {}
        self._stats: dict[str, Any] | None = None
        self.published_alerts = 0
        self.published_features = 0
        self.unsent_features = 0  # QoS 0 messages the client refused (not connected)
        self._warn = RateLimitedLog(log)  # a broken store would say so on every flush

    def offer_states(self, states: Mapping[str, dict[str, Any]]) -> None:
        self._states.update(states)

    def offer_stats(self, stats: dict[str, Any]) -> None:
        self._stats = stats

    async def flush(self, client: Publisher) -> None:
        """Alerts first (never lost: from the store), then features, then states. QoS 1
        groups are sent pipelined (gather) instead of one round trip per message; an
        alert is marked published only once its own PUBACK came back."""
        await self._mark_unmarked()
        while True:
            batch = await self._batch(200)
            if not batch:
                break
            results = await asyncio.gather(
                *(client.publish(alert_topic(e), e.to_json(), qos=1) for e in batch),
                return_exceptions=True,
            )
            done = [
                e.id
                for e, r in zip(batch, results, strict=True)
                if not isinstance(r, BaseException)
            ]
            await self._mark(done)
            self.published_alerts += len(done)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                raise failed[0]
        states, self._states = self._states, {}
        latest = self.latest.take(CONSUMER)
        stats, self._stats = self._stats, None
        # QoS 0 goes straight into the client's outgoing queue, before the states' QoS 1
        # round trips: an awaited publish per stream (a coroutine, a task and a future
        # each) cost ten times the send itself, and features are the time-critical part.
        for f in latest:
            if client.publish_nowait(f"fatigue/{f.sensor}/features", features_payload(f)):
                self.published_features += 1
            else:
                self.unsent_features += 1
        if stats is not None:
            client.publish_nowait(STATS_TOPIC, json.dumps(stats, separators=(",", ":")))
        await asyncio.gather(
            *(
                client.publish(
                    f"fatigue/{sensor}/state",
                    json.dumps(state, separators=(",", ":")),
                    qos=1,
                    retain=True,
                )
                for sensor, state in states.items()
            )
        )

    async def _batch(self, limit: int) -> list[Event]:
        """Unpublished alerts: the store's outbox, then those the store could not take.
        The store's thread reads them; the event loop only awaits."""
        try:
            stored = await asyncio.wrap_future(
                self.store.submit(self.store.unpublished, limit + len(self._unmarked))
            )
        except Exception as exc:  # a broken store must not stop the alerts it lost
            self._warn.warn("store_read", "-", f"store outbox unreadable ({exc})")
            stored = []
        batch = [e for e in stored if e.id not in self._unmarked][:limit]
        if self.outbox is not None and len(batch) < limit:
            batch.extend(self.outbox.pending(limit - len(batch)))
        return batch

    async def _mark(self, ids: list[str]) -> None:
        if self.outbox is not None:
            self.outbox.mark_published(ids)
        try:
            # Shielded: a flush cancelled by a lost connection must still mark what the
            # broker acknowledged, or it would be sent again.
            await asyncio.shield(
                asyncio.wrap_future(self.store.submit(self.store.mark_published, ids))
            )
        except Exception as exc:
            self._unmarked.update(ids)
            self._warn.warn(
                "store_mark", "-", f"{len(ids)} published alerts not marked in the store ({exc})"
            )

    async def _mark_unmarked(self) -> None:
        if not self._unmarked:
            return
        ids = list(self._unmarked)
        try:
            await asyncio.shield(
                asyncio.wrap_future(self.store.submit(self.store.mark_published, ids))
            )
        except Exception:
            return  # still failing: they stay skipped, tried again next flush
        self._unmarked.difference_update(ids)


def alert_topic(event: Event) -> str:
    return f"fatigue/{event.sensor}/alerts"
