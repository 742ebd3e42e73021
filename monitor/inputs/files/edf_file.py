"""EDF/EDF+ and BDF/BDF+ files through pyedflib.

pyedflib reads any span of one signal without loading the rest, so each stream is read
independently and the base class interleaves them by time. EDF+ annotation signals are not
samples and are skipped; each file's start date is wall-clock metadata, so streams start at 0 s.
Discontinuous files (EDF+D, BDF+D) are refused with a message that says how to convert them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyedflib

from monitor.core.errors import RecordingError
from monitor.inputs.files._base import (
    BaseRecording,
    ChannelSpec,
    Float32Array,
    check_file_rate,
    check_rate,
    plan_streams,
)
from monitor.inputs.files.types import ReadOptions

_ANNOTATION_LABELS = frozenset({"edf annotations", "bdf annotations"})


def _one_line(exc: BaseException, path: Path) -> str:
    """pyedflib's messages start with the path, which RecordingError already gives."""
    text = " ".join(str(exc).split())
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _discontinuous(path: Path) -> bool:
    """EDF+D/BDF+D: the header's reserved field (44 bytes at offset 192) says so."""
    try:
        with path.open("rb") as f:
            f.seek(192)
            return f.read(5) in (b"EDF+D", b"BDF+D")
    except OSError:
        return False  # pyedflib's own open reports the file's problem


class EdfRecording(BaseRecording):
    def __init__(self, path: Path, options: ReadOptions) -> None:
        super().__init__(path, options)
        if _discontinuous(path):
            raise RecordingError(
                path,
                "EDF+D/BDF+D (discontinuous) is not supported: its records have gaps that "
                "analysis windows must not span, and pyedflib reads continuous files only; "
                "split it into EDF+C files, one per segment (EDFbrowser: Tools > "
                "Convert EDF+D to EDF+C)",
            )
        try:
            self._reader: pyedflib.EdfReader | None = pyedflib.EdfReader(str(path))
        except OSError as exc:
            raise RecordingError(path, f"malformed EDF/BDF file: {_one_line(exc, path)}") from exc
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        reader = self._require_reader()
        counts = reader.getNSamples()
        specs: list[ChannelSpec] = []
        self._file_channels: list[int] = []
        for ch in range(reader.signals_in_file):
            label = reader.getLabel(ch).strip()
            if label.lower() in _ANNOTATION_LABELS:
                continue
            fs = float(reader.getSampleFrequency(ch))
            check_file_rate(self.path, f"channel {label!r}", fs)
            unit = reader.getPhysicalDimension(ch).strip() or "a.u."
            specs.append(ChannelSpec(label, fs, int(counts[ch]), unit))
            self._file_channels.append(ch)
        if not specs:
            raise RecordingError(self.path, "no signal channels (only annotations)")
        check_rate(self.path, [s.fs for s in specs], self.options.fs)
        self._set_plan(plan_streams(self.path, specs, self.options))

    def _require_reader(self) -> pyedflib.EdfReader:
        if self._reader is None:
            raise RecordingError(self.path, "recording is closed")
        return self._reader

    def _read(self, index: int, start: int, stop: int) -> Float32Array:
        reader = self._require_reader()
        n = stop - start
        out = np.empty((len(self._members[index]), n), dtype=np.float32)
        for row, member in enumerate(self._members[index]):
            ch = self._file_channels[member]
            # readSignal returns an empty array when asked past the end; the base class
            # only asks for spans inside the header's sample count.
            values = reader.readSignal(ch, start, n)
            if values.shape != (n,):
                raise RecordingError(
                    self.path,
                    f"channel {self.streams[index].channels[row]!r}: read {values.shape[0]} of "
                    f"{n} samples at sample {start}",
                )
            out[row] = values
        return out

    def _release(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
