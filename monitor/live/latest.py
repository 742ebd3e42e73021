"""The newest feature frame of each stream, held once for everyone who reads it.

Why one registry: the MQTT publisher (features go out at QoS 0, only each stream's
newest frame per flush), the store (feature history, a round-robin slice of the streams
per tick) and the API (``/api/sensors/{id}`` shows the newest frame) each kept a dict of
their own, three copies of the same thing, each forgetting evicted streams (or not) in
its own way. Here the frames are held once; each consumer has its own set of streams
whose newest frame it has not taken yet, so a slow consumer (the store's slice, a broker
that is down) never makes another miss a frame or see one twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence

from monitor.core.model import FeatureFrame
from monitor.core.streams import StreamKey


class LatestFrames:
    def __init__(self, consumers: Iterable[str] = (), wall: Callable[[], float] = time.time):
        self._wall = wall
        self._frames: dict[StreamKey, tuple[float, FeatureFrame]] = {}
        # Insertion-ordered sets: a consumer that takes a slice takes the oldest first.
        self._pending: dict[str, dict[StreamKey, None]] = {c: {} for c in consumers}

    def offer(self, frames: Sequence[FeatureFrame]) -> None:
        """A tick's frames (each stream's in time order): the last one of each stream wins."""
        if not frames:
            return
        wall = self._wall()
        for f in frames:
            key = (f.sensor, f.modality)
            self._frames[key] = (wall, f)
            for pending in self._pending.values():
                pending[key] = None

    def get(self, key: StreamKey) -> tuple[float, FeatureFrame] | None:
        """The stream's newest frame and the wall-clock time it was offered."""
        return self._frames.get(key)

    def pending(self, consumer: str) -> Collection[StreamKey]:
        """Streams with a frame ``consumer`` has not taken (a live view: copy to keep)."""
        return self._pending[consumer].keys()

    def take(self, consumer: str, keys: Iterable[StreamKey] | None = None) -> list[FeatureFrame]:
        """The newest frames of ``keys`` (default: every pending stream) that ``consumer``
        has not taken yet; they stop being pending for it, and only for it."""
        pending = self._pending[consumer]
        if keys is None:
            keys, self._pending[consumer] = list(pending), {}
        else:
            keys = [k for k in keys if pending.pop(k, 0) is None]
        return [self._frames[k][1] for k in keys if k in self._frames]

    def forget(self, keys: Iterable[StreamKey]) -> None:
        """Streams that are gone (evicted): their frames, for every consumer."""
        for key in keys:
            self._frames.pop(key, None)
            for pending in self._pending.values():
                pending.pop(key, None)

    def __len__(self) -> int:
        return len(self._frames)
