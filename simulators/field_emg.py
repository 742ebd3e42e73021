"""Field conditions of surface EMG that the laboratory model leaves out.

Each one is stated in physiological terms, independently of any detector, and each has
an exactly known effect on the generating model, so the truth stays analytic. MDF moves
with muscle-fibre conduction velocity and with the detection geometry (De Luca 1997,
"The use of surface electromyography in biomechanics", J Appl Biomech 13:135-163; Farina
& Merletti 2000, "Comparison of algorithms for estimation of EMG variables during
voluntary isometric contractions", J Electromyogr Kinesiol 10:337-349):

- Intermittent isometric work (e.g. 6 s on / 4 s off): fatigue builds over contractions
  because a few seconds of rest restore only a small part of it; MDF recovery after
  contraction has time constants of tens of seconds to minutes (Merletti, Lo Conte &
  Orizio 1991, "Indices of muscle fatigue", J Electromyogr Kinesiol 1:20-33), hence the
  exponential recovery with ``recovery_tau_s`` 30-60 s across the off periods.
- Dynamic cyclic work (cycling, lifting, gait): one burst per cycle, and within the burst
  the spectrum moves with joint angle and force, because the electrode-to-fibre geometry
  and the recruited units change (Farina 2006, "Interpretation of the surface
  electromyogram in dynamic contractions", Exerc Sport Sci Rev 34:121-127; Bonato et al.
  2001). The swing repeats every cycle; burst amplitude varies from cycle to cycle.
- Electrode shift / re-attachment: a wider or displaced electrode pair low-pass filters
  the potentials more (longer spatial filter) and sees fewer fibres: MDF and RMS step down
  together at one instant (Farina, Cescon & Merletti 2002, "Influence of anatomical,
  physical, and detection-system parameters on surface EMG", Biol Cybern 86:445-456;
  Young, Hargrove & Kuiken 2011, "The effects of electrode size and orientation on the
  sensitivity of myoelectric pattern recognition systems to electrode shift", IEEE TBME),
  usually after the contact was lost or knocked.
- ECG cross-talk on trunk muscles (erector spinae, abdominals): QRS complexes at the heart
  rate with ordinary RR variability (Task Force of the ESC/NASPE 1996: SDNN of a few per
  cent of the RR interval at rest), most energy 5-40 Hz, amplitudes comparable to or
  larger than the EMG at low force (Drake & Callaghan 2006, "Elimination of
  electrocardiogram contamination from electromyogram signals", J Electromyogr Kinesiol
  16:175-187). The QRS is a sum of Gaussians as in McSharry et al. 2003 (ECGSYN).
- Temperature drift: conduction velocity changes by about 2-3 % per degree C of muscle
  temperature (Merletti, Sabbahi & De Luca 1984, "Median frequency of the myoelectric
  signal: effects of muscle ischemia and cooling", Eur J Appl Physiol 52:258-265; Farina,
  Arendt-Nielsen & Graven-Nielsen 2005, J Appl Physiol), and cooling of 1-2 C over
  minutes is ordinary outdoors or under a fan; cooling also lengthens the potentials and
  raises their amplitude a little. The MDF drifts by a few per cent, RMS steady or up: not
  fatigue, but alike in sign.

The slow state (fatigue, force, rests) stays in ``simulators.schedule``; this module adds
the fast factors (per cycle, per beat, the steps) as closed-form functions of time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import scipy.signal

from simulators.errors import require as _check
from simulators.schedule import RestPeriod
from simulators.truth import Artifact

if TYPE_CHECKING:
    from simulators.emg import EmgScenario

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

#: A rest at least this long ends the fatiguing period (shorter ones only slow fatigue).
LONG_REST_S = 15.0
#: ECG waves as (centre s, width s, amplitude relative to R): P, Q, R, S, T (ECGSYN-like).
ECG_WAVES = (
    (-0.20, 0.025, 0.12),
    (-0.025, 0.008, -0.15),
    (0.0, 0.010, 1.0),
    (0.025, 0.008, -0.30),
    (0.26, 0.040, 0.30),
)
#: The beat template spans this window around the R peak.
ECG_WINDOW_S = (-0.30, 0.45)


def duty_rests(
    rests: Sequence[RestPeriod],
    *,
    duration_s: float,
    lead_s: float,
    trail_s: float,
    on_s: float,
    off_s: float,
) -> tuple[RestPeriod, ...]:
    """Explicit rests plus the lead, trail and duty-cycle off periods, sorted.

    The duty cycle restarts with a contraction after every explicit rest; an off period
    is only placed when at least 1 s of work follows it before the next rest.
    """
    out = list(rests)
    if lead_s > 0.0:
        out.append(RestPeriod(0.0, lead_s))
    work_end = duration_s - trail_s
    if trail_s > 0.0:
        out.append(RestPeriod(work_end, duration_s + 1.0))
    if on_s > 0.0:
        a = lead_s
        segments = []
        for r in sorted(rests, key=lambda r: r.start_s):
            segments.append((a, r.start_s))
            a = r.end_s
        segments.append((a, work_end))
        for a, b in segments:
            n = max(0, math.floor((b - a - on_s - off_s - 1.0) / (on_s + off_s)) + 1)
            starts = a + on_s + np.arange(n) * (on_s + off_s)
            out += [RestPeriod(round(float(t), 6), round(float(t) + off_s, 6)) for t in starts]
    return tuple(sorted(out, key=lambda r: r.start_s))


def ecg_template(fs: float) -> F64:
    """One heartbeat (R peak = 1) sampled at ``fs`` over ``ECG_WINDOW_S``; R at index
    ``round(-ECG_WINDOW_S[0] * fs)``."""
    pre = round(-ECG_WINDOW_S[0] * fs)
    u = (np.arange(pre + round(ECG_WINDOW_S[1] * fs)) - pre) / fs
    out: F64 = np.zeros(u.size)
    for centre, width, amp in ECG_WAVES:
        out += amp * np.exp(-0.5 * np.square((u - centre) / width))
    return out


def ecg_beats(
    duration_s: float, fs: float, bpm: float, hrv: float, rng: np.random.Generator
) -> F64:
    """R-peak times on the sample grid: RR intervals with SD ``hrv`` of the mean, as a
    first-order autoregressive series (successive RR intervals are correlated, rho 0.7)."""
    mean_rr = 60.0 / bpm
    n = math.ceil(duration_s / mean_rr * 1.5) + 4
    rho = 0.7
    z = scipy.signal.lfilter([math.sqrt(1 - rho * rho)], [1.0, -rho], rng.standard_normal(n))
    rr = mean_rr * (1.0 + hrv * np.clip(z, -3.0, 3.0))
    t = rng.uniform(0.0, mean_rr) + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    t = t[t < duration_s + ECG_WINDOW_S[1]]
    out: F64 = np.round(t * fs) / fs
    return out


def validate_field_emg(s: EmgScenario) -> None:
    """Ranges of the field parameters (defaults are all valid and switch them off)."""
    fin = math.isfinite
    d = s.duration_s
    for name in ("lead_rest_s", "trail_rest_s"):
        v = getattr(s, name)
        _check(fin(v) and (v == 0.0 or 1.0 <= v <= 600.0), name, v, "must be 0 or 1..600 s")
    _check(
        s.lead_rest_s + s.trail_rest_s <= d - 2.0,
        "trail_rest_s",
        s.trail_rest_s,
        "lead and trail rests leave less than 2 s of work",
    )
    _check(
        fin(s.duty_on_s) and (s.duty_on_s == 0.0 or 1.0 <= s.duty_on_s <= 120.0),
        "duty_on_s",
        s.duty_on_s,
        "must be 0 (continuous work) or 1..120 s",
    )
    if s.duty_on_s:
        _check(
            fin(s.duty_off_s) and 1.0 <= s.duty_off_s < LONG_REST_S,
            "duty_off_s",
            s.duty_off_s,
            f"must be 1..{LONG_REST_S:g} s (a longer pause is a rest: use rests)",
        )
    _check(
        fin(s.cycle_s) and (s.cycle_s == 0.0 or 0.3 <= s.cycle_s <= 10.0),
        "cycle_s",
        s.cycle_s,
        "must be 0 (isometric) or 0.3..10 s",
    )
    if s.cycle_s:
        _check(not s.duty_on_s, "cycle_s", s.cycle_s, "cannot be combined with duty_on_s")
        _check(
            s.block_s <= s.cycle_s / 8.0,
            "block_s",
            s.block_s,
            f"must be <= cycle_s / 8 = {s.cycle_s / 8:g} s to resolve the MDF swing",
        )
    _check(0.1 <= s.cycle_duty <= 0.9, "cycle_duty", s.cycle_duty, "must be 0.1..0.9")
    _check(0.0 <= s.cycle_mdf_swing <= 0.3, "cycle_mdf_swing", s.cycle_mdf_swing, "must be 0..0.3")
    _check(fin(s.cycle_mdf_phase), "cycle_mdf_phase", s.cycle_mdf_phase, "must be finite")
    _check(
        0.0 <= s.cycle_amp_jitter <= 0.5,
        "cycle_amp_jitter",
        s.cycle_amp_jitter,
        "must be 0..0.5",
    )
    _check(0.0 <= s.force_rise <= 2.0, "force_rise", s.force_rise, "must be 0..2")
    if s.force_rise:
        _check(s.onset_s is not None, "force_rise", s.force_rise, "needs an onset_s")
    if s.shift_s is not None:
        _check(fin(s.shift_s) and 0.0 < s.shift_s < d, "shift_s", s.shift_s, "must be in (0, T)")
    _check(-0.3 <= s.shift_mdf <= 0.3, "shift_mdf", s.shift_mdf, "must be -0.3..0.3")
    _check(-0.5 <= s.shift_rms <= 0.5, "shift_rms", s.shift_rms, "must be -0.5..0.5")
    _check(
        fin(s.shift_motion_mv) and s.shift_motion_mv >= 0.0,
        "shift_motion_mv",
        s.shift_motion_mv,
        "must be >= 0",
    )
    _check(
        -0.2 <= s.temp_mdf_change <= 0.2,
        "temp_mdf_change",
        s.temp_mdf_change,
        "must be -0.2..0.2 (about +-7 C of muscle temperature)",
    )
    if s.temp_mdf_change:
        _check(
            0.0 <= s.temp_start_s < s.temp_end_s <= d,
            "temp_end_s",
            (s.temp_start_s, s.temp_end_s),
            "need 0 <= temp_start_s < temp_end_s <= duration_s",
        )
    _check(
        -2.0 <= s.temp_rms_per_mdf <= 2.0,
        "temp_rms_per_mdf",
        s.temp_rms_per_mdf,
        "must be -2..2",
    )
    _check(fin(s.ecg_mv) and s.ecg_mv >= 0.0, "ecg_mv", s.ecg_mv, "must be >= 0 mV")
    _check(30.0 <= s.ecg_bpm <= 200.0, "ecg_bpm", s.ecg_bpm, "must be 30..200 beats/min")
    _check(0.0 <= s.ecg_hrv <= 0.3, "ecg_hrv", s.ecg_hrv, "must be 0..0.3")
    _check(
        fin(s.quant_step_mv) and s.quant_step_mv >= 0.0,
        "quant_step_mv",
        s.quant_step_mv,
        "must be >= 0 (0 = no quantisation)",
    )
    _check(2 <= s.quant_bits <= 24, "quant_bits", s.quant_bits, "must be 2..24")


class EmgModulation:
    """The fast, closed-form factors of the field conditions, and the per-recording draws
    they need (burst amplitude of every cycle, heartbeat times, ECG gain per channel)."""

    def __init__(self, s: EmgScenario, rng: np.random.Generator) -> None:
        self.scenario = s
        cycle_rng, ecg_rng = rng.spawn(2)
        n_cycles = math.ceil(s.duration_s / s.cycle_s) + 2 if s.cycle_s else 0
        self.cycle_gain: F64 = 1.0 + s.cycle_amp_jitter * cycle_rng.uniform(-1.0, 1.0, n_cycles)
        if s.ecg_mv > 0.0:
            self.beats: F64 = ecg_beats(s.duration_s, s.fs, s.ecg_bpm, s.ecg_hrv, ecg_rng)
            self.beat_gain: F64 = 1.0 + 0.05 * ecg_rng.standard_normal(self.beats.size)
            self.ecg_channel_gain: F64 = ecg_rng.uniform(0.6, 1.2, s.n_channels)
        else:
            self.beats = np.zeros(0)
            self.beat_gain = np.zeros(0)
            self.ecg_channel_gain = np.zeros(s.n_channels)
        self._template = ecg_template(s.fs)
        self._pre = round(-ECG_WINDOW_S[0] * s.fs)
        self.active = bool(
            s.cycle_s or s.shift_s is not None or s.temp_mdf_change or s.ecg_mv > 0.0
        )

    @staticmethod
    def mdf_factor_bounds(s: EmgScenario) -> tuple[float, float]:
        """Lowest and highest ``mdf_factor`` the scenario can reach (for validation)."""
        lo = hi = 1.0
        for f in (1.0 + s.shift_mdf if s.shift_s is not None else 1.0, 1.0 + s.temp_mdf_change):
            lo, hi = lo * min(1.0, f), hi * max(1.0, f)
        if s.cycle_s:
            lo, hi = lo * (1.0 - s.cycle_mdf_swing), hi * (1.0 + s.cycle_mdf_swing)
        return lo, hi

    def _temperature(self, t: F64) -> F64:
        s = self.scenario
        u = np.clip((t - s.temp_start_s) / (s.temp_end_s - s.temp_start_s), 0.0, 1.0)
        out: F64 = 0.5 * (1.0 - np.cos(np.pi * u)) * s.temp_mdf_change
        return out

    def mdf_factor(self, t: npt.ArrayLike) -> F64:
        """MDF multiplier at ``t``: within-cycle swing x electrode shift x temperature."""
        s = self.scenario
        tt = np.asarray(t, dtype=np.float64)
        out: F64 = np.ones_like(tt)
        if s.cycle_s:
            out *= 1.0 + s.cycle_mdf_swing * np.sin(2 * np.pi * tt / s.cycle_s + s.cycle_mdf_phase)
        if s.shift_s is not None:
            out *= np.where(tt >= s.shift_s, 1.0 + s.shift_mdf, 1.0)
        if s.temp_mdf_change:
            out *= 1.0 + self._temperature(tt)
        return out

    def burst_shape(self, t: npt.ArrayLike) -> F64:
        """Within-cycle activation, 0..1 (sin^2 burst in the first ``cycle_duty``)."""
        s = self.scenario
        tt = np.asarray(t, dtype=np.float64)
        if not s.cycle_s:
            return np.ones_like(tt)
        p = np.mod(tt / s.cycle_s, 1.0)
        out: F64 = np.where(p < s.cycle_duty, np.square(np.sin(np.pi * p / s.cycle_duty)), 0.0)
        return out

    def rms_factor(self, t: npt.ArrayLike) -> F64:
        """RMS multiplier at ``t``: burst x cycle gain x electrode shift x temperature."""
        s = self.scenario
        tt = np.asarray(t, dtype=np.float64)
        out = self.burst_shape(tt)
        if s.cycle_s:
            k = np.clip(np.floor(tt / s.cycle_s).astype(np.int64), 0, self.cycle_gain.size - 1)
            out = out * self.cycle_gain[k]
        if s.shift_s is not None:
            out = out * np.where(tt >= s.shift_s, 1.0 + s.shift_rms, 1.0)
        if s.temp_mdf_change:
            out = out * (1.0 + s.temp_rms_per_mdf * self._temperature(tt))
        return out

    def max_rms_factor(self) -> float:
        s = self.scenario
        peak = float(np.max(self.cycle_gain, initial=1.0))
        peak *= max(1.0, 1.0 + s.shift_rms) * (1.0 + abs(s.temp_rms_per_mdf * s.temp_mdf_change))
        return peak

    def ecg_peak_mv(self) -> float:
        if not self.beats.size:
            return 0.0
        gain = float(np.max(self.beat_gain)) * float(np.max(self.ecg_channel_gain))
        return self.scenario.ecg_mv * gain * float(np.max(np.abs(self._template)))

    def add_ecg(self, x: F32, start: int) -> None:
        """Add every heartbeat that overlaps samples ``start .. start + n`` (vectorised)."""
        if not self.beats.size:
            return
        s = self.scenario
        m = x.shape[1]
        r = np.round(self.beats * s.fs).astype(np.int64) - self._pre
        lo = int(np.searchsorted(r, start - self._template.size, side="right"))
        hi = int(np.searchsorted(r, start + m, side="left"))
        if hi <= lo:
            return
        idx = r[lo:hi, None] + np.arange(self._template.size)[None, :] - start
        vals = self.beat_gain[lo:hi, None] * self._template[None, :]
        keep = (idx >= 0) & (idx < m)
        sig = np.zeros(m)
        np.add.at(sig, idx[keep], vals[keep])
        x += np.outer(s.ecg_mv * self.ecg_channel_gain, sig).astype(np.float32)


def quantise(x: F32, step: float, bits: int) -> None:
    """Round to the ADC step and clip to a signed ``bits`` range, in place."""
    half = float(2 ** (bits - 1))
    q = np.clip(np.rint(x / np.float32(step)), -half, half - 1.0)
    x[...] = q * np.float32(step)


def field_artifacts(s: EmgScenario, mod: EmgModulation) -> list[Artifact]:
    """Truth artifacts of the field conditions (``ecg``, ``electrode_shift``,
    ``temperature_drift``); none for a scenario without them."""
    names = s.channel_names
    out = []
    if mod.beats.size:
        out.append(Artifact(start_s=0.0, end_s=s.duration_s, kind="ecg", channels=names))
    if s.shift_s is not None:
        start = s.shift_s
        for d in s.dropouts:
            if abs(d.end_s - s.shift_s) < 1e-6:
                start = min(start, d.start_s)
        if s.shift_motion_mv > 0.0:
            start = min(start, max(0.0, s.shift_s - 2.0 * 3.0 * 0.15))
        out.append(Artifact(start_s=start, end_s=s.shift_s, kind="electrode_shift", channels=names))
    if s.temp_mdf_change:
        out.append(
            Artifact(
                start_s=s.temp_start_s,
                end_s=s.temp_end_s,
                kind="temperature_drift",
                channels=names,
            )
        )
    return out


def field_realised(s: EmgScenario, mod: EmgModulation) -> dict[str, object]:
    """The field draws for ``params.realised`` (empty without field conditions, so the
    truth of a laboratory scenario is unchanged)."""
    out: dict[str, object] = {}
    if s.cycle_s:
        out["cycle_gain"] = mod.cycle_gain
    if mod.beats.size:
        out["ecg_beats_s"] = mod.beats
        out["ecg_channel_gain"] = mod.ecg_channel_gain
    if s.aliased:
        out["aliasing"] = "PSD folded about fs/2 (sum of aliases up to 5 kHz)"
    return out
