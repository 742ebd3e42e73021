"""Robust noise estimates shared by the fatigue and tremor baselines."""

from __future__ import annotations

import math
import statistics

# Feature estimates of consecutive non-overlapping windows are not independent: MDF and
# tremor power wander with force and posture. Measured lag-1 correlation of non-overlapping
# 1 s MDF windows about 0.35 (simulated holds) to 0.3-0.5 (the real holds in tests/data),
# i.e. a variance inflation 1 + 2 sum(rho) of about 2; baselines inflate their sigma by its
# square root so that a CUSUM's designed ARL0 stays honest.
WANDER_VIF = 2.0


def sigma_mad(values: list[float]) -> float:
    if len(values) < 3:
        return math.nan
    med = statistics.median(values)
    return 1.4826 * statistics.median(abs(x - med) for x in values)


def sigma_lag(values: list[float], lag: int = 2) -> float:
    """Noise sd of a series from its lag differences, robust to outliers and trends.

    The lag is that of non-overlapping windows (window / hop), so the differences are of
    windows that share no samples."""
    if len(values) < lag + 2:
        return math.nan
    d = [b - a for a, b in zip(values[:-lag], values[lag:], strict=True)]
    med = statistics.median(d)
    mad = statistics.median(abs(x - med) for x in d)
    return 1.4826 * mad / math.sqrt(2.0)


def baseline_sigma(values: list[float], lag: int, floor: float) -> float:
    """The larger of the trend-robust and the spread estimate, at least ``floor``, inflated
    for wander (``WANDER_VIF``)."""
    est = max(
        (s for s in (sigma_lag(values, lag), sigma_mad(values)) if math.isfinite(s)), default=0.0
    )
    return max(floor, est) * math.sqrt(WANDER_VIF)


def baseline_stats_reference(
    sample: list[tuple[float, float, float]], lag: int, floor: float
) -> tuple[float, float, float, float]:
    """A fatigue baseline from its sample of (mdf, log_rms, log_fi) windows: the median
    MDF, the sigma of MDF relative to it (``baseline_sigma``), the median log RMS and
    exp(median log FI) over the finite ones. The plain-Python reference of
    ``_compiled.baseline_stats`` (used where numba is missing; held equal by the tests)."""
    mdfs = [m for m, _, _ in sample]
    mdf0 = statistics.median(mdfs)
    sigma_rel = baseline_sigma([m / mdf0 for m in mdfs] if mdf0 > 0 else mdfs, lag, floor)
    fis = [f for _, _, f in sample if math.isfinite(f)]
    return (
        mdf0,
        sigma_rel,
        statistics.median(r for _, r, _ in sample),
        math.exp(statistics.median(fis)) if fis else math.nan,
    )
