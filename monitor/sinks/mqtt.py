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
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from monitor.model import Event, FeatureFrame
from monitor.sinks.store import Store

STATUS_TOPIC = "fatigue/monitor/status"
STATS_TOPIC = "fatigue/monitor/stats"


class Publisher(Protocol):
    """The part of an MQTT client the publisher needs (aiomqtt.Client has it)."""

    async def publish(
        self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False
    ) -> None: ...


def _clean(value: float) -> float | None:
    return value if math.isfinite(value) else None


def features_payload(frame: FeatureFrame) -> str:
    channels: dict[str, dict[str, Any]] = {}
    for ch, name in enumerate(frame.channels):
        values: dict[str, Any] = {k: _clean(float(v[ch])) for k, v in frame.features.items()}
        values["quality"] = frame.quality[ch]
        values["active"] = None if frame.active is None else bool(frame.active[ch])
        channels[name] = values
    return json.dumps(
        {"sensor": frame.sensor, "modality": frame.modality, "t": frame.t, "channels": channels},
        separators=(",", ":"),
    )


class MqttPublisher:
    """Collects what a tick produced and publishes it when a connection is up."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._latest: dict[tuple[str, str], FeatureFrame] = {}
        self._states: dict[str, dict[str, Any]] = {}
        self._stats: dict[str, Any] | None = None
        self.published_alerts = 0
        self.published_features = 0

    def offer(self, frames: Sequence[FeatureFrame], states: Mapping[str, dict[str, Any]]) -> None:
        for f in frames:
            self._latest[(f.sensor, f.modality)] = f
        self._states.update(states)

    def offer_stats(self, stats: dict[str, Any]) -> None:
        self._stats = stats

    async def flush(self, client: Publisher) -> None:
        """Alerts first (never lost: from the store), then states, then features. Each
        group is sent pipelined (gather) instead of one round trip per QoS 1 message; an
        alert is marked published only once its own PUBACK came back."""
        while True:
            batch = self.store.unpublished(limit=200)
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
            self.store.mark_published(done)
            self.published_alerts += len(done)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                raise failed[0]
        states, self._states = self._states, {}
        latest, self._latest = self._latest, {}
        stats, self._stats = self._stats, None
        sends = [
            client.publish(
                f"fatigue/{sensor}/state",
                json.dumps(state, separators=(",", ":")),
                qos=1,
                retain=True,
            )
            for sensor, state in states.items()
        ]
        sends += [
            client.publish(f"fatigue/{f.sensor}/features", features_payload(f), qos=0)
            for f in latest.values()
        ]
        if stats is not None:
            sends.append(
                client.publish(STATS_TOPIC, json.dumps(stats, separators=(",", ":")), qos=0)
            )
        await asyncio.gather(*sends)
        self.published_features += len(latest)


def alert_topic(event: Event) -> str:
    return f"fatigue/{event.sensor}/alerts"
