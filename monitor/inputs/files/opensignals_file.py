"""OpenSignals files (PLUX biosignalsplux, BITalino): ``.txt`` with a JSON header, and ``.h5``.

Text: the second line (after ``# OpenSignals Text File Format``) is a JSON object with one entry
per device: its sampling rate, the data columns (``nSeq``, ``DI``, ``CH1``...), the sensor
type of each analog channel (``EMG``, ``ACC``, ``XYZ``...) and the resolution; the data
rows follow ``# EndOfHeader``, tab-separated, devices side by side. EMG channels are kept
in ADC counts (unit ``counts``: every feature the detector uses is a ratio or a spectrum
shape, so the gain does not matter). Accelerometer channels are converted to m/s^2 with
PLUX's transfer function and its default calibration (``ACC_CMIN``/``ACC_CMAX`` at 16 bit,
scaled to the channel's resolution), because the tremor features have absolute floors.
Other sensor types (ECG, EDA, ...) are listed in the notes and left out.

HDF5 (``.h5``, h5py): one group per device (named by its MAC address) with the attributes
``sampling rate`` and ``resolution``, and a ``raw`` group holding ``channel_1``, ``channel_2``,
... (each with a ``sensor`` attribute) beside ``nSeq``; the same channels, units and
conversion as the text file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    "EMGBITREV": "emg",
}
NOT_ANALOG = {"NSEQ", "DI", "DO", "I1", "I2", "O1", "O2"}


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


@dataclass(frozen=True, slots=True)
class Channel:
    """One analog channel of a device as the file describes it."""

    label: str
    sensor: str
    bits: int
    samples: np.ndarray


def _device_streams(
    device: str, fs: float, channels: list[Channel], options: ReadOptions, notes: list[str]
) -> list[MemoryStream]:
    """A device's EMG channels as one stream in counts, its accelerometer channels as one
    in m/s^2; other sensors noted and left out."""
    groups: dict[Modality, list[Channel]] = {}
    for ch in channels:
        modality = options.modality or SENSOR_MODALITY.get(ch.sensor.upper())
        if modality is None:
            notes.append(
                f"{device} {ch.label}: sensor {ch.sensor or '?'} is not EMG or ACC: left out"
            )
            continue
        groups.setdefault(modality, []).append(ch)
    streams = []
    for modality, members in groups.items():
        x = np.vstack([ch.samples for ch in members]).astype(np.float64)
        unit = "counts"
        if modality == "acc":
            scale = np.array([2.0 ** (ch.bits - 16) for ch in members])[:, None]
            cmin, cmax = ACC_CMIN * scale, ACC_CMAX * scale
            x = ((x - cmin) / (cmax - cmin) * 2.0 - 1.0) * G
            unit = "m/s^2"
            notes.append(f"{device}: ACC converted to m/s^2 with PLUX's default calibration")
        streams.append(
            MemoryStream(
                f"{device}-{modality}",
                modality,
                fs,
                tuple(ch.label for ch in members),
                unit,
                x.astype(np.float32),
            )
        )
    return streams


def open_opensignals_h5(path: Path, options: ReadOptions) -> MemoryRecording:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise RecordingError(path, f"not an HDF5 file: {exc}") from exc
    notes: list[str] = []
    streams: list[MemoryStream] = []
    with f:
        devices = [k for k, g in f.items() if isinstance(g, h5py.Group) and "raw" in g]
        if not devices:
            raise RecordingError(
                path, "no OpenSignals device in the file (a group per device with a 'raw' group)"
            )
        for name in devices:
            dev = f[name]
            fs = float(dev.attrs.get("sampling rate", 0))
            raw = dev["raw"]
            names = sorted(
                (k for k in raw if k.startswith("channel_")), key=lambda k: int(k.split("_")[1])
            )
            if fs <= 0 or not names:
                raise RecordingError(path, f"device {name}: no sampling rate or channels")
            resolution = [int(r) for r in np.atleast_1d(dev.attrs.get("resolution", []))]
            channels = []
            for k, key in enumerate(names):
                ds = raw[key]
                bits = int(ds.attrs.get("resolution", resolution[k] if k < len(resolution) else 16))
                channels.append(
                    Channel(
                        # As in the text export: CH1, CH2, ... unless labelled.
                        _text(ds.attrs.get("label", f"CH{key.split('_')[1]}")),
                        _text(ds.attrs.get("sensor", "")),
                        bits,
                        np.asarray(ds[()], dtype=np.float64).reshape(-1),
                    )
                )
            if len({ch.samples.size for ch in channels}) != 1:
                raise RecordingError(path, f"device {name}: channels of different lengths")
            streams += _device_streams(name, fs, channels, options, notes)
    return MemoryRecording(path, options, streams, notes)


def _text(value: object) -> str:
    """An HDF5 attribute as text (h5py gives bytes or numpy strings)."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    return str(value)


def open_opensignals(path: Path, options: ReadOptions) -> MemoryRecording:
    devices, skip = _header(path)
    # OpenSignals ends every data row with a tab: an empty last cell that is no column.
    n_cols = sum(len(dev.get("column", [])) for dev in devices.values() if isinstance(dev, dict))
    try:
        table = np.loadtxt(
            path,
            delimiter="\t",
            skiprows=skip,
            ndmin=2,
            dtype=np.float64,
            usecols=range(n_cols) if n_cols else None,
        )
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
        sensors = [str(s) for s in dev.get("sensor", [])]
        labels = [str(s) for s in dev.get("label", [])]
        resolution = [int(r) for r in dev.get("resolution", [])]
        # Every column but the sequence number and the digital ports: CH1, A1 (BITalino),
        # X/Y/Z (an accelerometer's axes), PORT4_CHN1 (a hub's port).
        analog = [i for i, c in enumerate(columns) if c.upper() not in NOT_ANALOG]
        channels = [
            Channel(
                labels[k] if k < len(labels) else columns[ci],
                sensors[k] if k < len(sensors) else "",
                resolution[k] if k < len(resolution) else 16,
                table[:, col0 + ci],
            )
            for k, ci in enumerate(analog)
        ]
        streams += _device_streams(name, fs, channels, options, notes)
        col0 += len(columns)
    if col0 != table.shape[1]:
        raise RecordingError(
            path, f"the header names {col0} columns but the rows have {table.shape[1]}"
        )
    return MemoryRecording(path, options, streams, notes)
