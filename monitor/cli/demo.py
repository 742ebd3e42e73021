"""``fatigue-monitor demo``: broker, simulated fleet and service on embedded defaults.

The fleet is a separate process (``python -m simulators.cli mqtt``), as real sensors
would be; the monitor never imports the simulators. The demo subscribes to the alerts
itself and prints them, and says how to follow them with any MQTT client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiomqtt

from monitor.cli._common import run_async, tune_gc
from monitor.core.config import load_settings
from monitor.core.model import Event
from monitor.live.service import Service
from monitor.tools.broker import EmbeddedBroker

log = logging.getLogger(__name__)

FATIGUE_AT_S = 45.0
FLEET_SECONDS = 150.0
DASHBOARD_PORT = 8080


def _port_or_any(port: int) -> int:
    """The usual dashboard port when it is free, else 0 (any free port): a second demo, or
    anything else on 8080, must not stop the demo."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


async def run_demo(
    sensors: int = 6,
    speed: float = 1.0,
    duration: float | None = None,
    db: Path | None = None,
    port: int | None = None,
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fatigue-demo-"))
    db = db or workdir / "monitor.db"
    async with EmbeddedBroker() as broker:
        overrides: dict[str, object] = {"mqtt.broker": broker.url, "service.db": str(db)}
        overrides["service.port"] = port if port is not None else _port_or_any(DASHBOARD_PORT)
        settings = load_settings(overrides=overrides)
        async with Service(settings) as svc:
            print(
                f"fatigue-monitor demo\n"
                f"  dashboard             {svc.api_url or 'not started (see the error above)'}\n"
                f"  embedded MQTT broker  {broker.url}\n"
                f"  simulated fleet       {sensors} sensors; every other one starts to fatigue "
                f"(EMG) or tremble (ACC) {FATIGUE_AT_S:g} s in\n"
                f"  store (SQLite)        {db}\n"
                f"  follow the alerts     mosquitto_sub -p {broker.port} -t 'fatigue/#' -v\n"
                f"                        fatigue-monitor alerts --broker {broker.url}\n"
                f"Alerts appear below as they happen (first ones after about a minute); "
                f"Ctrl-C stops.",
                flush=True,
            )
            fleet = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "simulators.cli",
                "mqtt",
                "--broker",
                broker.url,
                "--sensors",
                str(sensors),
                "--fatigue-at",
                str(FATIGUE_AT_S),
                "--duration",
                str(FLEET_SECONDS),
                "--speed",
                str(speed),
            )
            try:
                async with asyncio.TaskGroup() as tg:
                    service = tg.create_task(svc.run(), name="service")
                    printer = tg.create_task(
                        _print_alerts(broker.host, broker.port), name="printer"
                    )
                    if duration is not None:
                        await asyncio.sleep(duration)
                        service.cancel()
                        printer.cancel()
            finally:
                if fleet.returncode is None:
                    fleet.terminate()
                with contextlib.suppress(ProcessLookupError):
                    await fleet.wait()
            status = svc.status()
            print(
                f"demo stopped: {status.counters.messages} messages, {status.counters.windows} "
                f"feature windows, {status.counters.events} events (stored in {db})",
                flush=True,
            )


async def _print_alerts(host: str, port: int) -> None:
    async with aiomqtt.Client(host, port, identifier="demo-printer") as client:
        await client.subscribe("fatigue/+/alerts", qos=1)
        async for message in client.messages:
            raw = message.payload
            if isinstance(raw, bytes | bytearray):
                e = Event.from_json(raw)
                print(
                    f"  {e.t:7.1f} s  {e.sensor}/{e.channel:6s} {e.event:18s} {e.message}",
                    flush=True,
                )


def add_parser(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="everything on embedded defaults: broker, simulated fleet, service, dashboard",
        description="Start an embedded MQTT broker, a simulated fleet (EMG and accelerometer\n"
        "sensors, some fatiguing or trembling within two minutes), the service and its\n"
        "dashboard, print the dashboard URL and the alerts as they happen. No broker or\n"
        "hardware needed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--port", type=int, metavar="N", help="dashboard port (8080 if free, else any; 0: any)"
    )
    demo.add_argument("--sensors", type=int, default=6, metavar="N", help="simulated sensors (6)")
    demo.add_argument("--speed", type=float, default=1.0, metavar="X", help="fleet speed (1)")
    demo.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    demo.add_argument("--db", type=Path, metavar="PATH", help="SQLite store (a temp file)")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    tune_gc()
    run_async(run_demo(args.sensors, args.speed, args.duration, args.db, args.port))
    return 0
