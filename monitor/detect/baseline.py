"""A fatigue channel's baseline: the statistics of its first fresh contractions.

Kept apart from the detector's state machine: how the baseline is estimated (robust
median and noise sigma, compiled when numba is there) is one job, when to learn it is
another."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.detect import _compiled
from monitor.detect.robust import WANDER_VIF, baseline_stats_reference

#: One learned window: (spectral index, log RMS, log FI, MDF in Hz).
Row = tuple[float, float, float, float]


@dataclass
class Baseline:
    """``mdf`` is the baseline of the spectral index the CUSUM watches (see
    ``spectral_index``); ``mdf_hz`` the median MDF itself, for messages and events."""

    mdf: float
    sigma_rel: float
    log_rms: float
    fi: float
    provisional: bool
    mdf_hz: float = math.nan


def fit_baseline(
    sample: list[Row],
    array: npt.NDArray[np.float64],
    stride: int,
    min_sigma: float,
    provisional: bool,
) -> Baseline:
    """The baseline of ``sample`` (``array``: its first three columns, kept up to date by
    a ``SampleMirror``); the noise sigma from lag-``stride`` differences."""
    if _compiled.AVAILABLE:
        stats = _compiled.baseline_stats(array, stride, min_sigma, WANDER_VIF)
    else:  # pragma: no cover - only where numba is missing
        stats = baseline_stats_reference([x[:3] for x in sample], stride, min_sigma)
    mdf0, sigma_rel, log_rms, fi = (float(v) for v in stats)
    return Baseline(
        mdf=mdf0,
        sigma_rel=sigma_rel,
        log_rms=log_rms,
        fi=fi,
        provisional=provisional,
        mdf_hz=statistics.median(x[3] for x in sample),
    )


class SampleMirror:
    """A baseline sample (a list that grows) as an (n, 3) array, brought up to date with
    only the rows appended since the last call: rebuilding it from the list cost more than
    the fit. ``reset`` after the list was replaced or shrunk."""

    def __init__(self) -> None:
        self._array: npt.NDArray[np.float64] = np.empty((0, 3))
        self._of: list[Row] | None = None
        self._n = 0

    def reset(self) -> None:
        self._of = None

    def array(self, sample: list[Row]) -> npt.NDArray[np.float64]:
        n = len(sample)
        if self._of is not sample or self._n > n:
            self._array = np.empty((max(n, 16), 3))
            self._of, self._n = sample, 0
        if n > len(self._array):
            grown = np.empty((2 * n, 3))
            grown[: self._n] = self._array[: self._n]
            self._array = grown
        if n > self._n:
            self._array[self._n : n] = [x[:3] for x in sample[self._n : n]]
            self._n = n
        return self._array[:n]
