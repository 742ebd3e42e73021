"""EMG fatigue onset and recovery for one channel.

Method (docs/signal-processing.md has the derivation and references):

1. Activity gate (gate.py); windows of poor quality or at rest are not used, and the first
   ``settle_s`` of every contraction is skipped (recruitment transients).
2. Baseline from the first ``baseline_s`` of active windows: median MDF and RMS, and the
   MDF noise sigma from lag-2 differences (robust to a trend that has already started),
   floored at ``min_sigma`` x MDF.
3. Standardised residual z = (MDF / MDF0 - 1) / sigma_rel into a lower one-sided CUSUM,
   fed with non-overlapping windows only (every window/hop-th), so that its increments
   are close to independent and the ARL0 design holds. k = min_drop / (2 sigma_rel);
   h from ARL0 = arl0_hours of windows (cusum.py). Increments are clipped at 4 sigma so a
   single odd window cannot alarm alone; windows with RMS ``ARTEFACT_RATIO`` x baseline
   (movement artefacts) are skipped.
4. JASA (Luttmann et al. 1996): at an alarm, the recent RMS decides. RMS down by more
   than ``force_ratio`` with the MDF fall means the force dropped: not fatigue, the
   baseline is relearnt. A sustained RMS rise with MDF not falling is a force increase:
   relearn too. MDF down with RMS steady or up is fatigue.
5. Recovery with hysteresis: MDF median over ``recover_s`` back above
   MDF0 x (1 - recover_fraction x min_drop).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from monitor.config import EmgDetect
from monitor.detect import _compiled
from monitor.detect.cusum import Cusum, threshold_for_arl0
from monitor.detect.gate import ActivityGate
from monitor.detect.robust import WANDER_VIF, baseline_stats_reference

ARTEFACT_RATIO = 3.0
Z_CLIP = 3.0
REFIT_EVERY = 10
# At an alarm the median MDF of the last ``jasa_s`` must be this fraction of ``min_drop``
# below baseline: a CUSUM can be pushed over h by a few deep dips; fatigue is a level shift.
CONFIRM_FRACTION = 0.75
# How far a change of force alone moves MDF, in log-MDF per log-RMS: recruitment of
# faster units with force raises MDF by a few per cent over the working range (Farina et al.
# 2004 report 0-10 % for +50 % force); 0.3 is generous, so a veto claims a force change
# only for MDF falls that a force drop could plausibly explain.
FORCE_MDF_PER_RMS = 0.3
Phase = Literal["learning", "monitoring", "fatigued"]


@dataclass(frozen=True, slots=True)
class WindowFeatures:
    t: float
    mdf: float
    mnf: float
    rms: float
    arv: float
    fi: float
    good: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """What a channel says about one window: an event kind (or None) and its context."""

    kind: Literal["fatigue_onset", "fatigue_recovered"] | None
    active: bool
    message: str = ""
    features: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)


@dataclass
class Baseline:
    mdf: float
    sigma_rel: float
    log_rms: float
    fi: float
    provisional: bool


@dataclass
class FatigueChannel:
    settings: EmgDetect
    hop_s: float
    stride: int  # windows between CUSUM updates: window / hop, for independent windows
    gate: ActivityGate = field(init=False)
    phase: Phase = "learning"
    baseline: Baseline | None = None
    learn: list[tuple[float, float, float]] = field(default_factory=list)
    sample: list[tuple[float, float, float]] = field(default_factory=list)
    active_run: int = 0
    index: int = 0
    cusum: Cusum = field(default_factory=lambda: Cusum(1.0, 10.0))
    recent: list[tuple[float, float]] = field(default_factory=list)

    _windows: dict[float, int] = field(init=False, default_factory=dict, repr=False)
    _mirror: npt.NDArray[np.float64] = field(
        init=False, default_factory=lambda: np.empty((0, 3)), repr=False, compare=False
    )
    _mirror_of: list[tuple[float, float, float]] | None = field(
        init=False, default=None, repr=False, compare=False
    )
    _mirror_n: int = field(init=False, default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.gate = ActivityGate(self.settings.active_ratio, self.hop_s)

    # -- persistence ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "baseline": None if self.baseline is None else asdict(self.baseline),
            "learn": [list(x) for x in self.learn],
            "sample": [list(x) for x in self.sample],
            "active_run": self.active_run,
            "index": self.index,
            "cusum": self.cusum.state_dict(),
            "recent": [list(x) for x in self.recent],
            "gate": {
                "floor": self.gate.floor,
                "peak": self.gate.peak,
                "recent": list(self.gate.recent),
            },
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.phase = state["phase"]
        b = state["baseline"]
        self.baseline = None if b is None else Baseline(**b)
        self.learn = [(float(a), float(b_), float(c)) for a, b_, c in state["learn"]]
        self.sample = [(float(a), float(b_), float(c)) for a, b_, c in state["sample"]]
        self._mirror_of = None
        self.active_run = int(state["active_run"])
        self.index = int(state["index"])
        self.cusum = Cusum.from_state(state["cusum"])
        self.recent = [(float(a), float(b_)) for a, b_ in state["recent"]]
        g = state["gate"]
        self.gate.floor, self.gate.peak, self.gate.recent = g["floor"], g["peak"], list(g["recent"])

    # -- behaviour -----------------------------------------------------------------
    def recalibrate(self) -> None:
        """Forget the baseline and learn it again from the next active windows."""
        self.phase = "learning"
        self.baseline = None
        self.learn.clear()
        self.sample.clear()
        self._mirror_of = None  # the next fit rebuilds the array from the list
        self.recent.clear()
        self.cusum.reset()

    def _n(self, seconds: float) -> int:
        """Windows in ``seconds``; memoised, since every update asks for the same few."""
        n = self._windows.get(seconds)
        if n is None:
            n = self._windows[seconds] = max(1, round(seconds / self.hop_s))
        return n

    def _fit(self, provisional: bool) -> None:
        """(Re)estimate the baseline from ``sample`` and design the CUSUM for it."""
        if _compiled.AVAILABLE:
            stats = _compiled.baseline_stats(
                self._sample_array(), self.stride, self.settings.min_sigma, WANDER_VIF
            )
        else:  # pragma: no cover - only where numba is missing
            stats = baseline_stats_reference(self.sample, self.stride, self.settings.min_sigma)
        mdf0, sigma_rel, log_rms, fi = (float(v) for v in stats)
        self.baseline = Baseline(
            mdf=mdf0, sigma_rel=sigma_rel, log_rms=log_rms, fi=fi, provisional=provisional
        )
        k = min(2.0, max(0.25, self.settings.min_drop / (2.0 * sigma_rel)))
        updates = self.settings.arl0_hours * 3600.0 / (self.hop_s * self.stride)
        s_now = self.cusum.s
        self.cusum = Cusum(k, threshold_for_arl0(k, updates), s=s_now)

    def _sample_array(self) -> npt.NDArray[np.float64]:
        """``sample`` as an (n, 3) array, brought up to date with only the rows appended
        since the last fit (rebuilding it from the list cost more than the fit)."""
        n = len(self.sample)
        if self._mirror_of is not self.sample or self._mirror_n > n:
            self._mirror = np.empty((max(n, 16), 3))
            self._mirror_of, self._mirror_n = self.sample, 0
        if n > len(self._mirror):
            grown = np.empty((2 * n, 3))
            grown[: self._mirror_n] = self._mirror[: self._mirror_n]
            self._mirror = grown
        if n > self._mirror_n:
            self._mirror[self._mirror_n : n] = self.sample[self._mirror_n : n]
            self._mirror_n = n
        return self._mirror[:n]

    def _finish_learning(self) -> None:
        self.sample = list(self.learn)
        self.learn.clear()
        self.recent.clear()
        self.cusum = Cusum(1.0, 10.0)
        self._fit(provisional=not self.gate.rest_seen)
        self.phase = "monitoring"

    def _refine(self, w: WindowFeatures, log_rms: float) -> None:
        """Grow the baseline sample with in-control windows, up to ``baseline_max_s``:
        a short first baseline is enough to start, a longer one cuts false alarms."""
        # Windows are taken unless the CUSUM is halfway to an alarm: taking only windows with
        # S = 0 would keep the high ones and bias the baseline up.
        if self.cusum.s > 0.5 * self.cusum.h or len(self.sample) >= self._n(
            self.settings.baseline_max_s
        ):
            return
        self.sample.append((w.mdf, log_rms, math.log(w.fi) if w.fi > 0 else math.nan))
        if len(self.sample) % REFIT_EVERY == 0:
            assert self.baseline is not None
            self._fit(self.baseline.provisional)

    def _context(self, w: WindowFeatures) -> tuple[dict[str, float], dict[str, float]]:
        b = self.baseline
        assert b is not None
        feats = {
            "mdf_hz": w.mdf,
            "mnf_hz": w.mnf,
            "rms": w.rms,
            "arv": w.arv,
            "fi_nsm5": w.fi,
            "mdf_ratio": w.mdf / b.mdf,
            "rms_ratio": math.exp(math.log(w.rms) - b.log_rms) if w.rms > 0 else math.nan,
            "cusum": self.cusum.s,
        }
        base = {
            "mdf_hz": b.mdf,
            "mdf_hz_sd": b.sigma_rel * b.mdf,
            "rms": math.exp(b.log_rms),
            "fi_nsm5": b.fi,
        }
        return feats, base

    def update(self, w: WindowFeatures) -> Decision:
        self.index += 1
        if not w.good or not (w.rms > 0 and math.isfinite(w.mdf)):
            self.active_run = 0
            return Decision(None, False)
        log_rms = math.log(w.rms)
        active = self.gate.update(log_rms)
        b = self.baseline
        if b is not None and b.provisional and self.gate.is_rest_level(b.log_rms):
            self.recalibrate()  # the "baseline" was the noise floor: learn from real activity
            b = None
        if not active:
            self.active_run = 0
            self.recent.clear()  # a rest separates contractions: judge the next one afresh
            return Decision(None, False)
        self.active_run += 1
        if self.active_run <= self._n(self.settings.settle_s):
            return Decision(None, True)
        if b is not None and b.provisional and self.gate.rest_seen:
            b.provisional = False
        if self.phase == "learning":
            self.learn.append((w.mdf, log_rms, math.log(w.fi) if w.fi > 0 else math.nan))
            if len(self.learn) >= self._n(self.settings.baseline_s):
                self._finish_learning()
            return Decision(None, True)
        assert b is not None
        if log_rms - b.log_rms > math.log(ARTEFACT_RATIO):
            return Decision(None, True)  # movement artefact or a much harder contraction
        keep = max(self._n(self.settings.jasa_s), self._n(self.settings.recover_s))
        self.recent = [*self.recent[-(keep - 1) :], (w.mdf, log_rms)]
        if self.phase == "fatigued":
            return self._check_recovery(w)
        if self._force_increase(b):
            self.recalibrate()
            return Decision(None, True)
        self._refine(w, log_rms)
        b = self.baseline
        assert b is not None
        if self.index % self.stride:
            return Decision(None, True)
        z = (w.mdf / b.mdf - 1.0) / b.sigma_rel
        if not self.cusum.update(min(Z_CLIP, max(-Z_CLIP, -z))):
            return Decision(None, True)
        # Confirmation: the recent level, not a few odd windows, must sit clearly below.
        jasa = self.recent[-self._n(self.settings.jasa_s) :]
        mdf_med = statistics.median(m for m, _ in jasa)
        if mdf_med > b.mdf * (1.0 - CONFIRM_FRACTION * self.settings.min_drop):
            return Decision(None, True)
        rms_change = statistics.median(r for _, r in jasa) - b.log_rms
        if rms_change < -math.log(self.settings.force_ratio):
            # MDF and RMS fell together (JASA): a force drop, unless MDF fell far more than a
            # force change can move it (exhaustion: the force fails as the muscle fatigues).
            explained = math.exp(FORCE_MDF_PER_RMS * rms_change)
            if mdf_med / b.mdf >= explained * (1.0 - 0.5 * self.settings.min_drop):
                self.recalibrate()
                return Decision(None, True)
        self.phase = "fatigued"
        self.recent.clear()  # recovery is judged on windows after the onset only
        feats, base = self._context(w)
        drop = (1.0 - mdf_med / b.mdf) * 100
        msg = (
            f"MDF {drop:.0f} % below baseline ({b.mdf:.1f} -> {mdf_med:.1f} Hz) with RMS "
            f"{_pct(rms_change)}: muscle fatigue (CUSUM {self.cusum.s:.1f} > {self.cusum.h:.1f})"
        )
        return Decision("fatigue_onset", True, msg, feats, base)

    def _force_increase(self, b: Baseline) -> bool:
        """A sustained RMS rise while MDF does not fall: the task got harder (JASA), not the
        muscle more tired. If MDF rose with it, the whole baseline is relearnt (returns
        True); if MDF stayed, only the RMS reference moves, so a force ramp at the start of
        a hold does not throw away the fresh MDF baseline."""
        jasa = self.recent[-self._n(self.settings.jasa_s) :]
        if len(jasa) < self._n(self.settings.jasa_s):
            return False
        rms_level = statistics.median(r for _, r in jasa)
        mdf_med = statistics.median(m for m, _ in jasa)
        if rms_level - b.log_rms <= math.log(self.settings.force_ratio) or mdf_med < b.mdf:
            return False
        if mdf_med > b.mdf * (1.0 + 0.5 * self.settings.min_drop):
            return True
        b.log_rms = rms_level
        return False

    def _check_recovery(self, w: WindowFeatures) -> Decision:
        b = self.baseline
        assert b is not None
        need = self._n(self.settings.recover_s)
        if len(self.recent) < need:
            return Decision(None, True)
        mdf_med = statistics.median(m for m, _ in self.recent[-need:])
        level = b.mdf * (1.0 - self.settings.recover_fraction * self.settings.min_drop)
        if mdf_med < level:
            return Decision(None, True)
        self.phase = "monitoring"
        self.cusum.reset()
        feats, base = self._context(w)
        msg = f"MDF back to {mdf_med:.1f} Hz (baseline {b.mdf:.1f} Hz): recovered"
        return Decision("fatigue_recovered", True, msg, feats, base)


def _pct(log_change: float) -> str:
    change = (math.exp(log_change) - 1.0) * 100
    if abs(change) < 5:
        return "steady"
    return f"{'up' if change > 0 else 'down'} {abs(change):.0f} %"
