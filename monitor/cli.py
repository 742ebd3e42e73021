"""Command line: ``fatigue-monitor run | demo | alerts | replay | evaluate | bench``.

Errors the user can fix (a bad file, a bad option) print one line and exit with code 2;
nothing the user typed should ever produce a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from monitor.config import LslStream, load_settings
from monitor.csv_args import add_csv_arguments, csv_options
from monitor.errors import MonitorError
from monitor.io.recording import StreamInfo
from monitor.model import Event, FeatureFrame, Modality

if TYPE_CHECKING:  # scipy.stats and the report load only when replay runs
    from monitor.indices import FatigueIndices
    from monitor.report import ReportCollector
    from monitor.tremor_character import TremorCharacter

log = logging.getLogger("monitor")

EXIT_USAGE = 2

REPLAY_EPILOG = """\
examples:
  fatigue-monitor replay hold.edf --report hold.html
      features of every channel, a summary here, and a report with charts
  fatigue-monitor replay S8.wav --modality emg --mains 60 --features f.csv
      a WAV from a hobby amplifier in a 60 Hz country, features to CSV
  fatigue-monitor replay a.csv b.csv --fs 2000 --json > events.jsonl
      two CSVs without a time column, replayed together; stdout is Event JSON only
  fatigue-monitor replay session.bdf --speed 1
      paced like the live session (1 = real time, 10 = ten times faster)
  fatigue-monitor replay phone.csv --modality acc --unit g
      a phone export: time column found and resampled, g converted to m/s^2
  fatigue-monitor replay log.csv --columns t,-,x,y,z --time-unit ns --modality acc
      a headerless logger file: names given, the second column skipped
  fatigue-monitor replay hold.edf --json --summary-json summary.json > events.jsonl
      fatigue indices per channel (MDF slope with CI, time to a 10 % drop, JASA
      quadrant, contractions) as one JSON object in summary.json

formats: CSV (see 'CSV exports' above; without a time column the rate is --fs), EDF/BDF,
WFDB (.hea), WAV. Channels named acc* are accelerometer axes, all others EMG,
unless --modality says otherwise. Settings (windows, bands, filters) come from
--config FILE (see config/default.toml for every key).
"""

RUN_EPILOG = """\
examples:
  fatigue-monitor run --broker mqtt://127.0.0.1:1883 --db /var/lib/fatigue/monitor.db
  fatigue-monitor run --config site.toml            # see config/default.toml, [mqtt] [service]
  FATIGUE_MONITOR__MQTT__USERNAME=lab fatigue-monitor run --broker mqtts://broker.lab:8883
  fatigue-monitor run --config config/examples/ble-polar-h10.toml --broker mqtt://HOST:1883
  fatigue-monitor run --broker mqtt://127.0.0.1:1883 --lsl "type='EMG'" --lsl "name='IMU'"

The dashboard is at http://HOST:PORT/ (127.0.0.1:8080 by default; docs/api.md). On a
shared machine prefer FATIGUE_MONITOR__SERVICE__TOKEN to --token: other users can read
a process's arguments. BLE sensors are [[ble.devices]] tables in the config
(docs/devices.md; 'fatigue-monitor scan' shows what is nearby).

Flags override the config file, which overrides FATIGUE_MONITOR__* variables, which
override the defaults. Stop with Ctrl-C: detector baselines are saved in the store and
restored on the next start; alerts not yet delivered are sent when the broker is back.
"""

EVALUATE_EPILOG = """\
example:
  fatigue-sim scenarios --n 60 --seed 7 -o set7 && fatigue-monitor evaluate set7
      a fresh mixed set (fatiguing and not, EMG and ACC) and the detector's scores

truth.json is described in docs/truth-format.md; the scoring rules in docs/evaluation.md.
"""

BENCH_EPILOG = """\
The three figures come from one run on the same windows: the engine (one batched
feature step), a naive loop (scipy.signal.welch per window, then MDF), and a bare
batched rfft of the windows (the floor no spectral method can beat).
"""


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'max' or a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected 'max' or a number > 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, as for every user error
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fatigue-monitor",
        description="Muscle-fatigue and tremor monitoring from surface EMG and accelerometers.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    rp = sub.add_parser(
        "replay",
        help="compute features (and events) from recorded files",
        description="Replay recordings through the feature engine and detectors.",
        epilog=REPLAY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rp.add_argument("files", nargs="+", metavar="FILE", help="CSV, EDF/BDF, WFDB .hea or WAV")
    rp.add_argument("--modality", choices=["emg", "acc"], help="treat every channel as this")
    rp.add_argument(
        "--fs", type=_positive_float, metavar="HZ", help="sample rate for CSV without time"
    )
    rp.add_argument(
        "--speed", type=_speed, default=None, metavar="max|N", help="max (default) or N x real time"
    )
    rp.add_argument("--events", type=Path, metavar="OUT.jsonl", help="write events as JSON lines")
    rp.add_argument(
        "--features", type=Path, metavar="OUT.csv", help="write one row per window/channel"
    )
    rp.add_argument(
        "--report", type=Path, metavar="OUT.html", help="write a self-contained HTML report"
    )
    rp.add_argument("--json", action="store_true", help="stdout carries only Event JSON lines")
    rp.add_argument(
        "--summary-json",
        type=Path,
        metavar="OUT.json",
        help="write the summary and fatigue indices per channel as one JSON object",
    )
    rp.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML settings (config/default.toml)"
    )
    rp.add_argument(
        "--mains",
        type=int,
        choices=[0, 50, 60],
        help="notch mains at 50 or 60 Hz and harmonics (sets dsp.emg.mains_hz)",
    )
    rp.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_csv_arguments(rp)

    run = sub.add_parser(
        "run",
        help="the live service: MQTT in, features and alerts out",
        description="Run the monitor against an MQTT broker: subscribe to sensors/+/emg and\n"
        "sensors/+/acc, publish fatigue/{id}/alerts|state|features, store events in SQLite.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--config", type=Path, metavar="FILE", help="TOML settings")
    run.add_argument("--broker", metavar="URL", help="mqtt://HOST:PORT (sets mqtt.broker)")
    run.add_argument("--db", type=Path, metavar="PATH", help="SQLite store (service.db)")
    run.add_argument("--host", metavar="H", help="dashboard API address (service.host)")
    run.add_argument("--port", type=int, metavar="N", help="dashboard API port (service.port)")
    run.add_argument("--token", metavar="T", help="bearer token for the API (service.token)")
    run.add_argument(
        "--lsl",
        action="append",
        metavar="PREDICATE",
        help="ingest a Lab Streaming Layer stream, e.g. \"type='EMG'\" (repeatable; adds to "
        "lsl.streams); events then also go out as an LSL marker stream",
    )

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

    ep = sub.add_parser(
        "evaluate",
        help="score the detector on recordings with ground truth",
        description="Replay every recording of a truth set through the real detector and "
        "report sensitivity, false alarms per hour and detection delay.",
        epilog=EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ep.add_argument("directory", type=Path, metavar="DIR", help="folder with truth.json")
    ep.add_argument("--json", action="store_true", help="print the summary as JSON")
    ep.add_argument(
        "--tolerance",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds before the true onset a detection may come (default 2: one window)",
    )
    ep.add_argument("--config", type=Path, metavar="FILE", help="TOML settings")

    bp = sub.add_parser(
        "bench",
        help="measure the feature engine against a naive loop and the bare FFT",
        description="Measure feature-engine throughput.",
        epilog=BENCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bp.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    bp.add_argument("--windows", type=int, default=4096, help="windows per run (default 4096)")
    bp.add_argument("--fs", type=_positive_float, default=2000.0, help="sample rate (default 2000)")
    bp.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")

    sp = sub.add_parser(
        "scan",
        help="list nearby BLE devices and the driver that would handle each",
        description="Scan for BLE devices (bleak, the platform's adapter) and name the "
        "driver of docs/devices.md that would handle each.",
    )
    sp.add_argument(
        "--seconds", type=_positive_float, default=5.0, help="how long to listen (default 5)"
    )
    sp.add_argument("--json", action="store_true", help="one JSON object per device")
    return parser


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fatigue-monitor: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


class _HumanEvents:
    """Events as readable lines when stdout is for a person."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def frames(self, frames: Sequence[FeatureFrame]) -> None:
        return None

    def events(self, events: Sequence[Event]) -> None:
        for e in events:
            where = f"{e.sensor}/{e.channel}"
            self._out.write(f"{e.t:8.1f} s  {where:14s} {e.event:18s} {e.message}\n")
        self._out.flush()


class _Progress:
    """A tqdm bar on stderr in seconds of signal; does nothing when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def start(self, total_s: float) -> None:
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=round(total_s, 1), unit="s", desc="replay", file=sys.stderr, leave=False
            )

    def update(self, seconds: float) -> None:
        if self._bar is not None:
            self._bar.update(round(seconds, 1))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _describe(streams: list[StreamInfo]) -> None:
    for s in streams:
        log.info(
            "%s: %s, %d channel(s) %s at %g Hz, %.1f s, unit %s",
            s.sensor,
            s.modality,
            len(s.channels),
            ",".join(s.channels),
            s.fs,
            s.n_samples / s.fs,
            s.unit,
        )


def cmd_replay(args: argparse.Namespace) -> int:
    from monitor.replay import replay
    from monitor.report import ReportCollector, render_report
    from monitor.sinks.files import EventLinesSink, FeaturesCsvSink

    overrides: dict[str, Any] = {}
    if args.mains is not None:
        overrides["dsp.emg.mains_hz"] = args.mains
    settings = load_settings(args.config, overrides)
    modality: Modality | None = args.modality
    emg = settings.dsp.emg
    collector = ReportCollector(stride=max(1, round(emg.window_s / emg.hop_s)))
    with ExitStack() as stack:
        sinks: list[Any] = [collector]
        if args.features:
            sinks.append(FeaturesCsvSink(stack.enter_context(_open_out(args.features))))
        if args.events:
            sinks.append(EventLinesSink(stack.enter_context(_open_out(args.events))))
        if args.json:
            sinks.append(EventLinesSink(sys.stdout, flush=True))
        else:
            sinks.append(_HumanEvents(sys.stdout))
        bar = _Progress(not args.json and not args.no_progress and sys.stderr.isatty())
        stack.callback(bar.close)

        def on_open(streams: list[StreamInfo]) -> None:
            _describe(streams)
            bar.start(max((s.n_samples / s.fs for s in streams), default=0.0))

        result = replay(
            args.files,
            settings,
            modality=modality,
            fs=args.fs,
            speed=args.speed,
            sinks=sinks,
            progress=bar.update if bar.enabled else None,
            on_open=on_open,
            csv=csv_options(args),
            on_note=lambda note: log.info("%s", note),
        )
    if args.report:
        title = "Replay of " + ", ".join(Path(f).name for f in args.files)
        html = render_report(collector, title, [str(f) for f in args.files])
        _write_text(args.report, html)
    if result.nonfinite_samples:
        log.warning(
            "%d non-finite samples (NaN/inf) were held at the last finite value; "
            "their windows are marked quality=nonfinite",
            result.nonfinite_samples,
        )
    _print_summary(collector, result.elapsed_s, result.duration_s, result.n_events)
    if args.summary_json:
        summary = _summary_dict(collector, result.elapsed_s, result.duration_s, result.n_events)
        summary["files"] = [str(f) for f in args.files]
        with _open_out(args.summary_json) as fh:
            json.dump(summary, fh, indent=2, allow_nan=False)
            fh.write("\n")
        log.info("summary written to %s", args.summary_json)
    return 0


def _open_out(path: Path) -> TextIO:
    try:
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise MonitorError(f"{path}: cannot write: {exc.strerror}") from exc


def _write_text(path: Path, text: str) -> None:
    with _open_out(path) as fh:
        fh.write(text)
    log.info("report written to %s", path)


def _print_summary(
    collector: ReportCollector, elapsed: float, duration: float, n_events: int
) -> None:
    """Per channel on stderr; EMG figures use active windows only (monitor/indices.py)."""
    from monitor.indices import ENDS_S
    from monitor.report.html import first_last_means

    for (sensor, _modality, channel), series in sorted(collector.series.items()):
        where = f"{sensor}/{channel}"
        if series.modality == "emg":
            ind = series.indices(collector.stride)
            change = ind.mdf_change_pct
            if ind.mdf_first_hz is None or ind.mdf_last_hz is None:
                ends = "no active window"
            else:
                ends = (
                    f"median MDF first {ENDS_S:g} s {ind.mdf_first_hz:.1f} Hz -> last {ENDS_S:g} s "
                    f"{ind.mdf_last_hz:.1f} Hz"
                    + ("" if change is None else f" ({change:+.1f} %)")
                    + " of active windows"
                )
            log.info("%s: %d windows (%d active), %s", where, ind.n_windows, ind.n_usable, ends)
            if ind.initial_mdf_hz is not None:
                log.info("%s: %s", where, _indices_line(ind))
        else:
            a0, a1 = first_last_means(series, "tremor_rms")
            log.info(
                "%s: %d windows, tremor RMS first 5 s %.4g -> last 5 s %.4g m/s^2",
                where,
                len(series.t),
                a0,
                a1,
            )
            log.info("%s: %s", where, _tremor_line(series.tremor_character()))
    speed = duration / elapsed if elapsed > 0 else math.inf
    log.info(
        "%.1f s of signal in %.2f s (%.0fx real time), %d event(s)",
        duration,
        elapsed,
        speed,
        n_events,
    )


def _tremor_line(ch: TremorCharacter) -> str:
    if ch.peak_hz is None or ch.rms_ms2 is None:
        return f"no tremor peak in {ch.n_measurable} measurable window(s)"
    what = "tremor" if ch.present else "intermittent tremor-like peak"
    return (
        f"{what} {ch.peak_hz:.1f} Hz in the {ch.band}, {ch.rms_ms2:.3g} m/s^2, in "
        f"{ch.share * 100:.0f} % of {ch.n_measurable} measurable windows"
    )


def _indices_line(ind: FatigueIndices) -> str:
    slope = ind.mdf_slope
    trend = (
        "MDF slope n/a"
        if slope is None
        else f"MDF slope {slope.pct_per_min:+.1f} %/min (95 % CI {slope.lo:+.1f} to "
        f"{slope.hi:+.1f})"
    )
    drop = "none" if ind.drop10_s is None else f"at {ind.drop10_s:.1f} s"
    caveat = "" if ind.quadrant_caveat is None else f" ({ind.quadrant_caveat})"
    return (
        f"initial MDF {ind.initial_mdf_hz:.1f} Hz, {trend}, 10 % drop {drop}, "
        f"JASA {ind.quadrant or 'n/a'}{caveat}, {len(ind.contractions)} contraction(s)"
    )


def _summary_dict(
    collector: ReportCollector, elapsed: float, duration: float, n_events: int
) -> dict[str, Any]:
    """The --summary-json object: per channel its window counts and, for EMG, the fatigue
    indices (docs/signal-processing.md, "Fatigue indices")."""
    channels = []
    for (sensor, modality, channel), series in sorted(collector.series.items()):
        ind = series.indices(collector.stride) if modality == "emg" else None
        tremor = series.tremor_character() if modality == "acc" else None
        channels.append(
            {
                "sensor": sensor,
                "channel": channel,
                "modality": modality,
                "n_windows": len(series.t),
                "n_poor_quality": series.quality_bad,
                "events": [e.event for e in series.events],
                "indices": None if ind is None else ind.to_dict(),
                "tremor": None if tremor is None else tremor.to_dict(),
            }
        )
    return {
        "duration_s": duration,
        "elapsed_s": elapsed,
        "n_events": n_events,
        "channels": channels,
    }


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def cmd_scan(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from monitor.sources.ble import scan

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


def cmd_bench(args: argparse.Namespace) -> int:
    from monitor.bench import format_bench, run_bench

    if args.windows < 16:
        raise MonitorError(f"--windows must be at least 16, got {args.windows}")
    result = run_bench(windows=args.windows, fs=args.fs, pin=not args.no_pin)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(format_bench(result))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from monitor.evaluate import evaluate, format_result, format_summary

    settings = load_settings(args.config)
    show = not args.json

    def progress(result: Any) -> None:
        if show:
            print(format_result(result), flush=True)

    _, summary = evaluate(args.directory, settings, args.tolerance, progress)
    if args.json:
        # Strict JSON: a condition without positives has no sensitivity (None, not NaN).
        print(json.dumps(_finite(asdict(summary)), indent=2, allow_nan=False))
    else:
        print(format_summary(summary))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.service import Service

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
    if not settings.mqtt.broker:
        raise MonitorError(
            "no MQTT broker: pass --broker mqtt://HOST:PORT, set mqtt.broker, or try "
            "'fatigue-monitor demo' (embedded broker)"
        )

    async def serve() -> None:
        async with Service(settings) as svc:
            log.info("store %s; Ctrl-C to stop", settings.service.db)
            await svc.run(on_ready=lambda: _say_ready(svc))

    _tune_gc()
    _run_async(serve())
    return 0


def _say_ready(svc: Any) -> None:
    """The one line scripts and tests wait for: subscribed, status ``online`` retained."""
    dashboard = f"; dashboard {svc.api_url}" if svc.api_url else ""
    link = svc.link
    print(
        f"fatigue-monitor: ready: subscribed on {link.url} as {link.client_id}{dashboard}",
        file=sys.stderr,
        flush=True,
    )


def _tune_gc() -> None:
    """Fewer, shorter garbage collections for the long-running service process.

    Why: the full (generation 2) collection walks every tracked object: the imported
    libraries plus thousands of detector channels. Measured with 300 sensors, eight of
    them in 20 s took 0.48 s of CPU, up to 80 ms each, in the middle of ticks, which is
    the latency tail. Freezing what exists at start (imports, settings) takes it out of
    every later walk, and a larger first threshold makes the walks rarer: 0.1 s in all,
    30 ms at most. Done here, by the process's owner, not by the library."""
    import gc

    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _run_async(coro: Any) -> None:
    """asyncio.run with SIGTERM treated like Ctrl-C, so services shut down cleanly."""
    import asyncio
    import contextlib
    import signal

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        await coro

    with contextlib.suppress(asyncio.CancelledError):  # SIGTERM: a clean stop, not an error
        asyncio.run(main())


def cmd_alerts(args: argparse.Namespace) -> int:
    import asyncio
    import ssl

    import aiomqtt

    from monitor.config import broker_url
    from monitor.model import Event
    from monitor.sources.mqtt import Backoff

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

    _run_async(follow())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    _tune_gc()
    _run_async(run_demo(args.sensors, args.speed, args.duration, args.db, args.port))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "demo": cmd_demo,
    "alerts": cmd_alerts,
    "replay": cmd_replay,
    "evaluate": cmd_evaluate,
    "bench": cmd_bench,
    "scan": cmd_scan,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    _configure_logging(args.verbose)
    try:
        return COMMANDS[args.command](args)
    except MonitorError as exc:
        print(f"fatigue-monitor: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fatigue-monitor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
