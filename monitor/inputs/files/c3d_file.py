"""C3D files (motion-capture labs), read with ezc3d: the analog channels.

Motion-capture systems record EMG (and accelerometers of wireless EMG sensors) as analog
channels beside the marker trajectories; the markers are not read. ezc3d applies each
channel's scale and offset. A channel is EMG when its label says EMG (``EMG``, ``Sensor 1
EMG``, a muscle name with ``emg``), an accelerometer when it says ACC (``ACC X``, ``Acc.X``);
force-plate and other analog channels are left out (listed in the notes) unless
``--modality`` takes every analog channel as that modality. Units are those of the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from monitor.core.errors import RecordingError
from monitor.core.model import Modality
from monitor.inputs.files._memory import MemoryRecording, MemoryStream
from monitor.inputs.files.csv_table import ACC_UNITS
from monitor.inputs.files.types import ReadOptions

_EMG_RE = re.compile(r"emg", re.IGNORECASE)
_ACC_RE = re.compile(r"acc", re.IGNORECASE)


def open_c3d(path: Path, options: ReadOptions) -> MemoryRecording:
    try:
        import ezc3d
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise RecordingError(path, "reading C3D needs ezc3d (pip install ezc3d)") from exc
    try:
        c = ezc3d.c3d(str(path))
    except Exception as exc:  # ezc3d raises RuntimeError and others
        raise RecordingError(path, f"not a readable C3D file: {exc}") from exc
    analog = c["parameters"]["ANALOG"]
    rate = float(np.ravel(analog["RATE"]["value"])[0]) if analog["RATE"]["value"] else 0.0
    data = np.asarray(c["data"]["analogs"], dtype=np.float64)
    if data.ndim != 3 or data.shape[1] == 0 or data.shape[2] == 0 or rate <= 0:
        raise RecordingError(path, "no analog channels (EMG is recorded as analog data)")
    x = data[0]
    labels = [str(v).strip() for v in analog["LABELS"]["value"]]
    labels += [f"analog{i + 1}" for i in range(len(labels), x.shape[0])]
    units = [str(v).strip() for v in analog["UNITS"]["value"]] if "UNITS" in analog else []
    units += [""] * (x.shape[0] - len(units))
    notes: list[str] = []
    groups: dict[tuple[Modality, str], list[int]] = {}
    for i, label in enumerate(labels[: x.shape[0]]):
        modality: Modality | None = options.modality
        if modality is None:
            modality = "emg" if _EMG_RE.search(label) else "acc" if _ACC_RE.search(label) else None
        if modality is None:
            notes.append(f"analog channel {label!r} is not EMG or ACC: left out")
            continue
        groups.setdefault((modality, units[i]), []).append(i)
    if not groups:
        raise RecordingError(
            path,
            f"none of the analog channels ({', '.join(labels[:8])}) is labelled EMG or ACC: "
            "give --modality emg to read them all",
        )
    t0 = float(c["header"]["analogs"].get("first_frame", 0)) / rate
    streams = []
    for (modality, unit), members in groups.items():
        block = x[members].astype(np.float32)
        out_unit = unit or ("mV" if modality == "emg" else "m/s^2")
        factor = ACC_UNITS.get(unit.lower()) if modality == "acc" else None
        if factor is not None:
            block *= np.float32(factor)
            out_unit = "m/s^2"
        name = f"{modality}-{unit or 'unitless'}"
        streams.append(
            MemoryStream(
                name,
                modality,
                rate,
                tuple(labels[i] for i in members),
                out_unit,
                block,
                t0s=(t0,),
            )
        )
    return MemoryRecording(path, options, streams, notes)
