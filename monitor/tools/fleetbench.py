"""Does the API answer at fleet scale? N streams in memory, a live ticker, and clients
calling ``GET /api/sensors`` while a probe calls ``GET /api/health``.

    python -m monitor.tools.fleetbench --streams 10000 --calls 100

Every stream gets 1.1 s of 2 kHz EMG first (so each has a detector with a status), then
``--live`` of them keep sending at 20 payloads/s while the ticker runs as the service's
does (tick in a worker thread under the tick lock, every 0.1 s) and the app is served by
uvicorn on a free port. ``--calls`` sequential list calls (default: the whole list, the
contract's call; ``--limit`` for pages) and a health probe every 50 ms run against it over
HTTP. Reported: both latency distributions (p50/p99/max), the response size, tick times.
The garbage collector is tuned as ``fatigue-monitor run`` tunes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from monitor.core.config import Settings
from monitor.core.model import SampleBlock
from monitor.inputs.wire import encode_fmb1
from monitor.live.api import ApiServer, create_app
from monitor.live.api._snapshot import STATUS_REFRESH_S, StreamStatuses
from monitor.live.hub import LiveHub
from monitor.live.pipeline import Pipeline
from monitor.outputs.store import Store

TICK_S = 0.1


def _payload(sensor: int, seq: int, t0: float, data: np.ndarray[Any, Any]) -> tuple[str, bytes]:
    name = f"s{sensor:05d}"
    block = SampleBlock(name, "emg", 2000.0, t0, seq, ("emg_1",), "mV", data)
    return f"sensors/{name}/emg", encode_fmb1(block, "<f4")


def fill(pipeline: Pipeline, streams: int) -> None:
    """Every stream gets two 0.55 s payloads: one window each, so one detector each."""
    data = (0.3 * np.random.default_rng(0).standard_normal((1, 1100))).astype(np.float32)
    for start in range(0, streams, 1000):
        for i in range(start, min(streams, start + 1000)):
            for seq in (0, 1):
                pipeline.submit(*_payload(i, seq, seq * 0.55, data))
        pipeline.tick()


def _list_calls(url: str, calls: int, limit: int | None) -> tuple[list[float], int]:
    params = {} if limit is None else {"limit": limit}
    times, size = [], 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(calls):
            t = time.perf_counter()
            r = client.get("/api/sensors", params=params)
            r.raise_for_status()
            times.append(time.perf_counter() - t)
            size = len(r.content)
            time.sleep(0.1)  # a dashboard polls; this is not a flood
    return times, size


def _probe(url: str, stop: Any) -> list[float]:
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            t = time.perf_counter()
            client.get("/api/health").raise_for_status()
            times.append(time.perf_counter() - t)
            time.sleep(0.05)
    return times


def _quantiles(xs: list[float]) -> dict[str, float]:
    q = statistics.quantiles(xs, n=100) if len(xs) > 1 else [xs[0]] * 99
    return {
        "p50_ms": round(1e3 * q[49], 2),
        "p99_ms": round(1e3 * q[98], 2),
        "max_ms": round(1e3 * max(xs), 2),
    }


async def run(streams: int, live: int, calls: int, limit: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        settings = Settings()
        service = replace(settings.service, max_streams=max(streams, 1))
        settings = replace(settings, service=service)
        pipeline = Pipeline(settings, store, silence_s=3600.0)
        fill(pipeline, streams)
        lock = asyncio.Lock()
        statuses = StreamStatuses()
        statuses.fill(pipeline)  # as a service's ticker would have kept them from the start
        app = create_app(
            store=store, pipeline=pipeline, hub=LiveHub(), lock=lock, statuses=statuses
        )
        server = ApiServer(app, "127.0.0.1", 0)
        server.bind()
        data = (0.3 * np.random.default_rng(1).standard_normal((1, 100))).astype(np.float32)
        ticks: list[float] = []
        stop = asyncio.Event()

        def step() -> None:  # as Service._step: the tick, then the statuses
            result = pipeline.tick()
            events = {(e.sensor, e.modality) for e in result.events}
            statuses.refresh(
                pipeline, TICK_S / STATUS_REFRESH_S, events, result.streams_with_frames, ()
            )

        async def ticker() -> None:
            seq = 2  # after the fill's 1.1 s, in 50 ms payloads
            while not stop.is_set():
                started = time.perf_counter()
                for _ in range(2):
                    for i in range(live):
                        pipeline.submit(*_payload(i, seq, 1.1 + (seq - 2) * 0.05, data))
                    seq += 1
                async with lock:
                    await asyncio.to_thread(step)
                ticks.append(time.perf_counter() - started)
                await asyncio.sleep(max(0.0, TICK_S - (time.perf_counter() - started)))

        async with asyncio.TaskGroup() as tg:
            serving = tg.create_task(server.serve())
            tg.create_task(ticker())
            # The clients run in other processes: this measures the service, not them.
            spawn = mp.get_context("spawn")
            with ProcessPoolExecutor(2, mp_context=spawn) as pool, spawn.Manager() as manager:
                loop = asyncio.get_running_loop()
                flag = manager.Event()
                probing = loop.run_in_executor(pool, _probe, server.url, flag)
                lists, size = await loop.run_in_executor(
                    pool, _list_calls, server.url, calls, limit
                )
                flag.set()
                health = await probing
            stop.set()
            serving.cancel()
        return {
            "streams": len(pipeline.streams),
            "detectors": len(pipeline.detectors),
            "live_streams": live,
            "calls": calls,
            "response_bytes": size,
            "sensors_list_first_ms": round(1e3 * lists[0], 2),
            "sensors_list": _quantiles(lists),
            "sensors_list_after_first": _quantiles(lists[1:]),
            "health": _quantiles(health),
            "health_calls": len(health),
            "tick": _quantiles(ticks),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.tools.fleetbench", description=__doc__)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--live", type=int, default=200)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    gc.freeze()  # as `fatigue-monitor run` does (cli._tune_gc, docs/operations.md)
    gc.set_threshold(50_000, 20, 100)
    with contextlib.suppress(KeyboardInterrupt):
        result = asyncio.run(run(args.streams, args.live, args.calls, args.limit))
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
