"""The "field" scenario set: recordings the way they come from real sessions.

The classic set (``simulators.scenarios``) is a laboratory: a contraction from the first
to the last sample, clean spectra, one change at a time. Field recordings start and end
at rest, are intermittent or dynamic, come from 200 Hz armbands with 8-bit samples and no
anti-alias filter, pick up the heart on trunk muscles, drift with skin temperature and
shift when an electrode is knocked; wrist accelerometers walk, write and hammer. Each
condition is one ``kind`` (``params.kind``) so scores can be broken down per condition.
Parameter ranges are physiological (sources in ``simulators.field_emg`` and
``simulators.field_acc``), chosen without looking at the detector.

Mix per 20 recordings: 9 fatiguing EMG (``f_*``), 6 non-fatiguing EMG (``c_*``), 5
accelerometers (``acc_*``, about half with a tremor onset). Non-fatiguing recordings are
long (EMG 11-15 min, accelerometer 20-30 min) so a set of 60 holds more than 8 hours of
signal in which a detector must stay quiet.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from simulators.acc import AccScenario
from simulators.emg import Dropout, EmgScenario, ForceStep, RestPeriod
from simulators.errors import ScenarioError
from simulators.scenarios import PlannedRecording, _extension, _u

__all__ = ["ACC_KINDS", "CONTROL_KINDS", "FATIGUE_KINDS", "FIELD_EMG_RATES", "plan_field"]

FIELD_EMG_RATES = (1000.0, 1024.0, 2000.0, 2048.0)
#: Myo-like armband: 200 Hz, 8-bit samples, no anti-alias filter.
ARMBAND_FS = 200.0
FATIGUE_KINDS = (
    "f_sustained",
    "f_intermittent",
    "f_cyclic",
    "f_armband",
    "f_rising_force",
    "f_slow",
    "f_ecg",
)
CONTROL_KINDS = (
    "c_sustained",
    "c_intermittent",
    "c_cyclic",
    "c_armband",
    "c_electrode_shift",
    "c_ecg",
    "c_temperature",
)
#: Tremor onsets alternate with movements so that about half of the accelerometers fire.
ACC_KINDS = (
    "acc_tremor_onset",
    "acc_walk",
    "acc_tremor_moving",
    "acc_handwriting",
    "acc_tremor_onset",
    "acc_run",
    "acc_tremor_moving",
    "acc_quiet_12bit",
    "acc_tremor_onset",
    "acc_hammer",
    "acc_tremor_moving",
    "acc_arm_swing",
    "acc_tremor_from_start",
    "acc_walk_start",
)
#: Categories of one cycle of 20: F fatiguing EMG, C non-fatiguing EMG, A accelerometer.
_CYCLE = "FCAFCFAFCFCAFFCAFCFA"
#: A phone/wrist IMU at ±8 g over 12 bits.
ACC_12BIT_STEP = round(16.0 * 9.80665 / 4096.0, 6)
_G = 9.81


class _Emg(NamedTuple):
    params: dict[str, Any]
    duration: float
    lead: float
    work_end: float
    rms0: float


def _emg(rng: np.random.Generator, kind: str, duration: tuple[int, int]) -> _Emg:
    """Draws every EMG kind shares: device, muscle, noise, the leading and trailing rest,
    and the sprinkled disturbances of ordinary sessions (mains, motion, dropouts)."""
    armband = kind.endswith("armband")
    fs = ARMBAND_FS if armband else float(rng.choice(FIELD_EMG_RATES, p=[0.4, 0.3, 0.15, 0.15]))
    n_ch = 2 if armband else int(rng.integers(1, 2, endpoint=True))
    rms0 = _u(rng, 0.1, 0.8)
    lead = _u(rng, 3.0, 20.0, 1)
    trail = _u(rng, 3.0, 20.0, 1) if rng.random() < 0.7 else 0.0
    d = float(rng.integers(duration[0], duration[1], endpoint=True))
    p: dict[str, Any] = {
        "fs": fs,
        "n_channels": n_ch,
        "duration_s": d,
        "mdf0_hz": _u(rng, 60.0, 85.0, 2) if armband else _u(rng, 60.0, 120.0, 2),
        "rms0_mv": rms0,
        "noise_mv": _u(rng, 0.003, 0.01, 4),
        "rms_gain": _u(rng, 0.5, 1.5),
        "recovery_tau_s": _u(rng, 30.0, 60.0, 1),
        "lead_rest_s": lead,
        "trail_rest_s": trail,
    }
    if not armband and rng.random() < 0.3:
        p["mains_hz"] = float(rng.choice([50.0, 60.0]))
        p["mains_mv"] = _u(rng, 0.01, 0.2, 4)
    if rng.random() < 0.25:
        p["motion_per_min"] = _u(rng, 1.0, 4.0, 2)
        p["motion_mv"] = _u(rng, 0.5, 3.0)
    if armband:
        # Myo-like: int8 samples with the contraction at 6-20 counts RMS, ~0.7 count noise.
        step = round(rms0 / _u(rng, 6.0, 20.0, 2), 5)
        p.update(aliased=True, quant_step_mv=step, noise_mv=round(0.7 * step, 6))
    work_end = d - trail
    if rng.random() < 0.15 and work_end - lead > 20.0:
        start = _u(rng, lead + 5.0, work_end - 11.0, 1)
        ch = (int(rng.integers(0, n_ch)),)
        p["dropouts"] = (Dropout(start, round(start + _u(rng, 1.0, 5.0, 1), 1), ch, 0.0),)
    return _Emg(p, d, lead, work_end, rms0)


def _fatigue(rng: np.random.Generator, kind: str) -> EmgScenario:
    slow = kind == "f_slow"
    e = _emg(rng, kind, (600, 720) if slow else (180, 720))
    p = e.params
    p["decline_per_min"] = _u(rng, 0.012, 0.02, 4) if slow else _u(rng, 0.08, 0.3)
    onset = round(e.lead + _u(rng, 30.0, min(150.0, e.work_end - e.lead - 60.0), 1), 1)
    if kind == "f_intermittent":
        on, off = _u(rng, 4.0, 10.0, 1), _u(rng, 2.0, 6.0, 1)
        k = max(1, math.ceil((onset - e.lead) / (on + off)))
        onset = round(e.lead + k * (on + off), 3)
        p.update(duty_on_s=on, duty_off_s=off, decline_per_min=_u(rng, 0.15, 0.4))
        if rng.random() < 0.3 and e.work_end - onset > 120.0:
            b = _u(rng, onset + 60.0, e.work_end - 60.0, 1)
            p["rests"] = (RestPeriod(b, round(b + _u(rng, 20.0, 40.0, 1), 1)),)
            p.pop("dropouts", None)
    elif kind == "f_cyclic":
        p.update(_cyclic(rng))
    elif kind == "f_rising_force":
        p["force_rise"] = _u(rng, 0.2, 0.5)
    elif kind == "f_ecg":
        p.update(_ecg(rng, e.rms0))
    p["onset_s"] = onset
    # Fatigue stops at half the fresh MDF, or where the lowest MDF the schedule reaches
    # (swing and channel spread included) would be 30 Hz: close to the 20 Hz band edge no
    # spectrum has its median there.
    low = p["mdf0_hz"] * (1.0 - p.get("cycle_mdf_swing", 0.0)) * 0.97
    p["mdf_floor"] = max(0.5, math.ceil(30.0 / low * 100.0) / 100.0)
    return EmgScenario(**p)


def _cyclic(rng: np.random.Generator) -> dict[str, Any]:
    """Cycling (~1 s), gait (~1-1.2 s per stride), lifting (2-4 s): one burst per cycle in
    30-60 % of it; the MDF swings ±5-15 % with joint angle and force (Farina 2006)."""
    return {
        "cycle_s": _u(rng, 1.0, 4.0, 2),
        "cycle_duty": _u(rng, 0.3, 0.6),
        "cycle_mdf_swing": _u(rng, 0.05, 0.15),
        "cycle_mdf_phase": _u(rng, 0.0, 2 * math.pi),
        "cycle_amp_jitter": 0.2,
        "block_s": 0.1,
    }


def _ecg(rng: np.random.Generator, rms0: float) -> dict[str, Any]:
    """Trunk muscles at low force: R waves 0.3-3x the EMG RMS, 50-90 bpm."""
    return {
        "ecg_mv": round(rms0 * _u(rng, 0.3, 3.0), 4),
        "ecg_bpm": _u(rng, 50.0, 90.0, 1),
        "ecg_hrv": _u(rng, 0.02, 0.08),
        "mdf0_hz": _u(rng, 55.0, 90.0, 2),
    }


def _control(rng: np.random.Generator, kind: str) -> EmgScenario:
    e = _emg(rng, kind, (660, 900))
    p, lead, work_end = e.params, e.lead, e.work_end
    if kind == "c_sustained" and rng.random() < 0.5:
        times = np.sort(rng.uniform(lead + 20.0, work_end - 20.0, int(rng.integers(1, 3))))
        level = 1.0
        steps: list[ForceStep] = []
        for t in times:
            level = _u(rng, 1.2, 1.8) if level <= 1.0 else _u(rng, 0.6, 0.9)
            if not steps or t - steps[-1].t_s >= 3.0:
                steps.append(ForceStep(round(float(t), 1), level))
        p["force_steps"] = tuple(steps)
    elif kind == "c_intermittent":
        p.update(duty_on_s=_u(rng, 4.0, 10.0, 1), duty_off_s=_u(rng, 2.0, 6.0, 1))
    elif kind == "c_cyclic":
        p.update(_cyclic(rng))
    elif kind == "c_electrode_shift":
        shift = _u(rng, lead + 0.3 * (work_end - lead), lead + 0.8 * (work_end - lead), 1)
        p.update(shift_s=shift, shift_mdf=-_u(rng, 0.04, 0.08), shift_rms=-_u(rng, 0.05, 0.15))
        how = rng.random()
        if how < 0.45:
            gap = _u(rng, 0.5, 5.0, 2)
            p["dropouts"] = (Dropout(round(shift - gap, 2), shift, None, 0.0),)
        elif how < 0.9:
            p["shift_motion_mv"] = _u(rng, 1.0, 5.0, 2)
    elif kind == "c_ecg":
        p.update(_ecg(rng, e.rms0))
    elif kind == "c_temperature":
        change = _u(rng, 0.03, 0.06, 4) * (-1.0 if rng.random() < 0.6 else 1.0)
        start = _u(rng, lead + 10.0, lead + 120.0, 1)
        p.update(
            temp_mdf_change=change,
            temp_start_s=start,
            temp_end_s=round(min(work_end, start + _u(rng, 180.0, 480.0, 1)), 1),
            temp_rms_per_mdf=_u(rng, -1.0, -0.2),
        )
    return EmgScenario(**p)


def _gait(rng: np.random.Generator, kind: str) -> dict[str, Any]:
    """Periodic movements at the wrist (cadence sources in ``simulators.field_acc``)."""
    if kind == "run":
        return {
            "motion_kind": "run",
            "cycle_hz": _u(rng, 2.6, 3.0),
            "cycle_harmonics": (_u(rng, 3.0, 6.0), _u(rng, 2.0, 5.0), _u(rng, 1.0, 2.5)),
            "cycle_sub": _u(rng, 1.0, 2.0),
            "impact_ms2": _u(rng, 10.0, 25.0, 2),
            "impact_hz": _u(rng, 15.0, 20.0, 2),
            "impact_decay_s": _u(rng, 0.015, 0.03, 4),
        }
    if kind == "arm_swing":
        return {
            "motion_kind": "arm_swing",
            "cycle_hz": _u(rng, 0.8, 1.0),
            "cycle_harmonics": (_u(rng, 1.5, 3.0), _u(rng, 0.4, 1.0), _u(rng, 0.2, 0.5), 0.1),
            "cycle_sub": 0.0,
        }
    if kind == "hammer":
        return {
            "motion_kind": "hammer",
            "cycle_hz": _u(rng, 1.0, 3.0),
            "cycle_harmonics": (_u(rng, 1.0, 3.0), _u(rng, 0.5, 1.5), _u(rng, 0.3, 0.8), 0.2),
            "impact_ms2": _u(rng, 10.0, 40.0, 2),
            "impact_hz": _u(rng, 12.0, 20.0, 2),
            "impact_decay_s": _u(rng, 0.03, 0.08, 4),
        }
    return {
        "motion_kind": "walk",
        "cycle_hz": _u(rng, 1.6, 2.0),
        "cycle_harmonics": (_u(rng, 0.8, 2.0), _u(rng, 1.0, 2.5), _u(rng, 0.4, 1.2)),
        "cycle_sub": _u(rng, 0.3, 0.8),
        "impact_ms2": _u(rng, 3.0, 8.0, 2),
        "impact_hz": _u(rng, 15.0, 20.0, 2),
        "impact_decay_s": _u(rng, 0.01, 0.025, 4),
    }


def _handwriting(rng: np.random.Generator) -> dict[str, Any]:
    return {"motion_kind": "handwriting", "stroke_ms2": _u(rng, 0.3, 1.2)}


def _acc(rng: np.random.Generator, kind: str) -> AccScenario:
    tremor = kind in ("acc_tremor_onset", "acc_tremor_moving")
    quiet = kind == "acc_quiet_12bit"
    twelve_bit = quiet or rng.random() < 0.3
    fs = 50.0 if twelve_bit else float(rng.choice([50.0, 100.0, 200.0]))
    duration = float(rng.integers(300, 900) if tremor else rng.integers(1200, 1800))
    onset = 0.0
    sc: dict[str, Any] = {
        "fs": fs,
        "duration_s": duration,
        "tremor_hz": _u(rng, 8.0, 11.0, 2),
        "tremor_rms0": _u(rng, 0.005, 0.02, 4),
        "movement_rms": _u(rng, 0.005, 0.03, 4) if quiet else _u(rng, 0.1, 0.6),
        "noise_rms": _u(rng, 0.003, 0.01, 4),
        "gravity_wobble_deg": _u(rng, 2.0, 10.0, 1) if rng.random() < 0.5 else 0.0,
        "gravity": _G,
    }
    if twelve_bit:
        sc["quant_step"] = ACC_12BIT_STEP
    if tremor:
        onset = sc["onset_s"] = _u(rng, 60.0, duration - 90.0, 1)
        sc["ramp_s"] = _u(rng, 5.0, 20.0, 1)
        if rng.random() < 0.5:
            # Pathological (parkinsonian / essential / kinetic) 4-7 Hz.
            sc["pathological_hz"] = _u(rng, 4.0, 7.0, 2)
            sc["pathological_rms"] = _u(rng, 0.1, 0.6)
        else:
            # Enhanced physiological 8-12 Hz (fatigue, anxiety, drugs).
            sc["tremor_gain"] = _u(rng, 4.0, 10.0, 2)
            sc["tremor_hz"] = _u(rng, 8.0, 11.5, 2)
    if kind == "acc_tremor_moving":
        if rng.random() < 0.5:
            sc.update(_gait(rng, "walk"))
        else:
            sc.update(_handwriting(rng))
        sc["motion_start_s"] = _u(rng, 0.0, 0.5 * onset, 1)
    elif kind in ("acc_walk", "acc_run", "acc_arm_swing", "acc_hammer"):
        sc.update(_gait(rng, kind[4:]))
    elif kind == "acc_walk_start":
        sc.update(_gait(rng, "walk"))
        sc["motion_start_s"] = _u(rng, 60.0, 300.0, 1)
    elif kind == "acc_handwriting":
        sc.update(_handwriting(rng))
    elif kind == "acc_tremor_from_start":
        # Parkinsonian rest tremor, constant over the session.
        sc.update(pathological_hz=_u(rng, 4.0, 6.0, 2), pathological_rms=_u(rng, 0.1, 0.6))
        sc["tremor_from_start"] = True
    return AccScenario(**sc)


def plan_field(n: int, seed: int) -> list[PlannedRecording]:
    """The recordings of the field set of ``n`` for ``seed``, without writing anything."""
    if n < 1:
        raise ScenarioError("n", n, "must be >= 1")
    rng = np.random.default_rng(seed)
    cats = [_CYCLE[i % len(_CYCLE)] for i in range(n)]
    counters = {"F": 0, "C": 0, "A": 0}
    names = {"F": FATIGUE_KINDS, "C": CONTROL_KINDS, "A": ACC_KINDS}
    kinds = []
    for c in cats:
        kinds.append(names[c][counters[c] % len(names[c])])
        counters[c] += 1
    kinds = [kinds[i] for i in rng.permutation(n)]
    seeds = np.random.SeedSequence([seed, 0xF1E1D]).generate_state(n)
    width = max(3, len(str(n - 1)))
    makers: dict[str, Callable[[np.random.Generator, str], EmgScenario | AccScenario]] = {
        "f": _fatigue,
        "c": _control,
        "a": _acc,
    }
    plans = []
    for i, kind in enumerate(kinds):
        scenario = makers[kind[0]](rng, kind)
        channels = scenario.n_channels if isinstance(scenario, EmgScenario) else 3
        name = f"rec_{i:0{width}d}{_extension(rng, scenario.n_samples * channels, 0.1)}"
        plans.append(PlannedRecording(file=name, kind=kind, seed=int(seeds[i]), scenario=scenario))
    return plans
