"""WAV files (scipy.io.wavfile): hobby EMG amplifiers export their ADC counts this way.

The file is memory-mapped and sliced, so only the chunk being converted is in memory as
float32. Containers numpy cannot map (24-bit) fall back to one full read as int32, which is
still a quarter of float64; scipy returns those left-justified, so they are shifted back to
their 24-bit counts. WAV has no channel names, so channels are ``ch1``, ``ch2``, ...
(EMG unless the caller says otherwise) and the unit is ``counts`` for integer data
(uncalibrated) and ``a.u.`` for float data.
"""

from __future__ import annotations

import logging
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy.io import wavfile

from monitor.core.errors import RecordingError
from monitor.inputs.files._base import (
    BaseRecording,
    ChannelSpec,
    Float32Array,
    check_rate,
    plan_streams,
)
from monitor.inputs.files.types import ReadOptions

log = logging.getLogger(__name__)


def _read_wav(path: Path, mmap: bool) -> tuple[int, Any]:
    """wavfile warns about chunks it skips (cue points, a short last chunk): log, don't warn."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", wavfile.WavFileWarning)
        rate, data = wavfile.read(str(path), mmap=mmap)
    for w in caught:
        if issubclass(w.category, wavfile.WavFileWarning):
            log.warning("%s: %s", path, w.message)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return int(rate), data


def _container_bytes(path: Path) -> int | None:
    """Bytes per sample of one channel (the fmt chunk's block align / channels), or None
    when the header cannot be walked; only the fallback path for 3-byte data asks."""
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"RIFX") or head[8:12] != b"WAVE":
            return None
        order = ">" if head[:4] == b"RIFX" else "<"
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(min(size, 16))
                if len(fmt) < 16:
                    return None
                _, channels, _, _, block_align = struct.unpack(order + "HHIIH", fmt[:14])
                return int(block_align // channels) if channels else None
            f.seek(size + (size & 1), 1)  # chunks are padded to an even size


class WavRecording(BaseRecording):
    def __init__(self, path: Path, options: ReadOptions) -> None:
        super().__init__(path, options)
        try:
            rate, data = _read_wav(path, mmap=True)
        except ValueError:
            # numpy cannot map 3-byte samples; a genuinely bad file fails again just below.
            try:
                rate, data = _read_wav(path, mmap=False)
            except (ValueError, EOFError) as exc:
                raise RecordingError(path, f"not a readable WAV file: {exc}") from exc
            if data.dtype == np.int32 and _container_bytes(path) == 3:
                # scipy left-justifies 3-byte samples in int32 (x 256): back to counts.
                data >>= 8
        except EOFError as exc:
            raise RecordingError(path, f"not a readable WAV file: {exc}") from exc
        if data.ndim == 1:
            data = data.reshape(-1, 1)
        self._data: Any = data
        if rate <= 0:
            raise RecordingError(path, f"the WAV header gives sample rate {rate} Hz")
        check_rate(path, [float(rate)], options.fs)
        if data.shape[0] == 0:
            raise RecordingError(path, "no samples: the WAV data chunk is empty")
        unit = "counts" if np.issubdtype(data.dtype, np.integer) else "a.u."
        specs = [
            ChannelSpec(f"ch{i + 1}", float(rate), int(data.shape[0]), unit)
            for i in range(data.shape[1])
        ]
        self._set_plan(plan_streams(path, specs, options))

    def _read(self, index: int, start: int, stop: int) -> Float32Array:
        if self._data is None:
            raise RecordingError(self.path, "recording is closed")
        rows = list(self._members[index])
        chunk = self._data[start:stop]
        out: Float32Array = np.ascontiguousarray(chunk.T[rows], dtype=np.float32)
        return out

    def _release(self) -> None:
        # Dropping the memmap unmaps the file; nothing else holds it open.
        self._data = None
