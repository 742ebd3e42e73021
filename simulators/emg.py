"""Surface EMG with a conduction-velocity-scaled spectrum and exactly known fatigue truth.

The muscle signal is Gaussian noise whose spectrum is the Shwedyk/Lindström shape
(``simulators.spectra``) with its corners multiplied by s(t) = CV(t)/CV0 and by a small
force effect, and whose amplitude follows force, fatigue and rest (``simulators.schedule``).
On top come the things a detector must survive: mains hum with harmonics, low-frequency
motion transients, electrode dropouts (flat segments) and a white instrument noise floor.
The truth (MDF, RMS and force every second, phases, artefacts) is computed from the same
model, never estimated from the samples.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from simulators.errors import require as _check
from simulators.field_emg import (
    EmgModulation,
    duty_rests,
    field_artifacts,
    field_realised,
    quantise,
    validate_field_emg,
)
from simulators.schedule import ForceStep, RestPeriod, Timeline, build_timeline, emg_phases
from simulators.shaping import OverlapAddShaper
from simulators.spectra import (
    CORNER_RATIO,
    EMG_BAND_HIGH_HZ,
    EMG_BAND_LOW_HZ,
    MdfTable,
    emg_analysis_band,
    folded_shwedyk_psd,
    shwedyk_psd,
)
from simulators.stream import Simulation
from simulators.truth import OMIT_DEFAULT, Artifact, Curve, RecordingTruth

__all__ = [
    "Dropout",
    "EmgGenerator",
    "EmgScenario",
    "ForceStep",
    "MotionEvent",
    "RestPeriod",
    "emg_channel_names",
    "nice_range",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

EMG_UNIT = "mV"
#: Gaussian envelopes are cut at this many sigmas: the artefact's start and end in the truth.
MOTION_SIGMAS = 3.0


#: Metadata of optional scenario fields: left out of the truth's params at their default.
_OPTIONAL = {OMIT_DEFAULT: True}


def emg_channel_names(n: int) -> tuple[str, ...]:
    return tuple(f"emg_{i + 1}" for i in range(n))


def nice_range(peak: float) -> float:
    """Smallest 1-2-5 step at or above ``peak``: a range a person would have chosen."""
    if peak <= 0:
        return 1.0
    exp = math.floor(math.log10(peak))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10.0**exp >= peak * (1 - 1e-12):
            return m * 10.0**exp
    return 10.0 ** (exp + 1)


@dataclass(frozen=True)
class Dropout:
    """Electrode contact lost from ``start_s`` to ``end_s``: the channel reads a constant.

    ``channels`` are 0-based indexes (``None`` = every channel).
    """

    start_s: float
    end_s: float
    channels: tuple[int, ...] | None = None
    value_mv: float = 0.0


@dataclass(frozen=True)
class MotionEvent:
    """One realised motion transient: a Gaussian-windowed slow oscillation (< 20 Hz)."""

    centre_s: float
    sigma_s: float
    freq_hz: float
    amplitude_mv: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class EmgScenario:
    """Everything that defines a simulated EMG recording except the random draws.

    ``decline_per_min`` is the linear fall of MDF/mdf0 per minute of work after
    ``onset_s``, floored at ``mdf_floor`` (fractions of the fresh MDF). ``rms_gain`` is the
    relative RMS rise per relative MDF fall. A force ``F`` (1 = reference) scales RMS by
    ``F**force_rms_exponent`` and MDF by ``F**force_mdf_exponent``. ``mains_harmonics`` are
    amplitudes relative to ``mains_mv`` of harmonics 1, 2, 3, ... (odd ones dominate in
    real hum). ``channel_*_spread`` are the ± fractions of per-channel MDF and gain.

    The field conditions (``simulators.field_emg`` has the physiology and the sources)
    default to off and are then left out of the truth's ``params``:

    - ``lead_rest_s`` / ``trail_rest_s``: silent muscle before the first and after the last
      contraction.
    - ``duty_on_s`` / ``duty_off_s``: intermittent work between the lead and trail rests
      (and around explicit ``rests``); the off periods are rests for fatigue (partial
      recovery with ``recovery_tau_s``).
    - ``cycle_s``: dynamic cyclic work, a burst in the first ``cycle_duty`` of every cycle,
      burst amplitude ± ``cycle_amp_jitter`` from cycle to cycle, MDF swinging by
      ± ``cycle_mdf_swing`` within the cycle (phase ``cycle_mdf_phase``, radians).
    - ``force_rise``: force rises by this fraction from the onset to ``end_s``.
    - ``shift_s``: electrode shift; MDF times ``1 + shift_mdf`` and RMS times
      ``1 + shift_rms`` from then on; ``shift_motion_mv`` adds a contact transient ending at
      the shift (a signal gap is an ordinary entry of ``dropouts``).
    - ``temp_mdf_change``: MDF drifts by this fraction from ``temp_start_s`` to
      ``temp_end_s`` (raised cosine), RMS by ``temp_rms_per_mdf`` times that.
    - ``ecg_mv``: R-wave amplitude of ECG cross-talk at ``ecg_bpm`` with RR-interval
      variability ``ecg_hrv`` (a fraction).
    - ``aliased``: no anti-alias filter, the muscle spectrum folds about fs/2 (allows
      fs down to 100 Hz); ``quant_step_mv`` > 0 rounds the output to that step and clips
      it to a signed ``quant_bits`` range.
    """

    fs: float = 2000.0
    n_channels: int = 4
    duration_s: float = 180.0
    mdf0_hz: float = 90.0
    rms0_mv: float = 0.3
    onset_s: float | None = None
    decline_per_min: float = 0.2
    mdf_floor: float = 0.5
    rms_gain: float = 1.2
    recovery_tau_s: float = 45.0
    force_steps: tuple[ForceStep, ...] = ()
    force_ramp_s: float = 1.0
    force_rms_exponent: float = 0.9
    force_mdf_exponent: float = 0.15
    rests: tuple[RestPeriod, ...] = ()
    mains_hz: float = 0.0
    mains_mv: float = 0.0
    mains_harmonics: tuple[float, ...] = (1.0, 0.0, 0.3, 0.0, 0.1)
    motion_per_min: float = 0.0
    motion_mv: float = 1.0
    dropouts: tuple[Dropout, ...] = ()
    noise_mv: float = 0.005
    channel_mdf_spread: float = 0.03
    channel_gain_spread: float = 0.15
    block_s: float = 0.5
    batch_s: float = 8.0
    lead_rest_s: float = field(default=0.0, metadata=_OPTIONAL)
    trail_rest_s: float = field(default=0.0, metadata=_OPTIONAL)
    duty_on_s: float = field(default=0.0, metadata=_OPTIONAL)
    duty_off_s: float = field(default=0.0, metadata=_OPTIONAL)
    cycle_s: float = field(default=0.0, metadata=_OPTIONAL)
    cycle_duty: float = field(default=0.5, metadata=_OPTIONAL)
    cycle_mdf_swing: float = field(default=0.0, metadata=_OPTIONAL)
    cycle_mdf_phase: float = field(default=0.0, metadata=_OPTIONAL)
    cycle_amp_jitter: float = field(default=0.0, metadata=_OPTIONAL)
    force_rise: float = field(default=0.0, metadata=_OPTIONAL)
    shift_s: float | None = field(default=None, metadata=_OPTIONAL)
    shift_mdf: float = field(default=0.0, metadata=_OPTIONAL)
    shift_rms: float = field(default=0.0, metadata=_OPTIONAL)
    shift_motion_mv: float = field(default=0.0, metadata=_OPTIONAL)
    temp_mdf_change: float = field(default=0.0, metadata=_OPTIONAL)
    temp_start_s: float = field(default=0.0, metadata=_OPTIONAL)
    temp_end_s: float = field(default=0.0, metadata=_OPTIONAL)
    temp_rms_per_mdf: float = field(default=-0.5, metadata=_OPTIONAL)
    ecg_mv: float = field(default=0.0, metadata=_OPTIONAL)
    ecg_bpm: float = field(default=70.0, metadata=_OPTIONAL)
    ecg_hrv: float = field(default=0.05, metadata=_OPTIONAL)
    aliased: bool = field(default=False, metadata=_OPTIONAL)
    quant_step_mv: float = field(default=0.0, metadata=_OPTIONAL)
    quant_bits: int = field(default=8, metadata=_OPTIONAL)

    def __post_init__(self) -> None:
        for name in ("force_steps", "rests", "mains_harmonics", "dropouts"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _validate_emg(self)

    @property
    def n_samples(self) -> int:
        return round(self.duration_s * self.fs)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return emg_channel_names(self.n_channels)

    @property
    def analysis_band(self) -> tuple[float, float]:
        return emg_analysis_band(self.fs)

    @property
    def hop(self) -> int:
        return round(0.5 * self.block_s * self.fs)

    @property
    def schedule_band(self) -> tuple[float, float]:
        """Band of the muscle's own MDF (the schedule): the analysis band, except for an
        aliased device, whose muscle still has its 20-450 Hz spectrum before folding."""
        return (EMG_BAND_LOW_HZ, EMG_BAND_HIGH_HZ) if self.aliased else self.analysis_band

    @property
    def all_rests(self) -> tuple[RestPeriod, ...]:
        """Every period the muscle is off: ``rests`` plus the lead, trail and duty-cycle
        rests (the trail rest runs past the end so the recording ends silent)."""
        if not (self.lead_rest_s or self.trail_rest_s or self.duty_on_s):
            return self.rests
        return duty_rests(
            self.rests,
            duration_s=self.duration_s,
            lead_s=self.lead_rest_s,
            trail_s=self.trail_rest_s,
            on_s=self.duty_on_s,
            off_s=self.duty_off_s,
        )

    @property
    def end_s(self) -> float:
        """End of the fatiguing period: the first of ``rests`` after the onset or the
        trail rest, else the end. The off periods of intermittent work (shorter than
        ``LONG_REST_S`` by validation) only slow the fatigue: it carries on across them."""
        if self.onset_s is None:
            return self.duration_s
        ends = [r.start_s for r in self.rests if r.start_s >= self.onset_s]
        if self.trail_rest_s:
            ends.append(self.duration_s - self.trail_rest_s)
        return min(ends, default=self.duration_s)


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _check_mdf_reachable(s: EmgScenario) -> None:
    """The lowest and highest MDF the schedule asks for must exist in the band.

    Below ~25 Hz no Shwedyk spectrum has its in-band median (the 20 Hz edge holds it up),
    so an MDF schedule that low could not be generated truthfully.
    """
    lo, hi = MdfTable.for_band(s.schedule_band).mdf_range
    levels = [1.0] + [st.level for st in s.force_steps]
    low_ratio = s.mdf_floor if s.onset_s is not None else 1.0
    lowest = (
        s.mdf0_hz * low_ratio * (1 - s.channel_mdf_spread) * min(levels) ** s.force_mdf_exponent
    )
    highest = s.mdf0_hz * (1 + s.channel_mdf_spread) * max(levels) ** s.force_mdf_exponent
    if s.force_rise:
        highest *= (1.0 + s.force_rise) ** s.force_mdf_exponent
    low_field, high_field = EmgModulation.mdf_factor_bounds(s)
    lowest *= low_field
    highest *= high_field
    _check(
        lowest >= 1.02 * lo and highest <= 0.98 * hi,
        "mdf0_hz",
        s.mdf0_hz,
        f"with this floor, force and channel spread the MDF would span {lowest:.0f}-"
        f"{highest:.0f} Hz, outside the {lo * 1.02:.0f}-{hi * 0.98:.0f} Hz the band can hold",
    )


def _validate_emg(s: EmgScenario) -> None:
    min_fs = 100.0 if s.aliased else 250.0
    _check(
        _finite(s.fs) and min_fs <= s.fs <= 100_000.0,
        "fs",
        s.fs,
        f"must be {min_fs:g}..100000 Hz" + ("" if s.aliased else " (100 with aliased = true)"),
    )
    _check(1 <= s.n_channels <= 512, "n_channels", s.n_channels, "must be 1..512")
    _check(
        _finite(s.duration_s) and 0.0 < s.duration_s <= 86_400.0,
        "duration_s",
        s.duration_s,
        "must be > 0 and at most 24 h",
    )
    _check(s.n_samples >= 1, "duration_s", s.duration_s, "gives no samples at this fs")
    validate_field_emg(s)
    lo, hi = s.schedule_band
    _check(
        _finite(s.mdf0_hz) and 25.0 <= s.mdf0_hz <= 0.75 * hi,
        "mdf0_hz",
        s.mdf0_hz,
        f"must be 25..{0.75 * hi:g} Hz for fs = {s.fs:g} (analysis band {lo:g}-{hi:g} Hz)",
    )
    _check(_finite(s.rms0_mv) and s.rms0_mv > 0.0, "rms0_mv", s.rms0_mv, "must be > 0 mV")
    _check(0.2 <= s.mdf_floor <= 1.0, "mdf_floor", s.mdf_floor, "must be 0.2..1")
    _check(
        0.0 <= s.channel_mdf_spread <= 0.3,
        "channel_mdf_spread",
        s.channel_mdf_spread,
        "must be 0..0.3",
    )
    _check(
        0.0 <= s.force_mdf_exponent <= 1.0,
        "force_mdf_exponent",
        s.force_mdf_exponent,
        "must be 0..1",
    )
    if s.onset_s is not None:
        _check(
            _finite(s.onset_s) and 0.0 <= s.onset_s < s.duration_s,
            "onset_s",
            s.onset_s,
            f"must be within the recording, 0..{s.duration_s:g} s",
        )
        _check(
            not any(r.start_s <= s.onset_s < r.end_s for r in s.all_rests),
            "onset_s",
            s.onset_s,
            "must not fall inside a rest period (nor the lead, trail or duty-cycle rests)",
        )
    _check(
        _finite(s.decline_per_min) and 0.0 <= s.decline_per_min <= 5.0,
        "decline_per_min",
        s.decline_per_min,
        "must be 0..5 (fraction of the fresh MDF per minute)",
    )
    _check(_finite(s.rms_gain) and s.rms_gain >= 0.0, "rms_gain", s.rms_gain, "must be >= 0")
    _check(
        _finite(s.recovery_tau_s) and s.recovery_tau_s > 0.0,
        "recovery_tau_s",
        s.recovery_tau_s,
        "must be > 0 s",
    )
    _check(0.05 <= s.force_ramp_s <= 60.0, "force_ramp_s", s.force_ramp_s, "must be 0.05..60 s")
    _check(
        0.0 <= s.force_rms_exponent <= 3.0,
        "force_rms_exponent",
        s.force_rms_exponent,
        "must be 0..3",
    )
    rests = sorted(s.rests, key=lambda r: r.start_s)
    for r in rests:
        _check(
            _finite(r.start_s, r.end_s) and r.start_s >= 0.0 and r.end_s - r.start_s >= 1.0,
            "rests",
            (r.start_s, r.end_s),
            "each rest needs 0 <= start and end - start >= 1 s",
        )
        _check(r.start_s < s.duration_s, "rests", (r.start_s, r.end_s), "starts after the end")
    for a, b in itertools.pairwise(rests):
        _check(b.start_s >= a.end_s + 1.0, "rests", (b.start_s, b.end_s), "overlaps another")
    steps = sorted(s.force_steps, key=lambda x: x.t_s)
    for st in steps:
        _check(
            _finite(st.t_s) and 0.0 <= st.t_s < s.duration_s,
            "force_steps",
            (st.t_s, st.level),
            "step time must be within the recording",
        )
        _check(
            _finite(st.level) and 0.05 <= st.level <= 10.0,
            "force_steps",
            (st.t_s, st.level),
            "force level must be 0.05..10 (1 = reference force)",
        )
        _check(
            not any(r.start_s <= st.t_s < r.end_s for r in s.rests),
            "force_steps",
            (st.t_s, st.level),
            "a force change cannot start during a rest",
        )
    for a2, b2 in itertools.pairwise(steps):
        _check(
            b2.t_s >= a2.t_s + s.force_ramp_s,
            "force_steps",
            (b2.t_s, b2.level),
            "steps must be at least force_ramp_s apart",
        )
    _check(
        _finite(s.mains_hz) and (s.mains_hz == 0.0 or 1.0 <= s.mains_hz < 0.5 * s.fs),
        "mains_hz",
        s.mains_hz,
        "must be 0 (off) or a frequency below fs/2, usually 50 or 60",
    )
    _check(_finite(s.mains_mv) and s.mains_mv >= 0.0, "mains_mv", s.mains_mv, "must be >= 0")
    _check(
        all(_finite(a) and a >= 0.0 for a in s.mains_harmonics),
        "mains_harmonics",
        s.mains_harmonics,
        "relative amplitudes must be >= 0",
    )
    _check(
        _finite(s.motion_per_min) and 0.0 <= s.motion_per_min <= 60.0,
        "motion_per_min",
        s.motion_per_min,
        "must be 0..60",
    )
    _check(_finite(s.motion_mv) and s.motion_mv >= 0.0, "motion_mv", s.motion_mv, "must be >= 0")
    for d in s.dropouts:
        _check(
            _finite(d.start_s, d.end_s, d.value_mv) and 0.0 <= d.start_s < d.end_s,
            "dropouts",
            (d.start_s, d.end_s),
            "need 0 <= start < end",
        )
        _check(
            d.channels is None or all(0 <= c < s.n_channels for c in d.channels),
            "dropouts",
            d.channels,
            f"channel indexes must be 0..{s.n_channels - 1}",
        )
    _check(_finite(s.noise_mv) and s.noise_mv >= 0.0, "noise_mv", s.noise_mv, "must be >= 0")
    _check(
        0.0 <= s.channel_gain_spread <= 0.9,
        "channel_gain_spread",
        s.channel_gain_spread,
        "must be 0..0.9",
    )
    _check(
        0.05 <= s.block_s <= 4.0 and s.hop >= 8,
        "block_s",
        s.block_s,
        "must be 0.05..4 s and at least 16 samples",
    )
    _check(s.batch_s >= s.block_s, "batch_s", s.batch_s, "must be >= block_s")
    _check_mdf_reachable(s)


@dataclass(frozen=True)
class _Realisation:
    """The random draws that are fixed for a whole recording (not per sample)."""

    mdf_factor: F64 = field(repr=False)
    gain: F64 = field(repr=False)
    mains_phase: F64 = field(repr=False)
    mains_gain: F64 = field(repr=False)
    motion: tuple[MotionEvent, ...]


def _realise(s: EmgScenario, rng: np.random.Generator) -> _Realisation:
    c = s.n_channels
    mdf_factor = 1.0 + rng.uniform(-s.channel_mdf_spread, s.channel_mdf_spread, c)
    gain = 1.0 + rng.uniform(-s.channel_gain_spread, s.channel_gain_spread, c)
    mains_phase = rng.uniform(0.0, 2.0 * np.pi, (c, len(s.mains_harmonics)))
    mains_gain = rng.uniform(0.6, 1.4, c)
    n_motion = int(rng.poisson(s.motion_per_min * s.duration_s / 60.0))
    centres = np.sort(rng.uniform(0.0, s.duration_s, n_motion))
    sigmas = rng.uniform(0.08, 0.3, n_motion)
    freqs = rng.uniform(0.5, 4.0, n_motion)
    amps = rng.uniform(0.5, 1.5, n_motion) * rng.choice([-1.0, 1.0], n_motion) * s.motion_mv
    spread = rng.uniform(0.5, 1.0, (n_motion, c))
    motion = tuple(
        MotionEvent(
            centre_s=float(centres[i]),
            sigma_s=float(sigmas[i]),
            freq_hz=float(freqs[i]),
            amplitude_mv=tuple(float(a) for a in amps[i] * spread[i]),
        )
        for i in range(n_motion)
    )
    return _Realisation(mdf_factor, gain, mains_phase, mains_gain, motion)


class EmgGenerator(Simulation):
    """Streams a scenario's samples in mV as float32 ``(n_channels, n)`` chunks.

    ``rng`` is consumed at construction (independent child streams are spawned for the
    muscle noise, the noise floor and the per-recording draws), so the same seed gives
    the same recording however it is read, and switching e.g. mains hum on does not
    change the muscle signal.
    """

    def __init__(self, scenario: EmgScenario, rng: np.random.Generator) -> None:
        s = scenario
        super().__init__(fs=s.fs, channels=s.channel_names, unit=EMG_UNIT, n_samples=s.n_samples)
        self.scenario = s
        shaping_rng, floor_rng, draws_rng = rng.spawn(3)
        # Spawned after the three above, so they (and every pre-field recording) stay put.
        (field_rng,) = rng.spawn(1)
        self._floor_rng = floor_rng
        self.realisation = _realise(s, draws_rng)
        self.modulation = EmgModulation(s, field_rng)
        self.table = MdfTable.for_band(s.schedule_band)
        self.corner0_hz = self.table.corner_for(s.mdf0_hz)
        #: Maps the corner to the MDF the file holds: folded for an aliasing device.
        self.truth_table = MdfTable.folded(s.analysis_band, s.fs) if s.aliased else self.table
        self.shift_motion = _shift_motion(s)
        self.timeline: Timeline = build_timeline(
            duration_s=s.duration_s,
            onset_s=s.onset_s,
            decline_per_min=s.decline_per_min,
            floor=s.mdf_floor,
            recovery_tau_s=s.recovery_tau_s,
            rests=s.all_rests,
            force_steps=s.force_steps,
            force_ramp_s=s.force_ramp_s,
            rms_gain=s.rms_gain,
            force_rms_exponent=s.force_rms_exponent,
            force_mdf_exponent=s.force_mdf_exponent,
            force_rise=s.force_rise,
            rise_end_s=s.end_s,
        )
        self._shaper = OverlapAddShaper(s.n_channels, s.hop, shaping_rng)
        self._freqs = self._shaper.frequencies_per_fs * s.fs
        self._blocks_per_batch = max(1, round(s.batch_s / s.block_s * 2))
        fmax = 0.49 * s.fs
        self._mains = [
            (h, rel)
            for h, rel in enumerate(s.mains_harmonics, start=1)
            if s.mains_mv > 0.0 and s.mains_hz > 0.0 and rel > 0.0 and h * s.mains_hz < fmax
        ]

    # -- samples -------------------------------------------------------------------------

    def _produce(self, start: int) -> F32:
        s, r = self.scenario, self.realisation
        b0 = self._shaper.blocks_done
        centres = (b0 + np.arange(self._blocks_per_batch)) * (s.hop / s.fs)
        target = s.mdf0_hz * r.mdf_factor[:, None] * self._mdf_ratio_at(centres)[None, :]
        corners = self.table.corners_for(target)
        if s.aliased:
            power = folded_shwedyk_psd(self._freqs[None, None, :], corners[:, :, None], s.fs)
        else:
            power = shwedyk_psd(self._freqs[None, None, :], corners[:, :, None])
        x = self._shaper.push(self._shaper.unit_amplitude(power))
        m = x.shape[1]
        t = (start + np.arange(m, dtype=np.float64)) / s.fs
        env = self._amplitude_at(t).astype(np.float32)
        x *= (s.rms0_mv * r.gain).astype(np.float32)[:, None]
        x *= env[None, :]
        if self._mains:
            self._add_mains(x, t)
        if r.motion:
            self._add_motion(x, t, r.motion)
        if self.shift_motion:
            self._add_motion(x, t, self.shift_motion)
        self.modulation.add_ecg(x, start)
        if s.noise_mv > 0.0:
            floor = self._floor_rng.standard_normal(x.shape, dtype=np.float32)
            floor *= np.float32(s.noise_mv)
            x += floor
        self._apply_dropouts(x, start)
        if s.quant_step_mv > 0.0:
            quantise(x, s.quant_step_mv, s.quant_bits)
        return x

    def _mdf_ratio_at(self, t: npt.ArrayLike) -> F64:
        """MDF / mdf0 of the nominal channel: the slow schedule times the field factors."""
        ratio = self.timeline.mdf_ratio_at(t)
        if self.modulation.active:
            ratio = ratio * self.modulation.mdf_factor(t)
        return ratio

    def _amplitude_at(self, t: npt.ArrayLike) -> F64:
        """RMS / rms0 of the nominal channel: the slow schedule times the field factors."""
        amp = self.timeline.amplitude_at(t)
        if self.modulation.active:
            amp = amp * self.modulation.rms_factor(t)
        return amp

    def _active_at(self, t: npt.ArrayLike) -> F64:
        """Activation 0..1: the muscle on (schedule) and, in cyclic work, inside a burst."""
        out: F64 = self.timeline.active_at(t) * self.modulation.burst_shape(t)
        return out

    def _add_mains(self, x: F32, t: F64) -> None:
        s, r = self.scenario, self.realisation
        for h, rel in self._mains:
            theta = 2.0 * np.pi * h * s.mains_hz * t
            amp = s.mains_mv * rel * r.mains_gain
            ph = r.mains_phase[:, h - 1]
            # sin(θ + φ) = sin θ cos φ + cos θ sin φ: two sines per sample, not one per channel.
            x += (np.outer(amp * np.cos(ph), np.sin(theta))).astype(np.float32)
            x += (np.outer(amp * np.sin(ph), np.cos(theta))).astype(np.float32)

    def _add_motion(self, x: F32, t: F64, events: tuple[MotionEvent, ...]) -> None:
        t0, t1 = float(t[0]), float(t[-1])
        for ev in events:
            half = MOTION_SIGMAS * ev.sigma_s
            if ev.centre_s + half < t0 or ev.centre_s - half > t1:
                continue
            i0 = int(np.searchsorted(t, ev.centre_s - half))
            i1 = int(np.searchsorted(t, ev.centre_s + half, side="right"))
            u = t[i0:i1] - ev.centre_s
            shape = np.exp(-0.5 * np.square(u / ev.sigma_s)) * np.cos(2 * np.pi * ev.freq_hz * u)
            x[:, i0:i1] += np.outer(np.asarray(ev.amplitude_mv), shape).astype(np.float32)

    def _apply_dropouts(self, x: F32, start: int) -> None:
        s = self.scenario
        stop = start + x.shape[1]
        for d in s.dropouts:
            i0 = max(start, round(d.start_s * s.fs))
            i1 = min(stop, round(d.end_s * s.fs))
            if i1 <= i0:
                continue
            rows = list(range(s.n_channels)) if d.channels is None else list(d.channels)
            x[rows, i0 - start : i1 - start] = np.float32(d.value_mv)

    # -- truth ---------------------------------------------------------------------------

    def physical_range(self) -> float:
        """A symmetric range (mV) that a file format should allow for this recording.

        Six sigma of the loudest muscle signal plus the peaks of everything added on top:
        clipping is then rarer than once per 10^8 samples.
        """
        s, r = self.scenario, self.realisation
        if s.quant_step_mv > 0.0:
            return nice_range(s.quant_step_mv * 2.0 ** (s.quant_bits - 1))
        tl = self.timeline
        amp = np.power(tl.force, tl.force_rms_exponent) * (1.0 + tl.rms_gain * (1.0 - tl.fatigue))
        peak = 6.0 * s.rms0_mv * float(np.max(amp)) * float(np.max(r.gain))
        if self.modulation.active:
            peak *= self.modulation.max_rms_factor()
            peak += self.modulation.ecg_peak_mv()
        peak += s.mains_mv * sum(rel for _, rel in self._mains) * float(np.max(r.mains_gain))
        motion = r.motion + self.shift_motion
        peak += max((max(abs(a) for a in ev.amplitude_mv) for ev in motion), default=0.0)
        peak += 6.0 * s.noise_mv
        peak = max([peak] + [abs(d.value_mv) * 1.1 for d in s.dropouts])
        return nice_range(peak)

    def truth_times(self) -> F64:
        """Truth instants: every whole second from 0 to the end."""
        out: F64 = np.arange(0.0, math.floor(self.scenario.duration_s + 1e-9) + 1.0)
        return out

    def mdf_at(self, t: npt.ArrayLike) -> tuple[F64, F64]:
        """True band-limited MDF at ``t``: (nominal, per channel ``(C, len(t))``).

        Evaluated on the generating spectrum (not just the schedule), so any error of the
        table inversion shows up here rather than hiding between schedule and signal.
        """
        target = self.scenario.mdf0_hz * self._mdf_ratio_at(t)
        nominal = self.truth_table.mdf(self.table.corners_for(target))
        per_channel = self.truth_table.mdf(
            self.table.corners_for(self.realisation.mdf_factor[:, None] * target[None, :])
        )
        return nominal, per_channel

    def rms_at(self, t: npt.ArrayLike) -> tuple[F64, F64]:
        """True RMS (mV) of the muscle signal alone at ``t``: (nominal, per channel)."""
        nominal = self.scenario.rms0_mv * self._amplitude_at(t)
        return nominal, nominal[None, :] * self.realisation.gain[:, None]

    def artifacts(self) -> tuple[Artifact, ...]:
        s, names = self.scenario, self.scenario.channel_names
        out = [
            Artifact(
                start_s=max(0.0, ev.centre_s - MOTION_SIGMAS * ev.sigma_s),
                end_s=min(s.duration_s, ev.centre_s + MOTION_SIGMAS * ev.sigma_s),
                kind="motion",
                channels=names,
            )
            for ev in self.realisation.motion + self.shift_motion
        ]
        out += [
            Artifact(
                start_s=d.start_s,
                end_s=min(d.end_s, s.duration_s),
                kind="dropout",
                channels=names if d.channels is None else tuple(names[c] for c in d.channels),
            )
            for d in s.dropouts
        ]
        out += field_artifacts(s, self.modulation)
        return tuple(sorted(out, key=lambda a: a.start_s))

    def truth(self, *, file: str = "", seed: int | None = None) -> RecordingTruth:
        """Ground truth for this recording; the writer fills in the file-format fields."""
        s, r = self.scenario, self.realisation
        t = self.truth_times()
        active = self._active_at(t) >= 0.5
        mdf_nom, mdf_ch = self.mdf_at(t)
        rms_nom, rms_ch = self.rms_at(t)

        def masked(values: F64) -> tuple[float | None, ...]:
            return tuple(float(v) if a else None for v, a in zip(values, active, strict=True))

        times = tuple(float(x) for x in t)
        return RecordingTruth(
            file=file,
            modality="emg",
            fs=s.fs,
            duration_s=s.duration_s,
            n_samples=s.n_samples,
            channels=s.channel_names,
            unit=EMG_UNIT,
            seed=seed,
            onset_s=s.onset_s,
            end_s=s.end_s,
            mdf0_hz=float(self.truth_table.mdf(self.corner0_hz)) if s.aliased else s.mdf0_hz,
            analysis_band_hz=s.analysis_band,
            phases=emg_phases(
                duration_s=s.duration_s,
                rests=s.all_rests,
                force_steps=s.force_steps,
                force_ramp_s=s.force_ramp_s,
                timeline=self.timeline,
                rise=(s.onset_s, s.end_s) if s.force_rise else None,
            ),
            artifacts=self.artifacts(),
            mdf_true=Curve(
                t=times,
                values=masked(mdf_nom),
                by_channel=tuple(masked(row) for row in mdf_ch),
            ),
            rms_true=Curve(
                t=times,
                values=tuple(float(v) for v in rms_nom),
                by_channel=tuple(tuple(float(v) for v in row) for row in rms_ch),
            ),
            force_true=Curve(t=times, values=tuple(float(v) for v in self.timeline.force_at(t))),
            params={
                "generator": "emg",
                "scenario": s,
                "realised": {
                    "spectral_model": "Shwedyk 1977 / Lindstrom 1977, f_l = 0.5 f_h",
                    "corner_high_hz": self.corner0_hz,
                    "corner_low_hz": CORNER_RATIO * self.corner0_hz,
                    "channel_mdf_factor": r.mdf_factor,
                    "channel_gain": r.gain,
                    "mains_gain": r.mains_gain,
                    "mains_phase_rad": r.mains_phase,
                    "motion_events": r.motion,
                    "block_samples": 2 * s.hop,
                    "hop_samples": s.hop,
                    **field_realised(s, self.modulation),
                },
            },
        )


def _shift_motion(s: EmgScenario) -> tuple[MotionEvent, ...]:
    """The contact transient of an electrode shift: a large slow swing ending at the shift."""
    if s.shift_s is None or s.shift_motion_mv <= 0.0:
        return ()
    sigma = 0.15
    centre = max(s.shift_s - MOTION_SIGMAS * sigma, MOTION_SIGMAS * sigma)
    amps = tuple(s.shift_motion_mv * (1.0 - 0.2 * c) for c in range(s.n_channels))
    return (MotionEvent(centre_s=centre, sigma_s=sigma, freq_hz=2.0, amplitude_mv=amps),)
