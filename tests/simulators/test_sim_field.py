"""Field conditions against their analytic truth, measured with independent scipy code."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pyedflib
import pytest
import scipy.signal
from sim_helpers import bandpass, psd_peak, rms, welch_mdf

from simulators.acc import AccGenerator, AccScenario
from simulators.cli import main
from simulators.emg import Dropout, EmgGenerator, EmgScenario, RestPeriod
from simulators.errors import ScenarioError
from simulators.field_emg import ECG_WINDOW_S, ecg_template
from simulators.field_set import (
    ACC_12BIT_STEP,
    ACC_KINDS,
    CONTROL_KINDS,
    FATIGUE_KINDS,
    plan_field,
)
from simulators.scenarios import (
    PlannedRecording,
    make_scenarios,
    rebuild_generator,
    scenario_from_params,
)
from simulators.spectra import MdfTable, band_median, folded_shwedyk_psd
from simulators.truth import jsonable, read_truth_set

QUIET = {"noise_mv": 0.0, "channel_mdf_spread": 0.0, "channel_gain_spread": 0.0}


def emg(seed: int = 0, **kw: object) -> tuple[EmgGenerator, np.ndarray]:
    gen = EmgGenerator(EmgScenario(**kw), np.random.default_rng(seed))
    return gen, gen.read_all().astype(np.float64)


def acc(seed: int = 0, **kw: object) -> tuple[AccGenerator, np.ndarray]:
    gen = AccGenerator(AccScenario(**kw), np.random.default_rng(seed))
    return gen, gen.read_all().astype(np.float64)


def cut(x: np.ndarray, fs: float, t0: float, t1: float) -> np.ndarray:
    return x[..., round(t0 * fs) : round(t1 * fs)]


# -- the set -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan60() -> list[PlannedRecording]:
    return plan_field(60, 1)


def test_mix_kinds_and_non_fatiguing_hours(plan60: list[PlannedRecording]) -> None:
    kinds = Counter(p.kind for p in plan60)
    assert set(kinds) == set(FATIGUE_KINDS) | set(CONTROL_KINDS) | set(ACC_KINDS)
    fatiguing = sum(v for k, v in kinds.items() if k.startswith("f_"))
    control = sum(v for k, v in kinds.items() if k.startswith("c_"))
    accs = [p for p in plan60 if p.kind.startswith("acc_")]
    assert (fatiguing, control, len(accs)) == (27, 18, 15)
    assert 6 <= sum(p.scenario.onset_s is not None for p in accs) <= 8
    quiet = 0.0
    for p in plan60:
        s = p.scenario
        assert (s.onset_s is not None) == p.kind.startswith(("f_", "acc_tremor_o", "acc_tremor_m"))
        quiet += s.duration_s if s.onset_s is None else s.onset_s
        if isinstance(s, EmgScenario):
            assert 3.0 <= s.lead_rest_s <= 20.0
            assert s.fs in (200.0, 1000.0, 1024.0, 2000.0, 2048.0) and s.n_channels <= 2
            lo, hi = (180.0, 720.0) if p.kind.startswith("f_") else (660.0, 900.0)
            assert lo <= s.duration_s <= hi
            assert (s.fs == 200.0) == s.aliased == p.kind.endswith("armband")
    assert quiet / 3600.0 >= 8.0
    exts = Counter(Path(p.file).suffix for p in plan60)
    assert exts[".edf"] >= 50


def test_every_kind_round_trips_through_params(plan60: list[PlannedRecording]) -> None:
    seen = set()
    for p in plan60:
        if p.kind in seen:
            continue
        seen.add(p.kind)
        gen = (EmgGenerator if isinstance(p.scenario, EmgScenario) else AccGenerator)(
            p.scenario,
            np.random.default_rng(p.seed),
        )
        params = jsonable(gen.truth(seed=p.seed).params)
        assert scenario_from_params(params) == p.scenario, p.kind


def test_every_seed_plans_eight_quiet_hours() -> None:
    """Any set of 60 (not just seed 1) can be planned and holds >= 8 h without an onset."""
    for seed in range(2, 12):
        plans = plan_field(60, seed)
        quiet = sum(
            p.scenario.duration_s if p.scenario.onset_s is None else p.scenario.onset_s - 2.0
            for p in plans
        )
        assert quiet / 3600.0 >= 8.0, seed


def test_plan_deterministic_and_seeded() -> None:
    assert plan_field(20, 4) == plan_field(20, 4)
    assert plan_field(20, 4) != plan_field(20, 5)
    with pytest.raises(ScenarioError, match="n = 0"):
        plan_field(0, 1)


def test_small_field_set_on_disk(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_scenarios(3, 11, a, set_name="field")
    make_scenarios(3, 11, b, set_name="field")
    for p in a.iterdir():
        assert (b / p.name).read_bytes() == p.read_bytes(), p.name
    ts = read_truth_set(a)
    assert ts.set_name == "field"
    for rec in ts.recordings:
        assert rec.params["kind"] in FATIGUE_KINDS + CONTROL_KINDS + ACC_KINDS
        assert rec.fatigue == (rec.onset_s is not None)
    edfs = [rec for rec in ts.recordings if rec.format == "edf"]
    assert edfs
    for rec in edfs:
        x = rebuild_generator(rec).read_all()
        reader = pyedflib.EdfReader(str(a / rec.file))
        try:
            data = np.array([reader.readSignal(i) for i in range(reader.signals_in_file)])
            lsb = 2 * reader.getPhysicalMaximum(0) / 65535
        finally:
            reader.close()
        assert data.shape == x.shape
        assert np.max(np.abs(data - x)) <= 0.51 * lsb, rec.file


#: sha256 of ``make_scenarios(4, 1, DIR)`` written by the code before the field set existed.
CLASSIC_4_1 = {
    "rec_000.edf": "5fd92538e9bb0fc490af749086398eca426ad5357d6a9bb67e5c8a7e833a1ed0",
    "rec_001.edf": "207f0608a8214633a02083bb084da1d67cff208378b46ff6aabe3f5f0dee6bb5",
    "rec_002.edf": "398a7071b7770cb0f095840a46a3f21ef6a4eb96713398663704efc82eaabf40",
    "rec_003.edf": "eec66354fc356ededc27df63bb5391bb55fe64c0aa60bd5668a6285e20ef0fb9",
    "truth.json": "1d8b84ca8f471939061f628214e829c695a25f4b6ab8ffe54d85b1e5b7cbfa58",
}


def test_classic_set_unchanged(tmp_path: Path) -> None:
    make_scenarios(4, 1, tmp_path)
    got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert got == CLASSIC_4_1


# -- EMG ---------------------------------------------------------------------------------


def test_lead_and_trail_rest_are_silent() -> None:
    fs = 1000.0
    gen, x = emg(
        seed=1, fs=fs, n_channels=1, duration_s=60.0, lead_rest_s=8.0, trail_rest_s=6.0,
        onset_s=20.0, noise_mv=0.004,
    )  # fmt: skip
    t = gen.truth()
    assert next(p.kind for p in t.phases) == "rest" and t.phases[0].end_s == 8.0
    assert t.phases[-1].kind == "rest" and t.phases[-1].start_s == 54.0
    assert t.end_s == 54.0
    assert t.mdf_true is not None and t.mdf_true.values[5] is None
    assert rms(cut(x, fs, 0.0, 7.8))[0] == pytest.approx(0.004, rel=0.05)
    assert rms(cut(x, fs, 54.2, 60.0))[0] == pytest.approx(0.004, rel=0.05)
    assert rms(cut(x, fs, 10.0, 18.0))[0] > 20 * 0.004


def test_intermittent_fatigue_accumulates_and_recovers_partly() -> None:
    fs = 1000.0
    on, off, tau = 6.0, 4.0, 40.0
    gen, x = emg(
        seed=2, fs=fs, n_channels=1, duration_s=200.0, lead_rest_s=5.0, trail_rest_s=10.0,
        duty_on_s=on, duty_off_s=off, onset_s=25.0, decline_per_min=0.3,
        recovery_tau_s=tau, **QUIET,
    )  # fmt: skip
    t = gen.truth()
    # Fatigue carries on across the short pauses: the period ends at the trail rest.
    assert t.onset_s == 25.0 and t.end_s == 190.0
    rest_phases = [p for p in t.phases if p.kind == "rest"]
    assert len(rest_phases) == 1 + 18 + 1
    tl = gen.timeline
    # Each contraction: falls by rate * on; each pause: recovers exp(-off / tau) of the gap.
    m0 = float(tl.fatigue_at(25.0))
    m1 = float(tl.fatigue_at(31.0))
    assert m0 == pytest.approx(1.0) and m1 == pytest.approx(1.0 - 0.3 * on / 60.0, abs=1e-9)
    m2 = float(tl.fatigue_at(35.0))
    assert 1.0 - m2 == pytest.approx((1.0 - m1) * np.exp(-off / tau), rel=1e-6)
    starts = [float(tl.fatigue_at(25.0 + k * (on + off))) for k in range(0, 16, 3)]
    assert all(b < a for a, b in itertools.pairwise(starts))
    # A break of 15 s or more (an entry of rests) ends the fatiguing period; pauses do not.
    with_break = dataclasses.replace(gen.scenario, rests=(RestPeriod(101.0, 121.0),))
    assert with_break.end_s == 101.0 and gen.scenario.end_s == 190.0
    # The file is silent in the pauses and the contraction's MDF follows the truth.
    assert rms(cut(x, fs, 31.3, 34.7))[0] < 1e-3
    late = np.concatenate([cut(x, fs, a + 0.3, a + on - 0.3) for a in (155.0, 165.0, 175.0)], -1)
    assert welch_mdf(late, fs, t.analysis_band_hz)[0] == pytest.approx(
        t.mdf_true.values[160], rel=0.04
    )


def test_cyclic_bursts_and_within_cycle_mdf_swing() -> None:
    fs = 2000.0
    period, duty, swing = 2.0, 0.5, 0.12
    gen, x = emg(
        seed=3, fs=fs, n_channels=1, duration_s=120.0, mdf0_hz=90.0, cycle_s=period,
        cycle_duty=duty, cycle_mdf_swing=swing, cycle_mdf_phase=np.pi / 2, cycle_amp_jitter=0.2,
        block_s=0.1, noise_mv=0.003, channel_mdf_spread=0.0, channel_gain_spread=0.0,
    )  # fmt: skip
    mod = gen.modulation
    # Within a cycle the true MDF follows 1 + swing * sin(2 pi t / T + pi / 2).
    nominal, _ = gen.mdf_at(np.array([10.0, 10.5, 11.0]))
    assert nominal[0] / nominal[1] == pytest.approx(1.0 + swing, rel=2e-3)
    assert nominal[2] / nominal[1] == pytest.approx(1.0 - swing, rel=2e-3)
    # Silent between bursts, and bursts differ in size from cycle to cycle.
    gaps = np.concatenate(
        [cut(x, fs, k * period + 1.1, k * period + 1.9) for k in range(5, 50)], -1
    )
    assert rms(gaps)[0] == pytest.approx(0.003, rel=0.1)
    bursts = np.array([rms(cut(x, fs, k * period, k * period + 1.0))[0] for k in range(5, 55)])
    gains = mod.cycle_gain[5:55]
    assert np.corrcoef(bursts, gains)[0, 1] > 0.9
    assert gains.min() < 0.9 and gains.max() > 1.1
    # Early-burst (MDF rising) vs late-burst (falling) halves, averaged over cycles.
    early = np.concatenate(
        [cut(x, fs, k * period + 0.1, k * period + 0.5) for k in range(2, 58)], -1
    )
    late = np.concatenate(
        [cut(x, fs, k * period + 0.5, k * period + 0.9) for k in range(2, 58)], -1
    )
    band = gen.scenario.analysis_band
    ratio = welch_mdf(late, fs, band)[0] / welch_mdf(early, fs, band)[0]
    t_e, t_l = np.linspace(0.1, 0.5, 41), np.linspace(0.5, 0.9, 41)
    w_e, w_l = mod.burst_shape(t_e) ** 2, mod.burst_shape(t_l) ** 2
    expect = np.average(gen.mdf_at(t_l)[0], weights=w_l) / np.average(
        gen.mdf_at(t_e)[0], weights=w_e
    )
    assert ratio == pytest.approx(expect, abs=0.03)
    assert expect < 0.95


def test_armband_folded_spectrum_is_sampling_without_antialias() -> None:
    """A 5 kHz muscle signal subsampled by 25 (no filter) is what the 200 Hz model makes."""
    mdf0 = 80.0
    kw = {"n_channels": 4, "duration_s": 60.0, "mdf0_hz": mdf0, **QUIET}
    _fast, x_fast = emg(seed=4, fs=5000.0, **kw)
    slow, x_slow = emg(seed=5, fs=200.0, aliased=True, **kw)
    band = (20.0, 90.0)
    assert slow.scenario.analysis_band == band
    truth_mdf = slow.truth().mdf0_hz
    assert truth_mdf is not None
    # The truth is the band median of the folded PSD, computed here by brute force.
    f = np.linspace(20.0, 90.0, 3001)
    corner = MdfTable.for_band((20.0, 450.0)).corner_for(mdf0)
    k = np.arange(-30, 31)[:, None]
    p = np.sum(
        np.square(np.abs(f + 200.0 * k) / corner)
        / (
            (np.square((f + 200.0 * k) / corner) + 0.25)
            * np.square(np.square((f + 200.0 * k) / corner) + 1.0)
        ),
        axis=0,
    )
    assert truth_mdf == pytest.approx(float(band_median(f, p, band)), abs=0.05)
    assert truth_mdf == pytest.approx(
        float(band_median(f, folded_shwedyk_psd(f, corner, 200.0), band)), abs=0.05
    )

    # The folded spectrum has far more power near fs/2 than the unfolded one would.
    def hi_lo(freqs: np.ndarray, power: np.ndarray) -> float:
        hi = power[..., (freqs >= 70) & (freqs <= 90)].sum(-1)
        return float(np.mean(hi / power[..., (freqs >= 20) & (freqs <= 40)].sum(-1)))

    fine = np.linspace(0.0, 100.0, 1001)
    folded = hi_lo(fine, folded_shwedyk_psd(fine, corner, 200.0))
    unfolded = hi_lo(fine, folded_shwedyk_psd(fine, corner, 1e9))
    assert folded > 1.1 * unfolded
    for sig in (x_slow, x_fast[:, ::25]):
        fw, pw = scipy.signal.welch(sig, fs=200.0, nperseg=200)
        assert hi_lo(fw, pw) == pytest.approx(folded, rel=0.05)
    measured_slow = welch_mdf(x_slow, 200.0, band)
    measured_fast = welch_mdf(x_fast[:, ::25], 200.0, band)
    assert np.all(np.abs(measured_slow / truth_mdf - 1) < 0.03), measured_slow
    assert np.all(np.abs(measured_fast / truth_mdf - 1) < 0.03), measured_fast
    assert rms(x_slow).mean() == pytest.approx(rms(x_fast[:, ::25]).mean(), rel=0.05)


def test_armband_int8_quantisation() -> None:
    step = 0.02
    gen, x = emg(
        seed=6, fs=200.0, aliased=True, n_channels=2, duration_s=60.0, mdf0_hz=75.0,
        rms0_mv=0.24, quant_step_mv=step, noise_mv=0.7 * step, lead_rest_s=5.0,
    )  # fmt: skip
    counts = x / step
    assert np.allclose(counts, np.round(counts), atol=1e-4)
    assert counts.min() >= -128 and counts.max() <= 127
    assert 5.0 <= rms(cut(counts, 200.0, 10.0, 60.0)).mean() <= 30.0
    # At rest: noise of 0.7 count makes a handful of levels with long runs of equal values.
    rest = np.round(cut(counts, 200.0, 0.0, 4.8))
    assert len(np.unique(rest)) <= 9
    assert np.mean(np.diff(rest, axis=1) == 0) > 0.2
    assert gen.physical_range() >= 128 * step


def test_ecg_beats_at_realised_times_and_band() -> None:
    fs = 1000.0
    gen, x = emg(
        seed=7, fs=fs, n_channels=2, duration_s=120.0, rms0_mv=0.05, ecg_mv=0.15,
        ecg_bpm=72.0, ecg_hrv=0.05, lead_rest_s=10.0, noise_mv=0.003,
    )  # fmt: skip
    beats = gen.modulation.beats
    rr = np.diff(beats)
    assert 60.0 / rr.mean() == pytest.approx(72.0, rel=0.05)
    assert 0.02 < rr.std() / rr.mean() < 0.08
    assert np.allclose(beats * fs, np.round(beats * fs))
    # R peaks of the cleaned signal at the realised beats (lead rest: only ECG + noise).
    y = bandpass(x[0], fs, (5.0, 40.0), order=4) * np.sign(gen.modulation.ecg_channel_gain[0])
    peaks, _ = scipy.signal.find_peaks(y[: round(9.5 * fs)], height=0.5 * 0.15 * 0.6, distance=300)
    want = beats[(beats > 0.35) & (beats < 9.0)]
    got = peaks[(peaks > 0.35 * fs) & (peaks < 9.0 * fs)] / fs
    assert got.size == want.size
    assert np.max(np.abs(got - want)) <= 0.004
    # The beat's energy sits mostly in 5-40 Hz (the QRS's 80 %; P and T waves are slow);
    # its QRS lasts 80-100 ms.
    tmpl = ecg_template(fs)
    r = round(-ECG_WINDOW_S[0] * fs)
    f = np.fft.rfftfreq(8192, 1 / fs)
    for part, share in ((tmpl, 0.55), (tmpl[r - 50 : r + 50], 0.8)):
        spec = np.abs(np.fft.rfft(part, 8192)) ** 2
        assert spec[(f >= 5) & (f <= 40)].sum() / spec.sum() > share
    qrs = np.abs(tmpl[r - 60 : r + 60]) > 0.05
    assert 0.07 <= qrs.sum() / fs <= 0.11
    assert {a.kind for a in gen.truth().artifacts} == {"ecg"}


def test_electrode_shift_steps_mdf_and_rms_together() -> None:
    fs = 1000.0
    shift = 60.0
    gen, x = emg(
        seed=8, fs=fs, n_channels=1, duration_s=120.0, shift_s=shift, shift_mdf=-0.06,
        shift_rms=-0.12, dropouts=(Dropout(57.0, shift, None, 0.0),), **QUIET,
    )  # fmt: skip
    t = gen.truth()
    mdf, r = t.mdf_true.values, t.rms_true.values
    assert mdf[70] / mdf[50] == pytest.approx(0.94, abs=2e-3)
    assert r[70] / r[50] == pytest.approx(0.88, rel=1e-9)
    kinds = {a.kind: a for a in t.artifacts}
    assert kinds["electrode_shift"].start_s == 57.0 and kinds["electrode_shift"].end_s == shift
    assert np.all(cut(x, fs, 57.0, 60.0) == 0.0)
    band = gen.scenario.analysis_band
    before, after = cut(x, fs, 5.0, 56.0), cut(x, fs, 61.0, 115.0)
    assert rms(after)[0] / rms(before)[0] == pytest.approx(0.88, abs=0.02)
    ratio = welch_mdf(after, fs, band)[0] / welch_mdf(before, fs, band)[0]
    assert ratio == pytest.approx(0.94, abs=0.025)  # Welch MDF of 50 s: ~1 % scatter
    assert t.onset_s is None


def test_temperature_drift_and_rising_force_truth() -> None:
    gen, x = emg(
        seed=9, fs=1000.0, n_channels=1, duration_s=300.0, temp_mdf_change=-0.05,
        temp_start_s=30.0, temp_end_s=250.0, temp_rms_per_mdf=-0.8, **QUIET,
    )  # fmt: skip
    t = gen.truth()
    mdf, r = t.mdf_true.values, t.rms_true.values
    assert mdf[280] / mdf[10] == pytest.approx(0.95, abs=2e-3)
    assert r[280] / r[10] == pytest.approx(1.04, rel=1e-9)
    band = gen.scenario.analysis_band
    ratio = welch_mdf(cut(x, 1000.0, 255, 300), 1000.0, band) / welch_mdf(
        cut(x, 1000.0, 0, 30), 1000.0, band
    )
    assert ratio[0] == pytest.approx(0.95, abs=0.015)
    assert "temperature_drift" in {a.kind for a in t.artifacts}

    rise = EmgGenerator(
        EmgScenario(duration_s=200.0, onset_s=40.0, force_rise=0.4, trail_rest_s=10.0),
        np.random.default_rng(0),
    )
    tr = rise.truth()
    assert tr.end_s == 190.0
    force = tr.force_true.values
    assert force[40] == 1.0 and force[190] == pytest.approx(1.4)
    m = float(rise.timeline.fatigue_at(190.0))
    s = rise.scenario
    expect = m * 1.4**s.force_mdf_exponent
    assert tr.mdf_true.values[189] is not None
    assert rise.mdf_at(np.array([190.0 - 1e-6]))[0][0] / s.mdf0_hz == pytest.approx(
        expect, rel=1e-3
    )
    assert any(p.kind == "force_change" for p in tr.phases)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"duty_on_s": 6.0, "duty_off_s": 20.0}, "duty_off_s"),
        ({"cycle_s": 1.0, "block_s": 0.5}, "block_s"),
        ({"fs": 200.0}, r"fs = 200\.0.*aliased"),
        ({"force_rise": 0.3}, "force_rise"),
        ({"shift_s": 500.0}, "shift_s"),
        ({"onset_s": 5.0, "lead_rest_s": 10.0}, "onset_s"),
        ({"ecg_mv": 0.2, "ecg_bpm": 250.0}, "ecg_bpm"),
    ],
)
def test_field_emg_validation(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ScenarioError, match=match):
        EmgScenario(**kw)


# -- accelerometer -----------------------------------------------------------------------


def test_walking_cadence_harmonics_and_heel_strikes() -> None:
    fs = 100.0
    cadence = 1.8
    gen, x = acc(
        seed=10, fs=fs, duration_s=120.0, motion_kind="walk", cycle_hz=cadence,
        cycle_harmonics=(1.0, 1.5, 0.6), cycle_sub=0.5, impact_ms2=6.0, impact_hz=18.0,
        impact_decay_s=0.015, motion_start_s=30.0, movement_rms=0.05,
    )  # fmt: skip
    assert psd_peak(cut(x, fs, 35, 120), fs, 0.5, 3.0, seconds=16.0) == pytest.approx(
        cadence, abs=0.1
    )
    assert psd_peak(cut(x, fs, 35, 120), fs, 3.0, 4.5, seconds=16.0) == pytest.approx(
        2 * cadence, abs=0.15
    )
    # Quiet standing before the first step: nothing above 1 Hz beyond noise.
    assert rms(bandpass(cut(x, fs, 5, 28), fs, (1.0, 12.0))).max() < 0.05
    steps = gen.motion.step_times()
    assert steps[0] == 30.0 and 1.0 / np.diff(steps).mean() == pytest.approx(cadence, rel=0.03)
    hp = bandpass(x, fs, (12.0, 30.0), order=4)
    energy = np.sum(hp**2, axis=0)
    peaks, _ = scipy.signal.find_peaks(energy, distance=int(0.3 * fs))
    strong = peaks[energy[peaks] > 0.3 * np.percentile(energy[peaks], 95)] / fs
    later = steps[(steps > 40) & (steps < 110)]
    near = np.min(np.abs(strong[:, None] - later[None, :]), axis=0)
    assert np.mean(near < 0.06) > 0.9
    t = gen.truth()
    assert t.onset_s is None and {a.kind for a in t.artifacts} == {"voluntary_movement"}


def test_handwriting_strokes_in_the_tremor_band_are_not_tremor() -> None:
    fs = 100.0
    gen, x = acc(seed=11, fs=fs, duration_s=120.0, motion_kind="handwriting", stroke_ms2=0.8)
    strokes = gen.motion.strokes
    assert np.all((strokes[:, 1] >= 0.5) & (strokes[:, 1] <= 3.0))
    assert np.all((strokes[:, 2] >= 4.3) & (strokes[:, 2] <= 5.9))
    assert 4.3 <= psd_peak(x, fs, 3.0, 12.0) <= 5.9
    inside = np.zeros(x.shape[1], dtype=bool)
    near = np.zeros(x.shape[1], dtype=bool)
    for a, d in strokes[:, :2]:
        inside[round((a + 0.2) * fs) : round((a + d - 0.2) * fs)] = True
        near[max(0, round((a - 0.6) * fs)) : round((a + d + 0.6) * fs)] = True
    y = bandpass(x, fs, (4.0, 7.0), order=4)
    power = np.sum(y**2, axis=0)
    assert (~near).sum() > 5 * fs  # pauses between words exist
    assert power[inside].mean() > 20 * power[~near].mean()
    t = gen.truth()
    assert t.onset_s is None and t.tremor_rms_after == t.tremor_rms_before


def test_12bit_quiet_wrist_has_runs_of_identical_readings() -> None:
    gen, x = acc(
        seed=12, fs=50.0, duration_s=120.0, movement_rms=0.01, noise_rms=0.005,
        quant_step=ACC_12BIT_STEP,
    )  # fmt: skip
    steps = x / ACC_12BIT_STEP
    assert np.allclose(steps, np.round(steps), atol=1e-3)
    assert np.abs(steps).max() <= 2048
    runs = np.mean(np.diff(x, axis=1) == 0.0, axis=1)
    assert runs.max() > 0.5
    assert gen.scenario.noise_rms < ACC_12BIT_STEP


def test_tremor_from_start_has_no_onset_but_is_characterised() -> None:
    fs = 100.0
    gen, x = acc(
        seed=13, fs=fs, duration_s=90.0, tremor_from_start=True, pathological_hz=5.2,
        pathological_rms=0.3,
    )  # fmt: skip
    t = gen.truth()
    assert t.onset_s is None and not t.fatigue and t.tremor_hz == 5.2
    assert t.tremor_rms_before == t.tremor_rms_after and t.tremor_rms_after > 0.25
    assert [p.kind for p in t.phases] == ["tremor"]
    assert psd_peak(cut(x, fs, 0, 20), fs, 4.0, 12.0) == pytest.approx(5.2, abs=0.3)
    first = np.sqrt(np.sum(rms(bandpass(x, fs, (4.0, 12.0)))[:, None] ** 2))
    assert first == pytest.approx(np.hypot(t.tremor_rms_after, t.noise_band_rms), rel=0.15)
    with pytest.raises(ScenarioError, match="tremor_from_start"):
        AccScenario(tremor_from_start=True)
    with pytest.raises(ScenarioError, match="motion_kind"):
        AccScenario(motion_kind="dance")


def test_field_scenarios_keep_optional_fields_out_of_classic_params() -> None:
    gen = EmgGenerator(EmgScenario(rests=(RestPeriod(40.0, 50.0),)), np.random.default_rng(0))
    params = jsonable(gen.truth().params)
    assert "lead_rest_s" not in params["scenario"] and "ecg_beats_s" not in params["realised"]
    shifted = dataclasses.replace(gen.scenario, lead_rest_s=5.0)
    assert jsonable(shifted)["lead_rest_s"] == 5.0


def test_cli_writes_a_field_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f"
    assert main(["scenarios", "--set", "field", "--n", "2", "--seed", "3", "-o", str(out)]) == 0
    assert "wrote 2 recordings" in capsys.readouterr().out
    ts = read_truth_set(out)
    assert ts.set_name == "field" and len(ts.recordings) == 2
    assert [r.params["kind"] for r in ts.recordings] == [p.kind for p in plan_field(2, 3)]
    with pytest.raises(SystemExit):
        main(["scenarios", "--set", "lab", "-o", str(out)])
