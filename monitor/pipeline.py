"""The live pipeline: payloads in, one batched feature step per tick, events out.

Sources only call ``submit`` (never blocks: a bounded queue that drops the oldest payload
and counts it when the pipeline falls behind). ``tick`` drains the queue, decodes, checks
each stream's sequence, runs ONE feature step over the windows that became ready in all
streams, updates the detectors, commits events to the store, and returns what the sinks
should send. It is synchronous and does no network I/O, so it is tested directly; the
service (service.py) calls it on a timer and hands the result to the async sinks.

Sequence rules per stream (sensor, modality):
* ``seq`` = expected: append. ``seq`` < expected: duplicate or late, dropped and counted.
* ``seq`` > expected, or ``t0`` off the expected time by more than a sample: a gap,
  counted; the stream's buffers restart at this block (windows never span a gap); the
  detector and its baseline are kept.
* A change of sample rate or channels restarts the stream (buffers and detector) with a
  warning.
* No data for ``silence_s``: ``signal_lost`` for every channel; data again: restored.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from monitor.config import Settings
from monitor.decode.wire import DEFAULT_LIMITS, Limits, decode
from monitor.detect.stream import StreamDetector
from monitor.dsp.engine import FeatureEngine
from monitor.dsp.stream import StreamProcessor
from monitor.errors import DecodeError, MonitorError
from monitor.model import Event, FeatureFrame, Modality, SampleBlock
from monitor.rotation import Rotation
from monitor.sinks.store import Store

log = logging.getLogger(__name__)

StreamKey = tuple[str, Modality]
Verdict = Literal["ok", "restart", "drop"]


@dataclass
class Counters:
    messages: int = 0
    bytes: int = 0
    decode_errors: Counter[str] = field(default_factory=Counter)
    dropped_payloads: int = 0
    gaps: int = 0
    duplicates: int = 0
    restarts: int = 0
    windows: int = 0
    events: int = 0
    ticks: int = 0
    tick_seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "decode_errors": dict(self.decode_errors),
            "dropped_payloads": self.dropped_payloads,
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "restarts": self.restarts,
            "windows": self.windows,
            "events": self.events,
            "ticks": self.ticks,
        }


@dataclass
class StreamInfo:
    """What the pipeline knows about a stream between blocks."""

    fs: float
    channels: tuple[str, ...]
    next_seq: int
    next_t0: float
    last_wall: float
    lost: bool = False


@dataclass(frozen=True, slots=True)
class TickResult:
    frames: list[FeatureFrame]
    events: list[Event]
    streams_with_frames: set[StreamKey]


class RateLimitedLog:
    """At most one message per (reason, sensor) per ``period`` seconds, with a count of the
    ones held back, so a broken sensor cannot flood the log."""

    def __init__(self, period: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.period = period
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._held: Counter[tuple[str, str]] = Counter()

    def warn(self, reason: str, sensor: str, message: str) -> None:
        key = (reason, sensor)
        now = self.clock()
        if now - self._last.get(key, -1e18) >= self.period:
            held = self._held.pop(key, 0)
            suffix = f" ({held} more since the last message)" if held else ""
            log.warning("%s%s", message, suffix)
            self._last[key] = now
        else:
            self._held[key] += 1


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        queue_size: int = 100_000,
        silence_s: float = 5.0,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.limits = limits
        self.silence_s = silence_s
        self.clock = clock
        self.counters = Counters()
        self.engine = FeatureEngine(settings.dsp)
        self.detectors: dict[StreamKey, StreamDetector] = {}
        self.streams: dict[StreamKey, StreamInfo] = {}
        self._queue: deque[tuple[str, bytes | SampleBlock, float]] = deque(maxlen=queue_size)
        self._warn = RateLimitedLog()
        self._save_rotation: Rotation[StreamKey] = Rotation()
        self._lost_marks: dict[str, float] = {}

    # -- ingest (never blocks) --------------------------------------------------------
    def submit(self, topic: str, payload: bytes, received: float | None = None) -> None:
        self.counters.messages += 1
        self.counters.bytes += len(payload)
        if len(self._queue) == self._queue.maxlen:
            self.counters.dropped_payloads += 1  # deque drops the oldest on append
        self._queue.append((topic, payload, self.clock() if received is None else received))

    def submit_block(self, block: SampleBlock, received: float | None = None) -> None:
        """For sources that decode themselves (BLE drivers, files): same queue, same
        sequencing and drop-oldest rule as MQTT payloads, no second decode."""
        self.counters.messages += 1
        self.counters.bytes += block.data.nbytes
        if len(self._queue) == self._queue.maxlen:
            self.counters.dropped_payloads += 1
        self._queue.append((block.sensor, block, self.clock() if received is None else received))

    def mark_lost(self, sensor: str, at: float | None = None) -> None:
        """A source that knows its device is gone (a BLE disconnect) says so: the next tick
        raises ``signal_lost`` for the sensor's streams instead of waiting for
        ``silence_s`` of silence. Only a block received after ``at`` (default: now)
        restores them, so data still queued from before the disconnect does not hide it.

        Safe to call from the event loop while a tick runs in its thread: it only sets
        one dict entry, which the tick reads."""
        self._lost_marks[sensor] = self.clock() if at is None else at

    @property
    def backlog(self) -> int:
        return len(self._queue)

    # -- processing ------------------------------------------------------------------
    def tick(self) -> TickResult:
        started = time.perf_counter()
        accepted: list[tuple[SampleBlock, bool]] = []
        while self._queue:
            topic, payload, received = self._queue.popleft()
            try:
                block = (
                    payload
                    if isinstance(payload, SampleBlock)  # decoded by its source already
                    else decode(topic, payload, self.limits)
                )
            except DecodeError as exc:
                self.counters.decode_errors[exc.reason] += 1
                self._warn.warn(
                    exc.reason, exc.sensor or topic, f"dropped payload on {topic!r}: {exc}"
                )
                continue
            verdict = self._sequence(block, received)
            if verdict != "drop":
                accepted.append((block, verdict == "restart"))
        events: list[Event] = []
        frames: list[FeatureFrame] = []
        if accepted:
            blocks, restarts = _coalesce(accepted)
            frames = self.engine.process(blocks, restarts)
        self.counters.windows += len(frames)
        judged: list[FeatureFrame] = []
        for frame in frames:
            det = self._detector(frame)
            events.extend(det.update(frame))
            judged.append(_with_active(frame, det))
        # Silence last: windows of data that arrived before a stream went quiet (or before
        # a source marked it lost) are judged first, so they cannot "restore" it at once.
        events.extend(self._silence(self.clock()))
        if events and self.store is not None:
            self.store.add_events(events)  # committed before any sink publishes them
        self.counters.events += len(events)
        self.counters.ticks += 1
        self.counters.tick_seconds.append(time.perf_counter() - started)
        del self.counters.tick_seconds[:-1000]
        return TickResult(judged, events, {(f.sensor, f.modality) for f in judged})

    def _sequence(self, block: SampleBlock, received: float) -> Verdict:
        """``ok`` continues the stream, ``restart`` starts it afresh (gap, new rate or
        channels), ``drop`` is a duplicate or late block. Buffers are only touched when
        the tick's blocks are pushed, in order, so a restart falls exactly at the gap."""
        key = block.stream
        info = self.streams.get(key)
        if info is None or info.fs != block.fs or info.channels != block.channels:
            verdict: Verdict = "ok"
            if info is not None:
                self.counters.restarts += 1
                verdict = "restart"
                log.warning(
                    "sensor %s/%s changed from %g Hz %s to %g Hz %s: stream restarted",
                    block.sensor,
                    block.modality,
                    info.fs,
                    list(info.channels),
                    block.fs,
                    list(block.channels),
                )
                if info.channels != block.channels:
                    self.detectors.pop(key, None)
            self.streams[key] = StreamInfo(
                block.fs, block.channels, block.seq + 1, block.t_end, received
            )
            return verdict
        if block.seq < info.next_seq:
            self.counters.duplicates += 1
            return "drop"
        verdict = "ok"
        if block.seq > info.next_seq or abs(block.t0 - info.next_t0) > 0.5 / block.fs:
            self.counters.gaps += 1
            verdict = "restart"
            self._warn.warn(
                "gap",
                block.sensor,
                f"sensor {block.sensor}/{block.modality}: gap before seq {block.seq} "
                f"(expected {info.next_seq}, t0 {block.t0:.3f} s vs {info.next_t0:.3f} s); "
                "windows restart",
            )
        info.next_seq = block.seq + 1
        info.next_t0 = block.t_end
        info.last_wall = received
        return verdict

    def _silence(self, now: float) -> list[Event]:
        events: list[Event] = []
        for key, info in self.streams.items():
            mark = self._lost_marks.get(key[0])
            marked = mark is not None and info.last_wall <= mark
            silent = marked or now - info.last_wall > self.silence_s
            det = self.detectors.get(key)
            if silent and not info.lost:
                info.lost = True
                if det is not None:
                    events.extend(det.silent(info.next_t0))
            elif not silent and info.lost:
                info.lost = False  # the detector emits signal_restored on the next good window
        return events

    def _detector(self, frame: FeatureFrame) -> StreamDetector:
        key = (frame.sensor, frame.modality)
        det = self.detectors.get(key)
        if det is None:
            det = StreamDetector.for_frame(frame, self.settings.detect, self.settings.dsp)
            if self.store is not None:
                state = self.store.load_state(frame.sensor, frame.modality)
                if state is not None:
                    try:
                        det.load_state(state)
                        log.info("restored the detector state (baselines) of %s/%s", *key)
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("stored state of %s/%s not used: %s", *key, exc)
            self.detectors[key] = det
        return det

    # -- persistence and control ---------------------------------------------------------
    def save_states(self) -> None:
        if self.store is not None:
            self.store.save_states(
                (s, m, det.state_dict()) for (s, m), det in self.detectors.items()
            )

    def save_some(self, share: float) -> int:
        """Save the states of ``share`` of the detectors, round robin (fractions carry
        over to the next call).

        Why: a full save of a 500-sensor fleet serialises 4,000 channel states (about
        25 MB of JSON, over a second of CPU) and would hold up the tick that waits for
        it; called every tick with ``tick_s / state_save_s``, every detector is still
        saved once per ``state_save_s``, in slices too small to show in the latency."""
        if self.store is None or not self.detectors:
            return 0
        keys = self._save_rotation.take(self.detectors.keys(), share)
        self.store.save_states((s, m, self.detectors[(s, m)].state_dict()) for s, m in keys)
        return len(keys)

    def recalibrate(self, sensor: str) -> int:
        n = 0
        for (s, _), det in self.detectors.items():
            if s == sensor:
                det.recalibrate()
                n += 1
        if not n:
            raise MonitorError(f"no detector for sensor {sensor!r}")
        return n

    def processors(self) -> dict[StreamKey, StreamProcessor]:
        return self.engine.streams


def _coalesce(accepted: list[tuple[SampleBlock, bool]]) -> tuple[list[SampleBlock], set[int]]:
    """Join each stream's consecutive blocks of a tick into one (one push instead of one
    per message: the per-call overhead, not the arithmetic, limits a large fleet), cutting
    at restarts. Returns the blocks and the indices that restart their stream."""
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
                merged.append(
                    SampleBlock(
                        first.sensor,
                        first.modality,
                        first.fs,
                        first.t0,
                        first.seq,
                        first.channels,
                        first.unit,
                        data,
                    )
                )
    return merged, restarts


def _with_active(frame: FeatureFrame, det: StreamDetector) -> FeatureFrame:
    return replace(frame, active=det.last_active)
