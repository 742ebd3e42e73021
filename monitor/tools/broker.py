"""An embedded MQTT broker (amqtt, pure Python) for the demo and for machines without
mosquitto. Not for production: use mosquitto, EMQX, VerneMQ or HiveMQ there.

In process: ``async with EmbeddedBroker(port) as broker: ...``; as its own process (tests
that stop and restart a broker): ``python -m monitor.tools.broker --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import warnings
from types import TracebackType
from typing import Any, Self


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        for name in ("amqtt", "transitions"):  # their INFO lines are noise for our users
            logging.getLogger(name).setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # amqtt's own internals
            from amqtt.broker import Broker

            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
            self._broker = Broker(config)
            await self._broker.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._broker is not None:
            with contextlib.suppress(Exception):  # shutting down a broker must not mask `exc`
                await self._broker.shutdown()


async def _serve(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with EmbeddedBroker(port) as broker:
        print(f"embedded MQTT broker on {broker.url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Embedded MQTT broker (amqtt) for tests and demos."
    )
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args()
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
