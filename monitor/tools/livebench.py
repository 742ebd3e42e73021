"""Does ``WS /api/live`` keep up? A fleet at real rates, the real pipeline, hub, app and
uvicorn, and N WebSocket clients that read everything.

    python -m monitor.tools.livebench --sensors 200 --clients 5 --seconds 30

The fleet mirrors ``fatigue-sim mqtt`` (every third sensor an accelerometer): EMG 2 kHz x 2
channels in 20 payloads/s, ACC 100 Hz x 3 axes in 10/s, FMB1-encoded, submitted to the
pipeline each tick (no broker: this measures the fan-out, not MQTT). The ticker runs as
the service's does (tick in a worker thread, then the hub). Reported: ticks (p50/p99),
what each client received, the delay from a frame's hub time to its arrival at the
client (p50/p99/max), and clients dropped as too slow (must be 0 to "keep up").
It lives in ``monitor`` because ``monitor`` may not import the simulators; the signals
are white noise, which costs the engine the same as EMG.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import connect

from monitor.core.config import Settings
from monitor.core.model import Modality, SampleBlock
from monitor.inputs.wire import encode_fmb1
from monitor.live.api import ApiServer, create_app
from monitor.live.hub import LiveHub
from monitor.live.pipeline import Pipeline
from monitor.outputs.store import Store

TICK_S = 0.1


@dataclass
class Sensor:
    name: str
    modality: Modality
    fs: float
    channels: tuple[str, ...]
    per_s: int
    data: np.ndarray[Any, np.dtype[np.float32]]
    seq: int = 0

    def payloads(self, n: int) -> list[tuple[str, bytes]]:
        out = []
        step = self.data.shape[1]
        for _ in range(n):
            block = SampleBlock(
                self.name,
                self.modality,
                self.fs,
                self.seq * step / self.fs,
                self.seq,
                self.channels,
                "mV",
                self.data,
            )
            out.append((f"sensors/{self.name}/{self.modality}", encode_fmb1(block)))
            self.seq += 1
        return out


def fleet(n: int, seed: int = 0) -> list[Sensor]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        if i % 3 == 2:
            data = (0.05 * rng.standard_normal((3, 10))).astype(np.float32)
            out.append(Sensor(f"acc{i:03d}", "acc", 100.0, ("acc_x", "acc_y", "acc_z"), 10, data))
        else:
            data = (0.3 * rng.standard_normal((2, 100))).astype(np.float32)
            out.append(Sensor(f"emg{i:03d}", "emg", 2000.0, ("emg_1", "emg_2"), 20, data))
    return out


@dataclass
class ClientStats:
    messages: int = 0
    frames: int = 0
    delays: list[float] = field(default_factory=list)
    closed: int | None = None


async def _client(url: str, stats: ClientStats) -> None:
    async with connect(url, max_size=None) as ws:
        try:
            async for raw in ws:
                now = time.time()
                msg = json.loads(raw)
                stats.messages += 1
                if msg["type"] == "frames":
                    stats.frames += len(msg["frames"])
                    stats.delays.extend(now - f["wall"] for f in msg["frames"])
        finally:
            stats.closed = ws.close_code


async def run(sensors: int, clients: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        pipeline = Pipeline(Settings(), store)
        hub = LiveHub()
        lock = asyncio.Lock()
        app = create_app(store=store, pipeline=pipeline, hub=hub, lock=lock)
        server = ApiServer(app, "127.0.0.1", 0)
        server.bind()
        url = server.url.replace("http://", "ws://") + "api/live"
        stats = [ClientStats() for _ in range(clients)]
        devices = fleet(sensors)
        ticks: list[float] = []
        async with asyncio.TaskGroup() as tg:
            serving = tg.create_task(server.serve())
            readers = [tg.create_task(_client(url, s)) for s in stats]
            while hub.clients < clients:
                await asyncio.sleep(0.01)
            started = time.perf_counter()
            n = 0
            while time.perf_counter() - started < seconds:
                n += 1
                for d in devices:
                    due = round(n * TICK_S * d.per_s) - d.seq
                    for topic, payload in d.payloads(due):
                        pipeline.submit(topic, payload)
                t0 = time.perf_counter()
                async with lock:
                    result = await asyncio.to_thread(pipeline.tick)
                    hub.frames.offer(result.frames)  # as the service does
                    hub.offer(result.frames, result.events)
                ticks.append(time.perf_counter() - t0)
                await asyncio.sleep(max(0.0, started + n * TICK_S - time.perf_counter()))
            await asyncio.sleep(1.0)  # let the last messages arrive
            for task in (*readers, serving):
                task.cancel()
        delays = sorted(d for s in stats for d in s.delays)
        q = statistics.quantiles(delays, n=100) if len(delays) > 1 else [0.0] * 99
        return {
            "sensors": sensors,
            "clients": clients,
            "seconds": seconds,
            "messages_in": pipeline.counters.messages,
            "windows": pipeline.counters.windows,
            "tick_p50_ms": 1e3 * statistics.median(ticks),
            "tick_p99_ms": 1e3 * statistics.quantiles(ticks, n=100)[98],
            "frames_per_client_per_s": [round(s.frames / seconds, 1) for s in stats],
            "ws_messages_per_client": [s.messages for s in stats],
            "delay_p50_ms": 1e3 * q[49],
            "delay_p99_ms": 1e3 * q[98],
            "delay_max_ms": 1e3 * (delays[-1] if delays else 0.0),
            "dropped_clients": hub.dropped_clients,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.tools.livebench", description=__doc__)
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        print(json.dumps(asyncio.run(run(args.sensors, args.clients, args.seconds)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
