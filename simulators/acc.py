"""Three-axis accelerometer (m/s^2) with physiological tremor that grows at a known time.

The sum of: gravity along a random (optionally slowly wobbling) orientation; voluntary
movement band-limited to 0.1-3 Hz (most of it below 1 Hz) on all three axes; physiological
tremor, a narrow-band oscillation at 8-12 Hz along a random 3-D direction, whose amplitude
ramps up by a factor after the onset; optionally a larger pathological tremor at 4-6 Hz
along another direction that ramps in instead; and white sensor noise. Narrow-band parts are
shaped by the EMG's overlap-add machinery, with blocks long enough (20 s) to resolve 0.05 Hz.

The truth is the RMS, within the monitor's tremor band (4-12 Hz), of the tremor
components alone, combined over the three axes (the vector RMS), every second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from simulators.emg import nice_range
from simulators.errors import require as _check
from simulators.field_acc import AccMotion, unit_vector, validate_field_acc
from simulators.field_emg import quantise
from simulators.shaping import OverlapAddShaper
from simulators.spectra import gaussian_peak, tapered_band
from simulators.stream import Simulation
from simulators.truth import OMIT_DEFAULT, Artifact, Curve, Phase, RecordingTruth

__all__ = ["ACC_CHANNELS", "TREMOR_BAND_HZ", "AccGenerator", "AccScenario"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

ACC_UNIT = "m/s^2"
ACC_CHANNELS = ("acc_x", "acc_y", "acc_z")
#: Metadata of optional scenario fields: left out of the truth's params at their default.
_OPTIONAL = {OMIT_DEFAULT: True}
#: The monitor's tremor band; the truth RMS is defined inside it.
TREMOR_BAND_HZ = (4.0, 12.0)


@dataclass(frozen=True, kw_only=True)
class AccScenario:
    """Everything that defines a simulated accelerometer recording except the random draws.

    Without ``pathological_hz`` the onset multiplies the physiological tremor's amplitude
    by ``tremor_gain`` over ``ramp_s`` seconds (enhanced physiological tremor). With it, the
    physiological tremor stays and a pathological one ramps in from 0 to
    ``pathological_rms``. RMS values are of the 3-D vector, in m/s^2.

    Field conditions (``simulators.field_acc``; off by default and then left out of the
    truth's params): ``motion_kind`` walk / run / arm_swing / hammer (a waveform repeated
    every cycle at ``cycle_hz`` with harmonic amplitudes ``cycle_harmonics``, m/s^2, a
    half-rate sway ``cycle_sub`` and an impact of ``impact_ms2`` ringing at ``impact_hz``
    at each cycle start) or handwriting (stroke bursts at ``stroke_lo_hz``..``stroke_hi_hz``
    of ``stroke_ms2``), from ``motion_start_s`` to ``motion_end_s``;
    ``tremor_from_start``: the pathological tremor is at full amplitude from t = 0 (no
    onset); ``quant_step`` > 0: the output is rounded to that step (m/s^2) and clipped to a
    signed ``quant_bits`` range.
    """

    fs: float = 100.0
    duration_s: float = 120.0
    onset_s: float | None = None
    ramp_s: float = 15.0
    tremor_hz: float = 10.0
    tremor_sigma_hz: float = 0.4
    tremor_rms0: float = 0.02
    tremor_gain: float = 5.0
    pathological_hz: float | None = None
    pathological_rms: float = 0.3
    movement_rms: float = 0.5
    movement_low_hz: float = 0.1
    movement_high_hz: float = 3.0
    movement_corner_hz: float = 1.0
    gravity: float = 9.81
    gravity_wobble_deg: float = 0.0
    gravity_wobble_period_s: float = 30.0
    noise_rms: float = 0.005
    block_s: float = 20.0
    batch_s: float = 80.0
    motion_kind: str = field(default="none", metadata=_OPTIONAL)
    motion_start_s: float = field(default=0.0, metadata=_OPTIONAL)
    motion_end_s: float | None = field(default=None, metadata=_OPTIONAL)
    cycle_hz: float = field(default=0.0, metadata=_OPTIONAL)
    cycle_cv: float = field(default=0.03, metadata=_OPTIONAL)
    cycle_harmonics: tuple[float, ...] = field(default=(), metadata=_OPTIONAL)
    cycle_sub: float = field(default=0.0, metadata=_OPTIONAL)
    impact_ms2: float = field(default=0.0, metadata=_OPTIONAL)
    impact_hz: float = field(default=20.0, metadata=_OPTIONAL)
    impact_decay_s: float = field(default=0.02, metadata=_OPTIONAL)
    stroke_lo_hz: float = field(default=4.3, metadata=_OPTIONAL)
    stroke_hi_hz: float = field(default=5.9, metadata=_OPTIONAL)
    stroke_ms2: float = field(default=0.0, metadata=_OPTIONAL)
    tremor_from_start: bool = field(default=False, metadata=_OPTIONAL)
    quant_step: float = field(default=0.0, metadata=_OPTIONAL)
    quant_bits: int = field(default=12, metadata=_OPTIONAL)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cycle_harmonics", tuple(self.cycle_harmonics))
        _validate_acc(self)
        validate_field_acc(self)

    @property
    def n_samples(self) -> int:
        return round(self.duration_s * self.fs)

    @property
    def hop(self) -> int:
        return round(0.5 * self.block_s * self.fs)

    @property
    def tremor_band(self) -> tuple[float, float]:
        return (TREMOR_BAND_HZ[0], min(TREMOR_BAND_HZ[1], 0.5 * self.fs))

    @property
    def dominant_tremor_hz(self) -> float:
        """The tremor frequency after the onset: the pathological one when there is one."""
        present = self.onset_s is not None or self.tremor_from_start
        if present and self.pathological_hz is not None:
            return self.pathological_hz
        return self.tremor_hz


def _validate_acc(s: AccScenario) -> None:
    fin = math.isfinite
    _check(fin(s.fs) and 25.0 <= s.fs <= 5000.0, "fs", s.fs, "must be 25..5000 Hz")
    _check(
        fin(s.duration_s) and 0.0 < s.duration_s <= 86_400.0,
        "duration_s",
        s.duration_s,
        "must be > 0 and at most 24 h",
    )
    _check(s.n_samples >= 1, "duration_s", s.duration_s, "gives no samples at this fs")
    if s.onset_s is not None:
        _check(
            fin(s.onset_s) and 0.0 <= s.onset_s < s.duration_s,
            "onset_s",
            s.onset_s,
            f"must be within the recording, 0..{s.duration_s:g} s",
        )
    _check(fin(s.ramp_s) and 0.0 <= s.ramp_s <= 600.0, "ramp_s", s.ramp_s, "must be 0..600 s")
    _check(
        fin(s.tremor_sigma_hz) and 0.05 <= s.tremor_sigma_hz <= 2.0,
        "tremor_sigma_hz",
        s.tremor_sigma_hz,
        "must be 0.05..2 Hz",
    )
    _check(
        fin(s.tremor_hz) and s.tremor_hz >= 3.0 and s.tremor_hz + 3 * s.tremor_sigma_hz < s.fs / 2,
        "tremor_hz",
        s.tremor_hz,
        f"must be >= 3 Hz and its peak must fit below fs/2 = {s.fs / 2:g} Hz",
    )
    _check(fin(s.tremor_rms0) and s.tremor_rms0 >= 0.0, "tremor_rms0", s.tremor_rms0, ">= 0")
    _check(
        fin(s.tremor_gain) and 0.0 <= s.tremor_gain <= 100.0,
        "tremor_gain",
        s.tremor_gain,
        "must be 0..100",
    )
    if s.pathological_hz is not None:
        _check(
            fin(s.pathological_hz)
            and 3.0 <= s.pathological_hz <= 12.0
            and s.pathological_hz + 3 * s.tremor_sigma_hz < s.fs / 2,
            "pathological_hz",
            s.pathological_hz,
            "must be 3..12 Hz (typically 4-6) and below fs/2",
        )
    _check(
        fin(s.pathological_rms) and s.pathological_rms >= 0.0,
        "pathological_rms",
        s.pathological_rms,
        "must be >= 0",
    )
    _check(fin(s.movement_rms) and s.movement_rms >= 0.0, "movement_rms", s.movement_rms, ">= 0")
    _check(
        fin(s.movement_low_hz)
        and fin(s.movement_high_hz)
        and s.movement_low_hz > 0.0
        and s.movement_high_hz >= s.movement_low_hz + 0.5
        and s.movement_high_hz <= min(TREMOR_BAND_HZ[0], s.fs / 2),
        "movement_high_hz",
        (s.movement_low_hz, s.movement_high_hz),
        "need 0 < low, high >= low + 0.5 Hz and high <= 4 Hz (below the tremor band)",
    )
    _check(
        fin(s.movement_corner_hz) and s.movement_corner_hz > 0.0,
        "movement_corner_hz",
        s.movement_corner_hz,
        "must be > 0 Hz",
    )
    _check(fin(s.gravity) and s.gravity >= 0.0, "gravity", s.gravity, "must be >= 0")
    _check(
        fin(s.gravity_wobble_deg) and 0.0 <= s.gravity_wobble_deg <= 90.0,
        "gravity_wobble_deg",
        s.gravity_wobble_deg,
        "must be 0..90",
    )
    _check(
        fin(s.gravity_wobble_period_s) and s.gravity_wobble_period_s >= 10.0,
        "gravity_wobble_period_s",
        s.gravity_wobble_period_s,
        "must be >= 10 s (slow, below the movement band)",
    )
    _check(fin(s.noise_rms) and s.noise_rms >= 0.0, "noise_rms", s.noise_rms, "must be >= 0")
    _check(
        5.0 <= s.block_s <= 120.0 and s.hop >= 8,
        "block_s",
        s.block_s,
        "must be 5..120 s (long enough to resolve the 0.1 Hz movement band)",
    )
    _check(s.batch_s >= s.block_s, "batch_s", s.batch_s, "must be >= block_s")


@dataclass(frozen=True)
class _Realisation:
    gravity_dir: F64 = field(repr=False)
    wobble_axis: F64 = field(repr=False)
    wobble_phase: float
    tremor_dir: F64 = field(repr=False)
    pathological_dir: F64 = field(repr=False)


def _realise(rng: np.random.Generator) -> _Realisation:
    g = unit_vector(rng)
    p = unit_vector(rng)
    p = p - g * float(g @ p)
    p /= max(float(np.linalg.norm(p)), 1e-9)
    return _Realisation(
        gravity_dir=g,
        wobble_axis=p,
        wobble_phase=float(rng.uniform(0.0, 2.0 * np.pi)),
        tremor_dir=unit_vector(rng),
        pathological_dir=unit_vector(rng),
    )


class AccGenerator(Simulation):
    """Streams a scenario's samples in m/s^2 as float32 ``(3, n)`` chunks (x, y, z).

    ``rng`` is consumed at construction: each component gets its own child stream, so the
    same seed gives the same recording however it is read.
    """

    def __init__(self, scenario: AccScenario, rng: np.random.Generator) -> None:
        s = scenario
        super().__init__(fs=s.fs, channels=ACC_CHANNELS, unit=ACC_UNIT, n_samples=s.n_samples)
        self.scenario = s
        trem_rng, path_rng, move_rng, noise_rng, draws_rng = rng.spawn(5)
        (motion_rng,) = rng.spawn(1)  # after the five: older recordings stay identical
        self._noise_rng = noise_rng
        self.realisation = _realise(draws_rng)
        self.motion = AccMotion(s, self.realisation.gravity_dir, motion_rng)
        self._tremor = OverlapAddShaper(1, s.hop, trem_rng)
        self._path = OverlapAddShaper(1, s.hop, path_rng)
        self._move = OverlapAddShaper(3, s.hop, move_rng)
        f = self._tremor.frequencies_per_fs * s.fs
        self._freqs = f
        p_trem = gaussian_peak(f, s.tremor_hz, s.tremor_sigma_hz)
        p_path = gaussian_peak(f, s.pathological_hz or s.tremor_hz, s.tremor_sigma_hz)
        rise = min(s.movement_low_hz, 0.5 * (s.movement_high_hz - s.movement_low_hz))
        # Voluntary movement carries most of its power below ~1 Hz: a first-order roll-off
        # above ``movement_corner_hz`` inside the band.
        p_move = tapered_band(f, s.movement_low_hz, s.movement_high_hz, rise, 0.5) / (
            1.0 + np.square(f / s.movement_corner_hz)
        )
        self._amp_trem = self._tremor.unit_amplitude(p_trem)[None, None, :]
        self._amp_path = self._path.unit_amplitude(p_path)[None, None, :]
        self._amp_move = self._move.unit_amplitude(p_move)[None, None, :]
        self.tremor_band_fraction = self._band_fraction(p_trem)
        self.pathological_band_fraction = self._band_fraction(p_path)
        self._blocks_per_batch = max(1, round(s.batch_s / s.block_s * 2))

    def _band_fraction(self, power: F64) -> float:
        """Share of a component's variance inside the tremor band, on the generating bins."""
        lo, hi = self.scenario.tremor_band
        weight = np.full(power.shape, 2.0)
        weight[0] = 1.0
        if self._tremor.block % 2 == 0:
            weight[-1] = 1.0
        sel = (self._freqs >= lo) & (self._freqs <= hi)
        return float(np.sum((weight * power)[sel]) / np.sum(weight * power))

    # -- slow envelopes ------------------------------------------------------------------

    def ramp_at(self, t: npt.ArrayLike) -> F64:
        """0 before the onset, rising linearly to 1 over ``ramp_s``."""
        s = self.scenario
        tt = np.asarray(t, dtype=np.float64)
        if s.tremor_from_start:
            return np.ones_like(tt)
        if s.onset_s is None:
            return np.zeros_like(tt)
        if s.ramp_s <= 0.0:
            out: F64 = (tt >= s.onset_s).astype(np.float64)
            return out
        return np.clip((tt - s.onset_s) / s.ramp_s, 0.0, 1.0)

    def _physiological_rms_at(self, t: npt.ArrayLike) -> F64:
        s = self.scenario
        gain = 1.0 if s.pathological_hz is not None else s.tremor_gain
        out: F64 = s.tremor_rms0 * (1.0 + (gain - 1.0) * self.ramp_at(t))
        return out

    def _pathological_rms_at(self, t: npt.ArrayLike) -> F64:
        s = self.scenario
        if s.pathological_hz is None:
            return np.zeros_like(np.asarray(t, dtype=np.float64))
        out: F64 = s.pathological_rms * self.ramp_at(t)
        return out

    def tremor_band_rms_at(self, t: npt.ArrayLike) -> F64:
        """True tremor-band vector RMS (m/s^2) of the tremor components alone at ``t``."""
        phys = self._physiological_rms_at(t) * math.sqrt(self.tremor_band_fraction)
        path = self._pathological_rms_at(t) * math.sqrt(self.pathological_band_fraction)
        out: F64 = np.sqrt(phys * phys + path * path)
        return out

    def noise_band_rms(self) -> float:
        """What white sensor noise adds in the tremor band (vector RMS over 3 axes)."""
        s = self.scenario
        lo, hi = s.tremor_band
        return s.noise_rms * math.sqrt(3.0 * (hi - lo) / (0.5 * s.fs))

    # -- samples -------------------------------------------------------------------------

    def _gravity(self, t: F64) -> F64:
        s, r = self.scenario, self.realisation
        if s.gravity_wobble_deg == 0.0:
            return np.broadcast_to((s.gravity * r.gravity_dir)[:, None], (3, t.size))
        theta = np.deg2rad(s.gravity_wobble_deg) * np.sin(
            2.0 * np.pi * t / s.gravity_wobble_period_s + r.wobble_phase
        )
        out: F64 = s.gravity * (
            np.outer(r.gravity_dir, np.cos(theta)) + np.outer(r.wobble_axis, np.sin(theta))
        )
        return out

    def _produce(self, start: int) -> F32:
        s, r = self.scenario, self.realisation
        nb = self._blocks_per_batch
        trem = self._tremor.push(np.repeat(self._amp_trem, nb, axis=1))[0]
        path = self._path.push(np.repeat(self._amp_path, nb, axis=1))[0]
        move = self._move.push(np.repeat(self._amp_move, nb, axis=1))
        m = trem.size
        t = (start + np.arange(m, dtype=np.float64)) / s.fs
        x = self._gravity(t) + move.astype(np.float64) * (s.movement_rms / math.sqrt(3.0))
        x += np.outer(r.tremor_dir, trem * self._physiological_rms_at(t))
        if s.pathological_hz is not None:
            x += np.outer(r.pathological_dir, path * self._pathological_rms_at(t))
        if s.motion_kind != "none":
            x += self.motion.at(t)
        if s.noise_rms > 0.0:
            x += self._noise_rng.standard_normal((3, m)) * s.noise_rms
        out = x.astype(np.float32)
        if s.quant_step > 0.0:
            quantise(out, s.quant_step, s.quant_bits)
        return out

    # -- truth ---------------------------------------------------------------------------

    def physical_range(self) -> float:
        """A symmetric range (m/s^2) that a file format should allow for this recording."""
        s = self.scenario
        if s.quant_step > 0.0:
            return nice_range(s.quant_step * 2.0 ** (s.quant_bits - 1))
        peak = s.gravity + 6.0 * s.movement_rms + 6.0 * s.tremor_rms0 * max(1.0, s.tremor_gain)
        peak += 6.0 * s.pathological_rms + 6.0 * s.noise_rms
        if s.motion_kind != "none":
            peak += self.motion.peak()
        return nice_range(peak)

    def truth_times(self) -> F64:
        out: F64 = np.arange(0.0, math.floor(self.scenario.duration_s + 1e-9) + 1.0)
        return out

    def phases(self) -> tuple[Phase, ...]:
        s = self.scenario
        if s.tremor_from_start:
            return (Phase(start_s=0.0, end_s=s.duration_s, kind="tremor"),)
        if s.onset_s is None:
            return (Phase(start_s=0.0, end_s=s.duration_s, kind="baseline"),)
        ramp_end = min(s.duration_s, s.onset_s + s.ramp_s)
        out = []
        if s.onset_s > 0.0:
            out.append(Phase(start_s=0.0, end_s=s.onset_s, kind="baseline"))
        if ramp_end > s.onset_s:
            out.append(Phase(start_s=s.onset_s, end_s=ramp_end, kind="tremor_ramp"))
        if s.duration_s > ramp_end:
            out.append(Phase(start_s=ramp_end, end_s=s.duration_s, kind="tremor"))
        return tuple(out)

    def artifacts(self) -> tuple[Artifact, ...]:
        """The voluntary movement, if any: not tremor, though it may reach 4-12 Hz."""
        m = self.motion
        if self.scenario.motion_kind == "none":
            return ()
        return (
            Artifact(
                start_s=m.start, end_s=m.end, kind="voluntary_movement", channels=ACC_CHANNELS
            ),
        )

    def _motion_realised(self) -> dict[str, object]:
        m = self.motion
        if self.scenario.motion_kind == "none":
            return {}
        out: dict[str, object] = {"motion_dir": m.main_dir, "motion_side_dir": m.side_dir}
        if m.periodic:
            out["cycle_starts_s"] = m.step_times()
        if m.handwriting:
            out["strokes"] = [
                {"start_s": a, "duration_s": d, "hz": f, "ms2": amp, "chirp_hz_per_s": c}
                for a, d, f, amp, c in m.strokes.tolist()
            ]
        return out

    def truth(self, *, file: str = "", seed: int | None = None) -> RecordingTruth:
        """Ground truth for this recording; the writer fills in the file-format fields."""
        s, r = self.scenario, self.realisation
        t = self.truth_times()
        rms = self.tremor_band_rms_at(t)
        before = float(self.tremor_band_rms_at(np.array([-1.0]))[0])
        after = float(self.tremor_band_rms_at(np.array([np.inf]))[0])
        if s.onset_s is None:
            before = after = float(self.tremor_band_rms_at(np.array([0.0]))[0])
        return RecordingTruth(
            file=file,
            modality="acc",
            fs=s.fs,
            duration_s=s.duration_s,
            n_samples=s.n_samples,
            channels=ACC_CHANNELS,
            unit=ACC_UNIT,
            seed=seed,
            onset_s=s.onset_s,
            end_s=s.duration_s,
            phases=self.phases(),
            artifacts=self.artifacts(),
            tremor_rms_true=Curve(t=tuple(float(x) for x in t), values=tuple(map(float, rms))),
            tremor_hz=s.dominant_tremor_hz,
            tremor_band_hz=s.tremor_band,
            tremor_rms_before=before,
            tremor_rms_after=after,
            noise_band_rms=self.noise_band_rms(),
            params={
                "generator": "acc",
                "scenario": s,
                "realised": {
                    "gravity_dir": r.gravity_dir,
                    "tremor_dir": r.tremor_dir,
                    "pathological_dir": r.pathological_dir if s.pathological_hz else None,
                    **self._motion_realised(),
                    "wobble_axis": r.wobble_axis,
                    "wobble_phase_rad": r.wobble_phase,
                    "tremor_band_fraction": self.tremor_band_fraction,
                    "pathological_band_fraction": self.pathological_band_fraction,
                    "block_samples": 2 * s.hop,
                    "hop_samples": s.hop,
                },
            },
        )
