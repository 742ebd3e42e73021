"""The compiled baseline statistics against their plain-Python reference: equal floats,
so a detector decides the same with and without numba."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from monitor.detect import _compiled
from monitor.detect.robust import WANDER_VIF, baseline_stats_reference

pytestmark = pytest.mark.skipif(not _compiled.AVAILABLE, reason="numba not installed")


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("seed", range(8))
def test_compiled_stats_equal_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3, 4, 5, 17, 60, 119, 120):
        rows = np.column_stack(
            [
                80.0 + rng.normal(0.0, 3.0, n),
                rng.normal(3.0, 0.1, n),
                np.where(rng.random(n) < 0.15, np.nan, rng.normal(-20.0, 1.0, n)),
            ]
        )
        if seed == 0:
            rows[:, 0] = np.round(rows[:, 0])  # ties in the medians
        if seed == 1:
            rows[:, 0] = -rows[:, 0]  # MDF0 <= 0: no relative scaling
        sample = [(float(a), float(b), float(c)) for a, b, c in rows]
        for lag in (1, 2):
            want = baseline_stats_reference(sample, lag, 0.02)
            got = _compiled.baseline_stats(rows, lag, 0.02, WANDER_VIF)
            assert all(_same(float(g), w) for g, w in zip(got, want, strict=True)), (n, lag)


def test_reference_against_analytic_values() -> None:
    """A sample whose medians and spreads are known by hand."""
    sample = [(100.0 + d, math.log(2.0), math.log(3.0)) for d in (-2.0, -1.0, 0.0, 1.0, 2.0)]
    mdf0, sigma_rel, log_rms, fi = baseline_stats_reference(sample, 2, 0.0)
    assert mdf0 == 100.0 and log_rms == math.log(2.0) and fi == pytest.approx(3.0)
    # lag-2 differences are all 0.02 (MAD 0); the spread MAD is 0.01 -> 1.4826 * 0.01
    assert sigma_rel == pytest.approx(1.4826 * 0.01 * math.sqrt(WANDER_VIF))
    assert statistics.median(m for m, _, _ in sample) == mdf0


def test_the_sample_mirror_follows_appends_clears_and_replacements() -> None:
    from monitor.detect.baseline import SampleMirror

    mirror = SampleMirror()
    sample: list = []  # type: ignore[type-arg]
    rows = [(float(i), float(i) / 10, -float(i), float(i)) for i in range(40)]
    for i, row in enumerate(rows):
        sample.append(row)
        if i % 7 == 0:
            np.testing.assert_array_equal(mirror.array(sample), np.array(sample)[:, :3])
    np.testing.assert_array_equal(mirror.array(sample), np.array(rows)[:, :3])
    sample.clear()
    sample.extend(rows[:3])  # shorter than before: rebuilt, not stale
    np.testing.assert_array_equal(mirror.array(sample), np.array(rows[:3])[:, :3])
    sample = [(9.0, 9.0, 9.0, 9.0)] * 3  # a new list of the same length
    np.testing.assert_array_equal(mirror.array(sample), np.full((3, 3), 9.0))


def test_channels_compare_by_state_not_by_their_array_cache() -> None:
    from monitor.core.config import Settings
    from monitor.detect.fatigue import FatigueChannel

    a = FatigueChannel(Settings().detect.emg, 0.5, 2)
    b = FatigueChannel(Settings().detect.emg, 0.5, 2)
    a.sample.append((80.0, 3.0, -20.0))
    b.sample.append((80.0, 3.0, -20.0))
    a._mirror.array(a.sample)  # only a has built its cache
    assert a == b
    b.sample.append((81.0, 3.0, -20.0))
    assert a != b
