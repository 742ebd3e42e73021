"""Reconnect delays for every source that dials out (MQTT, BLE, LSL)."""

from __future__ import annotations

import random


class Backoff:
    """Capped exponential backoff with full jitter (AWS architecture blog, 2015)."""

    def __init__(self, first: float = 0.5, cap: float = 30.0, rng: random.Random | None = None):
        self.first = first
        self.cap = cap
        self.rng = rng or random.Random()
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.first * 2**self.attempt)
        self.attempt += 1
        return self.rng.uniform(0.5 * ceiling, ceiling)
