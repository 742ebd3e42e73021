"""The sensor list for ``GET /api/sensors``: built off the event loop, shared, O(N).

Why: the list used to be built per request on the event loop, under the tick lock,
sorting every stream once per sensor: 5.4 s at 4,000 streams, ``/api/health`` waiting
behind it, and at 50,000 streams no answer (nor SIGTERM) for minutes.

The work is now split where it is cheap:

* ``StreamStatuses``: each stream's detector status (``streaming``, ``fatigued``,
  ``tremor``, ``lost``), the costly part (``StreamDetector.status()``, ~30 µs), kept by
  the tick thread right after each tick, while it owns the detectors: for the streams
  whose events changed it, for new ones, and round robin once per ``STATUS_REFRESH_S``
  as a safety net. Statuses only change with events, so this is all of them.
* ``SensorSnapshots``: the list itself, at most once per ``max_age_s``, shared by every
  request. A worker thread copies each stream's cheap fields (rate, channels, lost, last
  seen: ~1 µs a stream) under the tick lock, lets it go, then groups, sorts and
  serialises in slices that give the GIL back, so the loop (``/api/health``) keeps
  answering. While a new list is built the previous one is served (if younger than
  ``STALE_S``): only a request after a quiet spell waits for a build (about 0.3 s at
  10,000 streams). A page is a slice of the sorted rows.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from monitor.core.model import Modality
from monitor.core.rotation import Rotation
from monitor.live.api import _views
from monitor.live.pipeline import Pipeline, StreamKey

STATUS_REFRESH_S = 10.0
SLICE = 500  # rows serialised between two GIL releases
# Older than this, a list is not served while the next one is built (nobody asked lately).
STALE_S = 5.0


class StreamStatuses:
    def __init__(self) -> None:
        self._status: dict[StreamKey, str] = {}
        self._lock = threading.Lock()
        self._rotation: Rotation[StreamKey] = Rotation()
        self.kept = False  # True once a ticker keeps them

    def refresh(
        self,
        pipeline: Pipeline,
        share: float,
        changed: Iterable[StreamKey],
        seen: Iterable[StreamKey],
        gone: Iterable[StreamKey],
    ) -> None:
        """In the tick thread, after a tick: the streams in ``changed`` (they had
        events), those in ``seen`` (they had windows) not known yet, ``share`` of all;
        ``gone`` (evicted) out."""
        due = set(changed)
        due.update(k for k in seen if k not in self._status)
        due.update(self._rotation.take(pipeline.detectors.keys(), share))
        fresh = {k: _views.detector_status(pipeline, k) for k in due}
        with self._lock:
            self._status.update(fresh)
            for key in gone:
                self._status.pop(key, None)
            self.kept = True

    def fill(self, pipeline: Pipeline) -> None:
        """All at once, with the tick lock held: for an app without a ticker (tests)."""
        fresh: dict[StreamKey, str] = {}
        for i, key in enumerate(pipeline.detectors):
            fresh[key] = _views.detector_status(pipeline, key)
            if i % SLICE == SLICE - 1:
                time.sleep(0)  # give the GIL to the event loop between slices
        with self._lock:
            self._status = fresh

    def copy(self) -> dict[StreamKey, str]:
        with self._lock:
            return dict(self._status)


@dataclass(frozen=True, slots=True)
class SensorList:
    """Every sensor's summary in id order, the whole list's JSON, and when it was taken."""

    taken: float
    rows: tuple[dict[str, Any], ...]
    body: bytes

    def page(self, offset: int = 0, limit: int | None = None) -> bytes:
        if offset == 0 and (limit is None or limit >= len(self.rows)):
            return self.body
        end = None if limit is None else offset + limit
        return json.dumps(self.rows[offset:end], separators=(",", ":")).encode()


StreamFields = tuple[StreamKey, float, tuple[str, ...], bool, float]


def copy_streams(pipeline: Pipeline) -> list[StreamFields]:
    """With the tick lock held: what the list needs of each stream, nothing costly."""
    return [
        (key, info.fs, info.channels, info.lost, info.last_wall)
        for key, info in pipeline.streams.items()
    ]


def build(streams: list[StreamFields], statuses: dict[StreamKey, str], taken: float) -> SensorList:
    by_sensor: dict[str, list[dict[str, Any]]] = {}
    for (sensor, modality), fs, channels, lost, last_wall in streams:
        status = "lost" if lost else statuses.get((sensor, modality), "streaming")
        by_sensor.setdefault(sensor, []).append(
            {
                "modality": modality,
                "fs": fs,
                "channels": list(channels),
                "status": status,
                "last_seen": last_wall,
            }
        )
    rows = []
    for sensor in sorted(by_sensor):
        views = sorted(by_sensor[sensor], key=_by_modality)
        rows.append(
            {
                "id": sensor,
                "status": _views.worst([v["status"] for v in views]),
                "last_seen": max(v["last_seen"] for v in views),
                "streams": views,
            }
        )
    parts = []
    for start in range(0, len(rows), SLICE):
        parts.append(json.dumps(rows[start : start + SLICE], separators=(",", ":"))[1:-1])
        time.sleep(0)  # give the GIL to the event loop between slices
    body = ("[" + ",".join(p for p in parts if p) + "]").encode()
    return SensorList(taken, tuple(rows), body)


def _by_modality(view: dict[str, Any]) -> Modality:
    modality: Modality = view["modality"]
    return modality


class SensorSnapshots:
    """The newest ``SensorList``; rebuilt in the background when older than ``max_age_s``."""

    def __init__(
        self,
        pipeline: Pipeline,
        lock: asyncio.Lock,
        statuses: StreamStatuses,
        max_age_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipeline = pipeline
        self.lock = lock
        self.statuses = statuses
        self.max_age_s = max_age_s
        self.clock = clock
        self._latest: SensorList | None = None
        self._building: asyncio.Task[SensorList] | None = None

    async def get(self) -> SensorList:
        latest = self._latest
        if latest is not None and self.clock() - latest.taken < self.max_age_s:
            return latest
        if self._building is None or self._building.done():
            self._building = asyncio.ensure_future(self._build())
        if latest is not None and self.clock() - latest.taken < STALE_S:
            return latest  # older by one build at most; the next request gets the new one
        # Shielded: a client that goes away must not cancel the build others wait for.
        return await asyncio.shield(self._building)

    async def _build(self) -> SensorList:
        async with self.lock:
            taken = self.clock()
            if not self.statuses.kept:
                await asyncio.to_thread(self.statuses.fill, self.pipeline)
            streams = await asyncio.to_thread(copy_streams, self.pipeline)
        built = await asyncio.to_thread(build, streams, self.statuses.copy(), taken)
        self._latest = built
        return built
