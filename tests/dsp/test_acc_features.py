"""Tremor features against analytic truth: a sinusoidal tremor of known size and frequency."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from monitor.core.config import AccDsp
from monitor.dsp.acc_features import AccFeatureKernel
from monitor.dsp.spectrum import SpectrumPlan


def kernel(fs: float, n_axes: int = 3) -> AccFeatureKernel:
    plan = SpectrumPlan(fs, int(4 * fs), dtype=np.float64)
    return AccFeatureKernel(plan, n_axes, (4.0, 12.0), (2.0, 15.0), (1.0, 0.45 * fs))


def tremor(
    fs: float, f0: float, amp: float, direction: np.ndarray, seconds: float = 4.0
) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return direction[:, None] * amp * np.sin(2 * np.pi * f0 * t)[None, :]


@pytest.mark.parametrize("fs", [50.0, 100.0, 200.0])
@pytest.mark.parametrize("f0", [5.2, 9.7, 11.0])
def test_sinusoidal_tremor(fs: float, f0: float) -> None:
    amp = 0.08
    x = tremor(fs, f0, amp, np.array([0.6, 0.0, 0.8]))
    feats = kernel(fs).compute(x)
    rms = amp / np.sqrt(2)
    assert abs(feats.tremor_peak_hz[0] - f0) < 0.1
    np.testing.assert_allclose(feats.tremor_rms, rms, rtol=0.02)
    np.testing.assert_allclose(feats.acc_rms, rms, rtol=0.01)
    np.testing.assert_allclose(feats.tremor_disp_mm, rms / (2 * np.pi * f0) ** 2 * 1e3, rtol=0.03)
    assert feats.tremor_ratio[0] > 0.97


def test_features_do_not_depend_on_how_the_sensor_is_worn() -> None:
    fs = 100.0
    rng = np.random.default_rng(4)
    x = tremor(fs, 8.5, 0.05, np.array([1.0, 0.0, 0.0])) + 0.01 * rng.standard_normal((3, 400))
    rotated = Rotation.random(random_state=3).as_matrix() @ x
    a, b = kernel(fs).compute(x), kernel(fs).compute(rotated)
    for name in ("acc_rms", "tremor_rms", "tremor_peak_hz", "tremor_ratio", "tremor_disp_mm"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9)


def test_slow_movement_is_not_tremor() -> None:
    fs = 100.0
    x = tremor(fs, 1.5, 1.0, np.array([0.0, 1.0, 0.0]))
    feats = kernel(fs).compute(x)
    assert feats.tremor_ratio[0] < 0.05
    assert feats.tremor_rms[0] < 0.05 * feats.acc_rms[0]


def test_many_vectors_in_one_call_match_one_by_one() -> None:
    fs = 50.0
    rng = np.random.default_rng(9)
    vectors = [rng.standard_normal((3, 200)) * s for s in (0.01, 0.1, 1.0)]
    together = kernel(fs).compute(np.concatenate(vectors))
    for i, v in enumerate(vectors):
        alone = kernel(fs).compute(v)
        assert alone.tremor_rms[0] == pytest.approx(together.tremor_rms[i], rel=1e-12)
        assert alone.tremor_peak_hz[0] == pytest.approx(together.tremor_peak_hz[i], rel=1e-12)


def production_kernel(fs: float) -> AccFeatureKernel:
    """The kernel as the engine builds it: default bands and the Blackman-Harris window."""
    acc = AccDsp()
    plan = SpectrumPlan(fs, int(4 * fs), int(4 * fs), np.float64, acc.spectral_window)
    return AccFeatureKernel(plan, 3, acc.tremor_band_hz, acc.peak_band_hz, (1.0, 0.45 * fs))


def gait(fs: float, cadence: float, seconds: float = 4.0) -> np.ndarray:
    """Vertical-ish acceleration of walking: the step at ``cadence`` with a 2nd harmonic
    stronger than the fundamental and a 3rd, as in gait recordings."""
    t = np.arange(int(seconds * fs)) / fs
    w = 2 * np.pi * cadence * t
    s = 1.2 * np.sin(w) + 1.6 * np.sin(2 * w + 0.4) + 0.6 * np.sin(3 * w + 1.1)
    return np.array([0.3, 0.2, 1.0])[:, None] * s[None, :]


@pytest.mark.parametrize("fs", [50.0, 100.0])
@pytest.mark.parametrize("cadence", [1.65, 1.82, 1.97])
def test_walking_harmonics_are_not_tremor(fs: float, cadence: float) -> None:
    feats = production_kernel(fs).compute(gait(fs, cadence))
    assert abs(feats.voluntary_hz[0] - cadence) < 0.1
    # The 2nd and 3rd harmonics (3.3-5.9 Hz) fill the tremor band's raw power; none of it
    # is a tremor once they are taken out.
    assert feats.tremor_peak_rms[0] < 0.02
    assert feats.tremor_rms[0] < 0.05


def test_a_tremor_off_the_harmonics_of_walking_is_still_measured() -> None:
    # Above the 5th harmonic (9.1 Hz, +- the Blackman-Harris main lobe of 1 Hz).
    fs = 100.0
    amp = 0.3
    x = gait(fs, 1.82) + tremor(fs, 11.2, amp, np.array([0.0, 1.0, 0.0]))
    feats = production_kernel(fs).compute(x)
    assert abs(feats.voluntary_hz[0] - 1.82) < 0.1
    np.testing.assert_allclose(feats.tremor_peak_rms[0], amp / np.sqrt(2), rtol=0.05)
    assert abs(feats.tremor_peak_hz[0] - 11.2) < 0.15


def test_an_impact_is_broadband_and_not_a_tremor_peak() -> None:
    fs = 100.0
    x = np.zeros((3, 400))
    x[2, 200:204] = [8.0, -5.0, 2.0, -1.0]  # a knock: a few samples of ringing
    feats = production_kernel(fs).compute(x)
    assert feats.tremor_rms[0] > 0.1
    assert feats.tremor_peak_rms[0] < 0.25 * feats.tremor_rms[0]


def test_a_pure_tremor_has_its_peak_rms_and_no_voluntary_rhythm() -> None:
    fs = 100.0
    amp = 0.08
    feats = production_kernel(fs).compute(tremor(fs, 5.2, amp, np.array([0.6, 0.0, 0.8])))
    np.testing.assert_allclose(feats.tremor_peak_rms[0], amp / np.sqrt(2), rtol=0.03)
    assert np.isnan(feats.voluntary_hz[0])


@pytest.mark.parametrize("fs", [50.0, 100.0])
def test_gait_whose_second_harmonic_dwarfs_the_step_is_still_voluntary(fs: float) -> None:
    # At the wrist the 2nd harmonic of the step (3.9 Hz) can carry 16x the fundamental's
    # power, and the stride's sway (half the cadence) shares the voluntary band. Before,
    # such gait was not recognised and its 2nd harmonic read as a 3.9-Hz tremor.
    cadence = 1.95
    t = np.arange(int(4 * fs)) / fs
    w = 2 * np.pi * cadence * t
    step = 0.5 * np.sin(w) + 2.0 * np.sin(2 * w + 0.4) + 0.8 * np.sin(3 * w + 1.1)
    sway = 0.5 * np.sin(0.5 * w + 0.3)
    x = np.array([0.3, 0.2, 1.0])[:, None] * step[None, :]
    x += np.array([1.0, 0.0, 0.0])[:, None] * sway[None, :]
    feats = production_kernel(fs).compute(x)
    assert abs(feats.voluntary_hz[0] - cadence) < 0.1
    assert feats.tremor_peak_rms[0] < 0.02


def _am_tone(fs: float, depth: float, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """A 6-Hz tone whose amplitude swings by ``depth`` at 0.5 Hz (sidebands 2 bins away,
    inside the envelope band), and its true envelope."""
    t = np.arange(int(4 * fs)) / fs
    env = 1.0 + depth * np.cos(2 * np.pi * 0.5 * t + phase)
    x = np.array([0.6, 0.0, 0.8])[:, None] * (0.1 * env * np.sin(2 * np.pi * 6.0 * t))[None, :]
    return x, 0.1 * env


@pytest.mark.parametrize("fs", [50.0, 200.0])
@pytest.mark.parametrize(("depth", "phase"), [(0.0, 0.0), (0.3, 0.7), (0.8, 2.0)])
def test_envelope_cv_of_an_amplitude_modulated_tone(fs: float, depth: float, phase: float) -> None:
    x, env = _am_tone(fs, depth, phase)
    edge = int(0.5 * fs)
    middle = env[edge:-edge]
    truth = middle.std() / middle.mean()
    cv = production_kernel(fs).compute(x).tremor_env_cv[0]
    assert cv == pytest.approx(truth, abs=0.01)


def test_bursts_with_pauses_have_an_unsteady_envelope() -> None:
    # Writing: strokes at 5 Hz for 1 s, a 0.5-s pause, and again; a tremor does not stop.
    fs = 100.0
    t = np.arange(400) / fs
    on = (np.mod(t, 1.5) < 1.0).astype(float)
    burst = np.array([0.0, 1.0, 0.0])[:, None] * (on * np.sin(2 * np.pi * 5.0 * t))[None, :]
    steady = np.array([0.0, 1.0, 0.0])[:, None] * np.sin(2 * np.pi * 5.0 * t)[None, :]
    feats = production_kernel(fs).compute(np.concatenate([burst, steady]))
    # Above the envelope CV of random narrow-band noise (Rayleigh), the detector's limit.
    assert feats.tremor_env_cv[0] > np.sqrt(4 / np.pi - 1) + 0.03
    assert feats.tremor_env_cv[1] < 0.05
