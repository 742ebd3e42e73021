"""``WS /api/live``: one hub client per connection, three tasks racing.

* the pump sends what the hub queued for this client;
* the reader waits for the browser to go away (clients send nothing we need);
* the hub's ``dropped`` flag fires when this client fell ``queue_size`` messages behind.

Whichever finishes first ends the connection; a dropped client gets close code 1013 (try
again later) and can reconnect and reload history from the REST routes. The close is
bounded by a timeout: a client that stopped reading cannot even take a close frame, and
it must not hold this handler (or server shutdown) hostage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from monitor.live.hub import LiveHub

CLOSE_TOO_SLOW = 1013
CLOSE_TIMEOUT_S = 1.0


def live_router(hub: LiveHub) -> APIRouter:
    router = APIRouter()

    @router.websocket("/api/live")
    async def live(ws: WebSocket) -> None:
        await ws.accept()
        client = hub.connect()
        try:
            await ws.send_text(
                json.dumps(
                    {
                        "type": "hello",
                        "server_time": time.time(),
                        "frame_interval_s": hub.frame_interval_s,
                        "queue_size": hub.queue_size,
                    }
                )
            )
            pump = asyncio.create_task(_pump(ws, client.queue), name="live-pump")
            reader = asyncio.create_task(_wait_disconnect(ws), name="live-reader")
            dropped = asyncio.create_task(client.dropped.wait(), name="live-dropped")
            tasks = {pump, reader, dropped}
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            if dropped in done:
                with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await ws.close(CLOSE_TOO_SLOW, "too slow: dropped")
        except WebSocketDisconnect:
            pass
        finally:
            hub.disconnect(client)

    return router


async def _pump(ws: WebSocket, queue: asyncio.Queue[str]) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.send_text(await queue.get())


async def _wait_disconnect(ws: WebSocket) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
