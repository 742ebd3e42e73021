"""``fatigue-monitor scan``: nearby BLE devices and their drivers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from monitor.cli._common import positive_float


def add_parser(sub: Any) -> None:
    sp = sub.add_parser(
        "scan",
        help="list nearby BLE devices and the driver that would handle each",
        description="Scan for BLE devices (bleak, the platform's adapter) and name the "
        "driver of docs/devices.md that would handle each.",
    )
    sp.add_argument(
        "--seconds", type=positive_float, default=5.0, help="how long to listen (default 5)"
    )
    sp.add_argument("--json", action="store_true", help="one JSON object per device")
    sp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from monitor.inputs.ble.source import scan

    found = asyncio.run(scan(args.seconds))
    for f in found:
        if args.json:
            record = {"address": f.address, "name": f.name, "rssi": f.rssi, "driver": f.driver}
            print(json.dumps(record))
        else:
            print(f"{f.address:<20} {f.rssi:>4} dBm  {f.driver or '-':<8} {f.name}")
    if not found and not args.json:
        print("no BLE devices heard", file=sys.stderr)
    return 0
