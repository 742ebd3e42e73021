"""CSV exports as people have them (see csv_dialect.py and csv_time.py).

The strict reader (csv_file.py) streams a plain CSV in constant memory. Anything else (a
preamble, a decimal comma, no header, a time column in another unit, as an epoch or as
dates, text columns, irregular sampling) is parsed here. Resampling and gap finding need
the whole time column, so a small file, or one whose timestamps are irregular, is parsed
in batches into one float32 array (phone and logger exports: a day of a 3-axis phone
accelerometer at 100 Hz is 100 MB). A large file whose clock needs no resampling (an
amplifier's export: 30 min of 16 channels at 2 kHz is 230 MB as float32) is read twice
instead: the time column on opening, to know the rate and the rows, and the signals block
by block when replayed.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice, pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.core.errors import RecordingError
from monitor.core.model import G_MS2 as G
from monitor.inputs.files._base import (
    BaseRecording,
    ChannelSpec,
    Float32Array,
    block_size,
    hz,
    plan_streams,
    rechunk,
)
from monitor.inputs.files.csv_dialect import Dialect
from monitor.inputs.files.csv_time import (
    F64,
    SCALE,
    dates_to_seconds,
    decide_unit,
    is_epoch,
    span_rate,
    to_uniform,
    uniform_rate,
)
from monitor.inputs.files.types import ReadOptions

#: Lines per parsed batch.
BATCH_LINES = 65536
#: Files from this size on whose clock needs no resampling are read in two passes (the
#: time column on opening, the signals block by block when replayed) instead of whole: a
#: 30-min, 16-channel 2 kHz export is 230 MB of float32 held whole (#13: < 500 MB peak).
STREAM_BYTES = 64 << 20
#: Past this share of repeated timestamps the clock is coarser than the sampling.
COARSE_SHARE = 0.05
#: Accelerometer units converted to m/s^2 on reading, and the factor.
ACC_UNITS = {"g": G, "mg": G * 1e-3, "m/s^2": 1.0, "m/s²": 1.0, "m/s2": 1.0, "ms^-2": 1.0}


def modality_of(name: str, unit: str | None, forced: str | None) -> str:
    """``--modality``, else an accelerometer unit or an ``acc*`` name, else EMG."""
    if forced is not None:
        return forced
    if unit is not None and unit.strip().lower() in ACC_UNITS:
        return "acc"
    return "acc" if name.strip().lower().startswith("acc") else "emg"


@dataclass(frozen=True, slots=True)
class _Clock:
    """A time column read: seconds from the first kept row, which rows are kept (None:
    all), whether the clock is coarser than the samples, and the notes for the user."""

    t: np.ndarray
    keep: np.ndarray | None
    coarse: bool
    notes: tuple[str, ...]


class CsvTableRecording(BaseRecording):
    def __init__(self, path: Path, options: ReadOptions, dialect: Dialect) -> None:
        super().__init__(path, options)
        self.dialect = dialect
        modalities = [modality_of(n, u, options.modality) for _, n, u in dialect.signals]
        # A large file with a uniform clock is read twice, the time column first and the
        # signals block by block when replayed, instead of whole (see STREAM_BYTES).
        self._streaming = False
        self._keep: np.ndarray | None = None
        self._factors = np.ones(len(dialect.signals), dtype=np.float32)
        clock: _Clock | None = None
        x: Float32Array | None = None
        grid: float | None = None  # the rate of a uniform clock, found once
        if path.stat().st_size >= STREAM_BYTES and not _gravity_needed(dialect, modalities):
            clock, rows = self._scan_time()
            if clock is not None and not clock.coarse:
                grid = uniform_rate(clock.t)
            # No resampling needed: no clock (--fs), a coarse one (rate from its span), one
            # too short to give a rate (--fs), or a uniform grid.
            self._streaming = (
                clock is None
                or clock.coarse
                or clock.t.size < 2
                or not clock.t[-1] > clock.t[0]
                or grid is not None
            )
            if self._streaming:
                self._keep = None if clock is None else clock.keep
                self._rows = rows if clock is None else int(clock.t.size)
        if not self._streaming:
            clock, x = self._load()
            self._rows = x.shape[1]
        t = None if clock is None else clock.t
        notes = [*dialect.notes, *(() if clock is None else clock.notes)]
        gravity_unit = None if x is None else _unit_from_gravity(x, dialect, modalities)
        if gravity_unit is not None:
            notes.append(
                f"accelerometer without a unit: |a| at rest is {gravity_unit[1]:.3g}, "
                f"so the values are in {gravity_unit[0]} (--unit to say otherwise)"
            )
        units: list[str | None] = []
        for row, ((_, name, unit), modality) in enumerate(
            zip(dialect.signals, modalities, strict=True)
        ):
            if modality == "acc" and unit is None and gravity_unit is not None:
                unit = gravity_unit[0]
            factor = ACC_UNITS.get((unit or "").strip().lower()) if modality == "acc" else None
            if factor is not None and factor != 1.0:
                self._factors[row] = np.float32(factor)
                if x is not None:
                    x[row] *= np.float32(factor)
                notes.append(f"{name}: {unit} converted to m/s^2")
                unit = "m/s^2"
            elif factor == 1.0:
                unit = "m/s^2"
            units.append(unit)
        offsets: tuple[int, ...] = (0,)
        if t is None:
            if options.fs is None:
                raise RecordingError(
                    path, "no time column, so the sample rate is unknown: needs --fs"
                )
            t0s: tuple[float, ...] = (0.0,)
            fs = options.fs
        elif t.size < 2 or not t[-1] > t[0]:
            # One row, or a clock that never moves: the time column cannot give the rate.
            if options.fs is None:
                raise RecordingError(
                    path,
                    f"the time column holds {t.size} row(s) spanning no time, so the sample "
                    "rate is unknown: needs --fs",
                )
            fs, t0s = options.fs, (float(t[0]),)
        else:
            if clock is not None and clock.coarse:
                fs, t0s = span_rate(t), (float(t[0]),)
            elif x is None:  # streaming: the clock is a uniform grid
                assert grid is not None
                fs, t0s = grid, (float(t[0]),)
            else:
                timing = to_uniform(t, x, None)
                if timing.note:
                    notes.append(timing.note)
                fs, x, offsets, t0s = timing.fs, timing.data, timing.offsets, timing.t0s
                self._rows = x.shape[1]
            if options.fs is not None:
                # As the strict reader: a rate given must agree with the file's clock, it
                # is no request to resample.
                if not math.isclose(fs, options.fs, rel_tol=1e-3):
                    raise RecordingError(
                        path,
                        f"the time column gives {hz(fs)} Hz but fs={hz(options.fs)} Hz was given",
                    )
                fs = options.fs
        self._data = x if x is not None else np.zeros((0, 0), dtype=np.float32)
        self._offsets = list(offsets)
        self._t0s = list(t0s)
        specs = [
            ChannelSpec(name, fs, self._rows, unit, modality)  # type: ignore[arg-type]
            for (_, name, _), unit, modality in zip(dialect.signals, units, modalities, strict=True)
        ]
        self._set_plan(plan_streams(path, specs, options, t0=t0s[0]))
        self.notes = tuple(notes)

    # -- reading -----------------------------------------------------------------------

    def _lines(self) -> Iterator[tuple[int, list[str]]]:
        """(line number of the first, lines) batches of data lines."""
        with self.path.open("r", encoding="utf-8-sig", newline=None) as f:
            for _ in range(self.dialect.skip_lines):
                f.readline()
            line_no = self.dialect.skip_lines + 1
            while batch := list(islice(f, BATCH_LINES)):
                yield line_no, batch
                line_no += len(batch)

    def _data_lines(self) -> Iterator[tuple[int, list[str], list[str]]]:
        """(first line number, raw lines, data lines ready for parsing) batches: comments
        and blank lines out, a trailing delimiter off, decimal commas as points."""
        d = self.dialect
        for first_no, raw in self._lines():
            lines = [ln for ln in raw if ln.strip() and not ln.lstrip().startswith("#")]
            if d.trailing:
                lines = [ln.rstrip().removesuffix(d.trailing) for ln in lines]
            if not lines:
                continue
            if d.decimal_comma:
                lines = [ln.replace(",", ".") for ln in lines]
            yield first_no, raw, lines

    def _parse(self, raw: list[str], first_no: int, lines: list[str], use: list[int]) -> F64:
        arr: F64 | None
        try:
            arr = self._loadtxt(raw, first_no, lines, use, '"')
        except RecordingError:
            if not any('"' in ln for ln in lines):
                raise
            arr = None  # perhaps a quote across rows: judged below, unquoted
        if arr is None or arr.shape[0] != len(lines):
            # A quote opened in one row and closed in a later one (a text label) made
            # loadtxt read several lines as one row: every line is a row, so read them
            # again without quoting, the quotes taken out.
            bare = [ln.replace('"', "") for ln in lines]
            arr = self._loadtxt(raw, first_no, bare, use, None)
            if arr.shape[0] != len(lines):
                raise self._locate(raw, first_no, f"{len(lines)} lines gave {arr.shape[0]} rows")
        return arr

    def _loadtxt(
        self, raw: list[str], first_no: int, lines: list[str], use: list[int], quote: str | None
    ) -> F64:
        try:
            arr: F64 = np.loadtxt(
                lines,
                delimiter=self.dialect.delimiter,
                usecols=use,
                dtype=np.float64,
                ndmin=2,
                comments=None,
                quotechar=quote,
            )
        except ValueError as exc:
            raise self._locate(raw, first_no, str(exc)) from exc
        return arr

    def _text_times(self, raw: list[str], first_no: int, lines: list[str]) -> F64:
        """Seconds of a batch's date-time cells."""
        d = self.dialect
        assert d.time_col is not None
        assert d.time_format is not None
        split = [ln.rstrip("\r\n").split(d.delimiter) for ln in lines]
        if any(len(c) <= d.time_col for c in split):
            raise self._locate(raw, first_no, "ragged row")
        cells = [c[d.time_col].strip().strip('"') for c in split]
        try:
            return dates_to_seconds(cells, d.time_format)
        except ValueError as exc:
            raise RecordingError(
                self.path,
                f"time column {d.names[d.time_col]!r} near line {first_no}: {exc}; "
                "give the format with --time-format",
            ) from exc

    def _scan_time(self) -> tuple[_Clock | None, int]:
        """The first of two passes: the time column alone (None without one) and the
        number of data rows."""
        d = self.dialect
        if not d.time_is_text:
            # pandas' C reader, 5-6x faster than the line-by-line parse: this pass and the
            # signals' are what a large export costs.
            col = d.time_col if d.time_col is not None else d.signals[0][0]
            try:
                parts = [arr[:, 0].copy() for arr in self._fast_batches([col])]
            except _Slow:
                pass
            else:
                rows = sum(part.size for part in parts)
                if not rows:
                    raise RecordingError(self.path, "no samples: no data rows")
                if d.time_col is None:
                    return None, rows
                return self._seconds(np.concatenate(parts)), rows
        times: list[F64] = []
        rows = 0
        try:
            for first_no, raw, lines in self._data_lines():
                rows += len(lines)
                if d.time_col is None:
                    continue
                if d.time_is_text:
                    times.append(self._text_times(raw, first_no, lines))
                else:
                    times.append(self._parse(raw, first_no, lines, [d.time_col])[:, 0].copy())
        except UnicodeDecodeError as exc:
            raise RecordingError(self.path, f"not UTF-8 text: {exc.reason}") from exc
        if not rows:
            raise RecordingError(self.path, "no samples: no data rows")
        return (self._seconds(np.concatenate(times)) if times else None), rows

    def _fast_batches(self, use: list[int]) -> Iterator[F64]:
        """Columns ``use`` (rows x len(use), float64) by pandas' C reader, batch by batch.
        Raises ``_Slow`` at anything only the line-by-line reader judges exactly (a bad
        cell, a ragged row, an empty or NaN cell, a stray character), which then takes
        over: it names the line and column, or reads what pandas would not."""
        d = self.dialect
        try:
            reader = pd.read_csv(
                self.path,
                sep=d.delimiter,
                decimal="," if d.decimal_comma else ".",
                header=None,
                skiprows=d.skip_lines,
                usecols=use,
                dtype=np.float64,
                engine="c",
                # Physical lines, as the line reader counts them: a quote must not join
                # lines (a quoted note in a preamble, a label cell), and a '#' cuts no
                # line short. A quoted or commented cell fails here and hands over.
                comment=None,
                quoting=csv.QUOTE_NONE,
                skip_blank_lines=True,
                encoding="utf-8-sig",
                chunksize=BATCH_LINES,
            )
            with reader:
                for frame in reader:
                    arr = frame[use].to_numpy(dtype=np.float64)
                    if np.isnan(arr).any():
                        raise _Slow
                    yield arr
        except (ValueError, UnicodeDecodeError) as exc:  # ParserError is a ValueError
            raise _Slow from exc

    def _signal_batches(self) -> Iterator[Float32Array]:
        """The second pass: the signals, batch by batch (channels x rows), rows with a
        repeated timestamp dropped and accelerometer units converted as on opening.
        pandas' reader first; from the first batch it cannot judge on, the line-by-line
        reader (the rows already given are skipped)."""
        cols = [i for i, _, _ in self.dialect.signals]
        done = 0
        try:
            for arr in self._fast_batches(cols):
                yield self._signals(arr, done)
                done += arr.shape[0]
            return
        except _Slow:
            pass
        row = 0
        try:
            for first_no, raw, lines in self._data_lines():
                if row + len(lines) <= done:
                    row += len(lines)
                    continue
                arr = self._parse(raw, first_no, lines, cols)[max(0, done - row) :]
                yield self._signals(arr, max(row, done))
                row += len(lines)
        except UnicodeDecodeError as exc:
            raise RecordingError(self.path, f"not UTF-8 text: {exc.reason}") from exc

    def _signals(self, arr: F64, row: int) -> Float32Array:
        """Parsed rows ``row``... as float32 channels x kept rows, in m/s^2 where converted."""
        if self._keep is not None:
            arr = arr[self._keep[row : row + arr.shape[0]]]
        x = np.ascontiguousarray(arr.T, dtype=np.float32)
        if not np.all(self._factors == 1.0):
            x *= self._factors[:, None]
        return x

    def _load(self) -> tuple[_Clock | None, Float32Array]:
        d = self.dialect
        cols = [i for i, _, _ in d.signals]
        numeric_time = d.time_col is not None and not d.time_is_text
        use = cols + ([d.time_col] if numeric_time and d.time_col is not None else [])
        # Filled in place: a 30-min, 16-channel 2 kHz export is 230 MB as float32, and
        # concatenating batches would hold it twice.
        x = np.empty((len(cols), _count_lines(self.path)), dtype=np.float32)
        filled = 0
        times: list[np.ndarray] = []
        try:
            for first_no, raw, lines in self._data_lines():
                arr = self._parse(raw, first_no, lines, use)
                x[:, filled : filled + arr.shape[0]] = arr[:, : len(cols)].T
                filled += arr.shape[0]
                if numeric_time:
                    times.append(arr[:, len(cols)].copy())  # not a view: it would keep arr
                elif d.time_is_text:
                    times.append(self._text_times(raw, first_no, lines))
        except UnicodeDecodeError as exc:
            raise RecordingError(self.path, f"not UTF-8 text: {exc.reason}") from exc
        if not filled:
            raise RecordingError(self.path, "no samples: no data rows")
        x = x[:, :filled]
        if not times:
            return None, x
        clock = self._seconds(np.concatenate(times))
        keep = clock.keep
        return clock, (x if keep is None else np.ascontiguousarray(x[:, keep]))

    def _seconds(self, raw: np.ndarray) -> _Clock:
        """The time column in seconds from its first row, with what was found on the way
        (the unit read from the values, repeated stamps, an absolute start)."""
        unit_note = start_note = repeat_note = ""
        keep: np.ndarray | None = None
        coarse = False
        d = self.dialect
        name = d.names[d.time_col] if d.time_col is not None else "time"
        bad = np.flatnonzero(~np.isfinite(raw))
        if bad.size:
            i = int(bad[0])
            raise RecordingError(
                self.path,
                f"time column {name!r}: data row {i + 1} (not counting comment or blank "
                f"lines) holds {raw[i]}, not a time",
            )
        if d.time_is_text:
            # A time of day that passes midnight starts again at 00:00: a day later.
            t = raw + 86400.0 * np.concatenate([[0], np.cumsum(np.diff(raw) < -43200.0)])
        else:
            unit = d.time_unit or decide_unit(raw, self.options.modality)
            t = raw * SCALE[unit]
            if d.time_unit is None:
                unit_note = f"time column {name!r} read as {unit}"
        steps = np.diff(t)
        back = np.flatnonzero(steps < 0)
        if back.size:
            i = int(back[0])
            raise RecordingError(
                self.path,
                f"time column {name!r} goes back at data row {i + 2}: {t[i + 1]:.9g} s after "
                f"{t[i]:.9g} s (sort the file, or give another --time-column)",
            )
        repeated = np.flatnonzero(steps == 0)
        if repeated.size >= 10 and repeated.size > COARSE_SHARE * t.size:
            # The clock ticks slower than the samples come (ms stamps at 2 kHz, a phone's
            # 10-ms clock at 200 Hz): the samples are uniform, only their stamps are not.
            coarse = True
            repeat_note = (
                f"time column {name!r}: {repeated.size} of {t.size} timestamps repeat the "
                "previous one (a clock coarser than the samples): rate from the span"
            )
        elif repeated.size:
            keep = np.ones(t.size, dtype=bool)
            keep[repeated + 1] = False
            repeat_note = (
                f"time column {name!r}: {repeated.size} row(s) repeat the previous timestamp "
                f"(first at data row {int(repeated[0]) + 2}): dropped"
            )
            t = t[keep]
        if is_epoch(float(t[0])) or d.time_is_text:
            when = datetime.fromtimestamp(float(t[0]), tz=UTC)
            start = (
                when.time().isoformat(timespec="milliseconds") + " (a time of day)"
                if when.year == 1900
                else when.isoformat(timespec="milliseconds")
            )
            start_note = f"absolute time: starts {start}; times are seconds from there"
            t = t - t[0]
        notes = tuple(n for n in (unit_note, start_note, repeat_note) if n)
        return _Clock(t, keep, coarse, notes)

    def _locate(self, lines: list[str], first_no: int, fallback: str) -> RecordingError:
        d = self.dialect
        for offset, line in enumerate(lines):
            text = line.rstrip("\r\n")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            cells = [c.strip().strip('"') for c in text.split(d.delimiter)]
            needed = [(i, name) for i, name, _ in d.signals]
            if d.time_col is not None:
                needed.append((d.time_col, d.names[d.time_col]))
            for i, name in needed:
                if i == d.time_col and d.time_is_text and i < len(cells):
                    continue
                if i >= len(cells):
                    return RecordingError(
                        self.path,
                        f"line {first_no + offset} has {len(cells)} values; column {name!r} "
                        f"is number {i + 1} (ragged row)",
                    )
                cell = cells[i].replace(",", ".") if d.decimal_comma else cells[i]
                try:
                    float(cell)
                except ValueError:
                    return RecordingError(
                        self.path,
                        f"line {first_no + offset}, column {name!r}: {cells[i]!r} is not a number",
                    )
        return RecordingError(
            self.path, f"lines {first_no}-{first_no + len(lines) - 1}: {fallback}"
        )

    # -- blocks ------------------------------------------------------------------------

    def block_t0(self, index: int, start: int) -> float:
        k = bisect.bisect_right(self._offsets, start) - 1
        return self._t0s[k] + (start - self._offsets[k]) / self.streams[index].fs

    def _chunks(self, chunk_s: float) -> Iterator[tuple[int, Float32Array]]:
        """Every stream shares the rows: cut each span once, never across a gap."""
        n = block_size(chunk_s, self.streams[0].fs)
        if self._streaming:  # one uniform span, read again from the file
            for block in rechunk(self._signal_batches(), n):
                for index, members in enumerate(self._members):
                    yield index, np.ascontiguousarray(block[list(members)])
            return
        n_total = self._data.shape[1]
        bounds = [*self._offsets, n_total]
        for a, b in pairwise(bounds):
            for start in range(a, b, n):
                block = self._data[:, start : min(start + n, b)]
                for index, members in enumerate(self._members):
                    yield index, np.ascontiguousarray(block[list(members)])

    def _release(self) -> None:
        self._data = np.zeros((0, 0), dtype=np.float32)


def _count_lines(path: Path) -> int:
    """Lines in the file (newlines, plus an unterminated last line): at least the rows."""
    count, last = 0, b""
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            count += block.count(b"\n")
            last = block
    return count + (1 if last and not last.endswith(b"\n") else 0)


def _unit_from_gravity(
    x: Float32Array, dialect: Dialect, modalities: list[str]
) -> tuple[str, float] | None:
    """The unit of three accelerometer axes given without one, from gravity: at rest the
    vector's magnitude is 1 g whatever the orientation, so its median over the recording
    says g (~1), mg (~1000) or m/s^2 (~9.8). None when no unit can be told that way (no
    three unitless axes, or a median that is none of those)."""
    rows = [
        r
        for r, ((_, _, unit), modality) in enumerate(zip(dialect.signals, modalities, strict=True))
        if modality == "acc" and unit is None
    ]
    if len(rows) != 3 or x.shape[1] == 0:
        return None
    step = max(1, x.shape[1] // 100_000)
    axes = x[rows, ::step].astype(np.float64)
    magnitude = np.sqrt(np.sum(axes * axes, axis=0))
    g = float(np.median(magnitude))
    q1, q3 = np.percentile(magnitude, [25, 75])
    if not g > 0 or (q3 - q1) / g > 0.3:
        return None  # not dominated by gravity (gravity removed, or hard movement)
    for unit, lo, hi in (("g", 0.7, 1.4), ("mg", 700.0, 1400.0), ("m/s^2", 7.0, 13.0)):
        if lo <= g <= hi:
            return unit, g
    return None


class _Slow(Exception):
    """pandas' reader met something the line-by-line reader must judge."""


def _gravity_needed(dialect: Dialect, modalities: list[str]) -> bool:
    """Three accelerometer axes without a unit: it is told from gravity over the whole
    recording, so such a file is read whole."""
    unitless = [
        m for (_, _, unit), m in zip(dialect.signals, modalities, strict=True) if unit is None
    ]
    return unitless.count("acc") == 3
