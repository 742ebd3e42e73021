"""#11: the sensor list at fleet scale: the same contract by default, pages on request,
built off the event loop, so ``/api/health`` never waits behind it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from api_support import connect

from monitor.core.config import Settings
from monitor.live.api import create_app
from monitor.live.hub import LiveHub
from monitor.live.pipeline import Pipeline
from monitor.outputs.store import Store
from monitor.tools.fleetbench import fill

pytestmark = pytest.mark.anyio


def fleet(tmp_path: Path, streams: int) -> tuple[Store, Pipeline]:
    settings = Settings()
    settings = replace(settings, service=replace(settings.service, max_streams=streams))
    store = Store(tmp_path / "m.db")
    pipeline = Pipeline(settings, store, silence_s=3600.0)
    fill(pipeline, streams)
    return store, pipeline


def app_for(
    store: Store, pipeline: Pipeline, lock: asyncio.Lock | None = None
) -> httpx.AsyncClient:
    app = create_app(store=store, pipeline=pipeline, hub=LiveHub(), lock=lock)
    return connect(app)


async def test_the_default_call_is_the_whole_list_and_pages_slice_it(tmp_path: Path) -> None:
    store, pipeline = fleet(tmp_path, 300)
    with store:
        async with app_for(store, pipeline) as client:
            whole = (await client.get("/api/sensors")).json()
            pages = []
            for offset in range(0, 300, 70):
                r = await client.get("/api/sensors", params={"offset": offset, "limit": 70})
                pages += r.json()
            assert (await client.get("/api/sensors", params={"limit": 0})).status_code == 422
    assert [s["id"] for s in whole] == sorted(f"s{i:05d}" for i in range(300))
    assert pages == whole
    first = whole[0]
    assert set(first) == {"id", "status", "last_seen", "streams"}
    assert first["status"] == "streaming"
    assert first["streams"][0]["modality"] == "emg" and first["streams"][0]["fs"] == 2000.0


async def test_health_answers_while_the_list_is_being_built(tmp_path: Path) -> None:
    """The old list sorted every stream per sensor on the event loop: health waited."""
    store, pipeline = fleet(tmp_path, 5000)
    with store:
        async with app_for(store, pipeline) as client:
            listing = asyncio.create_task(client.get("/api/sensors"))
            await asyncio.sleep(0)  # the list request is under way
            health = await client.get("/api/health")
            assert health.status_code == 200
            assert not listing.done()  # health did not wait for it
            assert len((await listing).json()) == 5000


async def test_health_answers_while_a_tick_holds_the_lock(tmp_path: Path) -> None:
    store, pipeline = fleet(tmp_path, 50)
    lock = asyncio.Lock()
    with store:
        async with app_for(store, pipeline, lock) as client:
            async with lock:  # a long tick
                listing = asyncio.create_task(client.get("/api/sensors"))
                assert (await client.get("/api/health")).status_code == 200
                assert not listing.done()
            assert len((await listing).json()) == 50
