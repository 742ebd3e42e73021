"""``fatigue-monitor alerts``: follow the alerts of a monitor as JSON or readable lines."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from monitor.cli._common import log, run_async
from monitor.core.errors import MonitorError


def add_parser(sub: Any) -> None:
    al = sub.add_parser(
        "alerts",
        help="follow alerts as JSON lines",
        description="Print every alert published by a monitor: Event JSON lines, or readable\n"
        "lines when stdout is a terminal. Reconnects when the broker goes away.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    al.add_argument(
        "--broker", default="mqtt://127.0.0.1:1883", metavar="URL", help="(mqtt://127.0.0.1:1883)"
    )
    al.add_argument("--sensor", metavar="ID", help="only this sensor")
    al.add_argument("--json", action="store_true", help="JSON lines even on a terminal")
    al.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import ssl

    import aiomqtt

    from monitor.core.backoff import Backoff
    from monitor.core.broker_url import broker_url
    from monitor.core.model import Event

    url = broker_url(args.broker, "--broker")
    host, port = url.host, url.port
    tls = ssl.create_default_context() if url.tls else None
    topic = f"fatigue/{args.sensor or '+'}/alerts"
    human = sys.stdout.isatty() and not args.json

    async def follow() -> None:
        backoff = Backoff()
        while True:
            try:
                async with aiomqtt.Client(
                    host,
                    port,
                    username=url.username or None,
                    password=url.password or None,
                    tls_context=tls,
                ) as client:
                    backoff.reset()
                    await client.subscribe(topic, qos=1)
                    log.info("following %s on mqtt://%s:%d", topic, host, port)
                    async for message in client.messages:
                        raw = message.payload
                        text = (
                            raw.decode(errors="replace")
                            if isinstance(raw, bytes | bytearray)
                            else str(raw)
                        )
                        if human:
                            try:
                                e = Event.from_json(text)
                                text = (
                                    f"{e.wall_time}  {e.sensor}/{e.channel}  {e.event}: {e.message}"
                                )
                            except MonitorError:
                                pass
                        print(text, flush=True)
            except aiomqtt.MqttError as exc:
                delay = backoff.next()
                log.warning("mqtt://%s:%d: %s; retrying in %.1f s", host, port, exc, delay)
                await asyncio.sleep(delay)

    run_async(follow())
    return 0
