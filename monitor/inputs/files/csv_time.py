"""Time columns as exports have them: units, epochs, dates, jitter and gaps.

A time column may be seconds, milliseconds, microseconds or nanoseconds, since the start or
since 1970 (or since a phone's boot), or date-time text. The unit comes from the caller, the
column's name, or else the values: the step between samples must give a rate a sensor can
have (``PLAUSIBLE_HZ`` for the modality). Absolute times (an epoch, a date) are made
relative to the first sample; the start is reported instead.

Phones and loggers do not sample on a grid: steps of 3-19 ms around 10 ms are common, and
the stream stops for a moment when the phone is busy. The features need a uniform grid, so
such a column is resampled to the median rate (or the caller's) by linear interpolation,
segment by segment: a step longer than ``GAP_STEPS`` median steps is a gap in the stream
(nothing is invented across it), not a long interpolated ramp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
#: Rates (Hz) a sensor of each modality plausibly has, to read a time column's unit.
PLAUSIBLE_HZ = {"emg": (100.0, 20000.0), "acc": (1.0, 2000.0), None: (1.0, 20000.0)}
#: Seconds since 1970 of a plausible recording date (2001 to 2100): an epoch column.
EPOCH_S = (1.0e9, 4.1e9)
#: A step longer than this many median steps is a gap.
GAP_STEPS = 5.0
#: Timestamps within this share of a period of a uniform grid are that grid (rounding).
GRID_TOL = 0.5


def decide_unit(t: F64, modality: str | None) -> str:
    """The unit of raw time values with no stated unit: the one whose median step gives a
    plausible rate (preferring the one nearest the middle of the range, in log terms)."""
    steps = np.diff(t[: min(t.size, 10000)])
    steps = steps[steps > 0]
    if steps.size == 0:
        return "s"
    step = float(np.median(steps))
    lo, hi = PLAUSIBLE_HZ.get(modality, PLAUSIBLE_HZ[None])
    mid = math.sqrt(lo * hi)
    fits = [(abs(math.log(1.0 / (step * SCALE[u]) / mid)), u) for u in SCALE]
    inside = [(d, u) for d, u in fits if lo <= 1.0 / (step * SCALE[u]) <= hi]
    return min(inside or fits)[1]


def is_epoch(t0_s: float) -> bool:
    return EPOCH_S[0] <= t0_s <= EPOCH_S[1]


def dates_to_seconds(cells: list[str], fmt: str) -> F64:
    """Date-time text to seconds since 1970 (naive times are taken as UTC)."""
    import pandas as pd  # only for files with date-time text: pandas costs ~1 s to import

    parsed = pd.to_datetime(pd.Series(cells), format=fmt, utc=True, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{cells[i]!r} does not match the date-time format {fmt!r}")
    ns = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    out: F64 = (ns - ns[0]).astype(np.float64) * 1e-9 + float(ns[0]) * 1e-9
    return out


@dataclass(frozen=True, slots=True)
class Timing:
    """A time column turned into uniform samples: ``data`` (channels x n) in segments that
    start at sample ``offsets[k]`` and time ``t0s[k]`` (s); gaps lie between segments."""

    fs: float
    uniform: bool
    data: F32
    offsets: tuple[int, ...]
    t0s: tuple[float, ...]
    note: str


def uniform_rate(t: F64) -> float | None:
    """The rate if every timestamp sits on one uniform grid (within ``GRID_TOL`` of a
    period), else None."""
    if t.size < 2 or not t[-1] > t[0]:
        return None
    fs = float((t.size - 1) / (t[-1] - t[0]))
    grid = t[0] + np.arange(t.size) / fs
    if float(np.max(np.abs(t - grid))) * fs > GRID_TOL:
        return None
    if math.isclose(fs, round(fs), rel_tol=1e-6):
        fs = float(round(fs))
    return fs


def span_rate(t: F64) -> float:
    """The rate from the span of the timestamps (a clock coarser than the sample period)."""
    fs = float((t.size - 1) / (t[-1] - t[0]))
    return float(round(fs)) if math.isclose(fs, round(fs), rel_tol=1e-3) else fs


def to_uniform(t: F64, x: F32, fs: float | None) -> Timing:
    """``x`` (channels x n) sampled at increasing times ``t`` (s) as uniform segments."""
    rate = uniform_rate(t)
    if rate is not None and (fs is None or math.isclose(rate, fs, rel_tol=1e-3)):
        return Timing(fs or rate, True, x, (0,), (float(t[0]),), "")
    steps = np.diff(t)
    step = float(np.median(steps))
    if fs is None:
        fs = 1.0 / step
        fs = float(round(fs)) if abs(fs - round(fs)) < 0.02 * fs else round(fs, 2)
    gap = max(GAP_STEPS * step, 2.5 / fs)
    cuts = np.flatnonzero(steps > gap) + 1
    first = np.concatenate([[0], cuts])
    last = np.concatenate([cuts - 1, [t.size - 1]])
    starts = t[first]
    counts = np.floor((t[last] - starts) * fs + 1e-9).astype(np.int64) + 1
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # Every segment's grid at once: its start plus its own sample index over fs. Each grid
    # point lies within its segment's timestamps, so one interpolation over the whole
    # column never reaches across a gap.
    within = np.arange(int(counts.sum())) - np.repeat(offsets, counts)
    grid = np.repeat(starts, counts) + within / fs
    data = np.empty((x.shape[0], grid.size), dtype=np.float32)
    for c in range(x.shape[0]):  # per channel: a handful of columns, each vectorised
        data[c] = np.interp(grid, t, x[c].astype(np.float64))
    p = np.percentile(steps, [1, 50, 99]) * 1e3
    note = (
        f"irregular time steps ({p[0]:.3g}-{p[2]:.3g} ms, median {p[1]:.3g} ms): resampled to "
        f"{fs:g} Hz by linear interpolation"
        + (f"; {cuts.size} gap(s) longer than {gap * 1e3:.0f} ms kept as gaps" if cuts.size else "")
    )
    return Timing(
        fs, False, data, tuple(int(o) for o in offsets), tuple(float(v) for v in starts), note
    )
