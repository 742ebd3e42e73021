"""Writing a stream of ``(channels, n)`` float chunks to CSV, EDF+/BDF+ or WAV, in bounded memory.

The format comes from the file extension; nothing is ever held for the whole file: CSV
rows and EDF data records are written as chunks arrive (EDF keeps less than one record
back), and WAV is written as a plain RIFF stream whose sizes are patched in at the end.

Unit handling per format: EDF/BDF store the physical dimension and a fixed physical range
(values outside it are clipped and counted); CSV and WAV store bare numbers in the stream's
unit, so the unit lives only in the truth sidecar.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import numpy as np
import numpy.typing as npt
import pyedflib

from simulators.errors import ScenarioError, UnknownFormatError

__all__ = [
    "FORMATS",
    "RecordingWriter",
    "WriteReport",
    "default_physical_range",
    "format_for",
    "open_writer",
    "write_recording",
]

FileFormat = Literal["csv", "edf", "bdf", "wav"]
FORMATS: dict[str, FileFormat] = {".csv": "csv", ".edf": "edf", ".bdf": "bdf", ".wav": "wav"}

#: Digital ranges of EDF (16-bit) and BDF (24-bit) samples.
_DIGITAL = {"edf": (-32768, 32767), "bdf": (-8388608, 8388607)}
#: A fixed start time keeps files with the same content byte-identical.
_START = datetime(2020, 1, 1, 0, 0, 0)


def format_for(path: str | os.PathLike[str]) -> FileFormat:
    """The file format implied by ``path``'s extension (case-insensitive)."""
    p = Path(path)
    ext = p.suffix.lower()
    try:
        return FORMATS[ext]
    except KeyError:
        raise UnknownFormatError(p, ext, tuple(FORMATS)) from None


def default_physical_range(unit: str) -> float:
    """A symmetric EDF range for a unit when the generator gives none: ±10 mV covers
    surface EMG with artefacts, ±40 m/s^2 (about ±4 g) covers wearable accelerometers."""
    return {"mV": 10.0, "uV": 10_000.0, "m/s^2": 40.0, "g": 4.0}.get(unit, 1000.0)


@dataclass(frozen=True)
class WriteReport:
    """What ended up in the file. ``padded_samples`` (per channel) were appended to fill
    the last EDF data record; ``clipped_samples`` counts values (over all channels) that
    exceeded the physical range."""

    path: Path
    format: FileFormat
    n_samples: int
    padded_samples: int
    clipped_samples: int
    unit_in_file: bool
    physical_range: float | None


class RecordingWriter:
    """Base of the format writers: feed chunks with ``write``, then ``close`` for the report."""

    format: FileFormat
    unit_in_file = False

    def __init__(self, path: Path, *, fs: float, channels: tuple[str, ...], unit: str) -> None:
        if not (math.isfinite(fs) and fs > 0):
            raise ScenarioError("fs", fs, "must be > 0 Hz")
        if not channels:
            raise ScenarioError("channels", channels, "need at least one channel")
        self.path = path
        self.fs = float(fs)
        self.channels = channels
        self.unit = unit
        self.n_written = 0
        self.clipped = 0
        self.padded = 0
        self.physical_range: float | None = None
        self._closed = False

    def _check(self, chunk: npt.ArrayLike) -> npt.NDArray[np.float32]:
        a = np.asarray(chunk, dtype=np.float32)
        if a.ndim != 2 or a.shape[0] != len(self.channels):
            raise ValueError(f"chunks must be ({len(self.channels)}, n), got {a.shape}")
        return a

    def write(self, chunk: npt.ArrayLike) -> None:
        a = self._check(chunk)
        if a.shape[1]:
            self._write(a)
            self.n_written += a.shape[1]

    def _write(self, chunk: npt.NDArray[np.float32]) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _abort(self) -> None:
        """Release the file after a failure; the caller removes it."""

    def close(self) -> WriteReport:
        if not self._closed:
            self._closed = True
            self._finish()
        return WriteReport(
            path=self.path,
            format=self.format,
            n_samples=self.n_written + self.padded,
            padded_samples=self.padded,
            clipped_samples=self.clipped,
            unit_in_file=self.unit_in_file,
            physical_range=self.physical_range,
        )

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._closed = True
            self._abort()


class _CsvWriter(RecordingWriter):
    """``time,<channels>`` header, time in seconds (µs resolution); values with 9
    significant digits, which round-trip float32 exactly."""

    format: FileFormat = "csv"

    def __init__(self, path: Path, **kw: Any) -> None:
        super().__init__(path, **kw)
        self._fh: IO[str] = open(path, "w", encoding="ascii", newline="\n")  # noqa: SIM115
        self._fh.write(",".join(("time", *self.channels)) + "\n")
        self._fmt = ["%.6f"] + ["%.9g"] * len(self.channels)

    def _write(self, chunk: npt.NDArray[np.float32]) -> None:
        n = chunk.shape[1]
        t = (self.n_written + np.arange(n, dtype=np.float64)) / self.fs
        table = np.column_stack([t, chunk.T.astype(np.float64)])
        np.savetxt(self._fh, table, fmt=self._fmt, delimiter=",")

    def _finish(self) -> None:
        self._fh.close()

    def _abort(self) -> None:
        self._fh.close()


class _EdfWriter(RecordingWriter):
    """EDF+ (16-bit) or BDF+ (24-bit) through pyedflib, one data record at a time.

    Samples are converted to digital values here (vectorised, with clipping counted) and
    written with edflib's block writer, which avoids pyedflib's per-record array appends.
    """

    unit_in_file = True

    def __init__(self, path: Path, *, fmt: FileFormat, physical_range: float, **kw: Any):
        super().__init__(path, **kw)
        self.format = fmt
        if not (math.isfinite(physical_range) and physical_range > 0):
            raise ScenarioError("physical_range", physical_range, "must be > 0")
        self.physical_range = max(float(physical_range), 1e-3)
        self._dmin, self._dmax = _DIGITAL[fmt]
        file_type = pyedflib.FILETYPE_BDFPLUS if fmt == "bdf" else pyedflib.FILETYPE_EDFPLUS
        pr = self.physical_range
        self._w = pyedflib.EdfWriter(str(path), len(self.channels), file_type=file_type)
        try:
            self._w.setStartdatetime(_START)
            self._w.setEquipment("fatigue-sim")
            self._w.setSignalHeaders(
                [
                    {
                        "label": ch,
                        "dimension": self.unit,
                        "sample_frequency": self.fs,
                        "physical_min": -pr,
                        "physical_max": pr,
                        "digital_min": self._dmin,
                        "digital_max": self._dmax,
                        "transducer": "",
                        "prefilter": "",
                    }
                    for ch in self.channels
                ]
            )
            self._spr = int(self._w.get_smp_per_record(0))
        except Exception:
            self._w.close()
            raise
        self._gain = (self._dmax - self._dmin) / (2.0 * pr)
        self._carry = np.zeros((len(self.channels), 0), dtype=np.float32)

    def _write(self, chunk: npt.NDArray[np.float32]) -> None:
        data = np.concatenate([self._carry, chunk], axis=1) if self._carry.size else chunk
        n_rec = data.shape[1] // self._spr
        self._carry = data[:, n_rec * self._spr :].copy()
        if n_rec:
            self._write_records(data[:, : n_rec * self._spr])

    def _write_records(self, data: npt.NDArray[np.float32]) -> None:
        pr = self.physical_range or 1.0
        x = data.astype(np.float64)
        self.clipped += int(np.count_nonzero(np.abs(x) > pr))
        dig = np.rint((x + pr) * self._gain + self._dmin)
        dig = np.clip(dig, self._dmin, self._dmax).astype(np.int32)
        c, spr = len(self.channels), self._spr
        # edflib wants each record as channel 0's samples, then channel 1's, ...
        records = np.ascontiguousarray(dig.reshape(c, -1, spr).transpose(1, 0, 2))
        for rec in records:
            if self._w.blockWriteDigitalSamples(rec.reshape(-1)) < 0:
                raise OSError(f"{self.path}: edflib could not write a data record")

    def _finish(self) -> None:
        try:
            if self._carry.shape[1]:
                self.padded = self._spr - self._carry.shape[1]
                pad = np.zeros((len(self.channels), self.padded), dtype=np.float32)
                self._write_records(np.concatenate([self._carry, pad], axis=1))
        finally:
            self._w.close()

    def _abort(self) -> None:
        self._w.close()


class _WavWriter(RecordingWriter):
    """32-bit IEEE-float WAV (format tag 3, with the ``fact`` chunk float WAVs need),
    interleaved frames, RIFF sizes patched on close. Readable by ``scipy.io.wavfile``."""

    format: FileFormat = "wav"
    _HEADER = struct.Struct("<4sI4s4sIHHIIHHH4sII4sI")

    def __init__(self, path: Path, **kw: Any) -> None:
        super().__init__(path, **kw)
        if not float(self.fs).is_integer():
            raise ScenarioError("fs", self.fs, "WAV needs an integer sample rate")
        self._fh: IO[bytes] = open(path, "wb")  # noqa: SIM115
        self._fh.write(self._header(0))

    def _header(self, frames: int) -> bytes:
        c = len(self.channels)
        data_bytes = frames * c * 4
        return self._HEADER.pack(
            b"RIFF",
            4 + (8 + 18) + (8 + 4) + (8 + data_bytes),
            b"WAVE",
            b"fmt ",
            18,
            3,
            c,
            int(self.fs),
            int(self.fs) * c * 4,
            c * 4,
            32,
            0,
            b"fact",
            4,
            frames,
            b"data",
            data_bytes,
        )

    def _write(self, chunk: npt.NDArray[np.float32]) -> None:
        if (self.n_written + chunk.shape[1]) * len(self.channels) * 4 > 0xFFFF_FFFF - 64:
            raise OSError(f"{self.path}: larger than the 4 GiB a WAV file can hold")
        self._fh.write(np.ascontiguousarray(chunk.T, dtype="<f4").tobytes())

    def _finish(self) -> None:
        self._fh.seek(0)
        self._fh.write(self._header(self.n_written))
        self._fh.close()

    def _abort(self) -> None:
        self._fh.close()


def open_writer(
    path: str | os.PathLike[str],
    *,
    fs: float,
    channels: Iterable[str],
    unit: str,
    physical_range: float | None = None,
) -> RecordingWriter:
    """A writer for ``path`` chosen by its extension; use as a context manager."""
    p = Path(path)
    fmt = format_for(p)
    names = tuple(channels)
    if fmt == "csv":
        return _CsvWriter(p, fs=fs, channels=names, unit=unit)
    if fmt == "wav":
        return _WavWriter(p, fs=fs, channels=names, unit=unit)
    pr = default_physical_range(unit) if physical_range is None else physical_range
    return _EdfWriter(p, fmt=fmt, physical_range=pr, fs=fs, channels=names, unit=unit)


def write_recording(
    path: str | os.PathLike[str],
    chunks: Iterable[npt.ArrayLike],
    *,
    fs: float,
    channels: Iterable[str],
    unit: str,
    physical_range: float | None = None,
) -> WriteReport:
    """Write every chunk to ``path``; on any failure the partial file is removed."""
    p = Path(path)
    writer = open_writer(p, fs=fs, channels=channels, unit=unit, physical_range=physical_range)
    try:
        with writer:
            for chunk in chunks:
                writer.write(chunk)
    except BaseException:
        p.unlink(missing_ok=True)
        raise
    return writer.close()
