"""Standard fatigue indices of one EMG channel, from its windows' features.

What sports scientists and ergonomists report (docs/signal-processing.md, "Fatigue
indices"): the MDF slope in % of the initial MDF per minute with its confidence interval,
the time to a 10 % MDF drop, the JASA quadrant (Luttmann et al. 1996) and a per-contraction
breakdown. Pure functions of arrays, no I/O, so the replay summary, the HTML report and the
API compute the same numbers.

Only windows the detector marked active and of quality ``ok`` count (``usable``): the MDF
of a rest window is the MDF of the noise floor (often 200 Hz or more), and one rest at the
end of a recording would otherwise read as a large MDF *rise*. Every statistic is a median
or Theil-Sen, because the gate also passes the window where a contraction ramps in or out
(low RMS, noise-floor MDF): one such window per contraction must not move an index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

Quadrant = Literal["fatigue", "force increase", "force decrease", "recovery", "no clear change"]

#: Seconds of active windows that define the initial MDF and the running median's length.
INITIAL_S = 10.0
#: Seconds of active windows at each end of the recording for "first -> last" (medians).
ENDS_S = 5.0
#: ... but never fewer windows than these: a 1-s window's MDF scatters by ~8 %, so a
#: median of two (a 10 s period of feature samples stored every 5 s) would find a 10 %
#: "drop" in noise.
INITIAL_MIN = 5
ENDS_MIN = 3
#: The fall that "time to drop" looks for: 10 % of the initial MDF.
DROP = 0.10
#: Confidence of the slopes' intervals.
CONFIDENCE = 0.95
#: Theil-Sen takes all n(n-1)/2 pairs; beyond this many points, consecutive points are
#: merged into medians so an 8-hour shift (57,600 windows) costs milliseconds, not gigabytes.
#: 400 points (90k pairs) keep the summary of a 16-channel half hour within a few per cent
#: of the replay's time; the slope of a trend is hardly less precise from medians.
MAX_POINTS = 400
#: Fewer usable windows than this give no slope (two points have no confidence interval).
MIN_POINTS = 3

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Trend:
    """A Theil-Sen slope in % of the initial value per minute, with its confidence interval.

    Why robust: single windows carry MDF outliers (a movement artefact, a mains burst, an
    ECG beat) and the first seconds of a contraction are often off-level; least squares
    lets one such window tilt the line, Theil-Sen (the median of all pairwise slopes)
    ignores up to 29 % of wild points, and its interval needs no normality."""

    pct_per_min: float
    lo: float
    hi: float
    n_points: int

    @property
    def clear(self) -> bool:
        """The interval excludes 0: the series changed in the slope's direction."""
        return not (self.lo <= 0.0 <= self.hi)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pct_per_min": self.pct_per_min,
            "ci95": [self.lo, self.hi],
            "clear": self.clear,
            "n_points": self.n_points,
        }


@dataclass(frozen=True, slots=True)
class Contraction:
    """One run of consecutive usable windows; times are window ends on the stream clock.
    Its windows' features are finite, so are its medians."""

    start_s: float
    end_s: float
    n_windows: int
    mdf_hz: float
    mnf_hz: float
    rms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "n_windows": self.n_windows,
            "mdf_hz": self.mdf_hz,
            "mnf_hz": self.mnf_hz,
            "rms": self.rms,
        }


@dataclass(frozen=True, slots=True)
class FatigueIndices:
    """The indices of one EMG channel; ``None`` where too few usable windows exist."""

    n_windows: int
    n_usable: int
    initial_mdf_hz: float | None
    mdf_first_hz: float | None
    mdf_last_hz: float | None
    mdf_slope: Trend | None
    rms_slope: Trend | None
    drop10_s: float | None
    quadrant: Quadrant | None
    contractions: tuple[Contraction, ...]

    @property
    def mdf_change_pct(self) -> float | None:
        """Median MDF of the last against the first ``ENDS_S`` seconds of usable windows, in %."""
        if self.mdf_first_hz is None or self.mdf_last_hz is None or self.mdf_first_hz <= 0:
            return None
        return (self.mdf_last_hz / self.mdf_first_hz - 1.0) * 100.0

    @property
    def quadrant_caveat(self) -> str | None:
        """Which slope the quadrant rests on only by its sign (its interval includes 0)."""
        if self.quadrant in (None, "no clear change"):
            return None
        unclear = [
            name
            for name, tr in (("MDF", self.mdf_slope), ("RMS", self.rms_slope))
            if tr is not None and not tr.clear
        ]
        return f"{unclear[0]} slope's 95 % CI includes 0" if unclear else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no NaN: missing values are ``None``)."""
        return {
            "n_windows": self.n_windows,
            "n_usable": self.n_usable,
            "initial_mdf_hz": self.initial_mdf_hz,
            "mdf_first_hz": self.mdf_first_hz,
            "mdf_last_hz": self.mdf_last_hz,
            "mdf_change_pct": self.mdf_change_pct,
            "mdf_slope": None if self.mdf_slope is None else self.mdf_slope.to_dict(),
            "rms_slope": None if self.rms_slope is None else self.rms_slope.to_dict(),
            "drop10_s": self.drop10_s,
            "quadrant": self.quadrant,
            "quadrant_caveat": self.quadrant_caveat,
            "contractions": [c.to_dict() for c in self.contractions],
        }


def contraction_bounds(usable: BoolArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and end (exclusive) indices of every run of True: a contraction ends at the
    first rest or poor-quality window, so a sustained hold is one contraction."""
    edges = np.diff(np.concatenate(([0], usable.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def contractions(
    t: FloatArray, mdf: FloatArray, mnf: FloatArray, rms: FloatArray, usable: BoolArray
) -> tuple[Contraction, ...]:
    """Per contraction: its span and the medians of its windows' MDF, MNF and RMS."""
    starts, ends = contraction_bounds(usable)
    return tuple(
        Contraction(
            start_s=float(t[a]),
            end_s=float(t[b - 1]),
            n_windows=int(b - a),
            mdf_hz=float(np.median(mdf[a:b])),
            mnf_hz=float(np.median(mnf[a:b])),
            rms=float(np.median(rms[a:b])),
        )
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    )


def _thin(x: FloatArray, y: FloatArray, stride: int) -> tuple[FloatArray, FloatArray]:
    """Every ``stride``-th point, then medians of consecutive groups down to MAX_POINTS."""
    x, y = x[::stride], y[::stride]
    group = math.ceil(x.size / MAX_POINTS)
    if group <= 1:
        return x, y
    pad = (-x.size) % group
    xs = np.concatenate([x, np.full(pad, np.nan)]).reshape(-1, group)
    ys = np.concatenate([y, np.full(pad, np.nan)]).reshape(-1, group)
    return np.nanmedian(xs, axis=1), np.nanmedian(ys, axis=1)


def trend(t: FloatArray, y: FloatArray, reference: float, stride: int = 1) -> Trend | None:
    """Theil-Sen slope of ``y`` against ``t`` (seconds) in % of ``reference`` per minute.

    ``stride`` keeps every stride-th point: pass window / hop so that the windows used do
    not overlap, since the interval assumes independent residuals (overlapping windows
    share samples and would make it too narrow)."""
    if not (math.isfinite(reference) and reference > 0):
        return None
    x, yy = _thin(t, y, max(1, stride))
    if x.size < MIN_POINTS or np.ptp(x) <= 0:
        return None
    res = stats.theilslopes(yy, (x - x[0]) / 60.0, alpha=CONFIDENCE)
    scale = 100.0 / reference
    return Trend(
        float(res.slope) * scale,
        float(res.low_slope) * scale,
        float(res.high_slope) * scale,
        int(x.size),
    )


def jasa_quadrant(mdf: Trend, rms: Trend) -> Quadrant:
    """Luttmann, Jäger & Laurig's joint analysis of spectrum and amplitude (JASA).

    A falling MDF alone cannot tell fatigue from a lighter load (less force also lowers
    MDF a little, and lowers RMS); their joint direction can. When neither slope's interval
    excludes 0, no quadrant is claimed."""
    if not mdf.clear and not rms.clear:
        return "no clear change"
    mdf_down = mdf.pct_per_min < 0.0
    rms_up = rms.pct_per_min >= 0.0
    if mdf_down:
        return "fatigue" if rms_up else "force decrease"
    return "force increase" if rms_up else "recovery"


def running_median(y: FloatArray, n: int) -> FloatArray:
    """Trailing median over ``n`` consecutive points; element j ends at point j + n - 1."""
    if y.size < n:
        return np.empty(0)
    return np.asarray(
        np.median(np.lib.stride_tricks.sliding_window_view(y, n), axis=1), dtype=np.float64
    )


def _hop(t: FloatArray) -> float:
    """The windows' spacing, for turning seconds of active windows into a count."""
    steps = np.diff(t)
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 1.0


def at_rest(rms: FloatArray, active_ratio: float = 2.0) -> BoolArray:
    """Windows at the noise floor, judged with the whole recording in view.

    The live gate cannot tell rest from work until it has seen both, so it calls the rest
    a recording starts with active; afterwards the floor and the working level are known.
    Same rule as the gate (monitor/detect/gate.py): rest is within ``active_ratio`` of the
    floor, or below the geometric middle of floor and working level when those are
    closer. Floor and level are the 5th and 95th percentiles of log RMS."""
    out = np.zeros(rms.shape, dtype=bool)
    ok = np.isfinite(rms) & (rms > 0)
    if ok.sum() < 3:
        return out
    lg = np.log(rms[ok])
    floor, level = np.percentile(lg, [5.0, 95.0])
    if level - floor <= math.log(active_ratio):
        return out  # no rest in view: nothing to take out
    out[ok] = lg <= floor + min(math.log(active_ratio), 0.5 * (level - floor))
    return out


def usable_windows(
    mdf: npt.ArrayLike, mnf: npt.ArrayLike, rms: npt.ArrayLike, usable: npt.ArrayLike
) -> BoolArray:
    """The windows every index and chart uses: those the detector called usable, with
    finite features (every number out is finite: JSON has no NaN), and not at the noise
    floor in hindsight (``at_rest``)."""
    mdf_a = np.asarray(mdf, dtype=np.float64)
    mnf_a = np.asarray(mnf, dtype=np.float64)
    rms_a = np.asarray(rms, dtype=np.float64)
    good = np.asarray(usable, dtype=bool) & np.isfinite(mdf_a) & np.isfinite(mnf_a)
    good &= np.isfinite(rms_a) & (rms_a > 0)
    out: BoolArray = good & ~at_rest(rms_a)
    return out


def fatigue_indices(
    t: npt.ArrayLike,
    mdf: npt.ArrayLike,
    mnf: npt.ArrayLike,
    rms: npt.ArrayLike,
    usable: npt.ArrayLike,
    *,
    hop_s: float | None = None,
    stride: int = 1,
) -> FatigueIndices:
    """All indices of one channel from its windows in time order.

    ``usable`` marks windows the detector called active with quality ``ok``. Durations
    "of active windows" count usable windows (``hop_s`` each, by default the median
    spacing of ``t``), so rests in between do not shorten the initial period. ``stride``:
    see ``trend``."""
    tt = np.asarray(t, dtype=np.float64)
    mdf_a = np.asarray(mdf, dtype=np.float64)
    mnf_a = np.asarray(mnf, dtype=np.float64)
    rms_a = np.asarray(rms, dtype=np.float64)
    good = usable_windows(mdf_a, mnf_a, rms_a, usable)
    parts = contractions(tt, mdf_a, mnf_a, rms_a, good)
    ta, ma, ra = tt[good], mdf_a[good], rms_a[good]
    hop = hop_s if hop_s is not None and hop_s > 0 else _hop(tt)
    n_initial = max(INITIAL_MIN, round(INITIAL_S / hop))
    n_ends = max(ENDS_MIN, round(ENDS_S / hop))
    empty = FatigueIndices(tt.size, ta.size, None, None, None, None, None, None, None, parts)
    if ta.size == 0:
        return empty
    initial = float(np.median(ma[:n_initial]))
    initial_rms = float(np.median(ra[:n_initial]))
    run = running_median(ma, n_initial)
    below = np.flatnonzero(run < (1.0 - DROP) * initial)
    drop = float(ta[below[0] + n_initial - 1]) if below.size else None
    mdf_trend = trend(ta, ma, initial, stride)
    rms_trend = trend(ta, ra, initial_rms, stride)
    quadrant = (
        jasa_quadrant(mdf_trend, rms_trend)
        if mdf_trend is not None and rms_trend is not None
        else None
    )
    first, last = float(np.median(ma[:n_ends])), float(np.median(ma[-n_ends:]))
    return FatigueIndices(
        n_windows=tt.size,
        n_usable=ta.size,
        initial_mdf_hz=initial,
        mdf_first_hz=first,
        mdf_last_hz=last,
        mdf_slope=mdf_trend,
        rms_slope=rms_trend,
        drop10_s=drop,
        quadrant=quadrant,
        contractions=parts,
    )
