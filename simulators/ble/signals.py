"""Simulator signals shaped for the virtual BLE devices.

The EMG model needs at least 250 Hz; a Myo samples at 200 Hz. ``myo_emg`` simulates at
1 kHz and decimates by 5 with an anti-alias FIR filter, as the armband's own front end
band-limits before sampling. ``polar_acc`` is the accelerometer model at an H10 rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.signal

from simulators.acc import AccGenerator, AccScenario
from simulators.emg import EmgGenerator, EmgScenario

MYO_OVERSAMPLE = 5


def myo_emg(
    duration_s: float,
    onset_s: float | None = None,
    decline_per_min: float = 0.4,
    mdf0_hz: float = 60.0,
    seed: int = 0,
    channels: int = 8,
) -> npt.NDArray[np.float64]:
    """EMG in mV, ``channels`` x samples at 200 Hz; fatigue starts at ``onset_s``."""
    sc = EmgScenario(
        fs=200.0 * MYO_OVERSAMPLE,
        n_channels=channels,
        duration_s=duration_s,
        onset_s=onset_s,
        decline_per_min=decline_per_min,
        mdf0_hz=mdf0_hz,
    )
    x = EmgGenerator(sc, np.random.default_rng(seed)).read(sc.n_samples)
    y: npt.NDArray[np.float64] = scipy.signal.decimate(
        np.asarray(x, dtype=np.float64), MYO_OVERSAMPLE, ftype="fir", axis=1, zero_phase=True
    )
    return y


def polar_acc(
    duration_s: float,
    onset_s: float | None = None,
    fs: float = 200.0,
    seed: int = 0,
    **scenario: Any,
) -> npt.NDArray[np.float64]:
    """Acceleration in m/s^2, 3 x samples; tremor grows from ``onset_s``."""
    sc = AccScenario(fs=fs, duration_s=duration_s, onset_s=onset_s, **scenario)
    return np.asarray(AccGenerator(sc, np.random.default_rng(seed)).read(sc.n_samples), float)
