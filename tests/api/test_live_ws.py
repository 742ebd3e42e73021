"""WS /api/live over a real uvicorn server on a free port, with a real WebSocket client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from api_support import TOKEN, Fed, build_app
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from monitor.api import ApiServer
from monitor.model import Event, FeatureFrame
from monitor.sinks.hub import LiveHub

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def serving(fed: Fed, token: str = TOKEN) -> AsyncIterator[ApiServer]:
    server = ApiServer(build_app(fed, token), "127.0.0.1", 0)
    server.bind()
    task = asyncio.create_task(server.serve())
    try:
        yield server
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def ws_url(server: ApiServer, token: str | None = TOKEN) -> str:
    base = server.url.replace("http://", "ws://") + "api/live"
    return base if token is None else f"{base}?token={token}"


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict:  # type: ignore[type-arg]
    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())  # type: ignore[no-any-return]


async def read_forever(ws: ClientConnection, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            await ws.recv()


def a_frame(t: float) -> FeatureFrame:
    return FeatureFrame(
        "arm", "emg", t, ("emg_1",), {"mdf_hz": np.array([75.0])}, ("ok",), np.array([True])
    )


async def test_client_receives_frames_and_events(fed: Fed) -> None:
    fed.hub.frame_interval_s = 0.0
    async with serving(fed) as server, connect(ws_url(server)) as ws:
        hello = await recv_json(ws)
        assert hello["type"] == "hello" and hello["queue_size"] == fed.hub.queue_size
        async with asyncio.timeout(5):
            while fed.hub.clients == 0:
                await asyncio.sleep(0.01)
        onset = Event("fatigue_onset", "arm", "emg_1", "emg", 80.0, "MDF fell")
        fed.hub.offer([a_frame(80.0)], [onset])
        frames = await recv_json(ws)
        assert frames["type"] == "frames"
        (f,) = frames["frames"]
        assert f["sensor"] == "arm" and f["t"] == 80.0
        assert f["channels"]["emg_1"]["mdf_hz"] == 75.0
        ev = await recv_json(ws)
        assert ev == {"type": "event", "event": onset.to_dict()}
    async with asyncio.timeout(5):
        while fed.hub.clients:
            await asyncio.sleep(0.01)  # the handler let go of its hub client


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong", 403)])
async def test_websocket_needs_the_token(fed: Fed, token: str | None, status: int) -> None:
    async with serving(fed) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(server, token)):
                pass
    assert info.value.response.status_code == status


async def test_bearer_header_also_opens_the_websocket(fed: Fed) -> None:
    async with (
        serving(fed) as server,
        connect(
            ws_url(server, None), additional_headers={"Authorization": f"Bearer {TOKEN}"}
        ) as ws,
    ):
        assert (await recv_json(ws))["type"] == "hello"


async def test_a_client_that_stops_reading_is_dropped_without_slowing_the_producer(
    fed: Fed,
) -> None:
    """The stuck client's TCP buffers fill, uvicorn's send waits, its hub queue fills, and
    the hub drops it; meanwhile offer() never waits and a reading client gets everything."""
    hub = LiveHub(queue_size=32)
    fed_small_queue = Fed(fed.store, fed.pipeline, hub, fed.clock, fed.events, fed.started)
    # Random text: uvicorn compresses WebSocket messages (permessage-deflate), and a
    # repetitive filler would shrink to nothing and never fill a buffer.
    payload = json.dumps({"type": "filler", "data": base64.b64encode(os.urandom(12_000)).decode()})
    async with serving(fed_small_queue) as server:
        received = 0

        async def read_all(ws: ClientConnection) -> None:
            nonlocal received
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    received += 1

        async with (
            connect(ws_url(server), close_timeout=1) as stuck,
            connect(ws_url(server), max_size=None) as reader,
        ):
            async with asyncio.timeout(5):
                while hub.clients < 2:
                    await asyncio.sleep(0.01)
            reading = asyncio.create_task(read_all(reader))
            sent = 0
            durations = []
            async with asyncio.timeout(30):
                while not hub.dropped_clients:
                    started = time.perf_counter()
                    hub.broadcast(payload)
                    durations.append(time.perf_counter() - started)
                    sent += 1
                    await asyncio.sleep(0.001)
            assert hub.dropped_clients == 1 and hub.clients == 1  # only the stuck one
            with pytest.raises(ConnectionClosed):  # the server hung up on the stuck client
                await read_forever(stuck, timeout=10)
            assert stuck.close_code in (1013, 1006)
            async with asyncio.timeout(10):
                while received < sent + 1:  # + hello
                    await asyncio.sleep(0.01)
            reading.cancel()
    assert sent > hub.queue_size  # it really fell behind, by more than its queue
    assert max(durations) < 0.01  # the producer never waited for the stuck client
