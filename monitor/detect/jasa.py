"""Force or fatigue? The joint analysis of spectrum and amplitude (JASA; Luttmann et al.
1996) at the moments the fatigue detector must tell them apart.

Why it matters: MDF moves with force too. A worker who eases off (MDF and RMS fall
together) or bears down (RMS rises, MDF holds or rises) is not tiring, and alarming on
either is what makes people switch a monitor off.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from monitor.core.config import EmgDetect
from monitor.detect.baseline import Baseline

# How far a change of force alone moves MDF, in log-MDF per log-RMS: recruitment of
# faster units with force raises MDF by a few per cent over the working range (Farina et al.
# 2004 report 0-10 % for +50 % force); 0.3 is generous, so a veto claims a force change
# only for MDF falls that a force drop could plausibly explain.
FORCE_MDF_PER_RMS = 0.3

# (index, log RMS, MDF) of recent active windows, oldest first.
Recent = Sequence[tuple[float, float, float]]


def force_increased(jasa: Recent, b: Baseline, settings: EmgDetect) -> bool:
    """A sustained RMS rise over ``jasa`` while MDF does not fall: the task got harder, not
    the muscle more tired. If MDF rose with it the whole baseline must be relearnt (True);
    if MDF stayed, only the RMS reference moves (``b.log_rms``, in place), so a force ramp
    at the start of a hold does not throw away the fresh MDF baseline."""
    rms_level = statistics.median(r for _, r, _ in jasa)
    idx_med = statistics.median(i for i, _, _ in jasa)
    if rms_level - b.log_rms <= math.log(settings.force_ratio) or idx_med < b.mdf:
        return False
    if idx_med > b.mdf * (1.0 + 0.5 * settings.min_drop):
        return True
    b.log_rms = rms_level
    return False


def force_dropped(rms_change: float, index_ratio: float, settings: EmgDetect) -> bool:
    """At an alarm: MDF and RMS fell together (``rms_change`` in log RMS against the
    baseline, ``index_ratio`` the confirmed index over baseline), so the force dropped;
    unless MDF fell far more than a change of force can move it (exhaustion: the force
    fails as the muscle fatigues)."""
    if rms_change >= -math.log(settings.force_ratio):
        return False
    explained = math.exp(FORCE_MDF_PER_RMS * rms_change)
    return index_ratio >= explained * (1.0 - 0.5 * settings.min_drop)
