"""``fatigue-monitor run``: the live service."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from monitor.cli._common import log, run_async, tune_gc
from monitor.core.config import load_settings
from monitor.core.errors import MonitorError
from monitor.core.model import safe_sensor_id
from monitor.core.source_settings import BrainFlowBoard, LslStream

RUN_EPILOG = """\
examples:
  fatigue-monitor run --broker mqtt://127.0.0.1:1883 --db /var/lib/fatigue/monitor.db
  fatigue-monitor run --config site.toml            # see config/default.toml, [mqtt] [service]
  FATIGUE_MONITOR__MQTT__USERNAME=lab fatigue-monitor run --broker mqtts://broker.lab:8883
  fatigue-monitor run --config config/examples/ble-polar-h10.toml --broker mqtt://HOST:1883
  fatigue-monitor run --broker mqtt://127.0.0.1:1883 --lsl "type='EMG'" --lsl "name='IMU'"
  fatigue-monitor run --lsl "type='EMG'"    # no broker: alerts to the store, API, LSL outlet
  fatigue-monitor run --brainflow synthetic # BrainFlow's synthetic board, no hardware
  fatigue-monitor run --config config/examples/brainflow-cyton.toml   # an OpenBCI Cyton

The dashboard is at http://HOST:PORT/ (127.0.0.1:8080 by default; docs/api.md). On a
shared machine prefer FATIGUE_MONITOR__SERVICE__TOKEN to --token: other users can read
a process's arguments. BLE sensors are [[ble.devices]] tables in the config
(docs/devices.md; 'fatigue-monitor scan' shows what is nearby).

Flags override the config file, which overrides FATIGUE_MONITOR__* variables, which
override the defaults. Stop with Ctrl-C: detector baselines are saved in the store and
restored on the next start; alerts not yet delivered are sent when the broker is back.
"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="the live service: MQTT in, features and alerts out",
        description="Run the monitor against an MQTT broker: subscribe to sensors/+/emg and\n"
        "sensors/+/acc, publish fatigue/{id}/alerts|state|features, store events in SQLite.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings")
    parser.add_argument("--broker", metavar="URL", help="mqtt://HOST:PORT (sets mqtt.broker)")
    parser.add_argument("--db", type=Path, metavar="PATH", help="SQLite store (service.db)")
    parser.add_argument("--host", metavar="H", help="dashboard API address (service.host)")
    parser.add_argument("--port", type=int, metavar="N", help="dashboard API port (service.port)")
    parser.add_argument("--token", metavar="T", help="bearer token for the API (service.token)")
    parser.add_argument(
        "--lsl",
        action="append",
        metavar="PREDICATE",
        help="ingest a Lab Streaming Layer stream, e.g. \"type='EMG'\" (repeatable; adds to "
        "lsl.streams); events then also go out as an LSL marker stream",
    )
    parser.add_argument(
        "--brainflow",
        action="append",
        metavar="BOARD",
        help="read a BrainFlow board without parameters, by name or id, e.g. synthetic "
        "(repeatable; adds to brainflow.boards, sensor = the name); boards that need a "
        "port or address are [[brainflow.boards]] tables in the config",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from monitor.live.service import Service

    overrides: dict[str, Any] = {}
    for flag, key in (
        ("broker", "mqtt.broker"),
        ("host", "service.host"),
        ("port", "service.port"),
        ("token", "service.token"),
    ):
        if getattr(args, flag) is not None:
            overrides[key] = getattr(args, flag)
    if args.db is not None:
        overrides["service.db"] = str(args.db)
    settings = load_settings(args.config, overrides)
    if args.lsl:
        streams = [*settings.lsl.streams, *(LslStream(predicate=p) for p in args.lsl)]
        settings = dataclasses.replace(
            settings, lsl=dataclasses.replace(settings.lsl, streams=tuple(streams))
        )
        settings.validate()
    if args.brainflow:
        boards = [
            *settings.brainflow.boards,
            *(
                BrainFlowBoard(board=_board(b), sensor=safe_sensor_id(b, "board"))
                for b in args.brainflow
            ),
        ]
        settings = dataclasses.replace(
            settings, brainflow=dataclasses.replace(settings.brainflow, boards=tuple(boards))
        )
        settings.validate()
    if not settings.mqtt.broker and not (
        settings.ble.devices or settings.lsl.streams or settings.brainflow.boards
    ):
        raise MonitorError(
            "no MQTT broker: pass --broker mqtt://HOST:PORT, set mqtt.broker, configure "
            "[[ble.devices]], --lsl or --brainflow sources (then alerts go to the store, the "
            "API and the LSL outlet), or try 'fatigue-monitor demo' (embedded broker)"
        )

    async def serve() -> None:
        async with Service(settings) as svc:
            log.info("store %s; Ctrl-C to stop", settings.service.db)
            await svc.run(on_ready=lambda: _say_ready(svc))

    tune_gc()
    run_async(serve())
    return 0


def _say_ready(svc: Any) -> None:
    """The one line scripts and tests wait for: subscribed, status ``online`` retained
    (without a broker: every source started)."""
    dashboard = f"; dashboard {svc.api_url}" if svc.api_url else ""
    link = svc.link
    where = (
        f"subscribed on {link.url} as {link.client_id}"
        if link is not None
        else "no MQTT broker, alerts to the store, the API and the LSL outlet"
    )
    print(f"fatigue-monitor: ready: {where}{dashboard}", file=sys.stderr, flush=True)


def _board(text: str) -> str | int:
    """``--brainflow 0`` is a board id, anything else a name."""
    return int(text) if text.lstrip("-").isdigit() else text
