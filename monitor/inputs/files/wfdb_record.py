"""PhysioNet WFDB records (``rec.hea`` plus its signal files) through the wfdb package.

wfdb is imported on first use: it imports pandas, which is slow and, with pandas 3, warns at
import time. The header is checked here before any sample is read, because wfdb's own parser
is lenient (a non-numeric sample rate silently becomes its 250 Hz default) and its read errors
are bare IndexErrors. Samples are read in spans of frames with ``rdrecord(sampfrom, sampto)``;
a signal with several samples per frame is its own stream at ``fs * samples_per_frame``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from monitor.core.errors import RecordingError
from monitor.inputs.files._base import (
    BaseRecording,
    ChannelSpec,
    Float32Array,
    block_size,
    check_file_rate,
    check_rate,
    plan_streams,
)
from monitor.inputs.files.types import ReadOptions

#: Errors the wfdb package raises on bad input (its HeaderSyntaxError is a ValueError).
_WFDB_ERRORS = (OSError, ValueError, LookupError, TypeError, AttributeError)

#: Bits per sample of the uncompressed WFDB formats, to tell a truncated signal file early.
_BITS: dict[str, float] = {"8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16}
_BITS.update({"212": 12, "310": 32 / 3, "311": 32 / 3})

_UNITS = {"mv": "mV", "uv": "uV", "µv": "uV", "μv": "uV", "nv": "nV", "v": "V"}


def normalise_unit(unit: str | None) -> str:
    """WFDB headers in the wild write ``mv`` for millivolts; downstream compares units."""
    text = (unit or "").strip()
    if not text:
        return "a.u."
    return _UNITS.get(text.lower(), text)


def _import_wfdb() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wfdb
    return wfdb


def _record_line(header: Path) -> list[str]:
    """The first line that is not a comment: ``name[/segs] nsig [fs[/cnt][(base)] [len ...]]``."""
    try:
        text = header.read_text(encoding="latin-1")
    except OSError as exc:
        raise RecordingError(header, f"cannot read the WFDB header: {exc.strerror}") from exc
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.split()
    raise RecordingError(header, "WFDB header has no record line (the file is empty)")


def _check_record_line(header: Path, tokens: list[str]) -> None:
    if len(tokens) < 2 or not tokens[1].isdigit():
        raise RecordingError(
            header, f"WFDB record line {' '.join(tokens)!r}: the number of signals is missing"
        )
    if len(tokens) >= 3:
        fs_token = tokens[2].split("/")[0].split("(")[0]
        try:
            fs = float(fs_token)
        except ValueError:
            fs = math.nan
        if not (math.isfinite(fs) and fs > 0):
            raise RecordingError(
                header, f"WFDB record line: sample rate {tokens[2]!r} is not a positive number"
            )
    if len(tokens) >= 4 and not tokens[3].isdigit():
        raise RecordingError(
            header, f"WFDB record line: signal length {tokens[3]!r} is not a whole number"
        )


class WfdbRecording(BaseRecording):
    def __init__(self, path: Path, options: ReadOptions) -> None:
        super().__init__(path, options)
        if path.suffix.lower() in (".hea", ".dat"):
            self._record = str(path.with_suffix(""))
        else:
            self._record = str(path)
        self._dir = Path(self._record).parent
        header = Path(f"{self._record}.hea")
        if not header.is_file():
            raise RecordingError(
                path, f"WFDB header {header.name} not found beside the signal file"
            )
        _check_record_line(path, _record_line(header))
        self._wfdb = _import_wfdb()
        try:
            hdr = self._wfdb.rdheader(self._record)
        except _WFDB_ERRORS as exc:
            raise RecordingError(path, f"bad WFDB header: {exc}") from exc
        if isinstance(hdr, self._wfdb.MultiRecord) or getattr(hdr, "seg_name", None):
            raise RecordingError(path, "multi-segment WFDB records are not supported")
        self._setup(hdr)

    def _setup(self, hdr: Any) -> None:
        path = self.path
        fs = float(hdr.fs) if hdr.fs is not None else math.nan
        check_file_rate(path, "the WFDB header", fs)
        n_sig = int(hdr.n_sig or 0)
        if n_sig == 0:
            raise RecordingError(path, "the WFDB header declares no signals")
        names = list(hdr.sig_name or [])
        if len(names) != n_sig:
            raise RecordingError(
                path, f"the WFDB header declares {n_sig} signals but describes {len(names)}"
            )
        if hdr.sig_len is None:
            raise RecordingError(path, "the WFDB header does not give the signal length")
        self._frames = int(hdr.sig_len)
        if self._frames == 0:
            raise RecordingError(path, "no samples: the WFDB header gives signal length 0")
        spf = [int(s or 1) for s in (hdr.samps_per_frame or [1] * n_sig)]
        units = list(hdr.units or [None] * n_sig)
        self._check_signal_files(hdr, spf)
        specs = [
            ChannelSpec(names[i], fs * spf[i], self._frames * spf[i], normalise_unit(units[i]))
            for i in range(n_sig)
        ]
        check_rate(path, [s.fs for s in specs], self.options.fs)
        self._frame_fs = fs
        self._set_plan(plan_streams(path, specs, self.options))

    def _check_signal_files(self, hdr: Any, spf: list[int]) -> None:
        """Catch a missing or short signal file now rather than halfway through a replay."""
        bits: dict[str, float] = {}
        offsets: dict[str, int] = {}
        for i, name in enumerate(hdr.file_name):
            fmt = str(hdr.fmt[i])
            if fmt not in _BITS:
                bits[name] = math.nan  # compressed (FLAC) formats: size says nothing
            else:
                bits[name] = bits.get(name, 0.0) + _BITS[fmt] * spf[i]
            offsets[name] = int((hdr.byte_offset or [0] * len(hdr.file_name))[i] or 0)
        for name, frame_bits in bits.items():
            target = self._dir / name
            if not target.is_file():
                raise RecordingError(
                    self.path, f"signal file {name} named in the header is missing"
                )
            if math.isnan(frame_bits):
                continue
            needed = offsets[name] + math.ceil(self._frames * frame_bits / 8)
            size = target.stat().st_size
            if size < needed:
                raise RecordingError(
                    self.path,
                    f"signal file {name} is truncated: {size} bytes, the header implies {needed}",
                )

    def _chunks(self, chunk_s: float) -> Iterator[tuple[int, Float32Array]]:
        """All signals share the frame clock, so one read per span serves every stream."""
        step = block_size(chunk_s, self._frame_fs)
        for start in range(0, self._frames, step):
            stop = min(start + step, self._frames)
            try:
                rec = self._wfdb.rdrecord(
                    self._record,
                    sampfrom=start,
                    sampto=stop,
                    smooth_frames=False,
                    return_res=64,
                )
            except _WFDB_ERRORS as exc:
                raise RecordingError(
                    self.path, f"WFDB read of frames {start}-{stop} failed: {exc}"
                ) from exc
            signals = rec.e_p_signal
            for index, members in enumerate(self._members):
                yield index, np.stack([signals[m] for m in members]).astype(np.float32)
