"""``fatigue-monitor replay``: recordings through the core, events, features, a report."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from monitor.cli._common import log, positive_float, speed_arg
from monitor.core.config import load_settings
from monitor.core.errors import MonitorError
from monitor.core.model import Event, FeatureFrame, Modality
from monitor.inputs.files.csv_args import add_csv_arguments, csv_options
from monitor.inputs.files.recording import StreamInfo

if TYPE_CHECKING:  # scipy.stats and the report load only when replay runs
    from monitor.core.indices import FatigueIndices
    from monitor.core.tremor_character import TremorCharacter
    from monitor.outputs.report import ReportCollector


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


def add_parser(sub: Any) -> None:
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
        "--fs", type=positive_float, metavar="HZ", help="sample rate for CSV without time"
    )
    rp.add_argument(
        "--speed",
        type=speed_arg,
        default=None,
        metavar="max|N",
        help="max (default) or N x real time",
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
    rp.set_defaults(handler=run)


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


def run(args: argparse.Namespace) -> int:
    from monitor.outputs.files import EventLinesSink, FeaturesCsvSink
    from monitor.outputs.report import ReportCollector, render_report
    from monitor.replay import replay

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
    """Per channel on stderr; EMG figures use active windows only (monitor/core/indices.py)."""
    from monitor.core.indices import ENDS_S
    from monitor.outputs.report.html import first_last_means

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
    rate = duration / elapsed if elapsed > 0 else math.inf
    log.info(
        "%.1f s of signal in %.2f s (%.0fx real time), %d event(s)",
        duration,
        elapsed,
        rate,
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
