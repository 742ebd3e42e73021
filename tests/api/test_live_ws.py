"""WS /api/live over a real uvicorn server on a free port, with a real WebSocket client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator

import numpy as np
import pytest
from api_support import TOKEN, Fed, build_app
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from monitor.core.model import Event, FeatureFrame
from monitor.live.api import ApiServer
from monitor.live.hub import LiveHub

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
        assert ev == {"type": "events", "events": [onset.to_dict()]}
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


@pytest.mark.parametrize("token", [TOKEN, ""])
async def test_another_origin_cannot_open_the_websocket(fed: Fed, token: str) -> None:
    """Cross-site WebSocket hijacking: a page on evil.example opening ws://127.0.0.1/...
    sends its own Origin; the handshake is refused with 403, with or without a token."""
    async with serving(fed, token) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(server, token or None), origin=Origin("http://evil.example")):
                pass
        assert info.value.response.status_code == 403
        assert fed.hub.clients == 0
        same = Origin(server.url.rstrip("/"))  # the dashboard page's own origin
        async with connect(ws_url(server, token or None), origin=same) as ws:
            assert (await recv_json(ws))["type"] == "hello"


async def handshake_status(server: ApiServer, host: str) -> bytes:
    """A WebSocket handshake written by hand, to send any ``Host``: the status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"GET /api/live HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_a_websocket_naming_a_foreign_host_is_refused(fed: Fed) -> None:
    """DNS rebinding against the WebSocket: 400 on the handshake, token or not."""
    async with serving(fed, "") as server:
        assert (await handshake_status(server, "evil.example:8080")).startswith(b"HTTP/1.1 400")
        local = await handshake_status(server, f"127.0.0.1:{server.port}")
        assert local.startswith(b"HTTP/1.1 101")  # the same request, an allowed host


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
            async with asyncio.timeout(30):
                while not hub.dropped_clients:
                    # A plain call: it returns without awaiting anyone (see test_hub.py).
                    assert hub.broadcast(payload) is None
                    sent += 1
                    await asyncio.sleep(0.001)
            assert hub.dropped_clients == 1 and hub.clients == 1  # only the stuck one
            with pytest.raises(ConnectionClosed):  # the server hung up on the stuck client
                await read_forever(stuck, timeout=10)
            # 1013 when the close frame got through before the handler's bounded close
            # gave up on a client that was not reading (1006); never anything else.
            assert stuck.close_code in (1013, 1006)
            async with asyncio.timeout(10):
                while received < sent + 1:  # + hello: the reading client got everything
                    await asyncio.sleep(0.01)
            reading.cancel()
    assert sent > hub.queue_size  # it really fell behind, by more than its queue


async def test_a_dropped_client_is_closed_with_1013(fed: Fed) -> None:
    """A client that reads but falls ``queue_size`` messages behind (here: two messages
    queued at once for a queue of one) gets exactly close code 1013, try again later."""
    hub = LiveHub(queue_size=1)
    fed_tiny_queue = Fed(fed.store, fed.pipeline, hub, fed.clock, fed.events, fed.started)
    async with serving(fed_tiny_queue) as server, connect(ws_url(server)) as ws:
        assert (await recv_json(ws))["type"] == "hello"
        async with asyncio.timeout(5):
            while hub.clients == 0:
                await asyncio.sleep(0.01)
        hub.broadcast('{"type": "filler"}')
        hub.broadcast('{"type": "filler"}')  # no await in between: the queue overflows
        assert hub.dropped_clients == 1
        with pytest.raises(ConnectionClosed):
            await read_forever(ws, timeout=10)
        assert ws.close_code == 1013
        assert ws.close_reason == "too slow: dropped"


async def test_an_event_burst_reaches_every_client_and_drops_none(fed: Fed) -> None:
    """A 2,000-event tick (a broker outage across a fleet) with four reading clients: it
    is one message per tick, so no client's queue (256) overflows and every client gets
    every event, in order."""
    hub = LiveHub()
    fed_own_hub = Fed(fed.store, fed.pipeline, hub, fed.clock, fed.events, fed.started)
    bursts = [
        [
            Event("signal_lost", f"s{i // 8:03d}", f"emg_{i % 8}", "emg", 10.0 + k, "no data")
            for i in range(2000)
        ]
        for k in range(2)
    ]
    expected = [e.id for burst in bursts for e in burst]

    async def collect(ws: ClientConnection) -> list[str]:
        ids: list[str] = []
        async with asyncio.timeout(30):
            while len(ids) < len(expected):
                msg = json.loads(await ws.recv())
                if msg["type"] == "events":
                    ids += [e["id"] for e in msg["events"]]
        return ids

    async with serving(fed_own_hub) as server, contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(connect(ws_url(server), max_size=None))
            for _ in range(4)
        ]
        async with asyncio.timeout(5):
            while hub.clients < len(clients):
                await asyncio.sleep(0.01)
        readers = [asyncio.create_task(collect(ws)) for ws in clients]
        for k, burst in enumerate(bursts):
            hub.offer([a_frame(float(k))], burst)
        got = await asyncio.gather(*readers)
        assert hub.dropped_clients == 0 and hub.clients == len(clients)
    assert all(ids == expected for ids in got)
