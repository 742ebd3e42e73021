"""The EMG generator against its analytic truth, measured with independent scipy code."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sim_helpers import bandpass, psd_peak, rms, welch_mdf

from monitor.core.errors import MonitorError
from simulators.emg import (
    Dropout,
    EmgGenerator,
    EmgScenario,
    ForceStep,
    RestPeriod,
    emg_channel_names,
    nice_range,
)
from simulators.errors import ScenarioError

QUIET = {"noise_mv": 0.0, "channel_mdf_spread": 0.0, "channel_gain_spread": 0.0}


def generate(seed: int = 0, **kw: object) -> tuple[EmgGenerator, np.ndarray]:
    gen = EmgGenerator(EmgScenario(**kw), np.random.default_rng(seed))
    return gen, gen.read_all()


def window(x: np.ndarray, fs: float, t0: float, t1: float) -> np.ndarray:
    return x[:, round(t0 * fs) : round(t1 * fs)]


@pytest.mark.parametrize(
    ("fs", "mdf0"),
    [(1000.0, 60.0), (1024.0, 130.0), (1500.0, 90.0), (2000.0, 75.0), (2048.0, 110.0)],
)
def test_fresh_mdf_matches_mdf0(fs: float, mdf0: float) -> None:
    gen, x = generate(fs=fs, n_channels=3, duration_s=40.0, mdf0_hz=mdf0, onset_s=None, **QUIET)
    mdf = welch_mdf(x, fs, gen.scenario.analysis_band)
    assert np.all(np.abs(mdf / mdf0 - 1.0) < 0.05), mdf
    truth = gen.truth()
    assert truth.mdf_true is not None
    assert truth.mdf_true.values[0] == pytest.approx(mdf0, rel=1e-3)


def test_mdf_follows_truth_after_onset() -> None:
    fs = 2000.0
    gen, x = generate(
        seed=3,
        fs=fs,
        n_channels=2,
        duration_s=240.0,
        mdf0_hz=100.0,
        onset_s=40.0,
        decline_per_min=0.2,
        noise_mv=0.002,
    )
    truth = gen.truth()
    assert truth.mdf_true is not None and truth.mdf_true.by_channel is not None
    by_channel = np.array(truth.mdf_true.by_channel, dtype=float)
    # 20 s windows: the estimate's scatter is ~2 %, the truth changes ~6 % across a window,
    # so compare with the truth averaged over the window.
    for start in (10.0, 50.0, 90.0, 130.0, 170.0, 210.0):
        seg = window(x, fs, start, start + 20.0)
        measured = welch_mdf(seg, fs, gen.scenario.analysis_band)
        expected = by_channel[:, round(start) : round(start) + 21].mean(axis=1)
        assert np.all(np.abs(measured / expected - 1.0) < 0.08), (start, measured, expected)
    # The schedule is stated in MDF: -0.2 x mdf0 per minute, floored at 0.5 x mdf0.
    values = truth.mdf_true.values
    assert values[40] == pytest.approx(100.0, rel=1e-3)
    assert values[100] == pytest.approx(80.0, rel=1e-3)
    assert values[-1] == pytest.approx(50.0, rel=1e-3)
    assert truth.onset_s == 40.0
    assert truth.fatigue and truth.expected_event == "fatigue_onset"


def test_rms_matches_truth_and_rises_with_fatigue() -> None:
    fs = 1000.0
    gen, x = generate(
        seed=5,
        fs=fs,
        n_channels=2,
        duration_s=120.0,
        rms0_mv=0.5,
        onset_s=30.0,
        decline_per_min=0.3,
        rms_gain=1.0,
        noise_mv=0.0,
    )
    truth = gen.truth()
    assert truth.rms_true is not None and truth.rms_true.by_channel is not None
    by_channel = np.array(truth.rms_true.by_channel)
    for centre in (15.0, 60.0, 105.0):
        measured = rms(window(x, fs, centre - 5.0, centre + 5.0))
        expected = by_channel[:, round(centre)]
        assert np.all(np.abs(measured / expected - 1.0) < 0.06), (centre, measured, expected)
    assert truth.rms_true.values[0] == pytest.approx(0.5)
    assert truth.rms_true.values[-1] > 1.2 * truth.rms_true.values[0]


def test_output_is_float32_with_exact_length() -> None:
    gen, x = generate(fs=1024.0, n_channels=3, duration_s=7.3)
    assert x.dtype == np.float32
    assert x.shape == (3, round(7.3 * 1024))
    assert gen.channels == emg_channel_names(3) == ("emg_1", "emg_2", "emg_3")
    assert gen.read(10).shape == (3, 0)


def test_seed_reproducible_and_seeds_differ() -> None:
    kw = {
        "fs": 1000.0,
        "n_channels": 2,
        "duration_s": 12.0,
        "mains_hz": 50.0,
        "mains_mv": 0.1,
        "motion_per_min": 10.0,
    }
    _, a = generate(seed=11, **kw)
    _, b = generate(seed=11, **kw)
    _, c = generate(seed=12, **kw)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    # Channels get independent muscle noise (mains and motion are shared on purpose).
    _, d = generate(seed=11, fs=1000.0, n_channels=2, duration_s=12.0)
    assert abs(np.corrcoef(d)[0, 1]) < 0.05


def test_random_chunk_sizes_equal_whole_generation() -> None:
    kw = {
        "fs": 2048.0,
        "n_channels": 3,
        "duration_s": 37.0,
        "onset_s": 5.0,
        "rests": (RestPeriod(20.0, 25.0),),
        "motion_per_min": 6.0,
        "dropouts": (Dropout(30.0, 31.0, (1,)),),
        "mains_hz": 60.0,
        "mains_mv": 0.05,
    }
    _, whole = generate(seed=2, **kw)
    gen = EmgGenerator(EmgScenario(**kw), np.random.default_rng(2))
    sizes = np.random.default_rng(99)
    parts = []
    while gen.remaining:
        parts.append(gen.read(int(sizes.integers(1, 20_000))))
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    gen2 = EmgGenerator(EmgScenario(**kw), np.random.default_rng(2))
    assert np.array_equal(np.concatenate(list(gen2.chunks(4096)), axis=1), whole)


def test_force_change_moves_mdf_and_rms_together() -> None:
    fs = 2000.0
    steps = (ForceStep(30.0, 2.0), ForceStep(60.0, 0.5))
    gen, x = generate(
        seed=4, fs=fs, n_channels=2, duration_s=90.0, onset_s=None, force_steps=steps, **QUIET
    )
    band = gen.scenario.analysis_band
    parts = [window(x, fs, a, a + 25.0) for a in (3.0, 33.0, 63.0)]
    mdf = [float(np.mean(welch_mdf(p, fs, band))) for p in parts]
    amp = [float(np.mean(rms(p))) for p in parts]
    assert mdf[1] > mdf[0] > mdf[2] and amp[1] > amp[0] > amp[2]
    # The brief's size of the force effect on MDF: a few to ~10 %.
    assert 0.05 < mdf[1] / mdf[0] - 1.0 < 0.15
    assert amp[1] / amp[0] == pytest.approx(2.0**0.9, rel=0.06)
    truth = gen.truth()
    kinds = [p.kind for p in truth.phases]
    assert kinds == ["work", "force_change", "work", "force_change", "work"]
    assert truth.phases[2].force == pytest.approx(2.0)
    assert truth.force_true is not None and truth.force_true.values[45] == pytest.approx(2.0)
    assert not truth.fatigue and truth.onset_s is None and truth.end_s == 90.0


def test_rest_drops_to_noise_and_fatigue_recovers() -> None:
    fs = 1000.0
    gen, x = generate(
        seed=6,
        fs=fs,
        n_channels=1,
        duration_s=150.0,
        onset_s=10.0,
        decline_per_min=0.4,
        rests=(RestPeriod(70.0, 130.0),),
        recovery_tau_s=30.0,
        noise_mv=0.004,
        channel_mdf_spread=0.0,
    )
    resting = window(x, fs, 71.0, 129.0)
    assert rms(resting)[0] == pytest.approx(0.004, rel=0.05)
    truth = gen.truth()
    assert truth.end_s == 70.0
    mdf = truth.mdf_true
    assert mdf is not None
    assert mdf.values[100] is None  # undefined at rest
    s_before = mdf.values[69]
    s_after = mdf.values[131]
    assert s_before is not None and s_after is not None
    assert s_after > s_before + 0.3 * (90.0 - s_before)
    measured = welch_mdf(window(x, fs, 131.0, 149.0), fs, gen.scenario.analysis_band)[0]
    expected = float(np.mean([v for v in mdf.values[131:149] if v is not None]))
    assert measured == pytest.approx(expected, rel=0.08)
    assert [p.kind for p in truth.phases] == ["work", "rest", "work"]


def test_mains_interference_has_harmonics() -> None:
    fs = 2000.0
    _, x = generate(
        fs=fs,
        n_channels=1,
        duration_s=20.0,
        onset_s=None,
        mains_hz=60.0,
        mains_mv=0.5,
        rms0_mv=0.05,
    )
    assert psd_peak(x, fs, 20.0, 450.0, seconds=2.0) == pytest.approx(60.0, abs=1.0)
    assert psd_peak(x, fs, 100.0, 450.0, seconds=2.0) == pytest.approx(180.0, abs=1.0)


def test_dropout_is_flat_on_its_channel_only() -> None:
    fs = 1000.0
    gen, x = generate(
        fs=fs, n_channels=3, duration_s=20.0, dropouts=(Dropout(5.0, 8.0, (1,), value_mv=0.25),)
    )
    seg = x[:, 5000:8000]
    assert np.all(seg[1] == np.float32(0.25))
    assert np.std(seg[0]) > 0.01 and np.std(seg[2]) > 0.01
    assert x[1, 4999] != np.float32(0.25) and x[1, 8000] != np.float32(0.25)
    (art,) = gen.truth().artifacts
    assert (art.kind, art.channels, art.start_s, art.end_s) == ("dropout", ("emg_2",), 5.0, 8.0)


def test_motion_artefacts_are_low_frequency_and_listed() -> None:
    fs = 1000.0
    kw = {"fs": fs, "n_channels": 2, "duration_s": 60.0, "onset_s": None, "rms0_mv": 0.1}
    _, clean = generate(seed=8, **kw)
    gen, x = generate(seed=8, motion_per_min=8.0, motion_mv=2.0, **kw)
    arts = gen.truth().artifacts
    assert arts and all(a.kind == "motion" for a in arts)
    diff = (x - clean).astype(np.float64)
    assert np.max(np.abs(diff)) > 0.5
    assert rms(bandpass(diff, fs, (20.0, 450.0))).max() < 0.01 * rms(diff).max()


def test_physical_range_covers_signal() -> None:
    gen, x = generate(
        fs=1000.0,
        n_channels=4,
        duration_s=60.0,
        rms0_mv=1.0,
        motion_per_min=5,
        mains_hz=50.0,
        mains_mv=0.3,
    )
    assert np.max(np.abs(x)) < gen.physical_range()
    assert nice_range(3.2) == 5.0 and nice_range(0.7) == 1.0 and nice_range(10.0) == 10.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fs", 100.0),
        ("mdf0_hz", 400.0),
        ("mdf0_hz", 10.0),
        ("onset_s", 500.0),
        ("decline_per_min", -0.1),
        ("n_channels", 0),
        ("duration_s", 0.0),
        ("mains_hz", 1500.0),
        ("force_steps", (ForceStep(10.0, 0.0),)),
        ("rests", (RestPeriod(10.0, 10.5),)),
        ("dropouts", (Dropout(1.0, 2.0, (9,)),)),
    ],
)
def test_bad_parameters_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ScenarioError) as err:
        dataclasses.replace(EmgScenario(), **{field: value})
    assert err.value.name == field
    assert isinstance(err.value, MonitorError) and isinstance(err.value, ValueError)
    assert field in str(err.value)


def test_mdf_below_what_the_band_can_hold_is_rejected() -> None:
    with pytest.raises(ScenarioError, match="band can hold") as err:
        EmgScenario(mdf0_hz=40.0, onset_s=10.0, mdf_floor=0.5)
    assert err.value.name == "mdf0_hz"
    EmgScenario(mdf0_hz=40.0, onset_s=10.0, mdf_floor=0.8)  # 32 Hz is fine
