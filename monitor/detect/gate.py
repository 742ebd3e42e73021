"""Activity gate: is the muscle working in this window, or is this the noise floor?

Rest is learned from the signal itself, so the gate works in microvolts and in ADC counts
alike: the noise floor is a leaky minimum of the (median-of-three) log RMS, the activity
level a leaky maximum. A window is active when its RMS is ``active_ratio`` times the floor,
or above the geometric middle of floor and peak when those are closer than that squared
(hobby amplifiers rest only 6-10 dB below a contraction).
Until both rest and activity have been seen (peak/floor below the ratio), the gate cannot
tell them apart and calls every good window active; ``rest_seen`` says so, and the
baseline learner uses it to throw away a baseline that turns out to have been rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# The floor may rise (and the peak fall) by a factor 2 per 10 minutes of windows, so an
# electrode that settles or a gain change is followed, but a rest is not forgotten quickly.
LEAK_PER_S = math.log(2.0) / 600.0


@dataclass
class ActivityGate:
    active_ratio: float
    hop_s: float
    floor: float | None = None
    peak: float | None = None
    recent: list[float] = field(default_factory=list)

    @property
    def rest_seen(self) -> bool:
        return (
            self.floor is not None
            and self.peak is not None
            and self.peak - self.floor > math.log(self.active_ratio)
        )

    def update(self, log_rms: float) -> bool:
        """Take one good window's log RMS; return whether it is active."""
        self.recent = [*self.recent[-2:], log_rms]
        m3 = sorted(self.recent)[len(self.recent) // 2]
        leak = LEAK_PER_S * self.hop_s
        self.floor = m3 if self.floor is None else min(self.floor + leak, m3)
        self.peak = m3 if self.peak is None else max(self.peak - leak, m3)
        if not self.rest_seen:
            return True
        return log_rms > self.threshold

    @property
    def threshold(self) -> float:
        """Log-RMS above which a window is active (meaningful once rest is seen)."""
        assert self.floor is not None
        assert self.peak is not None
        margin = min(math.log(self.active_ratio), 0.5 * (self.peak - self.floor))
        return self.floor + margin

    def is_rest_level(self, log_rms: float) -> bool:
        """Whether a level is at or below the activity threshold (only once rest is seen)."""
        return self.rest_seen and log_rms <= self.threshold
