"""``fatigue-sim loadtest --step X``: overload and recovery, measured.

A base fleet of N sensors publishes for three steps of ``seconds`` each; during the
middle step a second fleet of (X - 1) * N sensors joins it (ids numbered after the base
fleet's), then leaves. What matters under overload is not the latency of the extra
sensors but what happens to the service: does the MQTT link hold (no reconnect, so no
gap), does memory stay bounded, is the shed data counted, does the service say it is
overloaded, and how soon after the load drops does the base fleet's latency come back.
Latency is measured, as in the plain load test, from the publish of the message that
completes a window to the arrival of that window's features, for the base fleet only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from simulators.loadtest import (
    _fleet_cmd,
    _quantile,
    _rss_mb,
    _start_broker,
    start_monitor,
)

BIN_S = 5.0  # the recovery is judged on the base fleet's p99 per 5-s bin of publish time
TARGET_P99_S = 0.5
RSS_EVERY_S = 5.0


@dataclass
class StepResult:
    sensors: int
    extra: int
    channels: int
    seconds: float
    p99_by_step_s: list[float | None] = field(default_factory=list)
    windows_by_step: list[int] = field(default_factory=list)
    reconnects: int = 0
    dropped_payloads: int = 0
    shed_bytes: int = 0
    gaps: int = 0
    overloaded_seen: bool = False
    tick_load_max: float = 0.0
    lag_max_s: float = 0.0
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (s since start, MB)
    rss_ratio: float | None = None  # max RSS from the step up on / max in the first step
    recovered_after_s: float | None = None  # None: p99 never back under the target
    #: p99 of the base fleet's windows published from 30 s after the load dropped on.
    p99_from_30s_after: float | None = None
    bins_after: list[tuple[float, float | None]] = field(default_factory=list)
    p99_by_10s: list[float | None] = field(default_factory=list)  # the whole run
    monitor_log: str = ""


async def _watch(
    port: int,
    monitor_pid: int,
    seconds: float,
    start_extra: Any,
    out: dict[str, Any],
) -> None:
    """Collect (arrival, sensor, t) of every feature message, every stats message and the
    monitor's RSS; start the extra fleet after one step (``start_extra``)."""
    arrivals: list[tuple[float, str, float]] = []
    stats: list[dict[str, Any]] = []
    rss: list[tuple[float, float]] = []
    started = time.monotonic()
    next_rss = started
    extra_started = False
    async with aiomqtt.Client("127.0.0.1", port, identifier="loadstep-watch", keepalive=600) as c:
        await c.subscribe("fatigue/+/features", qos=0)
        await c.subscribe("fatigue/monitor/stats", qos=0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for message in c.messages:
                    now = time.time()
                    topic = message.topic.value
                    body = json.loads(message.payload)
                    if topic == "fatigue/monitor/stats":
                        stats.append(body)
                    else:
                        arrivals.append((now, topic.split("/")[1], float(body["t"])))
                    elapsed = time.monotonic() - started
                    if not extra_started and elapsed >= out["step_s"]:
                        start_extra()
                        extra_started = True
                    if time.monotonic() >= next_rss:
                        value = _rss_mb(monitor_pid)
                        if value is not None:
                            rss.append((round(elapsed, 1), round(value, 1)))
                        next_rss += RSS_EVERY_S
    out.update(arrivals=arrivals, stats=stats, rss=rss)


def run_step_loadtest(
    sensors: int, factor: float = 1.5, channels: int = 8, seconds: float = 90.0
) -> StepResult:
    extra = max(1, round(sensors * (factor - 1.0)))
    result = StepResult(sensors, extra, channels, seconds)
    work = Path(tempfile.mkdtemp(prefix="fatigue-loadstep-"))
    broker, port = _start_broker(work)
    fleets: list[subprocess.Popen[bytes]] = []
    try:
        monitor, log_path = start_monitor(work, port)
        result.monitor_log = str(log_path)
        base = subprocess.Popen(
            _fleet_cmd(port, sensors, channels, 3 * seconds, work / "base.json"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        fleets.append(base)

        def start_extra() -> None:
            cmd = _fleet_cmd(port, extra, channels, seconds, work / "extra.json")
            fleets.append(
                subprocess.Popen(
                    [*cmd, "--first", str(sensors + 1), "--seed", "1"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

        watched: dict[str, Any] = {"step_s": seconds}
        asyncio.run(_watch(port, monitor.pid, 3 * seconds + 20.0, start_extra, watched))
        for fleet in fleets:
            fleet.wait(timeout=60)
        monitor.send_signal(signal.SIGTERM)
        monitor.wait(timeout=30)
        _summarise(result, watched, work)
    finally:
        for fleet in fleets:
            if fleet.poll() is None:
                fleet.kill()
        broker.terminate()
        broker.wait(timeout=10)
    return result


def _summarise(result: StepResult, watched: dict[str, Any], work: Path) -> None:
    steps = json.loads((work / "base.json").read_text())
    interval, times = steps["interval_s"], steps["times"]
    extra_times = json.loads((work / "extra.json").read_text())["times"]
    extra_start = extra_times[0] if extra_times else times[0] + result.seconds
    extra_end = extra_times[-1] if extra_times else times[0] + 2 * result.seconds
    names = {f"emg{i:02d}" for i in range(1, result.sensors + 1)}
    by_step: list[list[float]] = [[], [], []]
    by_10s: dict[int, list[float]] = {}
    after: list[tuple[float, float]] = []  # (publish time - extra_end, latency)
    for arrived, sensor, t in watched["arrivals"]:
        idx = round(t / interval) - 1
        if sensor not in names or not 0 <= idx < len(times):
            continue
        published = times[idx]
        latency = arrived - published
        # Steps cut where the extra fleet really published (it starts a process late).
        step = 0 if published < extra_start else 1 if published <= extra_end else 2
        by_step[step].append(latency)
        by_10s.setdefault(int((published - times[0]) // 10.0), []).append(latency)
        if published >= extra_end:
            after.append((published - extra_end, latency))
    result.p99_by_step_s = [_quantile(lats, 0.99) for lats in by_step]
    result.windows_by_step = [len(lats) for lats in by_step]
    last_bin = max(by_10s, default=-1)
    result.p99_by_10s = [_quantile(by_10s.get(k, []), 0.99) for k in range(last_bin + 1)]
    bins: dict[int, list[float]] = {}
    for since, latency in after:
        bins.setdefault(int(since // BIN_S), []).append(latency)
    result.bins_after = [(k * BIN_S, _quantile(bins[k], 0.99)) for k in sorted(bins)]
    result.p99_from_30s_after = _quantile([lat for since, lat in after if since >= 30.0], 0.99)
    # Recovered from the first bin after which every bin meets the target.
    result.recovered_after_s = None
    for start, p99 in reversed(result.bins_after):
        if p99 is None or p99 >= TARGET_P99_S:
            break
        result.recovered_after_s = start
    stats: list[dict[str, Any]] = watched["stats"]
    if stats:
        last = stats[-1]
        result.reconnects = max(0, int(last.get("connections", 1)) - 1)
        result.dropped_payloads = int(last.get("dropped_payloads", 0))
        result.shed_bytes = int(last.get("shed_bytes", 0))
        result.gaps = int(last.get("gaps", 0))
        result.overloaded_seen = any(bool(s.get("overloaded")) for s in stats)
        result.tick_load_max = max(float(s.get("tick_load", 0.0)) for s in stats)
        result.lag_max_s = max(float(s.get("lag_s", 0.0)) for s in stats)
    result.rss_mb = watched["rss"]
    first = [mb for at, mb in result.rss_mb if at < result.seconds]
    later = [mb for at, mb in result.rss_mb if at >= result.seconds]
    if first and later:
        result.rss_ratio = max(later) / max(first)


def format_step(r: StepResult) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f} ms"

    steps = ", ".join(
        f"{name} {ms(p)} ({n} windows)"
        for name, p, n in zip(
            (f"{r.sensors}", f"{r.sensors + r.extra}", f"{r.sensors} again"),
            r.p99_by_step_s,
            r.windows_by_step,
            strict=False,
        )
    )
    recovered = (
        "never (within the run)"
        if r.recovered_after_s is None
        else f"within {r.recovered_after_s + BIN_S:g} s"
    )
    ratio = "-" if r.rss_ratio is None else f"{r.rss_ratio:.2f}x"
    return "\n".join(
        [
            f"step load: {r.sensors} -> {r.sensors + r.extra} -> {r.sensors} sensors x "
            f"{r.channels} ch at 2 kHz, {r.seconds:g} s per step",
            f"  base fleet window latency p99 per step: {steps}",
            f"  p99 from 30 s after the load dropped to the end: {ms(r.p99_from_30s_after)}; "
            f"every {BIN_S:g}-s bin under {TARGET_P99_S * 1000:.0f} ms from then on: {recovered}"
            f" (p99 per {BIN_S:g}-s bin: "
            + ", ".join(f"{ms(p)}" for _, p in r.bins_after[:8])
            + ")",
            "  p99 per 10 s of the run: " + ", ".join(ms(p) for p in r.p99_by_10s),
            f"  MQTT reconnects {r.reconnects}; shed {r.dropped_payloads} payloads "
            f"({r.shed_bytes / 1e6:.0f} MB), gaps {r.gaps}; said overloaded: "
            f"{'yes' if r.overloaded_seen else 'no'}; tick load max {r.tick_load_max:.2f}, "
            f"lag max {r.lag_max_s:.1f} s",
            f"  monitor RSS max over the first step -> later: {ratio} "
            f"(MB every {RSS_EVERY_S:g} s: {[mb for _, mb in r.rss_mb]}) (of {os.cpu_count()} "
            "cores)",
        ]
    )
