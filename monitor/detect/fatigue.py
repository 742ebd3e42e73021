"""EMG fatigue onset and recovery for one channel.

Method (docs/signal-processing.md has the derivation and references):

1. Activity gate (gate.py); windows of poor quality or at rest are not used, and the first
   ``settle_s`` of every contraction is skipped (recruitment transients).
2. Baseline from the first ``baseline_s`` of active windows (only windows the gate calls
   active once it knows rest and activity apart: a baseline learned before that is
   provisional and is discarded if it was rest): median MDF and RMS, and the noise sigma
   of the tracked index from lag differences of non-overlapping windows (robust to a trend
   that has already started), floored at ``min_sigma``.
3. The tracked index is sqrt(MDF x MNF) (``spectral_index``). Standardised residual
   z = (I / I0 - 1) / sigma_rel into a lower one-sided CUSUM, fed with non-overlapping
   windows only (every window/hop-th), so that its increments are close to independent
   and the ARL0 design holds. k = ``NUISANCE_FRACTION`` x min_drop / sigma_rel (above the
   3-7 % drifts of temperature and sweat); h from ARL0 = arl0_hours of windows
   (cusum.py). Increments are clipped at ``Z_CLIP`` so a single odd window cannot alarm
   alone; windows with RMS ``ARTEFACT_RATIO`` x the working level (artefacts) and windows
   holding only part of a burst (``_partial``) are skipped. An alarm needs the median over
   ``CONFIRM_S`` of active windows (kept across rests) clearly below baseline.
4. JASA (Luttmann et al. 1996): at an alarm, the recent RMS decides. RMS down by more
   than ``force_ratio`` with the MDF fall means the force dropped: not fatigue, the
   baseline is relearnt. A sustained RMS rise with MDF not falling is a force increase:
   relearn too. MDF down with RMS steady or up is fatigue.
5. A step in MDF and RMS after a gap, lost contact or an artefact is a new electrode
   state: the baseline moves with it (``_after_discontinuity``), no alarm.
6. Recovery with hysteresis: the index's median over ``recover_s`` back above
   I0 x (1 - recover_fraction x min_drop).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from monitor.core.config import EmgDetect
from monitor.detect import fatigue_state
from monitor.detect.baseline import Baseline, SampleMirror, fit_baseline
from monitor.detect.cusum import Cusum, threshold_for_arl0
from monitor.detect.electrode import electrode_step
from monitor.detect.emg_window import (
    Decision,
    WindowFeatures,
    describe_change,
    event_context,
    spectral_index,
)
from monitor.detect.gate import ActivityGate
from monitor.detect.jasa import force_dropped, force_increased

__all__ = ["Baseline", "Decision", "FatigueChannel", "WindowFeatures", "spectral_index"]

ARTEFACT_RATIO = 3.0
Z_CLIP = 3.0
REFIT_EVERY = 10
# At an alarm the median MDF of the last ``jasa_s`` must be this fraction of ``min_drop``
# below baseline: a CUSUM can be pushed over h by a few deep dips; fatigue is a level shift.
CONFIRM_FRACTION = 0.75
CONFIRM_S = 8.0
# After a gap or a contact artefact, the level before and after is measured over this many
# seconds of active windows (electrode.py judges the step).
REBASE_S = 15.0
# The CUSUM's reference value k, as a fraction of ``min_drop``: falls up to this much are
# drawn back to zero instead of accumulated. Page's k = shift/2 (0.5) is optimal for an
# exact shift of ``min_drop``, but in the field a muscle that cools, an electrode that
# slides or sweat under it moves MDF by 3-7 % without fatigue; k above that makes those
# drift toward no alarm, at the cost of a few seconds on a real fall, which keeps going.
NUISANCE_FRACTION = 0.8
# An active window below the recent working level by this RMS ratio is part burst, part
# silence (``_partial``); the level forgets a higher past over LEVEL_DECAY_S.
PARTIAL_RATIO = 1.5
LEVEL_DECAY_S = 10.0
LN2 = math.log(2.0)
Phase = Literal["learning", "monitoring", "fatigued"]


@dataclass
class FatigueChannel:
    settings: EmgDetect
    hop_s: float
    stride: int  # windows between CUSUM updates: window / hop, for independent windows
    gate: ActivityGate = field(init=False)
    phase: Phase = "learning"
    baseline: Baseline | None = None
    learn: list[tuple[float, float, float, float]] = field(default_factory=list)
    sample: list[tuple[float, float, float, float]] = field(default_factory=list)
    active_run: int = 0
    index: int = 0
    cusum: Cusum = field(default_factory=lambda: Cusum(1.0, 10.0))
    recent: list[tuple[float, float, float]] = field(default_factory=list)
    last_t: float | None = None
    learn_t0: float | None = None
    level: float | None = None
    # Windows after a discontinuity, while the level after it is being measured.
    post: list[tuple[float, float, float]] | None = None
    rebased: int = 0
    gap: bool = False
    # The first windows of the current contraction (with their stream index), held until
    # it is known whether it outlasts its settling time.
    held: list[tuple[WindowFeatures, int]] = field(default_factory=list)

    _windows: dict[float, int] = field(init=False, default_factory=dict, repr=False)
    _mirror: SampleMirror = field(
        init=False, default_factory=SampleMirror, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.gate = ActivityGate(self.settings.active_ratio, self.hop_s)

    # -- persistence ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return fatigue_state.state_dict(self)

    def load_state(self, state: dict[str, Any]) -> None:
        fatigue_state.load_state(self, state)

    # -- behaviour -----------------------------------------------------------------
    def recalibrate(self) -> None:
        """Forget the baseline and learn it again from the next active windows."""
        self.phase = "learning"
        self.baseline = None
        self.learn.clear()
        self.sample.clear()
        self._mirror.reset()  # the next fit rebuilds the array from the list
        self.recent.clear()
        self.post = None
        self.learn_t0 = None
        self.held.clear()
        self.cusum.reset()

    def _n(self, seconds: float) -> int:
        """Windows in ``seconds``; memoised, since every update asks for the same few."""
        n = self._windows.get(seconds)
        if n is None:
            n = self._windows[seconds] = max(1, round(seconds / self.hop_s))
        return n

    def _fit(self, provisional: bool) -> None:
        """(Re)estimate the baseline from ``sample`` and design the CUSUM for it."""
        self.baseline = fit_baseline(
            self.sample,
            self._mirror.array(self.sample),
            self.stride,
            self.settings.min_sigma,
            provisional,
        )
        k = min(
            2.0, max(0.25, NUISANCE_FRACTION * self.settings.min_drop / self.baseline.sigma_rel)
        )
        updates = self.settings.arl0_hours * 3600.0 / (self.hop_s * self.stride)
        s_now = self.cusum.s
        self.cusum = Cusum(k, threshold_for_arl0(k, updates), s=s_now)

    def _finish_learning(self) -> None:
        self.sample = list(self.learn)
        self.learn.clear()
        self.recent.clear()
        self.cusum = Cusum(1.0, 10.0)
        self._fit(provisional=not self.gate.rest_seen)
        self.phase = "monitoring"

    def _refine(self, w: WindowFeatures, idx: float, log_rms: float) -> None:
        """Grow the baseline sample with in-control windows, up to ``baseline_max_s``:
        a short first baseline is enough to start, a longer one cuts false alarms."""
        # Windows are taken unless the CUSUM is halfway to an alarm: taking only windows with
        # S = 0 would keep the high ones and bias the baseline up.
        # Also only within ``baseline_max_s`` of wall time from the first learned window: in
        # intermittent work 60 s of active windows would stretch over minutes in which the
        # muscle may already be tiring, and the baseline would follow it down.
        if (
            self.cusum.s > 0.5 * self.cusum.h
            or len(self.sample) >= self._n(self.settings.baseline_max_s)
            or (self.learn_t0 is not None and w.t - self.learn_t0 > self.settings.baseline_max_s)
        ):
            return
        self.sample.append((idx, log_rms, math.log(w.fi) if w.fi > 0 else math.nan, w.mdf))
        if len(self.sample) % REFIT_EVERY == 0:
            assert self.baseline is not None
            self._fit(self.baseline.provisional)

    def update(self, w: WindowFeatures) -> Decision:
        self.index += 1
        gap = self.last_t is not None and w.t - self.last_t > 2.5 * self.hop_s
        self.last_t = w.t
        if gap:
            self._discontinuity(gap=True)  # a hole in the stream: the electrode may have moved
            self.held.clear()  # a contraction does not span a gap
            self.active_run = 0
        idx = spectral_index(w.mdf, w.mnf)
        if not w.good or not (w.rms > 0 and math.isfinite(idx)):
            if not w.contact:
                self.active_run = 0
                self.held.clear()
                self._discontinuity(gap=True)  # flat / clipped / non-finite: contact trouble
                return Decision(None, False)
            if w.hum and w.rms > 0:
                self._gate(w)  # its spectrum is hum, but its level still tells rest apart
            return self._contraction_ended()
        active = self._gate(w)
        b = self.baseline
        if (
            b is not None
            and b.provisional
            and self.gate.rest_seen
            and b.log_rms <= self.gate.threshold
        ):
            self.recalibrate()  # the "baseline" was the noise floor: learn from real activity
        if not active:
            return self._contraction_ended()
        self.active_run += 1
        if self.active_run <= self._n(self.settings.settle_s):
            self.held.append((w, self.index))
            return Decision(None, True)
        self.held.clear()  # a sustained contraction: its first windows were the transient
        return self._working(w, self.index)

    def _contraction_ended(self) -> Decision:
        """Rest (or hum) after active windows. A contraction that ended within its settling
        time was a burst of dynamic work (cycling, gait, lifting: 0.3-2 s): it has no steady
        part to wait for, so its held windows are its analysis (the non-partial ones,
        judged as any other)."""
        short, self.held = self.held, []
        self.active_run = 0
        decision = Decision(None, False)
        for held_w, held_index in short:
            d = self._working(held_w, held_index)
            if d.kind is not None:
                decision = dataclasses.replace(d, active=False)
        return decision

    def _working(self, w: WindowFeatures, index: int) -> Decision:
        """One active window past a contraction's settling (or of a short burst), with
        ``index`` its place in the stream (the CUSUM takes every stride-th)."""
        idx = spectral_index(w.mdf, w.mnf)
        log_rms = math.log(w.rms)
        rest_seen = self.gate.rest_seen
        b = self.baseline
        if b is not None and self.phase != "learning":
            # Against the working level (a task that got harder is no artefact), before the
            # window can raise that level.
            level = b.log_rms if self.level is None else max(b.log_rms, self.level)
            if log_rms - level > math.log(ARTEFACT_RATIO):
                self._discontinuity()  # movement or contact artefact: may leave a new contact
                return Decision(None, True)
        if self._partial(log_rms):
            return Decision(None, True)
        if b is not None and b.provisional and rest_seen:
            b.provisional = False
        if self.phase == "learning":
            if not self.learn or self.learn_t0 is None:
                self.learn_t0 = w.t
            self.learn.append((idx, log_rms, math.log(w.fi) if w.fi > 0 else math.nan, w.mdf))
            if len(self.learn) >= self._n(self.settings.baseline_s):
                self._finish_learning()
            return Decision(None, True)
        assert b is not None
        if self.post is not None:
            return self._after_discontinuity(idx, log_rms, w.mdf)
        keep = self._keep()
        # Recent active windows, kept across rests: in intermittent work a confirmation
        # must rest on as many windows as in a sustained hold, not on the few since the
        # last rest.
        self.recent = [*self.recent[-(keep - 1) :], (idx, log_rms, w.mdf)]
        if self.phase == "fatigued":
            return self._check_recovery(w)
        self._refine(w, idx, log_rms)
        b = self.baseline
        assert b is not None
        if index % self.stride:
            return Decision(None, True)
        jasa = self.recent[-self._n(self.settings.jasa_s) :]
        if len(jasa) == self._n(self.settings.jasa_s) and force_increased(jasa, b, self.settings):
            self.recalibrate()
            return Decision(None, True)
        z = (idx / b.mdf - 1.0) / b.sigma_rel
        if not self.cusum.update(min(Z_CLIP, max(-Z_CLIP, -z))):
            return Decision(None, True)
        # Confirmation: the recent level, not a few odd windows, must sit clearly below.
        confirm = self.recent[-self._n(CONFIRM_S) :]
        if len(confirm) < self._n(CONFIRM_S):
            return Decision(None, True)
        idx_med = statistics.median(m for m, _, _ in confirm)
        if idx_med > b.mdf * (1.0 - CONFIRM_FRACTION * self.settings.min_drop):
            return Decision(None, True)
        rms_change = statistics.median(r for _, r, _ in jasa) - b.log_rms
        if force_dropped(rms_change, idx_med / b.mdf, self.settings):
            self.recalibrate()
            return Decision(None, True)
        mdf_med = statistics.median(m for _, _, m in confirm)
        self.phase = "fatigued"
        self.recent.clear()  # recovery is judged on windows after the onset only
        feats, base = event_context(w, b, self.cusum.s)
        drop = (1.0 - mdf_med / b.mdf_hz) * 100
        msg = (
            f"MDF {drop:.0f} % below baseline ({b.mdf_hz:.1f} -> {mdf_med:.1f} Hz) with RMS "
            f"{describe_change(rms_change)}: muscle fatigue "
            f"(CUSUM {self.cusum.s:.1f} > {self.cusum.h:.1f})"
        )
        return Decision("fatigue_onset", True, msg, feats, base)

    def _gate(self, w: WindowFeatures) -> bool:
        """The activity gate's verdict on a window; when it has just learned rest apart
        from activity, what was learned before it could tell them apart is sorted."""
        rest_known = self.gate.rest_seen
        active = self.gate.update(w.log_level)
        if self.gate.rest_seen and not rest_known:
            self._rest_learned()
        return active

    def _partial(self, log_rms: float) -> bool:
        """Whether this active window holds only part of a contraction.

        In dynamic work (cycling, lifting, gait) a burst lasts 0.3-2 s, so most 1-s windows
        hold part of a burst and part of the silence between bursts, whose noise floor
        pulls MDF up (a white floor's MDF is ~230 Hz); which part varies window by window
        and makes the MDF scatter 30 % or more. Windows whose RMS is well below the recent
        working level are those; a window aligned with a burst, or any window of a steady
        hold (RMS within a few per cent), is kept. The level is a maximum that decays by
        half over ``LEVEL_DECAY_S``, so a real drop of force is followed."""
        decay = LN2 * self.hop_s / LEVEL_DECAY_S
        self.level = log_rms if self.level is None else max(log_rms, self.level - decay)
        return log_rms < self.level - math.log(PARTIAL_RATIO)

    def _keep(self) -> int:
        """Recent windows kept: enough for the confirmation, JASA and recovery."""
        return max(
            self._n(CONFIRM_S), self._n(self.settings.jasa_s), self._n(self.settings.recover_s)
        )

    def _rest_learned(self) -> None:
        """The gate has just seen rest and activity apart: windows learned before, when
        every window counted as active, may have been rest. Keep only the active ones."""
        thr = self.gate.threshold
        self.learn = [x for x in self.learn if x[1] > thr]
        b = self.baseline
        if b is None or not b.provisional:
            return
        keep = [x for x in self.sample if x[1] > thr]
        if len(keep) == len(self.sample):
            return
        self.recalibrate()
        self.learn = keep
        if len(self.learn) >= self._n(self.settings.baseline_s):
            self._finish_learning()

    def _discontinuity(self, gap: bool = False) -> None:
        """A gap, a contact artefact or bad samples: hold the CUSUM until the level after
        it is known, then compare it with the level before (``_after_discontinuity``).
        ``gap``: contact was lost (no data, or flat / clipped / non-finite samples)."""
        if self.phase != "monitoring" or self.baseline is None:
            return
        if self.post is None:
            self.post = []
        self.gap = self.gap or gap

    def _after_discontinuity(self, idx: float, log_rms: float, mdf: float) -> Decision:
        """Collect the first windows after a discontinuity. An electrode that was moved or
        re-attached changes MDF and RMS in one step (inter-electrode distance and position
        over the innervation zone); fatigue cannot make a step. A step is a new electrode
        state: the baseline moves with it, so fatigue is still judged from the fresh level
        scaled to the new contact, and no alarm is raised for the step itself."""
        assert self.post is not None
        assert self.baseline is not None
        self.post.append((idx, log_rms, mdf))
        need = self._n(REBASE_S)
        if len(self.post) < need:
            return Decision(None, True)
        post, self.post = self.post, None
        gap, self.gap = self.gap, False
        before = self.recent[-need:]
        if len(before) >= self._n(self.settings.jasa_s):
            step = electrode_step(before, post, self.baseline.sigma_rel, self.stride, gap)
            if step is not None:
                self._rebase(*step)
        keep = self._keep()
        self.recent = post[-keep:]
        return Decision(None, True)

    def _rebase(self, step_mdf: float, step_rms: float) -> None:
        """Move the baseline (and the sample it is refitted from) by an electrode step."""
        b = self.baseline
        assert b is not None
        scale = math.exp(step_mdf)
        b.mdf *= scale
        b.mdf_hz *= scale
        b.log_rms += step_rms
        self.sample = [(i * scale, r + step_rms, f, m * scale) for i, r, f, m in self.sample]
        self._mirror.reset()
        self.rebased += 1

    def _check_recovery(self, w: WindowFeatures) -> Decision:
        b = self.baseline
        assert b is not None
        need = self._n(self.settings.recover_s)
        if len(self.recent) < need:
            return Decision(None, True)
        idx_med = statistics.median(m for m, _, _ in self.recent[-need:])
        level = b.mdf * (1.0 - self.settings.recover_fraction * self.settings.min_drop)
        if idx_med < level:
            return Decision(None, True)
        self.phase = "monitoring"
        self.cusum.reset()
        feats, base = event_context(w, b, self.cusum.s)
        mdf_med = statistics.median(m for _, _, m in self.recent[-need:])
        msg = f"MDF back to {mdf_med:.1f} Hz (baseline {b.mdf_hz:.1f} Hz): recovered"
        return Decision("fatigue_recovered", True, msg, feats, base)
