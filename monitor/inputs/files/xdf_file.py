"""XDF files (Lab Streaming Layer's LabRecorder), read with pyxdf.

Every numeric stream whose type or channel labels say EMG or accelerometer becomes a
stream of its own (``--modality`` takes every numeric stream as that); marker and other
streams (EEG, gaze, string markers) are listed in the notes and left out. Channel labels
and units come from the stream header's ``desc/channels``. Times are LSL clock seconds,
made relative to the earliest first sample of the file, so streams stay aligned. A stream
with a nominal rate is read at that rate (its timestamps, dejittered by pyxdf, must lie on
that grid; dropped chunks become gaps); an irregular-rate stream (nominal rate 0) is
resampled like an irregular CSV (csv_time.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from monitor.core.errors import RecordingError
from monitor.core.model import Modality, modality_for_stream_type
from monitor.inputs.files._memory import MemoryRecording, MemoryStream
from monitor.inputs.files.csv_table import ACC_UNITS
from monitor.inputs.files.csv_time import to_uniform
from monitor.inputs.files.types import ReadOptions


def _first(d: dict[str, Any] | None, key: str, default: str = "") -> str:
    if not d:
        return default
    value = d.get(key)
    if isinstance(value, list):
        value = value[0] if value else default
    return default if value is None else str(value)


def _channels(info: dict[str, Any], n: int) -> tuple[list[str], list[str | None]]:
    labels = [f"ch{i + 1}" for i in range(n)]
    units: list[str | None] = [None] * n
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        return labels, units
    for i, ch in enumerate(chans[:n]):
        label = _first(ch, "label")
        if label:
            labels[i] = label
        unit = _first(ch, "unit")
        units[i] = unit or None
    return labels, units


def _modality(kind: str, labels: list[str], forced: Modality | None) -> Modality | None:
    if forced is not None:
        return forced
    by_type = modality_for_stream_type(kind)
    if by_type is None and all(lb.lower().startswith("acc") for lb in labels):
        return "acc"
    return by_type


def open_xdf(path: Path, options: ReadOptions) -> MemoryRecording:
    try:
        import pyxdf
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise RecordingError(path, "reading XDF needs pyxdf (pip install pyxdf)") from exc
    # pyxdf narrates every step at INFO and warns about files without clock offsets
    # (every single-computer recording): not the user's concern here.
    logging.getLogger("pyxdf").setLevel(logging.ERROR)
    try:
        raw, _header = pyxdf.load_xdf(str(path))
    except Exception as exc:  # pyxdf raises anything on a bad file
        raise RecordingError(path, f"not a readable XDF file: {exc}") from exc
    notes: list[str] = []
    numeric = []
    for s in raw:
        info = s["info"]
        name = _first(info, "name", "stream")
        kind = _first(info, "type")
        series = s["time_series"]
        if not isinstance(series, np.ndarray) or series.dtype.kind not in "fiu":
            notes.append(f"stream {name!r} ({kind or 'no type'}) is not numeric: left out")
            continue
        if series.ndim != 2 or series.shape[0] < 2:
            notes.append(f"stream {name!r} has {series.shape[0]} samples: left out")
            continue
        numeric.append((s, name, kind))
    if not numeric:
        raise RecordingError(path, "no numeric streams in the file")
    t_start = min(float(s["time_stamps"][0]) for s, _, _ in numeric)
    streams: list[MemoryStream] = []
    for s, name, kind in numeric:
        info = s["info"]
        x = np.asarray(s["time_series"], dtype=np.float64).T
        labels, units = _channels(info, x.shape[0])
        modality = _modality(kind, labels, options.modality)
        if modality is None:
            notes.append(
                f"stream {name!r} of type {kind or '(none)'!r} is not EMG or ACC: left out"
            )
            continue
        unit = next((u for u in units if u), None)
        if modality == "acc":
            factor = ACC_UNITS.get((unit or "").lower())
            if factor is not None:
                x = x * factor
                unit = "m/s^2"
            elif unit is None:
                unit = "m/s^2"
        elif unit is None:
            unit = "mV"
        t = np.asarray(s["time_stamps"], dtype=np.float64) - t_start
        nominal = float(_first(info, "nominal_srate", "0") or 0)
        timing = to_uniform(t, x.astype(np.float32), nominal if nominal > 0 else None)
        if timing.note:
            notes.append(f"stream {name!r}: {timing.note}")
        streams.append(
            MemoryStream(
                name,
                modality,
                timing.fs,
                tuple(labels),
                unit,
                timing.data,
                timing.offsets,
                timing.t0s,
            )
        )
    return MemoryRecording(path, options, streams, notes)
