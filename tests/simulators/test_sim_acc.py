"""The accelerometer generator against its analytic truth, measured with scipy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sim_helpers import bandpass, psd_peak, rms

from simulators.acc import ACC_CHANNELS, AccGenerator, AccScenario
from simulators.errors import ScenarioError


def generate(seed: int = 0, **kw: object) -> tuple[AccGenerator, np.ndarray]:
    gen = AccGenerator(AccScenario(**kw), np.random.default_rng(seed))
    return gen, gen.read_all()


def band_rms(x: np.ndarray, fs: float, band: tuple[float, float], t0: float, t1: float) -> float:
    """Vector RMS over the axes of the band-passed signal between t0 and t1."""
    y = bandpass(x, fs, band)[:, round(t0 * fs) : round(t1 * fs)]
    return float(np.sqrt(np.mean(np.sum(y * y, axis=0))))


@pytest.mark.parametrize("fs", [50.0, 100.0, 200.0])
def test_tremor_band_rms_and_peak_match_truth(fs: float) -> None:
    gen, x = generate(
        seed=int(fs),
        fs=fs,
        duration_s=300.0,
        onset_s=120.0,
        ramp_s=15.0,
        tremor_hz=9.0,
        tremor_rms0=0.02,
        tremor_gain=6.0,
        movement_rms=0.5,
        noise_rms=0.005,
    )
    truth = gen.truth()
    assert truth.tremor_band_hz == (4.0, 12.0)
    band = truth.tremor_band_hz
    assert truth.tremor_rms_before is not None and truth.tremor_rms_after is not None
    noise = truth.noise_band_rms or 0.0
    before = band_rms(x, fs, band, 5.0, 115.0)
    after = band_rms(x, fs, band, 140.0, 295.0)
    assert before == pytest.approx(np.hypot(truth.tremor_rms_before, noise), rel=0.15)
    assert after == pytest.approx(np.hypot(truth.tremor_rms_after, noise), rel=0.1)
    assert truth.tremor_rms_after / truth.tremor_rms_before == pytest.approx(6.0, rel=0.01)
    assert psd_peak(x[:, round(140 * fs) :], fs, *band) == pytest.approx(9.0, abs=0.5)
    assert truth.tremor_hz == 9.0
    # The curve ramps from before to after over 15 s.
    curve = truth.tremor_rms_true
    assert curve is not None
    assert curve.values[100] == pytest.approx(truth.tremor_rms_before)
    assert curve.values[135] == pytest.approx(truth.tremor_rms_after)
    assert truth.tremor_rms_before < curve.values[127] < truth.tremor_rms_after
    assert [p.kind for p in truth.phases] == ["baseline", "tremor_ramp", "tremor"]
    assert truth.fatigue and truth.expected_event == "tremor_onset"


def test_pathological_tremor_ramps_in_at_its_frequency() -> None:
    fs = 100.0
    gen, x = generate(
        seed=5,
        fs=fs,
        duration_s=200.0,
        onset_s=60.0,
        ramp_s=10.0,
        pathological_hz=5.0,
        pathological_rms=0.3,
    )
    truth = gen.truth()
    assert truth.tremor_hz == 5.0
    assert psd_peak(x[:, : round(55 * fs)], fs, 4.0, 12.0) == pytest.approx(10.0, abs=0.5)
    assert psd_peak(x[:, round(75 * fs) :], fs, 4.0, 12.0) == pytest.approx(5.0, abs=0.5)
    after = band_rms(x, fs, (4.0, 12.0), 75.0, 195.0)
    assert truth.tremor_rms_after is not None
    assert after == pytest.approx(truth.tremor_rms_after, rel=0.1)


def test_no_onset_is_stationary() -> None:
    gen, x = generate(seed=2, fs=100.0, duration_s=120.0)
    truth = gen.truth()
    assert truth.onset_s is None and not truth.fatigue and truth.expected_event is None
    assert truth.tremor_rms_before == truth.tremor_rms_after
    assert [p.kind for p in truth.phases] == ["baseline"]
    a = band_rms(x, 100.0, (4.0, 12.0), 5.0, 60.0)
    b = band_rms(x, 100.0, (4.0, 12.0), 60.0, 115.0)
    assert a == pytest.approx(b, rel=0.25)


def test_gravity_movement_and_tremor_direction() -> None:
    fs = 100.0
    gen, x = generate(
        seed=9,
        fs=fs,
        duration_s=120.0,
        onset_s=10.0,
        ramp_s=10.0,
        tremor_gain=10.0,
        movement_rms=0.5,
    )
    assert gen.channels == ACC_CHANNELS
    g = gen.realisation.gravity_dir
    assert np.linalg.norm(x.astype(np.float64).mean(axis=1)) == pytest.approx(9.81, rel=0.02)
    assert np.allclose(x.mean(axis=1) / 9.81, g, atol=0.03)
    # Movement sits below 3 Hz: nothing of it in the tremor band, most of it below 1 Hz.
    slow = bandpass(x, fs, (0.2, 3.0))
    assert np.sqrt(np.sum(rms(slow) ** 2)) == pytest.approx(0.5, rel=0.25)
    # The tremor is along one random 3-D direction, the principal axis of the band signal.
    y = bandpass(x, fs, (7.0, 12.0))[:, round(30 * fs) :]
    _, vecs = np.linalg.eigh(y @ y.T)
    assert abs(float(vecs[:, -1] @ gen.realisation.tremor_dir)) > 0.99
    assert np.max(np.abs(gen.realisation.tremor_dir)) < 0.999


def test_wobble_keeps_gravity_magnitude() -> None:
    _, x = generate(
        seed=1,
        fs=50.0,
        duration_s=60.0,
        gravity_wobble_deg=10.0,
        movement_rms=0.0,
        tremor_rms0=0.0,
        noise_rms=0.0,
    )
    norm = np.linalg.norm(x.astype(np.float64), axis=0)
    assert np.allclose(norm, 9.81, rtol=1e-5)
    assert np.ptp(x, axis=1).max() > 0.5


def test_chunks_reproducibility_and_seeds() -> None:
    kw = {"fs": 200.0, "duration_s": 95.5, "onset_s": 30.0, "gravity_wobble_deg": 5.0}
    _, whole = generate(seed=4, **kw)
    gen = AccGenerator(AccScenario(**kw), np.random.default_rng(4))
    sizes = np.random.default_rng(1)
    parts = []
    while gen.remaining:
        parts.append(gen.read(int(sizes.integers(1, 7000))))
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    assert whole.dtype == np.float32 and whole.shape == (3, 19100)
    _, again = generate(seed=4, **kw)
    _, other = generate(seed=5, **kw)
    assert np.array_equal(whole, again)
    assert not np.allclose(whole, other)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fs", 10.0),
        ("tremor_hz", 24.0),
        ("onset_s", -1.0),
        ("pathological_hz", 20.0),
        ("movement_high_hz", 6.0),
        ("tremor_gain", -1.0),
    ],
)
def test_bad_parameters_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ScenarioError, match=field):
        dataclasses.replace(AccScenario(fs=50.0), **{field: value})
