"""The EMG scenario's slow state (fatigue, force, activity) on a fine time grid.

Everything the generator and the truth need to know about "what the muscle is doing at
time t" comes from here, so the signal and its ground truth cannot disagree. The state
changes over seconds, so a 50 ms grid with linear interpolation is exact for practical
purposes and tiny (36 000 points for 30 minutes).

Fatigue is stated as the ratio m(t) = MDF/mdf0 it causes: 1 when fresh, falling linearly
by ``decline_per_min`` (a fraction of the fresh MDF per minute) while the muscle works
after the onset, never below ``floor``, and recovering exponentially toward 1 with time
constant ``tau`` during rests (the brief's 30-60 s). The generator turns the ratio into the
conduction-velocity scale of the spectrum (``spectra.MdfTable``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from simulators.truth import Phase

F64 = npt.NDArray[np.float64]

GRID_DT_S = 0.05
#: Time over which the muscle switches on or off at a rest's edges (each side of the edge).
REST_EDGE_S = 0.125


@dataclass(frozen=True)
class RestPeriod:
    """The muscle relaxes completely from ``start_s`` to ``end_s``: only noise is recorded."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class ForceStep:
    """At ``t_s`` the contraction force starts ramping to ``level`` (1.0 = reference force).

    Amplitude follows force^a and the spectrum shifts by force^b with small b: a change of
    force moves RMS and MDF the same way, which a JASA classifier must not call fatigue.
    """

    t_s: float
    level: float


@dataclass(frozen=True)
class Timeline:
    """Slow EMG state sampled every ``dt`` seconds from t = 0."""

    dt: float
    fatigue: F64 = field(repr=False)
    force: F64 = field(repr=False)
    active: F64 = field(repr=False)
    rms_gain: float
    force_rms_exponent: float
    force_mdf_exponent: float

    def _at(self, values: F64, t: npt.ArrayLike) -> F64:
        tt = np.asarray(t, dtype=np.float64) / self.dt
        out: F64 = np.interp(tt, np.arange(values.size, dtype=np.float64), values)
        return out

    def fatigue_at(self, t: npt.ArrayLike) -> F64:
        return self._at(self.fatigue, t)

    def force_at(self, t: npt.ArrayLike) -> F64:
        return self._at(self.force, t)

    def active_at(self, t: npt.ArrayLike) -> F64:
        return self._at(self.active, t)

    def mdf_ratio_at(self, t: npt.ArrayLike) -> F64:
        """MDF relative to the fresh reference: fatigue times the (small) force effect."""
        out: F64 = self.fatigue_at(t) * np.power(self.force_at(t), self.force_mdf_exponent)
        return out

    def amplitude_at(self, t: npt.ArrayLike) -> F64:
        """EMG RMS relative to the fresh reference contraction (0 at rest).

        RMS rises by ``rms_gain`` times the relative MDF loss due to fatigue: fatigue
        recruits more motor units and slows the potentials, so amplitude goes up while MDF
        goes down.
        """
        fat = self.fatigue_at(t)
        out: F64 = (
            self.active_at(t)
            * np.power(self.force_at(t), self.force_rms_exponent)
            * (1.0 + self.rms_gain * (1.0 - fat))
        )
        return out


def _in_rest(t: float, rests: Sequence[RestPeriod]) -> bool:
    return any(r.start_s <= t < r.end_s for r in rests)


def build_timeline(
    *,
    duration_s: float,
    onset_s: float | None,
    decline_per_min: float,
    floor: float,
    recovery_tau_s: float,
    rests: Sequence[RestPeriod],
    force_steps: Sequence[ForceStep],
    force_ramp_s: float,
    rms_gain: float,
    force_rms_exponent: float,
    force_mdf_exponent: float,
    force_rise: float = 0.0,
    rise_end_s: float | None = None,
) -> Timeline:
    """Integrate the fatigue state in closed form segment by segment (a handful of them).

    ``force_rise`` > 0 multiplies the force by ``1 + force_rise`` linearly from ``onset_s``
    to ``rise_end_s``: a worker keeping the output up recruits more motor units as the
    muscle tires (task effort rising with fatigue).
    """
    dt = GRID_DT_S
    n = int(np.ceil(duration_s / dt)) + 3
    t = np.arange(n, dtype=np.float64) * dt
    t_end = float(t[-1]) + dt

    cuts = {0.0, t_end}
    if onset_s is not None:
        cuts.add(onset_s)
    for r in rests:
        cuts.update((r.start_s, r.end_s))
    edges = sorted(c for c in cuts if 0.0 <= c <= t_end)

    fatigue = np.ones(n)
    s_a = 1.0
    for a, b in itertools.pairwise(edges):
        sel = (t >= a) & (t < b)
        mid = 0.5 * (a + b)
        tt = t[sel] - a
        if _in_rest(mid, rests):
            fatigue[sel] = 1.0 - (1.0 - s_a) * np.exp(-tt / recovery_tau_s)
            s_a = 1.0 - (1.0 - s_a) * float(np.exp(-(b - a) / recovery_tau_s))
        elif onset_s is not None and mid >= onset_s:
            rate = decline_per_min / 60.0
            fatigue[sel] = np.maximum(floor, s_a - rate * tt)
            s_a = max(floor, s_a - rate * (b - a))
        else:
            fatigue[sel] = s_a

    fx = [0.0]
    fy = [1.0]
    for step in sorted(force_steps, key=lambda s: s.t_s):
        fx += [step.t_s, step.t_s + force_ramp_s]
        fy += [fy[-1], step.level]
    force = np.interp(t, fx, fy)
    if force_rise > 0.0 and onset_s is not None:
        end = duration_s if rise_end_s is None else rise_end_s
        force = force * np.interp(t, [onset_s, max(end, onset_s + dt)], [1.0, 1.0 + force_rise])

    active = _activity(t, rests, t_end)

    return Timeline(
        dt=dt,
        fatigue=fatigue,
        force=force,
        active=active,
        rms_gain=rms_gain,
        force_rms_exponent=force_rms_exponent,
        force_mdf_exponent=force_mdf_exponent,
    )


def _activity(t: F64, rests: Sequence[RestPeriod], t_end: float) -> F64:
    """1 while working, 0 at rest, with ``REST_EDGE_S`` ramps; a rest from t = 0 starts
    the recording silent and one reaching past the end ends it silent (no ramp outside)."""
    ordered = sorted(rests, key=lambda r: r.start_s)
    ax = [0.0]
    ay = [0.0 if ordered and ordered[0].start_s <= 0.0 else 1.0]
    for r in ordered:
        if r.start_s > 0.0:
            ax += [r.start_s - REST_EDGE_S, r.start_s + REST_EDGE_S]
            ay += [1.0, 0.0]
        if r.end_s < t_end:
            ax += [r.end_s - REST_EDGE_S, r.end_s + REST_EDGE_S]
            ay += [0.0, 1.0]
    out: F64 = np.interp(t, ax, ay)
    return out


def emg_phases(
    *,
    duration_s: float,
    rests: Sequence[RestPeriod],
    force_steps: Sequence[ForceStep],
    force_ramp_s: float,
    timeline: Timeline,
    rise: tuple[float | None, float] | None = None,
) -> tuple[Phase, ...]:
    """Contiguous, non-overlapping activity phases covering [0, duration].

    ``rise`` = (start, end) of a slow force rise: its working parts are ``force_change``.
    """
    ramps = [(s.t_s, min(duration_s, s.t_s + force_ramp_s)) for s in force_steps]
    if rise is not None and rise[0] is not None:
        ramps.append((rise[0], rise[1]))
    cuts = {0.0, duration_s}
    for r in rests:
        cuts.update((r.start_s, r.end_s))
    for a, b in ramps:
        cuts.update((a, b))
    edges = sorted(c for c in cuts if 0.0 <= c <= duration_s)
    phases: list[Phase] = []
    for a, b in itertools.pairwise(edges):
        if b - a <= 1e-9:
            continue
        mid = 0.5 * (a + b)
        if _in_rest(mid, rests):
            kind, force = "rest", None
        else:
            kind = "force_change" if any(x <= mid < y for x, y in ramps) else "work"
            force = round(float(timeline.force_at(b)), 6)
        if phases and phases[-1].kind == kind == "work" and phases[-1].force == force:
            phases[-1] = Phase(start_s=phases[-1].start_s, end_s=b, kind=kind, force=force)
        else:
            phases.append(Phase(start_s=a, end_s=b, kind=kind, force=force))
    return tuple(phases)
