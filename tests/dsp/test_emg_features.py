"""EMG features against analytic truth and against independent reference code."""

import numpy as np
import pytest
import scipy.signal

from monitor.dsp.emg_features import EmgFeatureKernel
from monitor.dsp.spectrum import SpectrumPlan

FS = 2000.0
N = 2000


PATHS = [pytest.param(True, id="fused"), pytest.param(False, id="numpy")]


def kernel(
    dtype: type = np.float64,
    fs: float = FS,
    n: int = N,
    nperseg: int | None = None,
    fused: bool = True,
) -> EmgFeatureKernel:
    plan = SpectrumPlan(fs, n, nperseg, dtype)
    return EmgFeatureKernel(plan, 20.0, 450.0, fused=fused and plan.n_segments == 1)


@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("f0", [25.0, 60.0, 100.3, 123.75, 200.5, 333.33, 449.0])
def test_mdf_and_mnf_of_a_sine_is_its_frequency(dtype: type, f0: float, fused: bool) -> None:
    t = np.arange(N) / FS
    phases = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    x = 0.7 * np.sin(2 * np.pi * f0 * t[None, :] + phases[:, None])
    feats = kernel(dtype, fused=fused).compute(x.astype(dtype))
    assert np.all(np.abs(feats.mdf_hz - f0) < 0.5)
    assert np.all(np.abs(feats.mnf_hz - f0) < 0.5)
    np.testing.assert_allclose(feats.rms, 0.7 / np.sqrt(2), rtol=2e-3)
    if FS / f0 >= 16:  # mean |x| of a coarsely sampled sine depends on where the samples fall
        np.testing.assert_allclose(feats.arv, 0.7 * 2 / np.pi, rtol=2e-3)


def band_limited_noise(rng: np.random.Generator, rows: int, a: float, b: float) -> np.ndarray:
    """White noise with a flat spectrum exactly over [a, b] Hz (FFT brick wall)."""
    spec = np.fft.rfft(rng.standard_normal((rows, N)), axis=1)
    f = np.fft.rfftfreq(N, 1 / FS)
    spec[:, (f < a) | (f > b)] = 0
    return np.fft.irfft(spec, n=N, axis=1)


@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize(("a", "b"), [(50.0, 250.0), (30.0, 120.0), (100.0, 400.0)])
def test_band_limited_white_noise_median_is_band_centre(a: float, b: float, fused: bool) -> None:
    rng = np.random.default_rng(7)
    x = band_limited_noise(rng, 200, a, b)
    for dtype in (np.float32, np.float64):
        feats = kernel(dtype, fused=fused).compute(x.astype(dtype))
        centre = (a + b) / 2
        assert abs(np.mean(feats.mdf_hz) - centre) / centre < 0.02
        assert abs(np.mean(feats.mnf_hz) - centre) / centre < 0.02
        # One window is a noisy estimate, but not wildly so.
        assert abs(np.median(feats.mdf_hz) - centre) / centre < 0.03


def reference_features(x: np.ndarray, fs: float, nperseg: int) -> dict[str, np.ndarray]:
    """Independent implementation: scipy's Welch PSD and a plain per-window loop."""
    f, p = scipy.signal.welch(x, fs=fs, nperseg=nperseg, detrend=False, axis=-1)
    df = f[1] - f[0]
    sel = (f >= 20.0 - 1e-9) & (f <= 450.0 + 1e-9)
    out: dict[str, list[float]] = {"mdf_hz": [], "mnf_hz": [], "fi_nsm5": [], "band_power": []}
    for row in p[:, sel]:
        fb = f[sel]
        total = sum(row)
        cum = 0.0
        mdf = float("nan")
        for fk, pk in zip(fb, row, strict=True):
            if cum + pk >= total / 2:
                mdf = fk - df / 2 + (total / 2 - cum) / pk * df
                break
            cum += pk
        out["mdf_hz"].append(mdf)
        out["mnf_hz"].append(float(np.dot(fb, row) / total))
        out["fi_nsm5"].append(float(np.sum(row / fb) * df / (np.sum(row * fb**5) * df)))
        out["band_power"].append(float(total * df))
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize("nperseg", [N, N // 2])
def test_features_equal_reference_implementation(nperseg: int, fused: bool) -> None:
    rng = np.random.default_rng(11)
    # Coloured noise with an EMG-like spectrum.
    b, a = scipy.signal.butter(2, [40, 200], btype="bandpass", fs=FS)
    x = scipy.signal.lfilter(b, a, rng.standard_normal((64, N)), axis=1)
    ours = kernel(np.float64, nperseg=nperseg, fused=fused).compute(x)
    ref = reference_features(x, FS, nperseg)
    np.testing.assert_allclose(ours.mdf_hz, ref["mdf_hz"], rtol=1e-9)
    np.testing.assert_allclose(ours.mnf_hz, ref["mnf_hz"], rtol=1e-9)
    np.testing.assert_allclose(ours.fi_nsm5, ref["fi_nsm5"], rtol=1e-6)
    np.testing.assert_allclose(ours.band_power, ref["band_power"], rtol=1e-9)
    np.testing.assert_allclose(ours.rms, np.sqrt(np.mean(x**2, axis=1)), rtol=1e-12)
    np.testing.assert_allclose(ours.arv, np.mean(np.abs(x), axis=1), rtol=1e-12)


def test_fi_nsm5_rises_when_the_spectrum_compresses() -> None:
    """Fatigue compresses the spectrum (lower MDF): FInsm5 must rise, MDF fall."""
    rng = np.random.default_rng(5)
    fresh = band_limited_noise(rng, 50, 60.0, 300.0)
    tired = band_limited_noise(rng, 50, 40.0, 200.0)
    k = kernel()
    a, b = k.compute(fresh), k.compute(tired)
    assert np.mean(b.fi_nsm5) > 2 * np.mean(a.fi_nsm5)
    assert np.mean(b.mdf_hz) < np.mean(a.mdf_hz)


@pytest.mark.parametrize("fused", PATHS)
def test_flat_window_gives_nan_not_an_error(fused: bool) -> None:
    x = np.zeros((3, N))
    x[1] = 5.0
    x[2] = np.sin(2 * np.pi * 80 * np.arange(N) / FS)
    with np.errstate(all="raise"):
        feats = kernel(fused=fused).compute(x)
    assert np.isnan(feats.mdf_hz[:2]).all()
    assert np.isnan(feats.mnf_hz[:2]).all()
    assert np.isnan(feats.fi_nsm5[:2]).all()
    assert feats.rms[0] == 0
    assert abs(feats.mdf_hz[2] - 80.0) < 0.5


def test_low_rate_device_band_is_clipped_to_0_45_fs() -> None:
    """A 200 Hz device (Myo): the band ends at 90 Hz and the features still work."""
    fs, n = 200.0, 200
    k = EmgFeatureKernel(SpectrumPlan(fs, n, dtype=np.float64), 20.0, min(450.0, 0.45 * fs))
    t = np.arange(n) / fs
    feats = k.compute(np.sin(2 * np.pi * 55.0 * t)[None, :])
    assert k.band.hi * k.band.df == 90.0
    assert abs(feats.mdf_hz[0] - 55.0) < 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_path_equals_numpy_reference_with_mains_and_flat_rows(dtype: type) -> None:
    rng = np.random.default_rng(21)
    t = np.arange(N) / FS
    x = rng.standard_normal((300, N))
    x[:50] += 3.0 * np.sin(2 * np.pi * 50.0 * t)  # strong 50 Hz mains
    x[50:80] += 2.0 * np.sin(2 * np.pi * 60.0 * t) + 0.6 * np.sin(2 * np.pi * 180.0 * t)
    x[80:90] = 0.0
    x[90] = 5.0
    plan = SpectrumPlan(FS, N, dtype=dtype)
    fused = EmgFeatureKernel(plan, 20.0, 450.0, True, fused=True).compute(x.astype(dtype))
    ref = EmgFeatureKernel(plan, 20.0, 450.0, True, fused=False).compute(x.astype(dtype))
    tol = 1e-9 if dtype is np.float64 else 1e-5
    for name, value in fused.as_dict().items():
        np.testing.assert_allclose(
            value, ref.as_dict()[name], rtol=tol, equal_nan=True, err_msg=name
        )
    assert np.all(fused.mains_share[:80] > 0.5)
    assert np.all(fused.mains_share[100:] == 0.0)
    assert np.isnan(fused.mdf_hz[80:91]).all()


def test_mains_interpolation_restores_the_emg_median() -> None:
    """A mains line as strong as the EMG drags MDF toward 50 Hz; interpolation undoes it."""
    rng = np.random.default_rng(5)
    clean = band_limited_noise(rng, 100, 60.0, 240.0)
    t = np.arange(N) / FS
    dirty = clean + 2.0 * np.std(clean) * np.sin(2 * np.pi * 50.0 * t)
    plain = kernel().compute(dirty)
    plan = SpectrumPlan(FS, N, dtype=np.float64)
    fixed = EmgFeatureKernel(plan, 20.0, 450.0, True).compute(dirty)
    truth = kernel().compute(clean)
    assert np.mean(plain.mdf_hz) < 0.8 * np.mean(truth.mdf_hz)
    assert abs(np.mean(fixed.mdf_hz) - np.mean(truth.mdf_hz)) < 0.03 * np.mean(truth.mdf_hz)
