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
