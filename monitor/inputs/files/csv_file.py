"""CSV recordings: a header row of column names, then one row per sample.

Rows are read in batches of lines and each batch is parsed by ``np.loadtxt`` (numpy's C
parser, ~3x faster than ``float()`` per cell here); only when a batch fails is it re-scanned in
Python, to name the exact line and column. Opening counts the lines (a byte count of newlines,
fast) and parses the first rows and the last line, so the sample count, the rate and most
format mistakes are known before the first block; a bad cell further down is reported when
``blocks()`` reaches it.

An optional ``time`` column (seconds, or ``time [ms]``) defines the rate:
``fs = (rows - 1) / (t_last - t_first)``, and the first time is the stream's ``t0``. Every
timestamp must lie within half a sample period of that uniform grid: rounding and clock jitter
pass, a dropped or repeated sample does not (it shifts the rest by a whole period). An
explicit ``fs`` must agree with the time column within 0.1 % and is then the reported rate.
A column header may carry a unit as ``emg_1 [mV]``; otherwise EMG is ``mV`` and ACC ``m/s^2``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from monitor.core.errors import RecordingError
from monitor.core.model import modality_for_channel
from monitor.inputs.files._base import (
    BaseRecording,
    ChannelSpec,
    Float32Array,
    block_size,
    hz,
    plan_streams,
    rechunk,
)
from monitor.inputs.files.csv_dialect import NUMBER_RE, SNIFF_LINES, CsvOptions, Dialect, sniff
from monitor.inputs.files.csv_time import uniform_rate
from monitor.inputs.files.types import ReadOptions

Float64Array = npt.NDArray[np.float64]

#: Cells per parsed batch: ~8 MB of float64 at a time whatever the column count, but never
#: so few rows that loadtxt's per-call cost shows.
_BATCH_CELLS = 1 << 20
_MIN_BATCH_ROWS = 256
#: Rows parsed at open to catch format mistakes early; the rest is checked as it is read.
_CHECK_ROWS = 4096
#: A longer first line is not a header (probably a binary file named .csv).
_MAX_HEADER = 1 << 20
#: A time column agrees with an explicit fs when the rates differ by less than this.
_FS_AGREE_RTOL = 1e-3
#: A derived rate this close to a whole number of Hz is that number (time-column rounding).
_FS_SNAP_RTOL = 1e-6

_UNIT_RE = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]$")
_TIME_SCALE = {"": 1.0, "s": 1.0, "ms": 1e-3}


@dataclass(frozen=True, slots=True)
class _Layout:
    delimiter: str
    names: tuple[str, ...]
    time_col: int | None
    time_scale: float
    data_cols: tuple[int, ...]
    units: tuple[str | None, ...]


def _cell(text: str) -> str:
    return text.strip().strip('"').strip()


def _parse_header(path: Path, line: str) -> _Layout:
    text = line.rstrip("\r\n")
    if not text.strip():
        raise RecordingError(path, "line 1 (the header row) is empty")
    delimiter = next((d for d in (",", ";", "\t") if d in text), ",")
    cells = [_cell(c) for c in text.split(delimiter)]
    if all(NUMBER_RE.match(c) for c in cells):
        raise RecordingError(
            path, f"line 1 must be a header row of column names, but it holds numbers: {text!r}"
        )
    names: list[str] = []
    units: list[str | None] = []
    for i, cell in enumerate(cells):
        match = _UNIT_RE.match(cell)
        name, unit = (match["name"].strip(), match["unit"].strip()) if match else (cell, None)
        if not name:
            raise RecordingError(path, f"column {i + 1} has no name in the header")
        if name in names:
            raise RecordingError(path, f"column name {name!r} appears twice in the header")
        names.append(name)
        units.append(unit or None)
    time_cols = [i for i, n in enumerate(names) if n.lower() == "time"]
    time_col = time_cols[0] if time_cols else None
    scale = 1.0
    if time_col is not None:
        unit = (units[time_col] or "").lower()
        if unit not in _TIME_SCALE:
            raise RecordingError(
                path, f"the time column's unit must be s or ms, got {units[time_col]!r}"
            )
        scale = _TIME_SCALE[unit]
    data_cols = tuple(i for i in range(len(names)) if i != time_col)
    if not data_cols:
        raise RecordingError(path, "no data columns: the header names only a time column")
    return _Layout(delimiter, tuple(names), time_col, scale, data_cols, tuple(units))


def _count_rows(path: Path) -> tuple[int, str]:
    """Data rows (lines after the header, trailing blank lines excluded) and the last one.

    Counting newline bytes is ~20x faster than parsing, so the sample count and the duration
    are known at open without converting a single number.
    """
    newlines = 0
    last = b""
    with path.open("rb") as f:
        header_bytes = len(f.readline(_MAX_HEADER))
        while block := f.read(1 << 22):
            newlines += block.count(b"\n")
            last = block
        size = f.tell()
        f.seek(max(header_bytes, size - (1 << 16)))
        tail = f.read()
    if newlines == 0 and b"\r" in tail.rstrip(b"\r"):
        raise RecordingError(path, "lines end in a bare CR (classic Mac): use LF or CRLF")
    lines = newlines + (1 if last and not last.endswith(b"\n") else 0)
    for trailing_blank, line in enumerate(reversed(tail.decode("utf-8", "replace").splitlines())):
        if line.strip():
            return lines - trailing_blank, line
    return 0, ""


class CsvRecording(BaseRecording):
    def __init__(self, path: Path, options: ReadOptions) -> None:
        super().__init__(path, options)
        try:
            with self._open_text() as f:
                header = f.readline(_MAX_HEADER)
                if len(header) == _MAX_HEADER and not header.endswith("\n"):
                    raise RecordingError(path, "line 1 is over 1 MiB long: not a CSV header row")
                layout = _parse_header(path, header)
                self._layout = layout
                rows, last_line = _count_rows(path)
                first_lines = list(islice(f, min(_CHECK_ROWS, rows)))
        except UnicodeDecodeError as exc:
            raise RecordingError(path, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
        if rows <= 0:
            raise RecordingError(path, "no samples: the file has a header row but no data rows")
        self._rows = rows
        first = self._parse(first_lines, 2)
        self._t_first = 0.0
        self._fs_time = math.nan
        fs = self._rate(first, last_line, rows, options.fs)
        specs = [ChannelSpec(layout.names[c], fs, rows, layout.units[c]) for c in layout.data_cols]
        self._set_plan(plan_streams(path, specs, options, t0=self._t_first))

    def _open_text(self) -> IO[str]:
        # utf-8-sig drops the byte-order mark spreadsheet programs write.
        return self.path.open("r", encoding="utf-8-sig", newline=None)

    def _batch_rows(self) -> int:
        return max(_MIN_BATCH_ROWS, _BATCH_CELLS // len(self._layout.names))

    def _rate(self, first: Float64Array, last_line: str, rows: int, fs: float | None) -> float:
        layout = self._layout
        if layout.time_col is None:
            if fs is None:
                raise RecordingError(
                    self.path, "no 'time' column, so the sample rate is unknown: needs --fs"
                )
            return fs
        t_first = float(first[0, layout.time_col]) * layout.time_scale
        last = self._parse([last_line], rows + 1)
        t_last = float(last[0, layout.time_col]) * layout.time_scale
        for t, line_no in ((t_first, 2), (t_last, rows + 1)):
            if not math.isfinite(t):
                raise RecordingError(self.path, f"line {line_no}: time {t} is not finite")
        self._t_first = t_first
        if rows == 1:
            if fs is None:
                raise RecordingError(
                    self.path, "one data row: the time column cannot give the rate, needs --fs"
                )
            self._fs_time = fs
            return fs
        if not t_last > t_first:
            raise RecordingError(
                self.path,
                f"time column is not increasing: first row t={t_first:g} s, "
                f"last row (line {rows + 1}) t={t_last:g} s",
            )
        # The grid check uses the exact fit; only the reported rate is snapped, because a
        # snapped rate drifts from the file's clock by up to 1 ppm (a sample per million).
        self._fs_time = (rows - 1) / (t_last - t_first)
        fs_time = self._fs_time
        if math.isclose(fs_time, round(fs_time), rel_tol=_FS_SNAP_RTOL):
            fs_time = float(round(fs_time))
        if fs is not None:
            if not math.isclose(fs_time, fs, rel_tol=_FS_AGREE_RTOL):
                raise RecordingError(
                    self.path,
                    f"the time column gives {hz(fs_time)} Hz but fs={hz(fs)} Hz was given",
                )
            return fs
        return fs_time

    # -- parsing -------------------------------------------------------------------------

    def _parse(self, lines: list[str], first_line_no: int) -> Float64Array:
        """Parse a batch with numpy's C parser; on failure, find the exact line and cell."""
        layout = self._layout
        try:
            arr: Float64Array = np.loadtxt(
                lines,
                delimiter=layout.delimiter,
                dtype=np.float64,
                ndmin=2,
                comments=None,
                quotechar='"',
            )
        except ValueError as exc:
            raise self._locate(lines, first_line_no, str(exc)) from exc
        if arr.shape[0] != len(lines) or arr.shape[1] != len(layout.names):
            # loadtxt skips blank lines, and a batch of uniformly short rows is not an error to it
            raise self._locate(lines, first_line_no, f"parsed shape {arr.shape}")
        return arr

    def _locate(self, lines: list[str], first_line_no: int, fallback: str) -> RecordingError:
        """The slow path, only after a batch failed: Python over its lines, cell by cell."""
        names = self._layout.names
        for offset, line in enumerate(lines):
            line_no = first_line_no + offset
            text = line.rstrip("\r\n")
            if not text.strip():
                return RecordingError(self.path, f"line {line_no} is empty")
            cells = text.split(self._layout.delimiter)
            if len(cells) != len(names):
                return RecordingError(
                    self.path,
                    f"line {line_no} has {len(cells)} values but the header names "
                    f"{len(names)} columns (ragged row)",
                )
            for name, cell in zip(names, cells, strict=True):
                value = _cell(cell)
                if not value:
                    return RecordingError(
                        self.path, f"line {line_no}, column {name!r}: the cell is empty"
                    )
                if not NUMBER_RE.match(value):
                    return RecordingError(
                        self.path, f"line {line_no}, column {name!r}: {value!r} is not a number"
                    )
        last = first_line_no + len(lines) - 1
        return RecordingError(self.path, f"lines {first_line_no}-{last}: {fallback}")

    def _check_time(self, t: Float64Array, row0: int, previous: float | None) -> None:
        """Increasing, and on the grid t_first + i/fs within half a period (see module doc)."""
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:
            i = int(bad[0])
            raise RecordingError(self.path, f"line {row0 + i + 2}: time {t[i]} is not finite")
        full = t if previous is None else np.concatenate(([previous], t))
        steps = np.diff(full)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            i = int(bad[0]) + (0 if previous is None else -1) + 1
            raise RecordingError(
                self.path,
                f"time column does not increase at line {row0 + i + 2}: "
                f"t={full[bad[0] + 1]:.9g} s after {full[bad[0]]:.9g} s",
            )
        fs = self._fs_time
        expected = self._t_first + (row0 + np.arange(t.size)) / fs
        off = np.abs(t - expected) * fs
        bad = np.flatnonzero(off > 0.5)
        if bad.size:
            i = int(bad[0])
            raise RecordingError(
                self.path,
                f"time column is not uniform at line {row0 + i + 2}: t={t[i]:.9g} s where "
                f"{hz(fs)} Hz puts {expected[i]:.9g} s (tolerance ±half a sample period): "
                "dropped or repeated samples?",
            )

    def _batches(self) -> Iterator[Float32Array]:
        """Data columns as float32 (channels x rows), batch by batch, time checked."""
        layout = self._layout
        cols = list(layout.data_cols)
        size = self._batch_rows()
        row0 = 0
        previous: float | None = None
        try:
            with self._open_text() as f:
                f.readline(_MAX_HEADER)
                # Stop at the counted rows: trailing blank lines are not samples.
                while lines := list(islice(f, min(size, self._rows - row0))):
                    arr = self._parse(lines, row0 + 2)
                    if layout.time_col is not None:
                        t = arr[:, layout.time_col] * layout.time_scale
                        self._check_time(t, row0, previous)
                        previous = float(t[-1])
                    row0 += arr.shape[0]
                    yield np.ascontiguousarray(arr[:, cols].T, dtype=np.float32)
        except UnicodeDecodeError as exc:
            raise RecordingError(
                self.path, f"not UTF-8 text after line {row0 + 1}: {exc.reason}"
            ) from exc

    def _chunks(self, chunk_s: float) -> Iterator[tuple[int, Float32Array]]:
        """Every stream shares the rows, so each block span is cut once and split by stream."""
        for block in rechunk(self._batches(), block_size(chunk_s, self.streams[0].fs)):
            yield from self._split(block)

    def _split(self, block: Float32Array) -> Iterator[tuple[int, Float32Array]]:
        for index, members in enumerate(self._members):
            yield index, np.ascontiguousarray(block[list(members)])


def _plain(dialect: Dialect, options: ReadOptions, head: list[str]) -> bool:
    """Whether the strict streaming reader takes the file: a header row first, ``.``
    decimals, numeric columns only, at most a ``time`` column in s or ms on a uniform grid,
    no hints. Everything else goes to the whole-file reader (csv_table.py)."""
    hints = options.csv is not None and any(v is not None for v in dataclasses.astuple(options.csv))
    if hints or dialect.skip_lines != 1 or dialect.decimal_comma or dialect.notes:
        return False
    if len(dialect.signals) + (dialect.time_col is not None) != dialect.n_cols:
        return False
    if any(
        unit is None and (options.modality or modality_for_channel(name)) == "acc"
        for _, name, unit in dialect.signals
    ):
        return False  # unitless axes: the whole-file reader tells g from m/s^2 by gravity
    if dialect.time_col is None:
        return True
    if dialect.time_is_text or dialect.names[dialect.time_col].lower() != "time":
        return False
    if dialect.time_unit not in (None, "s", "ms"):
        return False
    scale = 1e-3 if dialect.time_unit == "ms" else 1.0
    try:
        t = (
            np.array(
                [
                    float(_cell(ln.split(dialect.delimiter)[dialect.time_col]))
                    for ln in head[1:]
                    if ln.strip()
                ]
            )
            * scale
        )
    except (ValueError, IndexError):
        return True  # the strict reader names the bad cell
    return t.size < 2 or uniform_rate(t) is not None


def open_csv(path: Path, options: ReadOptions) -> BaseRecording:
    """The strict streaming reader for plain CSV, the export reader for the rest."""
    try:
        with path.open("r", encoding="utf-8-sig", newline=None) as f:
            head = list(islice(f, SNIFF_LINES + 20))
    except UnicodeDecodeError as exc:
        raise RecordingError(path, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    if head and len(head[0]) > _MAX_HEADER:
        raise RecordingError(path, "line 1 is over 1 MiB long: not a CSV header row")
    dialect = sniff(path, head, options.csv or CsvOptions(), fs_given=options.fs is not None)
    if _plain(dialect, options, head):
        return CsvRecording(path, options)
    from monitor.inputs.files.csv_table import CsvTableRecording

    return CsvTableRecording(path, options, dialect)
