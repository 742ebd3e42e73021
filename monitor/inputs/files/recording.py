"""Recordings on disk, read as the same SampleBlocks a live sensor produces.

``open_recording`` picks the reader from the file's extension and returns an object with the
``Recording`` shape, so the replay source does not care about formats. Readers read chunk by
chunk: a long recording must replay in constant memory, and a bad file must fail with one
``RecordingError`` line that names the file and the problem, never a library traceback.
Format libraries are imported only when a file of that format is opened (wfdb pulls in pandas,
which costs more than a second of start-up).
"""

from __future__ import annotations

import math
from pathlib import Path

from monitor.core.errors import RecordingError
from monitor.core.model import MODALITIES, Modality
from monitor.inputs.files.csv_dialect import CsvOptions
from monitor.inputs.files.types import ReadOptions, Recording, StreamInfo

__all__ = ["FORMATS", "SUPPORTED", "ReadOptions", "Recording", "StreamInfo", "open_recording"]

#: Extension (lower case) -> format name; WFDB is also opened from a record name with a .hea.
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".edf": "edf",
    ".bdf": "edf",
    ".hea": "wfdb",
    ".dat": "wfdb",
    ".wav": "wav",
    ".xdf": "xdf",
    ".xdfz": "xdf",
    ".c3d": "c3d",
    ".txt": "txt",
    ".tsv": "csv",
    ".h5": "h5",
}
SUPPORTED = (
    ".csv/.tsv/.txt (tables), .edf, .bdf, .hea/.dat (WFDB, or a record name with a .hea "
    "beside it), .wav, .xdf (Lab Streaming Layer), .c3d (analog channels), OpenSignals .txt and .h5"
)


def _wfdb_record_beside(path: Path) -> bool:
    """A WFDB record is usually named without extension (``rec`` for ``rec.hea``)."""
    return Path(f"{path}.hea").is_file()


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in FORMATS and path.is_file():
        return FORMATS[suffix]
    if _wfdb_record_beside(path):
        return "wfdb"
    if not path.exists():
        raise RecordingError(path, "file not found")
    if path.is_dir():
        raise RecordingError(path, "is a directory, not a recording file")
    if suffix in FORMATS:
        raise RecordingError(path, "is not a regular file")
    shown = f"'{path.suffix}'" if path.suffix else "no extension"
    raise RecordingError(path, f"unknown file type ({shown}): supported are {SUPPORTED}")


def _default_sensor(path: Path, fmt: str) -> str:
    if fmt == "wfdb" and path.suffix.lower() not in FORMATS:
        return path.name  # a record name: "rec.v2" is the record, not "rec" plus ".v2"
    return path.stem


def open_recording(
    path: str | Path,
    *,
    modality: Modality | None = None,
    fs: float | None = None,
    sensor: str | None = None,
    csv: CsvOptions | None = None,
) -> Recording:
    """Open a recording file for reading in chunks.

    ``modality`` forces every channel to one modality (otherwise ``acc*`` channels are
    accelerometer and the rest EMG); ``fs`` is needed for a CSV without a ``time`` column and,
    for every other format, must agree with the rate the file states; ``sensor`` replaces the
    default sensor id, the file stem; ``csv`` carries hints for CSV exports (time column,
    its unit or date format, names for a headerless file, units; see csv_dialect.py).
    Raises ``RecordingError`` for every problem.
    """
    p = Path(path)
    if modality is not None and modality not in MODALITIES:
        raise RecordingError(p, f"unknown modality {modality!r}: expected one of emg, acc")
    if fs is not None:
        try:
            rate = float(fs)
        except (TypeError, ValueError):
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            raise RecordingError(p, f"sample rate must be a positive number of Hz, got {fs!r}")
        fs = rate
    fmt = _format_of(p)
    if sensor is None:
        sensor = _default_sensor(p, fmt)
    if not sensor.strip():
        raise RecordingError(p, "sensor id is empty")
    options = ReadOptions(sensor=sensor.strip(), modality=modality, fs=fs, csv=csv)
    if fmt != "wfdb" and p.stat().st_size == 0:
        raise RecordingError(p, "file is empty")
    try:
        return _open(p, fmt, options)
    except PermissionError as exc:
        raise RecordingError(p, f"permission denied: {exc.filename}") from exc


def _open(path: Path, fmt: str, options: ReadOptions) -> Recording:
    if fmt == "txt":
        from monitor.inputs.files.opensignals_file import is_opensignals, open_opensignals

        if is_opensignals(path):
            return open_opensignals(path, options)
        fmt = "csv"  # a table exported as text
    if fmt == "h5":
        from monitor.inputs.files.opensignals_file import open_opensignals_h5

        return open_opensignals_h5(path, options)
    if fmt == "xdf":
        from monitor.inputs.files.xdf_file import open_xdf

        return open_xdf(path, options)
    if fmt == "c3d":
        from monitor.inputs.files.c3d_file import open_c3d

        return open_c3d(path, options)
    if fmt == "csv":
        from monitor.inputs.files.csv_file import open_csv

        return open_csv(path, options)
    if fmt == "edf":
        from monitor.inputs.files.edf_file import EdfRecording

        return EdfRecording(path, options)
    if fmt == "wav":
        from monitor.inputs.files.wav_file import WavRecording

        return WavRecording(path, options)
    from monitor.inputs.files.wfdb_record import WfdbRecording

    return WfdbRecording(path, options)
