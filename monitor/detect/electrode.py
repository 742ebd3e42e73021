"""Electrode steps: what a moved or re-attached electrode does to MDF and RMS.

Why: inter-electrode distance and the position over the innervation zone set the level of
both MDF and RMS; re-attaching with a wider spacing lowers MDF by ~6 % and RMS by ~8 % in
one step. Fatigue never makes a step, it drifts. After a gap, lost contact or an artefact
the level before and after are compared, and a step moves the baseline instead of
raising an alarm.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from monitor.detect.robust import WANDER_VIF, sigma_mad

# The smallest MDF step (log) taken for an electrode change after an artefact alone.
REBASE_MIN = 0.03

# (index, log RMS, MDF) of active windows, oldest first.
Windows = Sequence[tuple[float, float, float]]


def electrode_step(
    before: Windows, after: Windows, sigma_rel: float, stride: int, gap: bool
) -> tuple[float, float] | None:
    """The (log index, log RMS) step from ``before`` to ``after`` if it is an electrode
    change, else None; the tracked spectral index moves with MDF, so the baseline's MDF
    moves by the same factor. ``gap``: contact was lost between them (no data, flat, clipped)."""
    need = len(after)
    step_mdf = math.log(
        statistics.median(i for i, _, _ in after) / statistics.median(i for i, _, _ in before)
    )
    step_rms = statistics.median(r for _, r, _ in after) - statistics.median(
        r for _, r, _ in before
    )
    # The noise of a difference of two medians of ``need`` overlapping windows
    # (sigma_rel carries the wander inflation; the step is over seconds, not minutes).
    spread = math.sqrt(2.0 * stride / need) * 1.25
    noise_mdf = spread * sigma_rel / math.sqrt(WANDER_VIF)
    noise_rms = spread * sigma_mad([r for _, r, _ in before])
    # After lost contact the electrodes may sit anywhere new: the level after is the new
    # reference whatever the step (a 6-8 % step is within 2 sigma of two medians, yet
    # alarms within minutes if ignored). After an artefact alone, only a step clearly
    # above the noise moves the baseline.
    if (
        gap
        or abs(step_mdf) > max(REBASE_MIN, 2.0 * noise_mdf)
        or abs(step_rms) > max(math.log(1.1), 2.0 * noise_rms)
    ):
        return step_mdf, step_rms
    return None
