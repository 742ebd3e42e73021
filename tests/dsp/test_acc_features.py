"""Tremor features against analytic truth: a sinusoidal tremor of known size and frequency."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

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
