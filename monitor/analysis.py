"""``analyze``: a recording or an array in, DataFrames out, for notebooks and scripts.

Why one function over the same core as replay: a user with a numpy array should not have
to build settings, an engine, detectors and ``SampleBlock``s and write the loop; and what
they get must be what ``fatigue-monitor replay`` reports for the same samples, so both go
through ``replay.replay_recordings`` (arrays as a ``MemoryRecording``, blocks of the same
size). pandas is imported here only, so ``import monitor`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from monitor.core.config import Settings
from monitor.core.errors import MonitorError
from monitor.core.indices import Trend
from monitor.core.model import (
    EVENT_KINDS,
    FEATURE_NAMES,
    FEATURE_UNITS,
    G_MS2,
    MODALITIES,
    Event,
    FeatureFrame,
    Modality,
    default_channels,
    default_unit,
    modality_for_channel,
)
from monitor.inputs.files._memory import MemoryRecording, MemoryStream
from monitor.inputs.files.csv_dialect import CsvOptions
from monitor.inputs.files.csv_time import to_uniform
from monitor.inputs.files.recording import ReadOptions, Recording, StreamInfo, open_recording
from monitor.outputs.files import CSV_COLUMNS
from monitor.outputs.report import ReportCollector, render_report
from monitor.replay import replay_recordings

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Accelerometer units converted to m/s^2 (the features' unit); anything else is kept.
ACC_SCALE: Mapping[str, float] = {"g": G_MS2, "mg": G_MS2 / 1000.0, "m/s^2": 1.0, "m/s2": 1.0}
EVENT_COLUMNS = (
    "t",
    "event",
    "sensor",
    "channel",
    "modality",
    "message",
    "features",
    "baseline",
    "id",
    "wall_time",
)
ARRAY_SOURCE = "<array>"


@dataclass(frozen=True)
class Analysis:
    """What ``analyze`` found. ``features``: one row per window and output channel (the
    columns of the features CSV, ``t`` in seconds on the recording's clock); ``events``:
    the Event JSON fields, one row per event; ``summary``: one row per channel (MDF at the
    start and end of the active windows, its slope in %/min with a 95 % interval, RMS
    slope, onset and recovery times, tremor character). ``units`` maps each feature
    column to its unit (amplitudes in the signal's unit), ``settings`` is what ran."""

    features: pd.DataFrame
    events: pd.DataFrame
    summary: pd.DataFrame
    streams: tuple[StreamInfo, ...]
    units: Mapping[str, str]
    settings: Settings
    event_list: tuple[Event, ...] = ()
    sources: tuple[str, ...] = ()
    _collector: ReportCollector = field(default_factory=ReportCollector, repr=False)

    def report(self, path: str | Path, title: str | None = None) -> Path:
        """The HTML report of ``fatigue-monitor replay --report``, written to ``path``."""
        out = Path(path)
        heading = title or "Analysis of " + ", ".join(Path(s).name for s in self.sources)
        out.write_text(render_report(self._collector, heading, list(self.sources)), "utf-8")
        return out

    def plot(self, features: Sequence[str] = ()) -> Figure:
        """MDF (EMG) and tremor RMS (accelerometer) over time per channel, active windows
        in colour, onsets as vertical lines. Needs matplotlib (``pip install
        fatigue-monitor[plot]``)."""
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MonitorError(
                "plot() needs matplotlib: pip install 'fatigue-monitor[plot]'"
            ) from exc
        groups = list(self.features.groupby(["sensor", "channel", "modality"], sort=True))
        fig = Figure(figsize=(9, 2.6 * max(1, len(groups))), layout="constrained")
        axes = fig.subplots(max(1, len(groups)), 1, squeeze=False)[:, 0]
        for ax, ((sensor, channel, modality), rows) in zip(axes, groups, strict=False):
            names = list(features) or (["mdf_hz"] if modality == "emg" else ["tremor_rms"])
            for name in names:
                active = rows["active"].fillna(1).astype(bool)
                ax.plot(rows["t"], rows[name].where(~active), ".", color="0.8", ms=2)
                ax.plot(rows["t"], rows[name].where(active), ".", ms=3, label=name)
            kinds = ("fatigue_onset", "tremor_onset")
            for e in self.event_list:
                if e.sensor == sensor and e.channel == channel and e.event in kinds:
                    ax.axvline(e.t, color="tab:red", lw=1)
                    ax.annotate(
                        f"onset {channel}",
                        (e.t, 1),
                        xycoords=("data", "axes fraction"),
                        va="top",
                        fontsize=8,
                        color="tab:red",
                    )
            unit = ", ".join(self.units.get(n, "") for n in names)
            ax.set_title(f"{sensor} / {channel} ({modality})", fontsize=10)
            ax.set_ylabel(f"{', '.join(names)} [{unit}]")
            ax.set_xlabel("time [s]")
        return fig


def analyze(
    data: str | Path | npt.ArrayLike | pd.DataFrame,
    fs: float | None = None,
    modality: Modality | None = None,
    settings: Settings | None = None,
    *,
    channels: Sequence[str] | None = None,
    unit: str | None = None,
    sensor: str | None = None,
    csv: CsvOptions | None = None,
) -> Analysis:
    """Features, events and a per-channel summary of a recording or an array.

    ``data``: a path of any supported file (EDF, CSV, WAV, WFDB, XDF, C3D, OpenSignals),
    an array of shape (channels, samples) or (samples,) with ``fs``, or a pandas
    DataFrame (one column per channel) whose index is the time (datetimes, timedeltas or
    seconds; irregular times are resampled as for CSV) or a plain index with ``fs``.
    ``modality`` forces every channel to EMG or accelerometer; otherwise channels named
    ``acc*`` are accelerometer and the rest EMG. ``unit``: the signal's unit (arrays);
    ``g`` and ``mg`` accelerations are converted to m/s^2. Raises ``MonitorError`` (a
    ``RecordingError`` for files) with the reason when the input cannot be analysed.
    """
    settings = settings if settings is not None else Settings()
    if modality is not None and modality not in MODALITIES:
        raise MonitorError(f"unknown modality {modality!r}: expected one of emg, acc")
    with ExitStack() as stack:
        if isinstance(data, str | Path):
            rec: Recording = stack.enter_context(
                open_recording(data, modality=modality, fs=fs, sensor=sensor, csv=csv)
            )
            source = str(data)
        else:
            rec = _memory_recording(data, fs, modality, channels, unit, sensor or "data")
            source = ARRAY_SOURCE
        emg = settings.dsp.emg
        collector = ReportCollector(stride=max(1, round(emg.window_s / emg.hop_s)))
        table = _Table()
        replay_recordings([rec], settings, sinks=[collector, table])
        streams = tuple(rec.streams)
    return Analysis(
        features=table.features(),
        events=_events_frame(table.events_seen),
        summary=_summary(collector),
        streams=streams,
        units=_units(streams),
        settings=settings,
        event_list=tuple(table.events_seen),
        sources=(source,),
        _collector=collector,
    )


class _Table:
    """Collects frames as arrays (one per feature per frame), built into a DataFrame once."""

    def __init__(self) -> None:
        self._frames: list[FeatureFrame] = []
        self.events_seen: list[Event] = []

    def frames(self, frames: Sequence[FeatureFrame]) -> None:
        self._frames.extend(frames)

    def events(self, events: Sequence[Event]) -> None:
        self.events_seen.extend(events)

    def features(self) -> pd.DataFrame:
        import pandas as pd

        fr = self._frames
        counts = np.array([len(f.channels) for f in fr], dtype=np.int64)
        n = int(counts.sum())
        cols: dict[str, Any] = {
            "t": np.repeat([f.t for f in fr], counts),
            "sensor": np.repeat([f.sensor for f in fr], counts).astype(object),
            "channel": np.array([c for f in fr for c in f.channels], dtype=object),
            "modality": np.repeat([f.modality for f in fr], counts).astype(object),
        }
        for name in FEATURE_NAMES:
            parts = [f.features.get(name) for f in fr]
            cols[name] = (
                np.concatenate(
                    [
                        np.full(len(f.channels), np.nan) if p is None else p
                        for f, p in zip(fr, parts, strict=True)
                    ]
                )
                if fr
                else np.empty(0)
            )
        active = [
            np.full(len(f.channels), np.nan) if f.active is None else f.active.astype(float)
            for f in fr
        ]
        cols["active"] = pd.array(
            np.concatenate(active) if fr else np.empty(0), dtype="Float64"
        ).astype("boolean")
        cols["quality"] = np.array([q for f in fr for q in f.quality], dtype=object)
        return pd.DataFrame(cols, columns=list(CSV_COLUMNS), index=pd.RangeIndex(n))


def _events_frame(events: Sequence[Event]) -> pd.DataFrame:
    import pandas as pd

    rows = [e.to_dict() for e in events]
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    frame["event"] = pd.Categorical(frame["event"], categories=list(EVENT_KINDS))
    return frame


def _summary(collector: ReportCollector) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for (sensor, modality, channel), series in sorted(collector.series.items()):
        row: dict[str, Any] = {
            "sensor": sensor,
            "channel": channel,
            "modality": modality,
            "n_windows": len(series.t),
        }
        kinds = {e.event for e in series.events}
        onset = "fatigue_onset" if modality == "emg" else "tremor_onset"
        recovered = "fatigue_recovered" if modality == "emg" else "tremor_recovered"
        row["onsets_s"] = [e.t for e in series.events if e.event == onset]
        row["recoveries_s"] = [e.t for e in series.events if e.event == recovered]
        row["signal_lost"] = "signal_lost" in kinds
        if modality == "emg":
            ind = series.indices(collector.stride)
            row.update(
                mdf_first_hz=_num(ind.mdf_first_hz),
                mdf_last_hz=_num(ind.mdf_last_hz),
                mdf_change_pct=_num(ind.mdf_change_pct),
                mdf_slope_pct_per_min=_num(
                    None if ind.mdf_slope is None else ind.mdf_slope.pct_per_min
                ),
                mdf_slope_ci95=None
                if ind.mdf_slope is None
                else (ind.mdf_slope.lo, ind.mdf_slope.hi),
                rms_slope_pct_per_min=_num(
                    None if ind.rms_slope is None else ind.rms_slope.pct_per_min
                ),
                quadrant=ind.quadrant,
                n_active_windows=ind.n_usable,
            )
        else:
            tc = series.tremor_character()
            row.update(
                tremor=tc.present,
                tremor_peak_hz=_num(tc.peak_hz),
                tremor_rms_ms2=_num(tc.rms_ms2),
                tremor_band=tc.band,
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _slope(trend: Trend | None) -> float:
    return math.nan if trend is None else trend.pct_per_min


def _units(streams: Sequence[StreamInfo]) -> dict[str, str]:
    """Feature column -> unit; an amplitude feature takes the EMG streams' unit (or says
    it differs per stream)."""
    emg_units = {s.unit for s in streams if s.modality == "emg"}
    signal = emg_units.pop() if len(emg_units) == 1 else "stream unit"
    units = {"t": "s"}
    for name, u in FEATURE_UNITS.items():
        units[name] = u.replace("unit", signal) if u.startswith("unit") else u
    return units


def _memory_recording(
    data: npt.ArrayLike | pd.DataFrame,
    fs: float | None,
    modality: Modality | None,
    channels: Sequence[str] | None,
    unit: str | None,
    sensor: str,
) -> MemoryRecording:
    """An array or DataFrame as a recording: one stream per modality."""
    names: list[str] | None = list(channels) if channels is not None else None
    offsets: tuple[int, ...] = (0,)
    t0s: tuple[float, ...] = (0.0,)
    notes: list[str] = []
    if _is_dataframe(data):
        frame: pd.DataFrame = data
        names = names or [str(c) for c in frame.columns]
        x = frame.to_numpy(dtype=np.float64).T
        t = _index_seconds(frame)
        if t is not None:
            timing = to_uniform(t, x.astype(np.float32), fs)
            x, fs, offsets, t0s = timing.data, timing.fs, timing.offsets, timing.t0s
            if timing.note:
                notes.append(timing.note)
    else:
        x = np.asarray(data, dtype=np.float64)
        if x.ndim == 1:
            x = x[np.newaxis, :]
        if x.ndim != 2:
            raise MonitorError(f"data must be (channels, samples) or (samples,), got {x.shape}")
        if x.shape[0] > x.shape[1]:
            raise MonitorError(
                f"data has shape {x.shape}: more channels than samples; pass (channels, "
                "samples), e.g. data.T"
            )
    if fs is None:
        raise MonitorError("fs (the sample rate in Hz) is needed for an array without times")
    if not (math.isfinite(fs) and fs > 0):
        raise MonitorError(f"sample rate must be a positive number of Hz, got {fs!r}")
    n_ch = x.shape[0]
    if names is None:
        names = list(default_channels(n_ch, modality or "emg"))
    if len(names) != n_ch:
        raise MonitorError(f"{len(names)} channel names for {n_ch} channels")
    mods = [modality or modality_for_channel(n) for n in names]
    streams = []
    for m in MODALITIES:
        rows = [i for i, mm in enumerate(mods) if mm == m]
        if not rows:
            continue
        u = unit if unit is not None else default_unit(m)
        block = np.asarray(x[rows], dtype=np.float64)
        if m == "acc" and u in ACC_SCALE:
            block, u = block * ACC_SCALE[u], "m/s^2"
        streams.append(
            MemoryStream(
                m,
                m,
                float(fs),
                tuple(names[i] for i in rows),
                u,
                block.astype(np.float32),
                offsets,
                t0s,
            )
        )
    options = ReadOptions(sensor=sensor, modality=modality, fs=fs)
    return MemoryRecording(Path(ARRAY_SOURCE), options, streams, notes)


def _is_dataframe(data: object) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def _index_seconds(frame: pd.DataFrame) -> npt.NDArray[np.float64] | None:
    """The index as seconds, or None for a plain row number (then ``fs`` gives time)."""
    import pandas as pd

    index = frame.index
    if isinstance(index, pd.DatetimeIndex):
        ns = index.tz_localize(None) if index.tz is not None else index
        return np.asarray(ns.asi8, dtype=np.float64) * 1e-9
    if isinstance(index, pd.TimedeltaIndex):
        return np.asarray(index.asi8, dtype=np.float64) * 1e-9
    if isinstance(index, pd.RangeIndex) or not pd.api.types.is_numeric_dtype(index):
        return None
    return np.asarray(index.to_numpy(), dtype=np.float64)
