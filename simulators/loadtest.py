"""``fatigue-sim loadtest``: a fleet through a real mosquitto into the monitor, measured.

Every part runs as its own process, as in production: mosquitto on a free local port, the
monitor (``fatigue-monitor run``), and the fleet (``fatigue-sim mqtt --loop``, recording
the wall time of each publishing step). This process subscribes to the monitor's features
and stats and samples the monitor's RSS. Latency is measured from the publish of the
message that completes a window to the arrival of that window's features. A second phase
replaces the monitor by a bare aiomqtt subscriber that only counts messages, under the
same load, for the rate comparison. Loopback only; bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from monitor.core.config import DspSettings


@dataclass
class LoadResult:
    sensors: int
    channels: int
    seconds: float
    messages_sent: int = 0
    monitor_messages: int = 0
    dropped_payloads: int = 0
    gaps: int = 0
    decode_errors: int = 0
    windows_published: int = 0
    # Features are the latest window of each stream per flush, so a window superseded by
    # its stream's next one before a flush is never published: counted here, and in
    # ``latency_p99_all_s`` as later than any published one (None: beyond the 99th).
    windows_expected: int = 0
    latency_p99_all_s: float | None = None
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    latency_p99_after_warmup_s: float | None = None
    warmup_s: float = 10.0
    tick_p99_s: float | None = None
    cpu_cores: dict[str, float] = field(default_factory=dict)
    monitor_rate_msg_s: float = 0.0
    bare_rate_msg_s: float = 0.0
    rate_fraction: float = 0.0
    rss_mb: list[float] = field(default_factory=list)
    rss_growth: float | None = None
    # RSS growth counts from here: until then the detectors fill their baselines (up to
    # detect.emg.baseline_max_s, 60 s, of windows per channel) and the monitor's memory
    # grows by design; later growth would be a leak.
    rss_warmup_s: float = 90.0
    zero_loss: bool = False
    monitor_log: str = ""


RSS_EVERY_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _start_broker(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    exe = shutil.which("mosquitto")
    if exe is None:
        raise RuntimeError("the load test needs mosquitto (apt-get install mosquitto)")
    port = _free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 100000\n"
    )
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


READY_TIMEOUT_S = 60.0


def start_monitor(work: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """``fatigue-monitor run`` on the broker, once it says it is ready (subscribed): a
    fleet started earlier would publish into the void on a busy machine."""
    log_path = work / "monitor.log"
    with log_path.open("w") as log_file:
        monitor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor.cli",
                "run",
                "--broker",
                f"mqtt://127.0.0.1:{port}",
                "--db",
                str(work / "m.db"),
                "--port",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while "fatigue-monitor: ready:" not in log_path.read_text(errors="replace"):
        if monitor.poll() is not None:
            raise RuntimeError(f"the monitor exited ({monitor.returncode}); see {log_path}")
        if time.monotonic() > deadline:
            monitor.kill()
            raise RuntimeError(f"the monitor was not ready in {READY_TIMEOUT_S:g} s: {log_path}")
        time.sleep(0.05)
    return monitor, log_path


def _fleet_cmd(
    port: int, sensors: int, channels: int, seconds: float, times: Path | None
) -> list[str]:
    """``fatigue-sim mqtt`` for a looping EMG fleet; ``times``: where it writes the wall
    time of each publishing step (the latency reference)."""
    cmd = [
        sys.executable,
        "-m",
        "simulators.cli",
        "mqtt",
        "--broker",
        f"mqtt://127.0.0.1:{port}",
        "--sensors",
        str(sensors),
        "--modality",
        "emg",
        "--channels",
        str(channels),
        "--loop",
        "--duration",
        str(seconds),
    ]
    return cmd if times is None else [*cmd, "--times-out", str(times)]


async def _watch(
    port: int,
    pid: int,
    seconds: float,
    out: dict[str, Any],
    fleet: subprocess.Popen[bytes] | None = None,
    procs: dict[str, int] | None = None,
) -> None:
    """Collect feature arrivals, the monitor's stats and RSS; read every process's CPU
    time just before the fleet ends (the share of the 2 cores each part takes)."""
    arrivals: list[tuple[float, float]] = []
    rss: list[float] = []
    stats: dict[str, Any] = {}
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier="loadtest-watch", keepalive=600
    ) as client:
        await client.subscribe("fatigue/+/features", qos=0)
        await client.subscribe("fatigue/monitor/stats", qos=0)
        started = time.monotonic()
        next_rss = started
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for message in client.messages:
                    now = time.time()
                    body = json.loads(message.payload)
                    if message.topic.value == "fatigue/monitor/stats":
                        stats = body
                    else:
                        arrivals.append((now, float(body["t"])))
                    if (
                        fleet is not None
                        and procs
                        and time.monotonic() - out.get("cpu_wall", 0.0) >= 1.0
                        and fleet.poll() is None
                    ):
                        out["cpu"] = {k: _cpu_s(p) for k, p in procs.items()}
                        out["cpu_wall"] = time.monotonic()
                    if time.monotonic() >= next_rss:
                        value = _rss_mb(pid)
                        if value is not None:
                            rss.append(round(value, 1))
                        next_rss += RSS_EVERY_S
    out.update(arrivals=arrivals, rss=rss, stats=stats)


async def _count(port: int, seconds: float) -> float:
    n = 0
    first = last = 0.0
    try:
        async with aiomqtt.Client("127.0.0.1", port, identifier="loadtest-bare") as client:
            await client.subscribe("sensors/#", qos=0)
            async with asyncio.timeout(seconds):
                async for _ in client.messages:
                    last = time.monotonic()
                    if n == 0:
                        first = last
                    n += 1
    except TimeoutError:
        pass
    return n / (last - first) if n > 1 and last > first else 0.0


def _windows_per_stream(signal_s: float) -> int:
    """EMG windows (default window and hop) that end within ``signal_s`` of signal."""
    emg = DspSettings().emg
    if signal_s < emg.window_s:
        return 0
    return math.floor((signal_s - emg.window_s) / emg.hop_s + 1e-9) + 1


def _quantile(values: list[float], q: float, population: int | None = None) -> float | None:
    """The q-quantile of ``values``; with ``population`` (> len(values)), of a population
    whose missing members are later than every value (None when the quantile is one)."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered) if population is None else max(population, len(ordered))
    rank = math.ceil(q * n) - 1
    return ordered[min(len(ordered) - 1, rank)] if rank < len(ordered) else None


def run_loadtest(sensors: int, channels: int = 8, seconds: float = 60.0) -> LoadResult:
    result = LoadResult(sensors, channels, seconds)
    work = Path(tempfile.mkdtemp(prefix="fatigue-load-"))
    broker, port = _start_broker(work)
    try:
        # Phase 1: the monitor.
        monitor, log_path = start_monitor(work, port)
        times_file = work / "times.json"
        fleet = subprocess.Popen(
            _fleet_cmd(port, sensors, channels, seconds, times_file),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        watched: dict[str, Any] = {}
        procs = {"monitor": monitor.pid, "fleet": fleet.pid, "mosquitto": broker.pid}
        cpu0 = {k: _cpu_s(pid) for k, pid in procs.items()}
        wall0 = time.monotonic()
        with contextlib.suppress(TimeoutError):
            asyncio.run(_watch(port, monitor.pid, seconds + 25.0, watched, fleet, procs))
        cpu1 = watched.pop("cpu", {})
        wall = watched.pop("cpu_wall", time.monotonic()) - wall0
        result.cpu_cores = {
            k: round((cpu1[k] - c0) / wall, 2)
            for k, c0 in cpu0.items()
            if c0 is not None and cpu1.get(k) is not None and wall > 0
        }
        fleet.wait(timeout=60)
        monitor.send_signal(signal.SIGTERM)
        monitor.wait(timeout=30)
        result.monitor_log = str(log_path)
        steps = json.loads(times_file.read_text())
        interval, step_times = steps["interval_s"], steps["times"]
        result.messages_sent = sensors * len(step_times)
        stats = watched.get("stats", {})
        result.monitor_messages = int(stats.get("messages", 0))
        result.dropped_payloads = int(stats.get("dropped_payloads", 0))
        result.gaps = int(stats.get("gaps", 0))
        result.decode_errors = sum(stats.get("decode_errors", {}).values())
        latencies = []
        arrivals = []
        for arrived, t in watched.get("arrivals", []):
            idx = round(t / interval) - 1
            if 0 <= idx < len(step_times):
                latencies.append(arrived - step_times[idx])
                arrivals.append((arrived, t))
        result.windows_published = len(latencies)
        result.windows_expected = sensors * _windows_per_stream(len(step_times) * interval)
        result.latency_p99_all_s = _quantile(latencies, 0.99, result.windows_expected)
        result.latency_p50_s = _quantile(latencies, 0.5)
        result.latency_p99_s = _quantile(latencies, 0.99)
        steady = [
            lat for (_, t), lat in zip(arrivals, latencies, strict=True) if t >= result.warmup_s
        ]
        result.latency_p99_after_warmup_s = _quantile(steady, 0.99)
        tick = stats.get("tick_p99_s")
        result.tick_p99_s = None if tick is None else float(tick)
        span = step_times[-1] - step_times[0] if len(step_times) > 1 else seconds
        result.monitor_rate_msg_s = result.monitor_messages / span
        result.rss_mb = watched.get("rss", [])
        warm = result.rss_mb[round(result.rss_warmup_s / RSS_EVERY_S) :]
        result.rss_growth = (warm[-1] / warm[0] - 1.0) if len(warm) > 1 else None
        result.zero_loss = (
            result.monitor_messages >= result.messages_sent
            and result.dropped_payloads == 0
            and result.gaps == 0
        )
        # Phase 2: a bare counting subscriber under the same load.
        fleet = subprocess.Popen(
            _fleet_cmd(port, sensors, channels, min(seconds, 30.0), work / "t2.json"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result.bare_rate_msg_s = asyncio.run(_count(port, min(seconds, 30.0) + 5.0))
        fleet.wait(timeout=60)
        if result.bare_rate_msg_s:
            result.rate_fraction = result.monitor_rate_msg_s / result.bare_rate_msg_s
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    return result


def format_result(r: LoadResult) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f} ms"

    return "\n".join(
        [
            f"{r.sensors} sensors x {r.channels} ch at 2 kHz, 20 msg/s each, {r.seconds:g} s",
            f"  messages sent {r.messages_sent}, received by the monitor {r.monitor_messages}, "
            f"dropped {r.dropped_payloads}, gaps {r.gaps}, decode errors {r.decode_errors}"
            f" -> zero loss: {'yes' if r.zero_loss else 'NO'}",
            f"  window latency p50 {ms(r.latency_p50_s)}, p99 {ms(r.latency_p99_s)} "
            f"({r.windows_published} of {r.windows_expected} windows published; p99 with the "
            f"rest counted as late {ms(r.latency_p99_all_s)}); p99 after the first "
            f"{r.warmup_s:g} s "
            f"{ms(r.latency_p99_after_warmup_s)}; monitor tick p99 {ms(r.tick_p99_s)}",
            "  CPU cores used: "
            + ", ".join(f"{k} {v:.2f}" for k, v in r.cpu_cores.items())
            + f" (of {os.cpu_count()})",
            f"  rate: monitor {r.monitor_rate_msg_s:,.0f} msg/s, bare subscriber "
            f"{r.bare_rate_msg_s:,.0f} msg/s, fraction {r.rate_fraction:.2f}",
            f"  monitor RSS (MB, every {RSS_EVERY_S:g} s): {r.rss_mb}"
            + (
                f", growth after the first {r.rss_warmup_s:g} s: run too short"
                if r.rss_growth is None
                else f", growth after the first {r.rss_warmup_s:g} s {r.rss_growth * 100:+.1f} %"
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="fatigue-sim loadtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sensors",
        type=int,
        nargs="+",
        default=[50],
        metavar="N",
        help="fleet sizes to try, e.g. --sensors 100 200 500 (50)",
    )
    parser.add_argument("--channels", type=int, default=8, help="EMG channels per sensor (8)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load per size (60)")
    parser.add_argument("--json", action="store_true", help="one JSON object per fleet size")
    parser.add_argument(
        "--step",
        type=float,
        metavar="X",
        help="overload and recovery: N sensors, then X*N, then N again, --seconds each "
        "(e.g. --sensors 500 --step 1.5 --seconds 90)",
    )
    parser.add_argument(
        "--no-bench",
        action="store_true",
        help="skip the machine's engine figure (fatigue-monitor bench) printed first",
    )
    args = parser.parse_args(argv)
    if not args.no_bench:  # so that runs on different machines can be compared
        print(machine_figure(), flush=True)
    if args.step is not None:
        from simulators.loadstep import format_step, run_step_loadtest

        if not args.step > 1.0:
            parser.error("--step wants a factor above 1, e.g. 1.5")
        for n in args.sensors:
            r = run_step_loadtest(n, args.step, args.channels, args.seconds)
            print(json.dumps(asdict(r)) if args.json else format_step(r), flush=True)
        return 0
    for n in args.sensors:
        res = run_loadtest(n, args.channels, args.seconds)
        print(json.dumps(asdict(res)) if args.json else format_result(res), flush=True)
    return 0


def machine_figure() -> str:
    """This machine's feature-engine throughput (``fatigue-monitor bench``), one line."""
    out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "bench", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        figures = json.loads(out.stdout)
    except json.JSONDecodeError:
        return f"machine: bench failed ({out.stderr.strip()[-200:]})"
    shown = {k: v for k, v in figures.items() if isinstance(v, int | float | str)}
    return "machine: fatigue-monitor bench " + json.dumps(shown)


if __name__ == "__main__":
    raise SystemExit(main())
