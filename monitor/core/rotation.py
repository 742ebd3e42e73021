"""Round-robin slices of a changing population, for work spread over ticks.

Why: saving every detector's state, or republishing every stream's retained state, in one
go takes a whole tick at fleet scale (500 sensors: over a second of JSON for the states,
150 ms of QoS 1 sends for the retained states) and shows up as a latency spike every
period. Taking ``share`` of the population per tick, round robin, does the same work
once per period in slices too small to notice.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Rotation(Generic[K]):
    def __init__(self) -> None:
        self._order: deque[K] = deque()
        self._credit = 0.0

    def take(self, population: Collection[K], share: float) -> list[K]:
        """The next ``share`` of ``population``, round robin: each member once per round.

        Fractions carry over from call to call (``share * len`` may be 0.02), so a round
        takes ``1 / share`` calls whatever the population's size: one stream is refreshed
        once per period, not on every call. Members that left since the round began are
        skipped; newcomers join at the next round."""
        if not population:
            self._credit = 0.0
            return []
        self._credit = min(self._credit + share * len(population), float(len(population)))
        n = math.floor(self._credit + 1e-9)
        if n <= 0:
            return []
        self._credit = max(0.0, self._credit - n)
        keys: dict[K, None] = {}
        refills = 0
        while len(keys) < n:
            if not self._order:  # a new round over today's population
                if refills == 2:  # cannot happen: one full round holds n members
                    break
                self._order.extend(population)
                refills += 1
            key = self._order.popleft()
            if key in population:
                keys[key] = None  # a round's end and the next's start may meet
        return list(keys)
