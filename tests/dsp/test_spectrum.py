"""The batched PSD is scipy.signal.welch, bin for bin."""

import numpy as np
import pytest
import scipy.signal

from monitor.dsp.spectrum import SpectrumPlan


@pytest.mark.parametrize(("n", "nperseg"), [(2000, 2000), (2000, 1000), (2048, 512), (401, 401)])
def test_psd_equals_scipy_welch(n: int, nperseg: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((37, n)) * 3.0 + 0.5
    plan = SpectrumPlan(1500.0, n, nperseg, np.float64)
    ours = plan.psd(x)
    f, ref = scipy.signal.welch(x, fs=1500.0, nperseg=nperseg, detrend=False, axis=-1)
    np.testing.assert_allclose(plan.freqs, f, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=0)
    # scipy's default detrend only changes bins 0 and 1 for a Hann window.
    _, ref_detrended = scipy.signal.welch(x, fs=1500.0, nperseg=nperseg, axis=-1)
    np.testing.assert_allclose(ours[:, 2:], ref_detrended[:, 2:], rtol=1e-6)


def test_psd_band_slice_and_float32() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 2000))
    plan64 = SpectrumPlan(2000.0, 2000, dtype=np.float64)
    plan32 = SpectrumPlan(2000.0, 2000, dtype=np.float32)
    band = plan64.band(20.0, 450.0)
    assert (band.lo, band.hi) == (20, 450)
    full = plan64.psd(x)
    np.testing.assert_allclose(plan64.psd(x, band), full[:, 20:451], rtol=1e-12)
    np.testing.assert_allclose(plan32.psd(x.astype(np.float32), band), full[:, 20:451], rtol=2e-4)


def test_parseval_white_noise_density() -> None:
    """Integrating the density over all bins gives the variance (about: a Hann window)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 2000)) * 2.0
    plan = SpectrumPlan(1000.0, 2000, dtype=np.float64)
    total = plan.psd(x).sum(axis=1) * plan.df
    assert abs(total.mean() - 4.0) / 4.0 < 0.01
