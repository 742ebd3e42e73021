"""The REST routes. Each reads the running service through ``ApiContext``; reads of the
pipeline's detectors take the tick lock (at most one tick's wait), store reads run in a
worker thread (SQLite calls block)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Security
from fastapi.responses import Response
from fastapi.security import HTTPBearer

import monitor
from monitor.live.api import _indices, _views
from monitor.live.api._metrics import ServiceMetrics
from monitor.live.api._schemas import (
    ChannelIndices,
    ErrorBody,
    EventBody,
    FeatureRow,
    Health,
    Recalibrated,
    SensorDetail,
    SensorSummary,
)
from monitor.live.api._snapshot import SensorSnapshots, StreamStatuses
from monitor.live.hub import LiveHub
from monitor.live.pipeline import Pipeline
from monitor.live.status import ServiceStatus
from monitor.outputs.store import Store

MAX_FEATURES = 5000
MAX_ALERTS = 1000
#: Stored samples the indices route reads at most (the newest): 5 s apart, ~35 h of a
#: 2-channel stream.
MAX_INDEX_ROWS = 50_000
MAX_SENSORS = 1_000_000
# How old the sensor list may be: one build per second at most, however many clients poll.
SENSOR_LIST_MAX_AGE_S = 1.0
MAX_TIME = 1e11  # Unix seconds: year 5138; a bound so no one sends an overflow to SQLite

Since = Annotated[
    float | None,
    Query(
        ge=0,
        le=MAX_TIME,
        allow_inf_nan=False,
        description="Unix seconds: only after it (exclusive)",
    ),
]
Until = Annotated[
    float | None,
    Query(
        ge=0,
        le=MAX_TIME,
        allow_inf_nan=False,
        description="Unix seconds: only before it (exclusive); to page back, the oldest time "
        "of the page you have",
    ),
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}

# Documents the scheme in /openapi.json; the Guard middleware is what enforces it.
bearer = HTTPBearer(auto_error=False, description="the service's api token (service.token)")
PROTECTED = [Security(bearer)]


@dataclass
class ApiContext:
    store: Store
    pipeline: Pipeline
    hub: LiveHub
    status: Callable[[], ServiceStatus]
    lock: asyncio.Lock
    token: str = ""
    statuses: StreamStatuses = field(default_factory=StreamStatuses)
    metrics: ServiceMetrics = field(init=False)
    snapshots: SensorSnapshots = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = ServiceMetrics(self.pipeline, self.hub, self.status)
        self.snapshots = SensorSnapshots(
            self.pipeline, self.lock, self.statuses, SENSOR_LIST_MAX_AGE_S
        )


def api_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/health", response_model=Health)
    async def health() -> Health:
        """Open without a token: for probes. Says whether the other routes need one."""
        status = ctx.status()
        return Health(
            version=monitor.__version__,
            uptime_s=status.uptime_s,
            mqtt_connected=status.connected,
            auth_required=bool(ctx.token),
        )

    @router.get("/sensors", response_model=list[SensorSummary], dependencies=PROTECTED)
    async def sensors(
        offset: Annotated[int, Query(ge=0, le=MAX_SENSORS)] = 0,
        limit: Annotated[int | None, Query(ge=1, le=MAX_SENSORS)] = None,
    ) -> Response:
        """Every sensor in memory (seen, not yet evicted), by id, with its status; a page
        with ``offset`` and ``limit`` (default: all). Taken at most
        ``SENSOR_LIST_MAX_AGE_S`` ago, built off the event loop (``_snapshot.py``)."""
        listing = await ctx.snapshots.get()
        return Response(listing.page(offset, limit), media_type="application/json")

    @router.get(
        "/sensors/{sensor_id}",
        response_model=SensorDetail,
        responses=NOT_FOUND,
        dependencies=PROTECTED,
    )
    async def sensor(sensor_id: str) -> SensorDetail:
        """A sensor's streams and channels: detector phase, baseline, newest features."""
        async with ctx.lock:
            view = _views.detail(ctx.pipeline, ctx.hub, sensor_id)
        if view is None:
            raise HTTPException(404, f"unknown sensor {sensor_id!r}")
        return view

    @router.get(
        "/sensors/{sensor_id}/features",
        response_model=list[FeatureRow],
        responses=NOT_FOUND,
        dependencies=PROTECTED,
    )
    async def features(
        sensor_id: str,
        since: Since = None,
        limit: Annotated[int, Query(ge=1, le=MAX_FEATURES)] = 500,
        until: Until = None,
    ) -> list[FeatureRow]:
        """Stored feature history (one sample per stream every
        service.features_store_every_s): the newest rows with ``since < wall < until``,
        oldest first, at most ``limit`` (rows stored together, a stream's channels, are
        never split). Page back with ``until`` = the oldest ``wall`` received."""
        rows = await asyncio.to_thread(ctx.store.features, sensor_id, since, limit, until)
        if not rows and not await _known(ctx, sensor_id):
            raise HTTPException(404, f"unknown sensor {sensor_id!r}")
        return [_feature_row(r) for r in rows]

    @router.get(
        "/sensors/{sensor_id}/indices",
        response_model=list[ChannelIndices],
        responses=NOT_FOUND,
        dependencies=PROTECTED,
    )
    async def indices(
        sensor_id: str, since: Since = None, until: Until = None
    ) -> list[ChannelIndices]:
        """Fatigue indices per EMG channel (MDF and RMS slope in %/min with 95 % CI, time
        to a 10 % MDF drop, JASA quadrant, contractions) over the stored feature history
        with ``since < wall < until`` (the newest MAX_INDEX_ROWS samples at most). An
        accelerometer-only sensor gives ``[]``."""
        rows = await asyncio.to_thread(ctx.store.features, sensor_id, since, MAX_INDEX_ROWS, until)
        if not rows and not await _known(ctx, sensor_id):
            raise HTTPException(404, f"unknown sensor {sensor_id!r}")
        return await asyncio.to_thread(_indices.channel_indices, rows)

    @router.get("/alerts", response_model=list[EventBody], dependencies=PROTECTED)
    async def alerts(
        sensor: Annotated[str | None, Query(max_length=256)] = None,
        since: Since = None,
        limit: Annotated[int, Query(ge=1, le=MAX_ALERTS)] = 100,
        until: Until = None,
    ) -> list[dict[str, Any]]:
        """Events (Event JSON) stored after ``since`` and before ``until``: the newest,
        oldest first, at most ``limit`` (one tick's events are never split). Page back with
        ``until`` = the oldest ``wall_time`` received, as Unix seconds."""
        events = await asyncio.to_thread(ctx.store.events, sensor, since, limit, until)
        return [e.to_dict() for e in events]

    @router.post(
        "/sensors/{sensor_id}/baseline",
        response_model=Recalibrated,
        responses={**NOT_FOUND, 409: {"model": ErrorBody}},
        dependencies=PROTECTED,
    )
    async def recalibrate(sensor_id: str) -> Recalibrated:
        """Forget the sensor's baselines: its detectors learn them again from the next
        active windows (use after moving electrodes or a rest)."""
        n = 0
        async with ctx.lock:
            known = _views.known(ctx.pipeline, sensor_id)
            has_detector = any((sensor_id, m) in ctx.pipeline.detectors for m in ("emg", "acc"))
            if has_detector:
                n = ctx.pipeline.recalibrate(sensor_id)
        if not known and not has_detector:
            raise HTTPException(404, f"unknown sensor {sensor_id!r}")
        if not has_detector:
            raise HTTPException(409, f"sensor {sensor_id!r} has no feature window yet")
        return Recalibrated(sensor=sensor_id, streams=n)

    return router


def metrics_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/metrics",
        response_class=Response,
        dependencies=PROTECTED,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}},
    )
    async def metrics() -> Response:
        """Prometheus text format; names in docs/api.md."""
        async with ctx.lock:  # rendered in a thread: 10,000 streams' samples take a while
            body = await asyncio.to_thread(ctx.metrics.render)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return router


async def _known(ctx: ApiContext, sensor: str) -> bool:
    async with ctx.lock:
        if _views.known(ctx.pipeline, sensor):
            return True

    def stored() -> bool:
        return bool(ctx.store.features(sensor, None, 1) or ctx.store.events(sensor, None, 1))

    return await asyncio.to_thread(stored)


def _feature_row(row: dict[str, Any]) -> FeatureRow:
    skip = {"modality", "channel", "t", "wall", "quality", "active"}
    return FeatureRow(
        modality=row["modality"],
        channel=row["channel"],
        t=row["t"],
        wall=row["wall"],
        quality=row.get("quality"),
        active=row.get("active"),
        features={k: v for k, v in row.items() if k not in skip},
    )
