"""Log lines about bad input, rate-limited so that no input can flood the log.

Why: every per-message warning (a malformed payload, a gap, a changed stream, a store
that fails) is driven by what sensors send. One broken sensor at 100 msg/s, or 20,000
distinct invalid ids, must cost a few lines, not one per message. ``RateLimitedLog``
lets through at most one line per (reason, sensor) per period and at most ``burst``
lines per reason per period over all sensors; what it holds back is counted and said in
one summary line per period. Messages are cut to ``max_chars``, since a payload can put
megabytes of text (channel names, topics) into them. Its memory is bounded: the keys of
a period are forgotten when the next period starts.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

MAX_CHARS = 300


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


class RateLimitedLog:
    def __init__(
        self,
        logger: logging.Logger,
        period: float = 10.0,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        max_chars: int = MAX_CHARS,
    ) -> None:
        self.logger = logger
        self.period = period
        self.burst = burst
        self.clock = clock
        self.max_chars = max_chars
        self._period_start = clock()
        self._seen: set[tuple[str, str]] = set()
        self._per_reason: Counter[str] = Counter()
        self._held: Counter[str] = Counter()
        self._held_keys: dict[str, set[str]] = {}
        self.suppressed_total = 0

    def warn(self, reason: str, sensor: str, message: str, level: int = logging.WARNING) -> bool:
        """Log ``message`` unless (reason, sensor) or the reason's budget was used this
        period; True when it was logged."""
        self.roll()
        key = (reason, sensor)
        if key in self._seen or self._per_reason[reason] >= self.burst:
            self._held[reason] += 1
            held = self._held_keys.setdefault(reason, set())
            if len(held) < 10_000:  # enough to say "N sensors"; bounded
                held.add(sensor)
            self.suppressed_total += 1
            return False
        self._seen.add(key)
        self._per_reason[reason] += 1
        self.logger.log(level, "%s", clip(message, self.max_chars))
        return True

    def roll(self) -> None:
        """Start a new period when the current one is over, with one summary line of what
        was held back in it. Called by ``warn`` and by a periodic task (stats), so the
        summary comes even when the flood stopped."""
        now = self.clock()
        if now - self._period_start < self.period:
            return
        if self._held:
            parts = [
                f"{reason} x{n} ({len(self._held_keys.get(reason, ()))} sensors)"
                for reason, n in self._held.most_common(10)
            ]
            more = len(self._held) - 10
            self.logger.warning(
                "suppressed %d similar log lines in the last %.0f s: %s%s",
                sum(self._held.values()),
                now - self._period_start,
                ", ".join(parts),
                f", and {more} more reasons" if more > 0 else "",
            )
        self._period_start = now
        self._seen.clear()
        self._per_reason.clear()
        self._held.clear()
        self._held_keys.clear()
