"""Per-stream book-keeping between blocks: where a stream should go on, and what a block
that does not follow means.

Why apart from ``Monitor``: these rules are the part of the core that field data tests
hardest (reboots, wrapped counters, resent blocks), and they need nothing but a stream's
last position to be judged and tested.

Sequence rules per stream (sensor, modality):
* ``seq`` = expected: append.
* ``seq`` > expected, or ``t0`` off the expected time by more than half a sample: a gap,
  counted; the stream's buffers restart at this block (windows never span a gap); the
  detector and its baseline are kept.
* ``seq`` < expected with ``t0`` at or after the expected time: the sensor's counter
  started again (a reboot, or FMB1's 32-bit ``seq`` wrapping): counted as a
  ``seq_reset``; the stream goes on (restarting its windows if ``t0`` jumped).
* ``seq`` < expected with ``t0`` in the past: a duplicate, dropped and counted; unless
  ``REBOOT_RUN`` such blocks follow each other in order (a reboot that reset the clock
  too), which restarts the stream at the last of them instead of dropping the rest.
* A change of sample rate or channels restarts the stream (buffers, and the detector if
  the channels changed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from monitor.core.model import Modality, SampleBlock
from monitor.core.ratelog import RateLimitedLog

StreamKey = tuple[str, Modality]
Verdict = Literal["ok", "restart", "drop"]
# Blocks behind in both seq and time that follow each other this many times are a sensor
# that rebooted with its clock, not duplicates.
REBOOT_RUN = 3


@dataclass
class Counters:
    """What happened to the input, by kind; the live service adds its transport's counts."""

    messages: int = 0
    bytes: int = 0
    decode_errors: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    dropped_payloads: int = 0
    gaps: int = 0
    duplicates: int = 0
    restarts: int = 0
    seq_resets: int = 0
    evicted: int = 0
    windows: int = 0
    events: int = 0
    ticks: int = 0
    tick_seconds: list[float] = field(default_factory=list)

    def snapshot(self) -> Counters:
        """A copy that later counts do not change (for a status read off the tick)."""
        return replace(
            self,
            decode_errors=Counter(self.decode_errors),
            rejected=Counter(self.rejected),
            tick_seconds=list(self.tick_seconds),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "decode_errors": dict(self.decode_errors),
            "rejected": dict(self.rejected),
            "dropped_payloads": self.dropped_payloads,
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "restarts": self.restarts,
            "seq_resets": self.seq_resets,
            "evicted": self.evicted,
            "windows": self.windows,
            "events": self.events,
            "ticks": self.ticks,
        }


@dataclass(slots=True)
class StreamInfo:
    """What the core knows about a stream between blocks."""

    fs: float
    channels: tuple[str, ...]
    next_seq: int
    next_t0: float
    last_wall: float
    lost: bool = False
    # A run of blocks behind in seq and time (see REBOOT_RUN): where it would go on, and
    # how long it is.
    behind_seq: int = -1
    behind_t0: float = 0.0
    behind_run: int = 0


def continuation(
    info: StreamInfo, block: SampleBlock, counters: Counters, warn: RateLimitedLog, received: float
) -> Verdict:
    """Judge the next block of a known stream with an unchanged set-up: ``ok`` appends,
    ``restart`` starts the stream's windows afresh at this block (a gap, a reboot),
    ``drop`` is a duplicate. Moves ``info`` on unless dropped."""
    half = 0.5 / block.fs
    verdict: Verdict = "ok"
    if block.seq < info.next_seq:
        if block.t0 < info.next_t0 - half:
            if not _rebooted(info, block, half):
                counters.duplicates += 1
                return "drop"
            verdict = "restart"
            what = "with its clock"
        else:
            verdict = "ok" if block.t0 <= info.next_t0 + half else "restart"
            what = "(or wrapped)"
        counters.seq_resets += 1
        warn.warn(
            "seq_reset",
            block.sensor,
            f"sensor {block.sensor}/{block.modality}: seq restarted {what} at {block.seq} "
            f"(expected {info.next_seq}); the stream goes on",
        )
    elif block.seq > info.next_seq or abs(block.t0 - info.next_t0) > half:
        verdict = "restart"
    if verdict == "restart":
        counters.gaps += 1
        warn.warn(
            "gap",
            block.sensor,
            f"sensor {block.sensor}/{block.modality}: gap before seq {block.seq} "
            f"(expected {info.next_seq}, t0 {block.t0:.3f} s vs {info.next_t0:.3f} s); "
            "windows restart",
        )
    info.next_seq = block.seq + 1
    info.next_t0 = block.t_end
    info.last_wall = received
    info.behind_run = 0
    return verdict


def _rebooted(info: StreamInfo, block: SampleBlock, half: float) -> bool:
    """Counts a block behind in seq and time into the current run of such blocks;
    True once the run is ``REBOOT_RUN`` long (a sensor that restarted seq and clock)."""
    follows = block.seq == info.behind_seq and abs(block.t0 - info.behind_t0) <= half
    info.behind_run = info.behind_run + 1 if follows else 1
    info.behind_seq, info.behind_t0 = block.seq + 1, block.t_end
    return info.behind_run >= REBOOT_RUN


def coalesce(accepted: list[tuple[SampleBlock, bool]]) -> tuple[list[SampleBlock], set[int]]:
    """Join each stream's consecutive blocks into one (one push instead of one per
    message: the per-call overhead, not the arithmetic, limits a large fleet), cutting at
    restarts. Returns the blocks and the indices that restart their stream."""
    segments: dict[StreamKey, list[tuple[list[SampleBlock], bool]]] = {}
    for block, restart in accepted:
        segs = segments.setdefault(block.stream, [])
        if restart or not segs:
            segs.append(([block], restart))
        else:
            segs[-1][0].append(block)
    merged: list[SampleBlock] = []
    restarts: set[int] = set()
    for segs in segments.values():
        for blocks, restart in segs:
            if restart:
                restarts.add(len(merged))
            first = blocks[0]
            if len(blocks) == 1:
                merged.append(first)
            else:
                data = np.concatenate([b.data for b in blocks], axis=1)
                merged.append(replace(first, data=data))
    return merged, restarts
