"""``ApiServer``: uvicorn inside the service's TaskGroup, not in charge of the process.

* ``bind()`` opens the listening socket up front, so a busy port is known before the
  service runs and port 0 gives a free port whose URL can be printed.
* Signals stay with the service (``fatigue-monitor run`` turns SIGTERM into a cancel):
  uvicorn's own handlers are not installed.
* Cancelling ``serve()`` asks uvicorn to shut down gracefully (bounded: a WebSocket that
  cannot take a close frame is cut after ``SHUTDOWN_TIMEOUT_S``), then re-raises.
* WebSockets use uvicorn's sans-I/O implementation: it awaits the transport's write
  buffer, which is what lets a slow browser back up into its hub queue and be dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from monitor.core.errors import MonitorError

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 2


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the service owns SIGINT/SIGTERM


class ApiServer:
    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def bind(self) -> None:
        family = socket.AF_INET
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(self.host).version == 6:
                family = socket.AF_INET6
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(2048)  # clients may connect (and queue) before uvicorn starts
        except OSError as exc:
            sock.close()
            raise MonitorError(
                f"dashboard API cannot listen on {self.host}:{self.port}: {exc.strerror} "
                "(service.port / --port; 0 picks a free port)"
            ) from exc
        sock.set_inheritable(True)
        self.port = int(sock.getsockname()[1])
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def serve(self) -> None:
        if self._sock is None:
            self.bind()
        assert self._sock is not None
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
            timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S,
        )
        server = _Server(config)
        serving = asyncio.ensure_future(server.serve(sockets=[self._sock]))
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            server.should_exit = True
            try:
                async with asyncio.timeout(SHUTDOWN_TIMEOUT_S + 3):
                    await serving
            except TimeoutError:
                serving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await serving
            raise
        finally:
            self.close()
