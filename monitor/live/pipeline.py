"""The live pipeline: payloads in, one batched feature step per tick, events out.

Sources only call ``submit`` (never blocks: a bounded queue that drops the oldest payload
and counts it when the pipeline falls behind). ``tick`` drains the queue, decodes, checks
each stream's sequence, runs ONE feature step over the windows that became ready in all
streams, updates the detectors, commits events to the store, and returns what the sinks
should send. It is synchronous and does no network I/O, so it is tested directly; the
service (service.py) calls it on a timer and hands the result to the async sinks.

One sensor never hurts another: every per-stream step (decode, admission, filter set-up,
features, detector, store) fails alone. The payload or stream at fault is counted under a
reason (``decode_errors`` for payloads, ``rejected`` for streams) and skipped; the tick
goes on for the others (``admission.py``, ``_isolated_features``).

Sequencing, the batched feature step and the detectors are the core's (``core.Monitor``:
the same object replay, evaluate and ``analyze`` drive); this module adds what only a live
service has:

* No data for ``silence_s``: ``signal_lost`` for every channel; data again: restored.
  Silent streams are kept in order of their last data, so a tick looks only at the ones
  due; ``service.evict_after_s`` after their last data they are dropped from memory with
  their detector state saved (a returning sensor gets its baselines back from the store).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from monitor.core.config import Settings
from monitor.core.errors import DecodeError
from monitor.core.model import Event, FeatureFrame, SampleBlock
from monitor.core.monitor import Monitor
from monitor.core.ratelog import RateLimitedLog
from monitor.core.rotation import Rotation
from monitor.core.streams import Counters, StreamInfo, StreamKey
from monitor.detect.stream import StreamDetector
from monitor.dsp.engine import FeatureEngine
from monitor.dsp.stream import StreamProcessor
from monitor.inputs.wire import DEFAULT_LIMITS, Limits, decode, parse_topic
from monitor.live.ingest import IngestQueue, Shed
from monitor.outputs.outbox import Outbox
from monitor.outputs.store import Store

log = logging.getLogger(__name__)

__all__ = ["Counters", "Pipeline", "StreamInfo", "StreamKey", "TickResult"]


@dataclass(frozen=True, slots=True)
class TickResult:
    frames: list[FeatureFrame]
    events: list[Event]
    streams_with_frames: set[StreamKey]
    evicted: frozenset[StreamKey] = frozenset()


@dataclass(frozen=True, slots=True)
class Overload:
    """How far behind the data the tick is (``Pipeline.overload``)."""

    overloaded: bool = False
    tick_load: float = 0.0
    lag_s: float = 0.0
    queued_bytes: int = 0
    shed_payloads: int = 0
    shed_bytes: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


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
        self.max_streams = settings.service.max_streams
        self.evict_after_s = settings.service.evict_after_s
        self.clock = clock
        self.counters = Counters()
        self._warn = RateLimitedLog(log)
        self.monitor = Monitor(
            settings,
            state_loader=store.load_state if store is not None else None,
            counters=self.counters,
            warn=self._warn,
        )
        self.outbox = Outbox(settings.service.outbox_size)
        self._shed_warn = RateLimitedLog(log)
        self._queue = IngestQueue(
            max_bytes=int(settings.service.queue_mb * 1e6),
            max_items=queue_size,
            on_shed=self._on_shed,
            # A backstop for ids that arrive faster than a tick admits them; streams past
            # max_streams are refused at submit (below) once the table is full.
            max_streams=4 * settings.service.max_streams,
        )
        self.lag_s = 0.0  # age of the oldest payload of the last tick, when it ended
        self._tick_times: deque[tuple[float, float]] = deque(maxlen=4096)  # (end, busy s)
        self._save_rotation: Rotation[StreamKey] = Rotation()
        self._lost_marks: dict[str, float] = {}
        # Streams with data, oldest data first; lost streams, longest lost first.
        self._live: OrderedDict[StreamKey, None] = OrderedDict()
        self._lost: OrderedDict[StreamKey, None] = OrderedDict()
        self._touched: set[StreamKey] = set()

    # The core's tables, read by the API, metrics and state snapshots.
    @property
    def engine(self) -> FeatureEngine:
        return self.monitor.engine

    @property
    def detectors(self) -> dict[StreamKey, StreamDetector]:
        return self.monitor.detectors

    @property
    def streams(self) -> dict[StreamKey, StreamInfo]:
        return self.monitor.streams

    # -- ingest (never blocks) --------------------------------------------------------
    def submit(self, topic: str, payload: bytes, received: float | None = None) -> None:
        self.counters.messages += 1
        self.counters.bytes += len(payload)
        key = _topic_key(topic)
        if key is None or len(payload) > self.limits.max_payload_bytes:
            self._decode(topic, payload)  # refused now (too_large, bad_topic, bad_sensor_id,
            return  # unknown_modality): it takes no queue budget and no queue of its own
        if key not in self.streams and len(self.streams) >= self.max_streams:
            self.monitor.reject(key, "too_many_streams", f"refused: {self.max_streams} streams")
            return
        self._queue.put(topic, payload, self.clock() if received is None else received)

    def submit_block(self, block: SampleBlock, received: float | None = None) -> None:
        """For sources that decode themselves (BLE drivers, files): same queue, same
        sequencing and drop-oldest rule as MQTT payloads, no second decode."""
        self.counters.messages += 1
        self.counters.bytes += block.data.nbytes
        self._queue.put(_topic(block.stream), block, self.clock() if received is None else received)

    def _on_shed(self, shed: list[Shed]) -> None:
        """Over the queue's budget: the tick is behind. Count and say which streams lost
        their oldest data (they see a gap next, and their windows restart after it)."""
        for s in shed:
            self.counters.dropped_payloads += s.payloads
            self._shed_warn.warn(
                "overload",
                s.stream,
                f"overloaded: shed the {s.payloads} oldest payloads ({s.nbytes / 1e6:.1f} MB) "
                f"queued for {s.stream[:100]!r}; the tick cannot keep up with the data",
            )

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

    def overload(self, window_s: float = 10.0) -> Overload:
        """How far behind the data the tick is: ``tick_load`` is the share of the last
        ``window_s`` spent in ticks (>= 1: it cannot keep up), ``lag_s`` the age of the
        oldest payload the last tick processed, ``shed_*`` what the queue's budget
        dropped. ``overloaded`` when data was shed in the window or the lag passed 1 s."""
        now = time.monotonic()
        # tuple() copies in one C call: the tick's thread appends meanwhile, and iterating
        # a deque that changes raises.
        recent = [(end, busy) for end, busy in tuple(self._tick_times) if end > now - window_s]
        span = min(window_s, now - recent[0][0] + recent[0][1]) if recent else window_s
        load = sum(busy for _, busy in recent) / span if span > 0 else 0.0
        shed_at = self._queue.last_shed
        shedding = shed_at is not None and now - shed_at < window_s
        return Overload(
            overloaded=shedding or self.lag_s > 1.0,
            tick_load=round(load, 3),
            lag_s=round(self.lag_s, 3),
            queued_bytes=self._queue.nbytes,
            shed_payloads=self._queue.shed_payloads,
            shed_bytes=self._queue.shed_bytes,
        )

    @property
    def warnings(self) -> RateLimitedLog:
        """The rate-limited log of bad input; the service rolls its summary periodically."""
        return self._warn

    # -- processing ------------------------------------------------------------------
    def tick(self) -> TickResult:
        started = time.perf_counter()
        blocks: list[SampleBlock] = []
        arrivals: list[float] = []
        oldest: float | None = None
        for topic, payload, received in self._queue.drain(self._queue.max_bytes // 4):
            oldest = received if oldest is None else min(oldest, received)
            block = self._decode(topic, payload)
            if block is not None:
                blocks.append(block)
                arrivals.append(received)
        step = self.monitor.push(blocks, arrivals)
        for key in step.dropped:
            self._live.pop(key, None)
            self._lost.pop(key, None)
        self._touched |= step.touched
        events = step.events
        judged = step.frames
        # Silence last: windows of data that arrived before a stream went quiet (or before
        # a source marked it lost) are judged first, so they cannot "restore" it at once.
        now = self.clock()
        events.extend(self._silence(now))
        evicted = self._evict(now)
        self.outbox.retry(self.store, self._warn)
        if events:
            self.outbox.commit(events, self.store, self._warn)
        self.counters.events += len(events)
        self.counters.ticks += 1
        busy = time.perf_counter() - started
        self.counters.tick_seconds.append(busy)
        self._tick_times.append((time.monotonic(), busy))
        self.lag_s = 0.0 if oldest is None else max(0.0, self.clock() - oldest)
        del self.counters.tick_seconds[:-1000]
        return TickResult(judged, events, {(f.sensor, f.modality) for f in judged}, evicted)

    def _decode(self, topic: str, payload: bytes | SampleBlock) -> SampleBlock | None:
        if isinstance(payload, SampleBlock):
            return payload  # decoded by its source already
        try:
            return decode(topic, payload, self.limits)
        except DecodeError as exc:
            reason, sensor, text = exc.reason, exc.sensor or "-", str(exc)
        except Exception as exc:  # a decoder bug must cost one payload, not the tick
            reason, sensor, text = "decode_failed", "-", f"{type(exc).__name__}: {exc}"
        self.counters.decode_errors[reason] += 1
        self._warn.warn(reason, sensor, f"dropped payload on {topic[:100]!r}: {text}")
        return None

    def _silence(self, now: float) -> list[Event]:
        """Streams due for ``signal_lost`` (silent for ``silence_s``, or marked lost by
        their source) and those back. Looks only at the streams touched this tick, the
        marked sensors, and the front of the live order, so a tick costs the same with
        50,000 idle streams as with none."""
        events: list[Event] = []
        touched, self._touched = self._touched, set()
        for key in touched:
            info = self.streams.get(key)
            if info is None:
                continue
            if info.lost and not self._marked(key, info):
                info.lost = False  # the detector emits signal_restored on the next good window
                self._lost.pop(key, None)
            if not info.lost:
                self._live[key] = None
                self._live.move_to_end(key)
        due = [key for key, info in self._marked_streams() if not info.lost]
        for key in self._live:
            if now - self.streams[key].last_wall <= self.silence_s:
                break
            if not self._queue.holds(_topic(key)):  # data waiting: behind, not silent
                due.append(key)
        for key in due:
            info = self.streams[key]
            info.lost = True
            self._live.pop(key, None)
            self._lost[key] = None
            events.extend(self.monitor.silent(key))
        return events

    def _marked(self, key: StreamKey, info: StreamInfo) -> bool:
        mark = self._lost_marks.get(key[0])
        return mark is not None and info.last_wall <= mark

    def _marked_streams(self) -> Iterable[tuple[StreamKey, StreamInfo]]:
        for sensor in list(self._lost_marks):
            for modality in ("emg", "acc"):
                key: StreamKey = (sensor, modality)
                info = self.streams.get(key)
                if info is not None and self._marked(key, info):
                    yield key, info

    def _evict(self, now: float) -> frozenset[StreamKey]:
        """Streams silent for ``evict_after_s`` leave memory, their detector states saved
        first (a failed save keeps them for the next try)."""
        due: list[StreamKey] = []
        for key in self._lost:
            if now - self.streams[key].last_wall <= self.evict_after_s or len(due) >= 1000:
                break
            due.append(key)
        if not due:
            return frozenset()
        if self.store is not None:
            states = [
                (s, m, self.detectors[(s, m)].state_dict())
                for s, m in due
                if (s, m) in self.detectors
            ]
            try:
                self.store.save_states(states)
            except Exception as exc:
                self._warn.warn(
                    "evict", "-", f"{len(due)} silent streams kept: state not saved ({exc})"
                )
                return frozenset()
        for key in due:
            self._forget(key)
        self.counters.evicted += len(due)
        return frozenset(due)

    def _forget(self, key: StreamKey) -> None:
        self.monitor.forget(key)
        self._live.pop(key, None)
        self._lost.pop(key, None)
        self._touched.discard(key)

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
        return self.monitor.recalibrate(sensor)

    def processors(self) -> dict[StreamKey, StreamProcessor]:
        return self.engine.streams


def _topic(key: StreamKey) -> str:
    """The stream's MQTT topic: the ingest queue's key for payloads and decoded blocks."""
    return f"sensors/{key[0]}/{key[1]}"


def _topic_key(topic: str) -> StreamKey | None:
    try:
        return parse_topic(topic)
    except DecodeError:
        return None
