"""OpenSignals text files (PLUX biosignalsplux, BITalino): ``.txt`` with a JSON header.

The second line (after ``# OpenSignals Text File Format``) is a JSON object with one entry
per device: its sampling rate, the data columns (``nSeq``, ``DI``, ``CH1``...), the sensor
type of each analog channel (``EMG``, ``ACC``, ``XYZ``...) and the resolution; the data
rows follow ``# EndOfHeader``, tab-separated, devices side by side. EMG channels are kept
in ADC counts (unit ``counts``: every feature the detector uses is a ratio or a spectrum
shape, so the gain does not matter). Accelerometer channels are converted to m/s^2 with
PLUX's transfer function and its default calibration (``ACC_CMIN``/``ACC_CMAX`` at 16 bit,
scaled to the channel's resolution), because the tremor features have absolute floors.
Other sensor types (ECG, EDA, ...) are listed in the notes and left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from monitor.core.errors import RecordingError
from monitor.core.model import G_MS2 as G
from monitor.core.model import Modality
from monitor.inputs.files._memory import MemoryRecording, MemoryStream
from monitor.inputs.files.types import ReadOptions

HEADER_MARK = "# OpenSignals Text File Format"
END_MARK = "# EndOfHeader"
ACC_CMIN, ACC_CMAX = 28000.0, 38000.0
SENSOR_MODALITY: dict[str, Modality] = {
    "EMG": "emg",
    "ACC": "acc",
    "XYZ": "acc",
    "ACCBITREV": "acc",
}


def is_opensignals(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            return f.readline().startswith(HEADER_MARK)
    except OSError:
        return False


def _header(path: Path) -> tuple[dict[str, Any], int]:
    with path.open("r", encoding="utf-8", errors="replace") as f:
        lines = []
        for i, line in enumerate(f):
            if line.startswith(END_MARK):
                break
            lines.append(line)
            if i > 50:
                raise RecordingError(path, f"no '{END_MARK}' line in the first 50 lines")
    meta = next((ln[1:].strip() for ln in lines[1:] if ln.lstrip("# ").startswith("{")), None)
    if meta is None:
        raise RecordingError(path, "no JSON header line after the OpenSignals title")
    try:
        devices = json.loads(meta)
    except json.JSONDecodeError as exc:
        raise RecordingError(path, f"the JSON header line is not valid JSON: {exc}") from exc
    if not isinstance(devices, dict) or not devices:
        raise RecordingError(path, "the JSON header names no device")
    return devices, len(lines) + 1


def open_opensignals(path: Path, options: ReadOptions) -> MemoryRecording:
    devices, skip = _header(path)
    try:
        table = np.loadtxt(path, delimiter="\t", skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise RecordingError(path, f"data rows: {exc}") from exc
    notes: list[str] = []
    streams: list[MemoryStream] = []
    col0 = 0
    for name, dev in devices.items():
        columns = [str(c) for c in dev.get("column", [])]
        fs = float(dev.get("sampling rate", 0))
        if fs <= 0 or not columns:
            raise RecordingError(path, f"device {name}: no sampling rate or columns in the header")
        sensors = [str(s).upper() for s in dev.get("sensor", [])]
        labels = [str(s) for s in dev.get("label", [])]
        resolution = [int(r) for r in dev.get("resolution", [])]
        analog = [i for i, c in enumerate(columns) if c.upper().startswith(("CH", "A"))]
        groups: dict[Modality, list[tuple[int, str, int]]] = {}
        for k, ci in enumerate(analog):
            sensor = sensors[k] if k < len(sensors) else ""
            modality = options.modality or SENSOR_MODALITY.get(sensor)
            label = labels[k] if k < len(labels) else columns[ci]
            if modality is None:
                notes.append(f"{name} {label}: sensor {sensor or '?'} is not EMG or ACC: left out")
                continue
            bits = resolution[k] if k < len(resolution) else 16
            groups.setdefault(modality, []).append((col0 + ci, label, bits))
        for modality, members in groups.items():
            x = table[:, [c for c, _, _ in members]].T
            unit = "counts"
            if modality == "acc":
                scale = np.array([2.0 ** (b - 16) for _, _, b in members])[:, None]
                cmin, cmax = ACC_CMIN * scale, ACC_CMAX * scale
                x = ((x - cmin) / (cmax - cmin) * 2.0 - 1.0) * G
                unit = "m/s^2"
                notes.append(f"{name}: ACC converted to m/s^2 with PLUX's default calibration")
            streams.append(
                MemoryStream(
                    f"{name}-{modality}",
                    modality,
                    fs,
                    tuple(lb for _, lb, _ in members),
                    unit,
                    x.astype(np.float32),
                )
            )
        col0 += len(columns)
    if col0 != table.shape[1]:
        raise RecordingError(
            path, f"the header names {col0} columns but the rows have {table.shape[1]}"
        )
    return MemoryRecording(path, options, streams, notes)
