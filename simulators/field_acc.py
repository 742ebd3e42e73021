"""Voluntary movements that put accelerometer power into the 4-12 Hz tremor band.

A wrist or phone accelerometer in daily life sees far more than slow 0.1-3 Hz movement:

- Walking and running: the acceleration repeats every step, a fundamental at the step
  frequency with strong harmonics (the 2nd, near 3.2-4 Hz, is often larger than the
  fundamental in the vertical axis), a sway at the stride frequency (half the step rate),
  and at each heel strike a short broadband impact transient (Zijlstra & Hof 2003,
  "Assessment of spatio-temporal gait parameters from trunk accelerations during human
  walking", Gait Posture 18:1-10). Adults walk freely at 1.6-2.0 steps/s (BenAbdelkader,
  Cutler & Davis 2002, "Stride and cadence as a biometric in automatic person
  identification and verification") and run at 2.6-3.0 steps/s (Heiderscheit et al.
  2011, "Effects of step rate manipulation on joint mechanics during running", Med Sci
  Sports Exerc 43:296-302), with step-to-step variability of a few per cent (Hausdorff
  2005, "Gait variability: methods, modeling and meaning", J NeuroEng Rehabil 2:19).
- Arm swing (gesturing, walking with the sensor on a swinging arm): 0.8-1.0 Hz with
  decaying harmonics.
- Handwriting: pen strokes are oscillations at 4-6 Hz in bursts of 0.5-3 s separated by
  pauses between words (Teulings & Maarse 1984; van Galen 1991, "Handwriting: issues for a
  psychomotor theory"), squarely inside the 4-6 Hz band of pathological tremor.
- Knocking / hammering: blows at 1-3 Hz, each an impact followed by ringing of the tool
  and hand (tens of Hz), with a repetitive swing whose harmonics reach the tremor band.

Tremor bands (for the positives elsewhere) follow Elble & Deuschl 2011, "Milestones in
tremor research" / the MDS consensus (Bhatia et al. 2018): rest tremor of Parkinson's
disease 4-6 Hz, essential and kinetic tremor 4-12 Hz, enhanced physiological 8-12 Hz.
Every movement here is voluntary: none of it is tremor, and the truth's tremor RMS
excludes it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from simulators.errors import require as _check

if TYPE_CHECKING:
    from simulators.acc import AccScenario

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

MOTION_KINDS = ("none", "walk", "run", "arm_swing", "hammer", "handwriting")
#: Movements fade in (and out) over this many cycles: the first steps are smaller.
FADE_CYCLES = 2.0
#: Handwriting bursts fade in and out over this long.
STROKE_EDGE_S = 0.15


def unit_vector(rng: np.random.Generator) -> F64:
    """Uniform on the sphere: an isotropic Gaussian normalised."""
    while True:
        v = rng.standard_normal(3)
        n = float(np.linalg.norm(v))
        if n > 1e-6:
            out: F64 = v / n
            return out


def _orthogonal(v: F64, rng: np.random.Generator) -> F64:
    w = unit_vector(rng)
    w = w - v * float(v @ w)
    out: F64 = w / max(float(np.linalg.norm(w)), 1e-9)
    return out


def validate_field_acc(s: AccScenario) -> None:
    """Ranges of the movement, tremor-from-start and quantisation parameters."""
    fin = math.isfinite
    _check(s.motion_kind in MOTION_KINDS, "motion_kind", s.motion_kind, f"one of {MOTION_KINDS}")
    end = s.duration_s if s.motion_end_s is None else s.motion_end_s
    _check(
        fin(s.motion_start_s) and fin(end) and 0.0 <= s.motion_start_s < end <= s.duration_s,
        "motion_start_s",
        (s.motion_start_s, s.motion_end_s),
        "need 0 <= motion_start_s < motion_end_s <= duration_s",
    )
    periodic = s.motion_kind in ("walk", "run", "arm_swing", "hammer")
    if periodic:
        _check(
            fin(s.cycle_hz) and 0.3 <= s.cycle_hz <= 5.0,
            "cycle_hz",
            s.cycle_hz,
            "must be 0.3..5 cycles/s",
        )
        top = max(len(s.cycle_harmonics), 1) * s.cycle_hz
        _check(
            top < 0.45 * s.fs,
            "cycle_harmonics",
            s.cycle_harmonics,
            f"the highest harmonic must stay below 0.45 fs = {0.45 * s.fs:g} Hz",
        )
    _check(0.0 <= s.cycle_cv <= 0.2, "cycle_cv", s.cycle_cv, "must be 0..0.2")
    _check(
        all(fin(a) and 0.0 <= a <= 50.0 for a in s.cycle_harmonics),
        "cycle_harmonics",
        s.cycle_harmonics,
        "amplitudes must be 0..50 m/s^2",
    )
    _check(fin(s.cycle_sub) and 0.0 <= s.cycle_sub <= 50.0, "cycle_sub", s.cycle_sub, "0..50")
    _check(
        fin(s.impact_ms2) and 0.0 <= s.impact_ms2 <= 200.0,
        "impact_ms2",
        s.impact_ms2,
        "must be 0..200 m/s^2",
    )
    _check(
        fin(s.impact_hz) and 1.0 <= s.impact_hz < 0.45 * s.fs,
        "impact_hz",
        s.impact_hz,
        f"must be 1 Hz..0.45 fs = {0.45 * s.fs:g} Hz",
    )
    _check(0.002 <= s.impact_decay_s <= 0.5, "impact_decay_s", s.impact_decay_s, "must be 2-500 ms")
    _check(
        fin(s.stroke_lo_hz) and 1.0 <= s.stroke_lo_hz <= s.stroke_hi_hz < 0.45 * s.fs,
        "stroke_lo_hz",
        (s.stroke_lo_hz, s.stroke_hi_hz),
        "need 1 <= stroke_lo_hz <= stroke_hi_hz < 0.45 fs",
    )
    _check(
        fin(s.stroke_ms2) and 0.0 <= s.stroke_ms2 <= 50.0,
        "stroke_ms2",
        s.stroke_ms2,
        "must be 0..50 m/s^2",
    )
    if s.tremor_from_start:
        _check(
            s.onset_s is None and s.pathological_hz is not None,
            "tremor_from_start",
            s.tremor_from_start,
            "needs pathological_hz and no onset_s (the tremor is there from the first sample)",
        )
    _check(fin(s.quant_step) and s.quant_step >= 0.0, "quant_step", s.quant_step, ">= 0")
    _check(2 <= s.quant_bits <= 24, "quant_bits", s.quant_bits, "must be 2..24")


class AccMotion:
    """The realised voluntary movement of one recording, evaluated in closed form.

    Periodic movements are a waveform repeated every cycle (harmonics with fixed phases,
    amplitude jittered per cycle, cycle lengths jittered by ``cycle_cv``) plus an impact at
    the start of each cycle (heel strike, blow); handwriting is a list of stroke bursts.
    """

    def __init__(self, s: AccScenario, gravity_dir: F64, rng: np.random.Generator) -> None:
        self.scenario = s
        self.start = s.motion_start_s
        self.end = s.duration_s if s.motion_end_s is None else s.motion_end_s
        self.periodic = s.motion_kind in ("walk", "run", "arm_swing", "hammer")
        self.handwriting = s.motion_kind == "handwriting"
        # Gait acceleration at the wrist is mostly vertical (along gravity); swings and
        # blows have their own direction.
        if s.motion_kind in ("walk", "run"):
            main = gravity_dir + 0.4 * unit_vector(rng)
            self.main_dir: F64 = main / float(np.linalg.norm(main))
        else:
            self.main_dir = unit_vector(rng)
        self.side_dir: F64 = _orthogonal(self.main_dir, rng)
        n_h = len(s.cycle_harmonics)
        self.harmonic_phase: F64 = rng.uniform(0.0, 2 * np.pi, n_h)
        self.sub_phase = float(rng.uniform(0.0, 2 * np.pi))
        self.bounds: F64 = np.zeros(0)
        self.cycle_gain: F64 = np.zeros(0)
        self.impact_gain: F64 = np.zeros(0)
        if self.periodic:
            span = self.end - self.start
            n = math.ceil(span * s.cycle_hz * 1.3) + 4
            lengths = (1.0 + s.cycle_cv * np.clip(rng.standard_normal(n), -3, 3)) / s.cycle_hz
            bounds = self.start + np.concatenate([[0.0], np.cumsum(lengths)])
            self.bounds = bounds[: int(np.searchsorted(bounds, self.end)) + 1]
            self.cycle_gain = 1.0 + 0.1 * rng.uniform(-1.0, 1.0, self.bounds.size)
            self.impact_gain = rng.uniform(0.7, 1.3, self.bounds.size)
        self.strokes: F64 = np.zeros((0, 5))
        if self.handwriting:
            self.strokes = _strokes(s, self.start, self.end, rng)

    def step_times(self) -> F64:
        """Cycle starts (heel strikes, blows) inside the movement."""
        out: F64 = self.bounds[self.bounds < self.end]
        return out

    def _fade(self, t: F64) -> F64:
        s = self.scenario
        width = FADE_CYCLES / s.cycle_hz
        out: F64 = np.clip((t - self.start) / width, 0.0, 1.0) * np.clip(
            (self.end - t) / width, 0.0, 1.0
        )
        return out

    def at(self, t: F64) -> F64:
        """Acceleration (3, len(t)) of the movement, m/s^2."""
        s = self.scenario
        out: F64 = np.zeros((3, t.size))
        if self.periodic and self.bounds.size >= 2:
            b = self.bounds
            k = np.searchsorted(b, t, side="right") - 1
            inside = (k >= 0) & (k < b.size - 1) & (t < self.end)
            kk = np.clip(k, 0, b.size - 2)
            tau = np.maximum(t - b[kk], 0.0)
            p = tau / (b[kk + 1] - b[kk])
            wave = np.zeros(t.size)
            for h, (a, ph) in enumerate(zip(s.cycle_harmonics, self.harmonic_phase, strict=True)):
                wave += a * np.cos(2 * np.pi * (h + 1) * p + ph)
            wave *= self.cycle_gain[kk] * self._fade(t)
            sub = s.cycle_sub * np.cos(np.pi * (np.mod(kk, 2) + p) + self.sub_phase)
            sub *= self._fade(t)
            imp = np.zeros(t.size)
            if s.impact_ms2 > 0.0:
                imp = (
                    s.impact_ms2
                    * self.impact_gain[kk]
                    * np.exp(-tau / s.impact_decay_s)
                    * np.sin(2 * np.pi * s.impact_hz * tau)
                )
            out += np.outer(self.main_dir, np.where(inside, wave + imp, 0.0))
            out += np.outer(self.side_dir, np.where(inside, sub, 0.0))
        if self.strokes.size:
            st = self.strokes
            k = np.searchsorted(st[:, 0], t, side="right") - 1
            kk = np.clip(k, 0, st.shape[0] - 1)
            tau = t - st[kk, 0]
            dur = st[kk, 1]
            inside = (k >= 0) & (tau >= 0.0) & (tau < dur)
            edge = np.clip(np.minimum(tau, dur - tau) / STROKE_EDGE_S, 0.0, 1.0)
            env = np.where(inside, np.square(np.sin(0.5 * np.pi * edge)) * st[kk, 3], 0.0)
            phase = 2 * np.pi * (st[kk, 2] * tau + 0.5 * st[kk, 4] * tau * tau)
            out += np.outer(self.main_dir, env * np.sin(phase))
            out += np.outer(self.side_dir, 0.6 * env * np.cos(phase))
        return out

    def peak(self) -> float:
        """An upper bound of the movement's magnitude (for the file's range)."""
        s = self.scenario
        periodic = 1.1 * (sum(s.cycle_harmonics) + s.cycle_sub) + 1.3 * s.impact_ms2
        strokes = float(np.max(self.strokes[:, 3], initial=0.0)) * 1.2
        return (periodic if self.periodic else 0.0) + strokes


def _strokes(s: AccScenario, start: float, end: float, rng: np.random.Generator) -> F64:
    """Stroke bursts as rows (start, duration, frequency, amplitude, chirp Hz/s): words of
    0.5-3 s at 4.3-5.9 Hz (the frequency drifting a little within a word), pauses of
    0.3-1.5 s between words and an occasional 2-6 s pause (a new line, rereading)."""
    n = math.ceil((end - start) / 0.8) + 4
    dur = rng.uniform(0.5, 3.0, n)
    pause = np.where(rng.random(n) < 0.12, rng.uniform(2.0, 6.0, n), rng.uniform(0.3, 1.5, n))
    starts = start + np.concatenate([[0.0], np.cumsum(dur + pause)[:-1]])
    freq = rng.uniform(s.stroke_lo_hz, s.stroke_hi_hz, n)
    amp = s.stroke_ms2 * rng.uniform(0.6, 1.2, n)
    chirp = rng.uniform(-0.3, 0.3, n)
    keep = starts + dur <= end
    out: F64 = np.column_stack([starts, dur, freq, amp, chirp])[keep]
    return out
