"""Tremor onset and recovery for one accelerometer vector.

The narrow-band tremor RMS (``tremor_peak_rms``: the peak of the tremor band above its
broadband floor, with the harmonics of a periodic voluntary movement taken out; see
monitor/dsp/acc_features.py) is compared with its own baseline on a log scale (tremor
amplitude is roughly log-normal), through an upper CUSUM designed like the EMG one (k from
the smallest rise worth reporting, ``min_ratio``; h from ARL0). A rise only counts above an absolute
floor (``floor_ms2``): a rule relative to the baseline alone would call a tripling of sensor
noise a tremor. The peak frequency tells physiological (8-12 Hz) from pathological (4-7 Hz)
tremor in the message.

Voluntary movement is not tremor. What reaches the tremor band from walking, running,
arm swing or hammering (harmonics of the step, impacts) is removed by the feature; what
is left is rhythmic voluntary movement in the band itself, above all handwriting (strokes
at 4-6 Hz). A tremor is steady: an onset needs the peak frequency to have held within
``PEAK_STEADY_HZ`` of its median in most of the last ``STEADY_S`` seconds, where handwriting
strokes change frequency letter by letter and stop between words. For the same reason an
onset needs the oscillation to be continuous: the median envelope CV (``tremor_env_cv``)
over the same windows at most ``STEADY_ENV_CV``, the CV of a random narrow-band
oscillation's (Rayleigh) envelope; writing's bursts and pauses lift it above.

Windows of periodic voluntary movement (``voluntary_hz`` set: walking, running, arm swing,
hammering) have a baseline of their own. The feature takes the movement's harmonics out,
but what is left between them (the skirts of harmonics smeared by step-to-step jitter,
impacts) is far above the tremor band at rest and scales with how hard the person moves.
So under movement the evidence is the off-harmonic peak relative to the movement itself
(``tremor_peak_rms / acc_rms``, log), compared with its own baseline, learned from the
first ``baseline_s`` of that movement and learned again when the cadence changes by more
than ``CADENCE_CHANGE`` (walking to running is another movement). A tremor adds a peak
between the harmonics without adding to the movement: the ratio rises. Both states feed
one CUSUM of z-scores and one confirmation, so a tremor that starts while walking is found
while walking, and a rest between bouts neither resets nor dilutes the evidence.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from monitor.core.config import TremorDetect
from monitor.core.tremor_character import tremor_band_name
from monitor.detect.cusum import Cusum, threshold_for_arl0
from monitor.detect.robust import baseline_sigma

Z_CLIP = 3.0
CONFIRM_FRACTION = 0.75
PEAK_STEADY_HZ = 0.4
#: Share of the steadiness windows whose peak must lie within PEAK_STEADY_HZ of the median.
STEADY_SHARE = 0.8
#: How long a rhythm must have been steady (frequency and envelope) before it is called a
#: tremor: the 30-s epoch of clinical tremor scoring. Handwriting sessions of the field set
#: never held both rules over 30 s; tremors did 25-45 s after reaching full amplitude.
STEADY_S = 30.0
#: sqrt(4/pi - 1): the envelope CV of narrow-band Gaussian noise. A tremor is at least that
#: continuous; bursts of voluntary rhythm (writing) are not.
STEADY_ENV_CV = math.sqrt(4.0 / math.pi - 1.0)
#: Relative change of cadence after which the movement baseline is learned again.
CADENCE_CHANGE = 0.15


@dataclass(frozen=True, slots=True)
class TremorWindow:
    t: float
    tremor_rms: float
    peak_hz: float
    ratio: float
    disp_mm: float
    good: bool
    peak_rms: float = math.nan
    voluntary_hz: float = math.nan
    env_cv: float = math.nan
    acc_rms: float = math.nan

    @property
    def moving(self) -> bool:
        return math.isfinite(self.voluntary_hz) and self.acc_rms > 0


@dataclass(frozen=True, slots=True)
class TremorDecision:
    kind: Literal["tremor_onset", "tremor_recovered"] | None
    message: str = ""
    features: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)


@dataclass
class TremorChannel:
    settings: TremorDetect
    hop_s: float
    stride: int
    band: tuple[float, float] = (4.0, 12.0)
    phase: Literal["learning", "monitoring", "tremor"] = "learning"
    learn: list[float] = field(default_factory=list)
    base_log: float | None = None
    sigma: float = 0.0
    index: int = 0
    cusum: Cusum = field(default_factory=lambda: Cusum(1.0, 10.0))
    #: Recent windows' log rise over the baseline of their state, and their log level.
    recent: list[float] = field(default_factory=list)
    recent_abs: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    env_cvs: list[float] = field(default_factory=list)
    #: The baseline under periodic voluntary movement (module docstring).
    move_learn: list[float] = field(default_factory=list)
    move_base: float | None = None
    move_sigma: float = 0.0
    move_hz: float = math.nan

    def state_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "learn": list(self.learn),
            "base_log": self.base_log,
            "sigma": self.sigma,
            "index": self.index,
            "cusum": self.cusum.state_dict(),
            "recent": list(self.recent),
            "recent_abs": list(self.recent_abs),
            "peaks": list(self.peaks),
            "env_cvs": list(self.env_cvs),
            "move_learn": list(self.move_learn),
            "move_base": self.move_base,
            "move_sigma": self.move_sigma,
            "move_hz": None if math.isnan(self.move_hz) else self.move_hz,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.phase = state["phase"]
        self.learn = [float(x) for x in state["learn"]]
        self.base_log = state["base_log"]
        self.sigma = float(state["sigma"])
        self.index = int(state["index"])
        self.cusum = Cusum.from_state(state["cusum"])
        recent = [float(x) for x in state["recent"]]
        if "recent_abs" in state:
            self.recent = recent
            self.recent_abs = [float(x) for x in state["recent_abs"]]
        else:  # saved before movement baselines: ``recent`` held log levels
            base = self.base_log or 0.0
            self.recent = [x - base for x in recent]
            self.recent_abs = recent
        self.peaks = [float(x) for x in state.get("peaks", [])]
        self.env_cvs = [float(x) for x in state.get("env_cvs", [])]
        self.move_learn = [float(x) for x in state.get("move_learn", [])]
        self.move_base = state.get("move_base")
        self.move_sigma = float(state.get("move_sigma", 0.0))
        hz = state.get("move_hz")
        self.move_hz = math.nan if hz is None else float(hz)

    def recalibrate(self) -> None:
        self.phase = "learning"
        self.learn.clear()
        self.base_log = None
        self.recent.clear()
        self.recent_abs.clear()
        self.peaks.clear()
        self.env_cvs.clear()
        self.move_learn.clear()
        self.move_base = None
        self.move_hz = math.nan
        self.cusum.reset()

    def _n(self, seconds: float) -> int:
        return max(1, round(seconds / self.hop_s))

    def _steady(self) -> bool:
        """Whether the peak frequency held still over the confirmation windows."""
        peaks = [p for p in self.peaks if math.isfinite(p)]
        if len(peaks) < self._n(STEADY_S):
            return False
        mid = statistics.median(peaks)
        near = sum(abs(p - mid) <= PEAK_STEADY_HZ for p in peaks)
        if near < STEADY_SHARE * len(peaks):
            return False
        cvs = [c for c in self.env_cvs if math.isfinite(c)]
        # Without the feature (an older features file) only the frequency rule applies.
        return not cvs or statistics.median(cvs) <= STEADY_ENV_CV

    def _context(self, w: TremorWindow) -> tuple[dict[str, float], dict[str, float]]:
        """The window's features and the baseline of its state, in m/s^2 (under movement:
        the movement baseline's ratio times this window's movement RMS)."""
        if w.moving and self.move_base is not None:
            base, sd = math.exp(self.move_base) * w.acc_rms, self.move_sigma
        else:
            assert self.base_log is not None
            base, sd = math.exp(self.base_log), self.sigma
        feats = {
            "tremor_rms": w.tremor_rms,
            "tremor_peak_hz": w.peak_hz,
            "tremor_ratio": w.ratio,
            "tremor_disp_mm": w.disp_mm,
            "tremor_rms_ratio": w.tremor_rms / base,
            "cusum": self.cusum.s,
        }
        base_d = {"tremor_rms": base, "tremor_rms_sd_log": sd}
        if w.moving:
            base_d["voluntary_hz"] = w.voluntary_hz
        return feats, base_d

    def _design(self, sample: list[float]) -> tuple[float, float]:
        """Median and sigma of a baseline sample; the CUSUM is designed on the first."""
        base = statistics.median(sample)
        sigma = baseline_sigma(sample, self.stride, self.settings.min_sigma)
        return base, sigma

    def _new_cusum(self) -> None:
        k = min(2.0, max(0.25, math.log(self.settings.min_ratio) / (2.0 * self.sigma)))
        updates = self.settings.arl0_hours * 3600.0 / (self.hop_s * self.stride)
        self.cusum = Cusum(k, threshold_for_arl0(k, updates))

    def _rise(self, w: TremorWindow, lg: float) -> tuple[float, float] | None:
        """(log rise over the baseline of the window's state, its z-score), or None while
        that state's baseline is being learned (the window is taken into it)."""
        if not w.moving:
            if self.base_log is None:
                self.learn.append(lg)
                if len(self.learn) >= self._n(self.settings.baseline_s):
                    self.base_log, self.sigma = self._design(self.learn)
                    self.learn.clear()
                    self._new_cusum()
                return None
            return lg - self.base_log, (lg - self.base_log) / self.sigma
        if not w.peak_rms > 0:
            return None  # no peak between the movement's harmonics: no evidence either way
        rel = lg - math.log(w.acc_rms)
        if (
            self.move_base is not None
            and self.phase != "tremor"
            and abs(w.voluntary_hz - self.move_hz) > CADENCE_CHANGE * self.move_hz
        ):
            self.move_base = None  # another movement: learn it afresh
            self.move_learn.clear()
        if self.move_base is None:
            self.move_learn.append(rel)
            if len(self.move_learn) == 1:
                self.move_hz = w.voluntary_hz
            if len(self.move_learn) >= self._n(self.settings.baseline_s):
                self.move_base, self.move_sigma = self._design(self.move_learn)
                self.move_learn.clear()
                if self.base_log is None:
                    self.sigma = self.move_sigma
                    self._new_cusum()
            return None
        return rel - self.move_base, (rel - self.move_base) / self.move_sigma

    def update(self, w: TremorWindow) -> TremorDecision:
        self.index += 1
        amp = w.peak_rms if math.isfinite(w.peak_rms) else w.tremor_rms
        # A floor far below any tremor (and sensor noise): a peak-free window is not log(0).
        amp = max(amp, 1e-3 * self.settings.floor_ms2)
        if not w.good or not (w.tremor_rms > 0):
            return TremorDecision(None)
        lg = math.log(amp)
        got = self._rise(w, lg)
        if got is None:
            return TremorDecision(None)
        if self.phase == "learning":
            self.phase = "monitoring"
        rise, z = got
        keep = self._n(max(self.settings.recover_s, STEADY_S))
        self.recent = [*self.recent[-(keep - 1) :], rise]
        self.recent_abs = [*self.recent_abs[-(keep - 1) :], lg]
        self.peaks = [*self.peaks[-(self._n(STEADY_S) - 1) :], w.peak_hz]
        self.env_cvs = [*self.env_cvs[-(self._n(STEADY_S) - 1) :], w.env_cv]
        short = self._n(self.settings.recover_s)
        if self.phase == "tremor":
            # Under movement the evidence is a peak between the step's harmonics, which the
            # jitter of the cadence hides in some windows and not others: a tremor is over
            # when it has been back for the whole steadiness span, not for a few seconds.
            need = keep if w.moving else short
            if len(self.recent) < need:
                return TremorDecision(None)
            med = statistics.median(self.recent[-need:])
            level = math.exp(statistics.median(self.recent_abs[-need:]))
            if med > 0.5 * math.log(self.settings.min_ratio) and level > self.settings.floor_ms2:
                return TremorDecision(None)
            self.phase = "monitoring"
            self.cusum.reset()
            feats, base = self._context(w)
            return TremorDecision(
                "tremor_recovered",
                f"tremor RMS back to {level:.3g} m/s^2 ({math.exp(med):.2g}x baseline)",
                feats,
                base,
            )
        if self.index % self.stride:
            return TremorDecision(None)
        if not self.cusum.update(min(Z_CLIP, max(-Z_CLIP, z))):
            return TremorDecision(None)
        # Confirmation on the recent level: narrow-band tremor power over a few seconds has
        # few degrees of freedom, so single windows swing by 2x without any change.
        if statistics.median(self.recent[-short:]) < CONFIRM_FRACTION * math.log(
            self.settings.min_ratio
        ):
            return TremorDecision(None)
        if math.exp(statistics.median(self.recent_abs[-short:])) <= self.settings.floor_ms2:
            return TremorDecision(None)
        if not self.band[0] - 0.5 <= w.peak_hz <= self.band[1] + 0.5:
            return TremorDecision(None)  # broadband rise (movement), not an oscillation
        if not self._steady():
            return TremorDecision(None)  # a wandering or bursting rhythm: writing, not tremor
        self.phase = "tremor"
        feats, base = self._context(w)
        msg = (
            f"tremor RMS {w.tremor_rms:.3g} m/s^2, {w.tremor_rms / base['tremor_rms']:.1f}x "
            f"baseline, peak {w.peak_hz:.1f} Hz in the {tremor_band_name(w.peak_hz)}"
        )
        return TremorDecision("tremor_onset", msg, feats, base)
