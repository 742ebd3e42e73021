"""Fatigue indices against analytic truth and the scipy/numpy references."""

import math
import time

import numpy as np
import pytest
from scipy import stats

from monitor.core.indices import (
    INITIAL_S,
    MAX_POINTS,
    at_rest,
    contraction_bounds,
    fatigue_indices,
    jasa_quadrant,
    trend,
)

HOP = 0.5
N_INITIAL = round(INITIAL_S / HOP)


def linear(
    minutes: float,
    mdf_pct_per_min: float,
    rms_pct_per_min: float = 0.0,
    sd: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window times, MDF (100 Hz at t = 0) and RMS (1.0) changing linearly, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, round(minutes * 60 / HOP) + 1) * HOP
    mdf = 100.0 * (1 + mdf_pct_per_min / 100 * t / 60) + sd * rng.standard_normal(t.size)
    rms = 1.0 * (1 + rms_pct_per_min / 100 * t / 60) + sd / 100 * rng.standard_normal(t.size)
    return t, mdf, rms


def indices_of(t: np.ndarray, mdf: np.ndarray, rms: np.ndarray, usable: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    mask = np.ones(t.size, bool) if usable is None else usable
    return fatigue_indices(t, mdf, mdf * 1.2, rms, mask)


def test_noise_free_decline_gives_the_exact_slope_in_percent_of_the_initial_mdf() -> None:
    t, mdf, rms = linear(5.0, -2.0)
    ind = indices_of(t, mdf, rms)
    initial = float(np.median(mdf[:N_INITIAL]))  # the value at the first 10 s's middle
    assert ind.initial_mdf_hz == pytest.approx(100.0 * (1 - 0.02 * np.median(t[:N_INITIAL]) / 60))
    assert ind.initial_mdf_hz == pytest.approx(initial)
    assert ind.mdf_slope is not None
    # -2 Hz/min of a 100 Hz start, expressed in % of the initial MDF.
    assert ind.mdf_slope.pct_per_min == pytest.approx(-2.0 * 100 / initial, rel=1e-9)
    assert ind.mdf_slope.lo == pytest.approx(ind.mdf_slope.pct_per_min, rel=1e-9)


def test_noisy_decline_ci_contains_the_true_slope_and_matches_scipy() -> None:
    t, mdf, rms = linear(3.0, -2.0, sd=1.5, seed=1)  # 360 windows: not thinned
    ind = indices_of(t, mdf, rms)
    assert ind.mdf_slope is not None and ind.initial_mdf_hz is not None
    initial = ind.initial_mdf_hz
    truth = -2.0 * 100 / initial
    assert ind.mdf_slope.lo < truth < ind.mdf_slope.hi
    assert ind.mdf_slope.hi < 0  # a clear fall
    ref = stats.theilslopes(mdf, (t - t[0]) / 60, alpha=0.95)
    assert ind.mdf_slope.pct_per_min == pytest.approx(ref.slope * 100 / initial, rel=1e-12)
    assert ind.mdf_slope.lo == pytest.approx(ref.low_slope * 100 / initial, rel=1e-12)
    assert ind.mdf_slope.hi == pytest.approx(ref.high_slope * 100 / initial, rel=1e-12)
    ls = np.polyfit(t / 60, mdf, 1)[0] * 100 / initial
    assert ind.mdf_slope.pct_per_min == pytest.approx(ls, abs=0.3)  # same line, other estimator


def test_ci_covers_the_true_slope_about_95_percent_of_the_time() -> None:
    hits = 0
    runs = 200
    for seed in range(runs):
        t, y, _ = linear(2.5, -2.0, sd=3.0, seed=seed)
        tr = trend(t, y, 100.0)
        assert tr is not None
        hits += tr.lo <= -2.0 <= tr.hi
    assert 0.90 <= hits / runs <= 0.99


def test_one_wild_window_does_not_tilt_the_slope() -> None:
    t, mdf, rms = linear(3.0, -2.0, sd=1.0, seed=2)
    spiked = mdf.copy()
    spiked[-5:] = 400.0  # five artefact windows at the end
    robust = indices_of(t, spiked, rms).mdf_slope
    assert robust is not None and robust.lo < -2.0 * 100 / 99.8 < robust.hi
    ls = np.polyfit(t / 60, spiked, 1)[0]
    assert ls > 0  # least squares would even call it a rise


def test_time_to_a_10_percent_drop_matches_the_analytic_crossing() -> None:
    rate = -10.0  # % of 100 Hz per minute
    t, mdf, rms = linear(3.0, rate)
    ind = indices_of(t, mdf, rms)
    assert ind.initial_mdf_hz is not None and ind.drop10_s is not None
    # The trailing median of 20 windows ending at t sits at t - 4.75 s; it reaches 90 % of
    # the initial MDF when 100 (1 + rate/100 (t - 4.75)/60) = 0.9 initial.
    crossing = 4.75 + (0.9 * ind.initial_mdf_hz / 100 - 1) * 60 * 100 / rate
    assert crossing <= ind.drop10_s < crossing + HOP
    assert indices_of(*linear(3.0, -1.0)).drop10_s is None  # 3 % in 3 min: never


@pytest.mark.parametrize(
    ("mdf_rate", "rms_rate", "quadrant"),
    [
        (-5.0, 5.0, "fatigue"),
        (5.0, 5.0, "force increase"),
        (-5.0, -5.0, "force decrease"),
        (5.0, -5.0, "recovery"),
        (0.0, 0.0, "no clear change"),
    ],
)
def test_jasa_quadrants(mdf_rate: float, rms_rate: float, quadrant: str) -> None:
    ind = indices_of(*linear(4.0, mdf_rate, rms_rate, sd=2.0, seed=4))
    assert ind.mdf_slope is not None and ind.rms_slope is not None
    assert ind.quadrant == quadrant
    assert jasa_quadrant(ind.mdf_slope, ind.rms_slope) == quadrant
    assert ind.quadrant_caveat is None
    if quadrant == "no clear change":
        assert not ind.mdf_slope.clear and not ind.rms_slope.clear
    else:
        assert math.copysign(1, ind.mdf_slope.pct_per_min) == math.copysign(1, mdf_rate)
        assert math.copysign(1, ind.rms_slope.pct_per_min) == math.copysign(1, rms_rate)


def test_a_quadrant_resting_on_one_unclear_slope_says_so() -> None:
    ind = indices_of(*linear(4.0, -5.0, 0.0, sd=2.0, seed=4))
    assert ind.mdf_slope is not None and ind.mdf_slope.clear
    assert ind.rms_slope is not None and not ind.rms_slope.clear
    assert ind.quadrant in ("fatigue", "force decrease")  # by the RMS slope's sign
    assert ind.quadrant_caveat == "RMS slope's 95 % CI includes 0"
    assert ind.to_dict()["rms_slope"]["clear"] is False


def test_contractions_are_runs_of_usable_windows() -> None:
    usable = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 1], bool)
    starts, ends = contraction_bounds(usable)
    assert starts.tolist() == [1, 6, 9] and ends.tolist() == [4, 8, 10]
    t = np.arange(1, 11) * HOP
    mdf = np.array([300, 90, 80, 85, 300, 300, 70, 60, 300, 50], float)
    rms = 1.0 + 0.1 * np.arange(10, dtype=float)  # one working level: no rest by hindsight
    ind = fatigue_indices(t, mdf, mdf + 10, rms, usable)
    got = [(c.start_s, c.end_s, c.n_windows, c.mdf_hz, c.mnf_hz, c.rms) for c in ind.contractions]
    assert got == [
        (1.0, 2.0, 3, 85.0, 95.0, pytest.approx(1.2)),
        (3.5, 4.0, 2, 65.0, 75.0, pytest.approx(1.65)),
        (5.0, 5.0, 1, 50.0, 60.0, pytest.approx(1.9)),
    ]
    assert ind.n_usable == 6 and ind.n_windows == 10


def test_rest_windows_at_the_end_do_not_read_as_an_mdf_rise() -> None:
    t, mdf, rms = linear(2.0, -10.0, sd=1.0, seed=5)
    rest = t > t[-1] - 10.0
    mdf[rest] = 220.0  # the noise floor's MDF
    rms[rest] = 0.01
    ind = indices_of(t, mdf, rms, ~rest)
    assert ind.mdf_change_pct is not None and ind.mdf_change_pct < -10.0
    assert ind.quadrant == "fatigue"
    assert all(c.mdf_hz < 110 for c in ind.contractions)
    # Even where the live gate called the rest active (it had not seen rest yet), the
    # indices see with hindsight that those windows sit at the noise floor.
    every = indices_of(t, mdf, rms)
    assert every.mdf_change_pct is not None and every.mdf_change_pct < -10.0
    assert at_rest(rms).sum() == rest.sum()


def test_an_eight_hour_shift_is_thinned_not_quadratic() -> None:
    t, mdf, rms = linear(8 * 60.0, -0.05, sd=3.0, seed=6)
    started = time.perf_counter()
    ind = indices_of(t, mdf, rms)
    assert time.perf_counter() - started < 2.0  # about 0.2 s here; pairs would be 1.7e9
    assert ind.mdf_slope is not None and ind.mdf_slope.n_points <= MAX_POINTS
    assert ind.mdf_slope.lo < -0.05 * 100 / ind.initial_mdf_hz < ind.mdf_slope.hi  # type: ignore[operator]


def test_stride_keeps_every_nth_window() -> None:
    t, mdf, rms = linear(2.0, -2.0, sd=1.0)
    full = fatigue_indices(t, mdf, mdf, rms, np.ones(t.size, bool))
    half = fatigue_indices(t, mdf, mdf, rms, np.ones(t.size, bool), stride=2)
    assert full.mdf_slope is not None and half.mdf_slope is not None
    assert half.mdf_slope.n_points == (full.mdf_slope.n_points + 1) // 2


def test_without_usable_windows_every_index_is_none() -> None:
    t, mdf, rms = linear(1.0, -2.0)
    ind = fatigue_indices(t, mdf, mdf, rms, np.zeros(t.size, bool))
    d = ind.to_dict()
    assert d["n_usable"] == 0 and d["contractions"] == []
    assert all(d[k] is None for k in ("initial_mdf_hz", "mdf_slope", "drop10_s", "quadrant"))
    two = fatigue_indices(t[:2], mdf[:2], mdf[:2], rms[:2], np.ones(2, bool))
    assert two.mdf_slope is None and two.quadrant is None and two.initial_mdf_hz is not None
