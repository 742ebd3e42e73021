"""``fatigue-sim soak``: healthy sensors beside a hostile publisher, for minutes.

Every part runs as its own process, as in production: mosquitto on a free local port,
``fatigue-monitor run``, and a healthy fleet (``fatigue-sim mqtt --loop``, 2-channel 2 kHz
EMG). This process is the hostile publisher: once a second it sends the next rows of the
hardening issue's table (rates the features cannot use, a 5,000-digit ``seq``, JSON
nested 100,000 deep, a 401-digit ``fs``, a burst of new sensor ids, invalid ids, a
sensor that reboots, an FMB1 ``seq`` crossing 2^32, a channel set that changes with each
message), and it watches: the healthy sensors' feature windows (each is published once),
``signal_lost`` alerts for healthy sensors (any is false), the monitor's RSS every 10 s
and the size of its log. What is hostile must cost the healthy sensors nothing, and what
it costs the monitor must stay bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np

from monitor.core.config import DspSettings
from monitor.core.model import SampleBlock
from monitor.inputs.wire import encode_fmb1
from simulators.loadtest import _fleet_cmd, _rss_mb, _start_broker, start_monitor

RSS_EVERY_S = 10.0
NEW_IDS_PER_S = 200  # a flood of new sensor ids: max_streams (5,000) is reached in 25 s
INVALID_IDS_PER_S = 200


@dataclass
class SoakResult:
    sensors: int
    seconds: float
    hostile_messages: int = 0
    windows_expected: int = 0
    windows_received: int = 0
    delivery: float = 0.0
    false_signal_lost: int = 0
    rss_mb: list[float] = field(default_factory=list)
    rss_growth_after_first_minute: float | None = None
    log_bytes: int = 0
    monitor_alive: bool = True
    counters: dict[str, Any] = field(default_factory=dict)
    monitor_log: str = ""


def _json(**fields: object) -> bytes:
    obj: dict[str, object] = {"fs": 2000.0, "t0": 0.0, "seq": 0, "data": [[0.1] * 50]}
    obj.update(fields)
    return json.dumps(obj).encode()


def _fmb1(sensor: str, seq: int, t0: float, channels: tuple[str, ...] = ("emg_1",)) -> bytes:
    rng = np.random.default_rng(seq)
    data = rng.standard_normal((len(channels), 100)).astype(np.float32)
    return encode_fmb1(SampleBlock(sensor, "emg", 2000.0, t0, seq, channels, "mV", data), "<f4")


class Hostile:
    """The rows of the table, one batch per second, each second the next state."""

    def __init__(self) -> None:
        self.second = 0
        self.new_id = 0

    def batch(self) -> list[tuple[str, bytes]]:
        k = self.second
        self.second += 1
        out: list[tuple[str, bytes]] = [
            ("sensors/evil-fs10/emg", _json(fs=10, data=[[0.1] * 20], seq=k)),
            ("sensors/evil-fs0/emg", _json(fs=0.001, data=[[0.1] * 5], seq=k)),
            ("sensors/evil-fstrue/emg", _json(fs=True, seq=k)),
            ("sensors/evil-acc2/acc", _json(fs=2, data=[[0.1] * 8] * 3, seq=k)),
            ("sensors/evil-seq/emg", _json().replace(b'"seq": 0', b'"seq": ' + b"7" * 5000)),
            ("sensors/evil-deep/emg", b'{"fs": 2000, "t0": 0, "seq": 0, "data": ' + b"[" * 100_000),
            ("sensors/evil-fsbig/emg", _json().replace(b'"fs": 2000.0', b'"fs": ' + b"3" * 401)),
        ]
        # A sensor that reboots every 40 s: seq back to 0, its clock going on.
        reboot_seq = (20 * k) % 800
        for j in range(20):
            out.append(("sensors/evil-reboot/emg", _fmb1("r", reboot_seq + j, (20 * k + j) * 0.05)))
        # FMB1 seq crossing 2^32 (the field wraps), every 60 s again.
        wrap_seq = 2**32 - 600 + 20 * (k % 60)
        for j in range(20):
            out.append(("sensors/evil-wrap/emg", _fmb1("w", wrap_seq + j, (20 * k + j) * 0.05)))
        # The channel set changes with each message.
        for j in range(20):
            names = (f"c{(20 * k + j) % 7}",)
            out.append(
                ("sensors/evil-chan/emg", _fmb1("c", 20 * k + j, (20 * k + j) * 0.05, names))
            )
        # New ids (small valid payloads) and invalid ids.
        for _ in range(NEW_IDS_PER_S):
            self.new_id += 1
            out.append((f"sensors/flood{self.new_id}/emg", _fmb1("f", 0, 0.0)))
        for j in range(INVALID_IDS_PER_S):
            out.append((f"sensors/bad id {k}.{j}!/emg", _fmb1("b", 0, 0.0)))
        return out


async def _soak(port: int, monitor_pid: int, result: SoakResult, fleet: Any) -> dict[str, Any]:
    healthy = {f"emg{i:02d}" for i in range(1, result.sensors + 1)}
    windows: Counter[str] = Counter()
    stats: dict[str, Any] = {}
    hostile = Hostile()
    started = time.monotonic()
    next_rss = started
    async with (
        aiomqtt.Client("127.0.0.1", port, identifier="soak-watch", keepalive=600) as watch,
        aiomqtt.Client("127.0.0.1", port, identifier="soak-hostile", keepalive=600) as evil,
    ):
        await watch.subscribe("fatigue/+/features", qos=0)
        await watch.subscribe("fatigue/+/alerts", qos=1)
        await watch.subscribe("fatigue/monitor/stats", qos=0)

        async def attack() -> None:
            while time.monotonic() - started < result.seconds:
                tick = time.monotonic()
                for topic, payload in hostile.batch():
                    await evil.publish(topic, payload, qos=0)
                    result.hostile_messages += 1
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

        async def observe() -> None:
            nonlocal next_rss, stats
            async for message in watch.messages:
                topic = message.topic.value
                body = json.loads(message.payload)
                sensor = topic.split("/")[1]
                if topic == "fatigue/monitor/stats":
                    stats = body
                elif topic.endswith("/features") and sensor in healthy:
                    windows[sensor] += 1
                elif (
                    topic.endswith("/alerts")
                    and sensor in healthy
                    and body.get("event") == "signal_lost"
                ):
                    result.false_signal_lost += 1
                if time.monotonic() >= next_rss:
                    value = _rss_mb(monitor_pid)
                    if value is not None:
                        result.rss_mb.append(round(value, 1))
                    next_rss += RSS_EVERY_S

        async with asyncio.TaskGroup() as tg:
            observer = tg.create_task(observe())
            await attack()
            with contextlib.suppress(TimeoutError):  # the last windows of the fleet
                async with asyncio.timeout(15.0):
                    while fleet.poll() is None:
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(3.0)
            observer.cancel()
    result.windows_received = sum(windows.values())
    return stats


def run_soak(sensors: int = 100, seconds: float = 600.0) -> SoakResult:
    import signal
    import subprocess

    result = SoakResult(sensors, seconds)
    work = Path(tempfile.mkdtemp(prefix="fatigue-soak-"))
    broker, port = _start_broker(work)
    try:
        monitor, log_path = start_monitor(work, port)
        result.monitor_log = str(log_path)
        fleet = subprocess.Popen(
            _fleet_cmd(port, sensors, 2, seconds, None),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            stats = asyncio.run(_soak(port, monitor.pid, result, fleet))
        finally:
            if fleet.poll() is None:
                fleet.kill()
        result.monitor_alive = monitor.poll() is None
        monitor.send_signal(signal.SIGTERM)
        monitor.wait(timeout=30)
        emg = DspSettings().emg
        per_stream = math.floor((seconds - emg.window_s) / emg.hop_s + 1e-9) + 1
        result.windows_expected = sensors * per_stream
        result.delivery = result.windows_received / max(1, result.windows_expected)
        keys = ("messages", "decode_errors", "rejected", "dropped_payloads", "gaps")
        result.counters = {k: stats.get(k) for k in (*keys, "seq_resets", "streams")}
        minute = round(60.0 / RSS_EVERY_S)
        later = result.rss_mb[minute:]
        if len(later) > 1:
            result.rss_growth_after_first_minute = max(later) / later[0] - 1.0
        result.log_bytes = log_path.stat().st_size
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    return result


def format_soak(r: SoakResult) -> str:
    growth = (
        "run too short"
        if r.rss_growth_after_first_minute is None
        else f"{r.rss_growth_after_first_minute * 100:+.1f} %"
    )
    return "\n".join(
        [
            f"soak: {r.sensors} healthy 2-ch 2 kHz EMG sensors + a hostile publisher, "
            f"{r.seconds:g} s ({r.hostile_messages} hostile messages)",
            f"  healthy windows {r.windows_received} of {r.windows_expected} "
            f"({r.delivery * 100:.2f} %); false signal_lost {r.false_signal_lost}",
            f"  monitor RSS (MB, every {RSS_EVERY_S:g} s): {r.rss_mb}; growth after the "
            f"first minute (max over the value at 1 min): {growth}",
            f"  monitor log {r.log_bytes / 1e3:.0f} kB; still running at the end: "
            f"{'yes' if r.monitor_alive else 'NO'}",
            f"  counted: {json.dumps(r.counters)}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fatigue-sim soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  fatigue-sim soak --sensors 100 --seconds 600   # needs mosquitto",
    )
    parser.add_argument("--sensors", type=int, default=100, help="healthy sensors (100)")
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the soak (600)")
    parser.add_argument("--json", action="store_true", help="the result as one JSON object")
    args = parser.parse_args(argv)
    if args.sensors < 1 or not args.seconds >= 10.0:
        parser.error("--sensors >= 1 and --seconds >= 10")
    r = run_soak(args.sensors, args.seconds)
    print(json.dumps(asdict(r)) if args.json else format_soak(r), flush=True)
    return 0 if r.monitor_alive else 1
