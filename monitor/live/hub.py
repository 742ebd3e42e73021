"""The live hub: fan-out of feature frames and events to WebSocket clients.

The pipeline must never wait for a browser. ``LiveHub.offer`` is called once per tick on
the event loop; it encodes each message once and hands the same string to every client's
bounded queue with ``put_nowait``: O(clients), no awaiting, no I/O. A client whose queue
is full has fallen behind by ``queue_size`` messages; it is dropped (its ``dropped`` event
is set, the WebSocket handler closes the connection) instead of slowing anyone else.
Dropping the client rather than its oldest messages keeps what a client did receive
gap-free: a browser that lost frames silently would draw a chart that lies.

Frames are decimated per stream (sensor, modality) to one every ``frame_interval_s`` of
wall time: a chart cannot show more, and at a 10x replay speed or with a 200-sensor fleet
it keeps the browser's work bounded. Events are never decimated.

A tick makes at most two messages, whatever happens in it: one ``frames`` and one
``events`` carrying all of the tick's events. One message per event would let a single
tick overflow every queue: a broker outage with 200 sensors raises ~1,600
``signal_lost`` events at once, and every client would be dropped for it.

Message format (JSON text, see docs/api.md):

* ``{"type": "frames", "frames": [{"sensor", "modality", "t", "wall", "channels":
  {name: {feature: value | null, ..., "quality": str, "active": bool | null}}}]}``
* ``{"type": "events", "events": [<Event JSON>, ...]}`` (in the order raised)
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.core.model import Event, FeatureFrame, Modality
from monitor.live.latest import LatestFrames

StreamKey = tuple[str, Modality]

DEFAULT_QUEUE_SIZE = 256
DEFAULT_FRAME_INTERVAL_S = 0.5


def frame_dict(frame: FeatureFrame, wall: float) -> dict[str, Any]:
    """One frame as JSON-ready values with its arrival time (``FeatureFrame.to_dict``)."""
    return frame.to_dict(wall)


@dataclass(eq=False)
class LiveClient:
    """One subscriber: its queue of encoded messages and the flag the hub raises when the
    client is dropped for being slow."""

    queue: asyncio.Queue[str]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


class LiveHub:
    def __init__(
        self,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        frame_interval_s: float = DEFAULT_FRAME_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        latest: LatestFrames | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.queue_size = queue_size
        self.frame_interval_s = frame_interval_s
        self._clock = clock
        self._wall = wall
        self._clients: set[LiveClient] = set()
        self._last_sent: dict[StreamKey, float] = {}
        # Every stream's newest frame for the API (the service's registry, which the
        # service fills; undecimated, unlike the frames sent to clients).
        self.frames = latest if latest is not None else LatestFrames(wall=wall)
        self.dropped_clients = 0
        self.sent_messages = 0

    # -- subscribers ----------------------------------------------------------------
    def connect(self) -> LiveClient:
        client = LiveClient(asyncio.Queue(self.queue_size))
        self._clients.add(client)
        return client

    def disconnect(self, client: LiveClient) -> None:
        self._clients.discard(client)

    @property
    def clients(self) -> int:
        return len(self._clients)

    # -- producer side (never blocks) --------------------------------------------------
    def offer(self, frames: Sequence[FeatureFrame], events: Sequence[Event]) -> None:
        wall = self._wall()
        due: dict[StreamKey, FeatureFrame] = {}
        for f in frames:
            due[(f.sensor, f.modality)] = f  # the last frame of each stream in this tick
        if not self._clients:
            return
        now = self._clock()
        chosen: list[dict[str, Any]] = []
        for key, f in due.items():
            if now - self._last_sent.get(key, -math.inf) >= self.frame_interval_s:
                self._last_sent[key] = now
                chosen.append(frame_dict(f, wall))
        messages: list[str] = []
        if chosen:
            messages.append(_dumps({"type": "frames", "frames": chosen}))
        if events:
            messages.append(_dumps({"type": "events", "events": [e.to_dict() for e in events]}))
        for message in messages:
            self.broadcast(message)

    def broadcast(self, message: str) -> None:
        """Queue one encoded message for every client; a full queue drops its client."""
        for client in list(self._clients):
            try:
                client.queue.put_nowait(message)
            except asyncio.QueueFull:
                self._clients.discard(client)
                self.dropped_clients += 1
                client.dropped.set()
            else:
                self.sent_messages += 1

    # -- for the API -------------------------------------------------------------------
    def latest(self, sensor: str) -> dict[Modality, dict[str, Any]]:
        """The newest frame of each of the sensor's streams, as in a ``frames`` message."""
        out: dict[Modality, dict[str, Any]] = {}
        for m in ("emg", "acc"):  # lookups, not a scan: the same cost at 50,000 streams
            latest = self.frames.get((sensor, m))
            if latest is not None:
                out[m] = frame_dict(latest[1], latest[0])
        return out


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)
