import unittest.mock

import numpy as np
import pytest
import scipy.signal

from monitor.core.errors import SettingsError
from monitor.dsp import filters
from monitor.dsp.filters import StreamingFilter, emg_sos, highpass_sos


def tone_gain(sos: np.ndarray, fs: float, f: float) -> float:
    t = np.arange(int(4 * fs)) / fs
    y = scipy.signal.sosfilt(sos, np.sin(2 * np.pi * f * t))
    return float(np.sqrt(np.mean(y[len(y) // 2 :] ** 2)) * np.sqrt(2))


def test_emg_band_pass_and_notch() -> None:
    sos, band = emg_sos(2000.0, (20.0, 450.0), 4, mains_hz=60.0)
    assert band == (20.0, 450.0)
    assert tone_gain(sos, 2000.0, 100.0) == pytest.approx(1.0, abs=0.05)
    assert tone_gain(sos, 2000.0, 5.0) < 0.01
    assert tone_gain(sos, 2000.0, 700.0) < 0.05  # 8th order: (450/700)^8
    assert tone_gain(sos, 2000.0, 950.0) < 0.01
    for harmonic in (60.0, 180.0, 420.0):
        assert tone_gain(sos, 2000.0, harmonic) < 0.02


def test_band_is_clipped_and_too_low_rate_is_refused() -> None:
    _, band = emg_sos(200.0, (20.0, 450.0), 4)
    assert band == (20.0, 90.0)
    with pytest.raises(SettingsError, match="too low for an EMG band"):
        emg_sos(40.0, (20.0, 450.0), 4)
    with pytest.raises(SettingsError, match="high-pass corner"):
        highpass_sos(1.5, 1.0, 2)


def test_streaming_filter_equals_whole_and_starts_without_a_step() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5000)) + 100.0  # large offset, e.g. ADC counts
    sos = highpass_sos(100.0, 1.0, 2)
    whole = StreamingFilter(sos)(x)
    f = StreamingFilter(sos)
    parts = [f(x[:, a:b]) for a, b in [(0, 1), (1, 700), (700, 701), (701, 5000)]]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=0, atol=1e-9)
    # Steady-state start: no 100-unit step response ringing through the first second.
    assert np.max(np.abs(whole[:, :100])) < 10.0


def test_steady_state_is_computed_once_per_design() -> None:
    # A flood of new streams at one rate must not pay sosfilt_zi (0.4-1.5 ms) per stream.
    sos, _ = emg_sos(1111.0, (20.0, 450.0), 4, mains_hz=50.0)
    with unittest.mock.patch.object(
        filters.scipy.signal, "sosfilt_zi", wraps=scipy.signal.sosfilt_zi
    ) as zi:
        streams = [StreamingFilter(emg_sos(1111.0, (20.0, 450.0), 4, mains_hz=50.0)[0])]
        streams += [StreamingFilter(sos.copy()) for _ in range(50)]
    assert zi.call_count == 1
    np.testing.assert_array_equal(streams[-1]._zi_unit, scipy.signal.sosfilt_zi(sos))
    # Each stream's state is its own: filtering one leaves the others where they were.
    x = np.full((1, 10), 3.0)
    y0 = streams[0](x)
    streams[0](np.ones((1, 10)) * 7.0)
    np.testing.assert_allclose(streams[1](x), y0, rtol=0, atol=1e-12)
