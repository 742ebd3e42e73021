"""One-sided CUSUM with its threshold chosen from an in-control average run length.

The statistic is Page's: S_t = max(0, S_{t-1} + x_t - k), alarm when S_t > h, for
standardised increments x_t (mean 0, variance 1 while nothing changes). ``k`` is half the
smallest shift worth detecting, in standard deviations. ``h`` is not hand-set: it is the
smallest threshold whose in-control average run length (ARL0, the mean number of updates
between false alarms) reaches the requested value, using Siegmund's approximation

    ARL0(k, h) = (exp(2 k b) - 2 k b - 1) / (2 k^2),   b = h + 1.166

(Siegmund 1985, Sequential Analysis, eq. 2.55; accurate to a few per cent for normal
increments). A false-alarm rate of one per T hours at one update every u seconds is
ARL0 = 3600 T / u.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def siegmund_arl0(k: float, h: float) -> float:
    b = h + 1.166
    if k < 1e-9:
        return b * b
    x = 2.0 * k * b
    return (math.exp(x) - x - 1.0) / (2.0 * k * k) if x < 700 else math.inf


def threshold_for_arl0(k: float, arl0: float) -> float:
    """Smallest h with ARL0(k, h) >= arl0, to nine digits.

    Solved directly where it can be: with x = 2 k b the condition is
    exp(x) - x - 1 = c, c = 2 k^2 ARL0, whose root is the fixed point of
    x = log(1 + c + x); for c > 10 each step shrinks the error more than tenfold, so a
    few logs replace the ~40 ARL0 evaluations of a bisection. Why it matters: a fleet
    that starts together refits thousands of baselines in one tick. Elsewhere (tiny k
    or ARL0), the bisection."""
    if k >= 1e-6:
        c = 2.0 * k * k * arl0
        if 10.0 < c < 1e300:
            x = math.log1p(c)
            for _ in range(100):
                nxt = math.log1p(c + x)
                done = abs(nxt - x) <= 1e-15 * nxt
                x = nxt
                if done:
                    break
            b = x / (2.0 * k)
            # Rounding may leave ARL0 a hair short: step b (what siegmund_arl0 sees) up by
            # ulps; a few steps at most, else give the case to the bisection.
            for _ in range(64):
                if b - 1.166 <= 0.0 or 2.0 * k * b >= 700.0:
                    break
                if siegmund_arl0(k, b - 1.166) >= arl0:
                    return b - 1.166
                b = math.nextafter(b, math.inf)
    return threshold_by_bisection(k, arl0)


def threshold_by_bisection(k: float, arl0: float) -> float:
    """Smallest h with ARL0(k, h) >= arl0 (bisection; ARL0 grows with h)."""
    lo, hi = 0.0, 1.0
    while siegmund_arl0(k, hi) < arl0:
        hi *= 2.0
    while hi - lo > 1e-9 * hi:  # h to nine digits: ~35 halvings, not a fixed 80
        mid = 0.5 * (lo + hi)
        if siegmund_arl0(k, mid) < arl0:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass
class Cusum:
    """Upper one-sided CUSUM on standardised increments (negate them for a lower test)."""

    k: float
    h: float
    s: float = 0.0
    n: int = 0

    def update(self, x: float) -> bool:
        self.s = max(0.0, self.s + x - self.k)
        self.n += 1
        return self.s > self.h

    def reset(self) -> None:
        self.s = 0.0
        self.n = 0

    def state_dict(self) -> dict[str, float]:
        return {"k": self.k, "h": self.h, "s": self.s, "n": self.n}

    @classmethod
    def from_state(cls, state: dict[str, float]) -> Cusum:
        return cls(float(state["k"]), float(state["h"]), float(state["s"]), int(state["n"]))
