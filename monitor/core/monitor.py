"""The one synchronous core every path drives: blocks in, feature frames and events out.

``Monitor.push`` sequences each stream (gaps, duplicates, reboots, changed set-ups), runs
ONE batched feature step over the windows that became ready in all streams, and updates
each stream's detectors. It does no I/O and keeps no clock of its own, so the live
service (``pipeline.py``: queue, decode, silence, store), ``replay``, ``evaluate``,
``analyze``, the benchmarks and a notebook get the same frames and events from the same
samples, however the samples are cut into blocks.

One stream never hurts another: admission (``admission.py``), the feature step and each
detector fail alone; the stream at fault is counted under a reason in
``counters.rejected`` and dropped, the others go on.

Sequencing per stream (gaps, duplicates, reboots) is ``streams.py``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from monitor.core.admission import admit
from monitor.core.config import Settings
from monitor.core.errors import MonitorError
from monitor.core.model import Event, FeatureFrame, Modality, SampleBlock
from monitor.core.ratelog import RateLimitedLog
from monitor.core.streams import (
    Counters,
    StreamInfo,
    StreamKey,
    Verdict,
    coalesce,
    continuation,
)
from monitor.detect.stream import StreamDetector
from monitor.dsp.engine import FeatureEngine

log = logging.getLogger(__name__)

StateLoader = Callable[[str, Modality], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class Step:
    """What one ``push`` produced: frames (with the detectors' activity flags) and events
    in time order per stream; the streams that took data; and the streams the core
    dropped (refused, or whose features or detector failed), so that an owner keeping
    its own per-stream book-keeping can drop them too."""

    frames: list[FeatureFrame]
    events: list[Event]
    touched: frozenset[StreamKey] = frozenset()
    dropped: frozenset[StreamKey] = frozenset()


class Monitor:
    """Feature extraction and detection for any number of streams, fed in any chunking.

    >>> m = Monitor()
    >>> step = m.push([SampleBlock.from_array(x, fs=2000.0)])  # doctest: +SKIP
    >>> step.frames, step.events  # doctest: +SKIP

    ``detect=False`` computes features only. ``state_loader(sensor, modality)`` returns a
    stored detector state (baselines) for a stream seen for the first time, or None.
    ``received`` times passed to ``push`` (wall clock of arrival) are kept per stream
    for an owner that watches for silence; the core itself never reads a clock.
    ``strict`` raises ``MonitorError`` for a stream that cannot be analysed instead of
    counting and dropping it (live, one bad sensor must not stop the others; for a file
    or an array, the caller wants to know at once).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        detect: bool = True,
        state_loader: StateLoader | None = None,
        max_streams: int | None = None,
        counters: Counters | None = None,
        warn: RateLimitedLog | None = None,
        strict: bool = False,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        self.detect = detect
        self.state_loader = state_loader
        self.max_streams = (
            max_streams if max_streams is not None else self.settings.service.max_streams
        )
        self.counters = counters if counters is not None else Counters()
        self.warn = warn if warn is not None else RateLimitedLog(log)
        self.strict = strict
        self.engine = FeatureEngine(self.settings.dsp)
        self.detectors: dict[StreamKey, StreamDetector] = {}
        self.streams: dict[StreamKey, StreamInfo] = {}
        self._touched: set[StreamKey] = set()
        self._dropped: set[StreamKey] = set()

    # -- the one entry point -------------------------------------------------------------
    def push(self, blocks: Iterable[SampleBlock], received: float | Sequence[float] = 0.0) -> Step:
        """Sequence ``blocks`` (any streams, each stream's in order), compute the windows
        that became ready, judge them. ``received``: one arrival time for all blocks or
        one per block."""
        blocks = list(blocks)
        times = [float(received)] * len(blocks) if isinstance(received, float | int) else received
        if len(times) != len(blocks):
            raise ValueError(f"{len(times)} arrival times for {len(blocks)} blocks")
        accepted: list[tuple[SampleBlock, bool]] = []
        for block, at in zip(blocks, times, strict=True):
            verdict = self._sequence(block, at)
            if verdict != "drop":
                accepted.append((block, verdict == "restart"))
        frames: list[FeatureFrame] = []
        if accepted:
            frames = self._isolated_features(*coalesce(accepted))
        self.counters.windows += len(frames)
        events: list[Event] = []
        if self.detect:
            frames = [self._judge(frame, events) for frame in frames]
        touched, self._touched = frozenset(self._touched), set()
        dropped, self._dropped = frozenset(self._dropped), set()
        return Step(frames, events, touched, dropped)

    def silent(self, key: StreamKey) -> list[Event]:
        """``signal_lost`` for a stream its owner found silent (or its source lost)."""
        info = self.streams.get(key)
        det = self.detectors.get(key)
        if info is None or det is None:
            return []
        return det.silent(info.next_t0)

    def forget(self, key: StreamKey) -> None:
        """Drop a stream's buffers, sequencing and detector (its next block starts afresh)."""
        self.streams.pop(key, None)
        self.detectors.pop(key, None)
        self.engine.streams.pop(key, None)
        self._touched.discard(key)
        self._dropped.add(key)

    def recalibrate(self, sensor: str) -> int:
        """Relearn the baselines of every detector of ``sensor``; how many were reset."""
        n = 0
        for modality in ("emg", "acc"):
            det = self.detectors.get((sensor, modality))
            if det is not None:
                det.recalibrate()
                n += 1
        if not n:
            raise MonitorError(f"no detector for sensor {sensor!r}")
        return n

    # -- persistence -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Every detector's state (baselines), JSON-friendly, keyed ``sensor/modality``.
        Signal buffers are not kept: a restored monitor starts its windows afresh."""
        return {f"{s}/{m}": det.state_dict() for (s, m), det in self.detectors.items()}

    def load_state(self, state: dict[str, Any]) -> None:
        for name, det_state in state.items():
            sensor, _, modality = name.rpartition("/")
            if modality not in ("emg", "acc"):
                raise ValueError(f"state key {name!r} is not sensor/modality")
            det = StreamDetector(
                sensor,
                modality,  # type: ignore[arg-type]
                tuple(det_state["channels"]),
                self.settings.detect,
                self.settings.dsp,
            )
            det.load_state(det_state)
            self.detectors[(sensor, modality)] = det  # type: ignore[index]

    # -- steps -----------------------------------------------------------------------------
    def reject(self, key: StreamKey, reason: str, detail: str) -> None:
        """Count a refused stream or block under ``reason`` and say why (rate-limited);
        ``strict`` (files: the user is waiting for this one answer) raises instead."""
        if self.strict:
            raise MonitorError(f"{key[0]}/{key[1]}: {detail}")
        self.counters.rejected[reason] += 1
        self.warn.warn(reason, key[0], f"sensor {key[0]}/{key[1]}: {detail}")

    def _judge(self, frame: FeatureFrame, events: list[Event]) -> FeatureFrame:
        """The frame with the detector's activity, its events added to ``events``. A
        failing detector costs its own stream (dropped, rebuilt from the stored state on
        its next window), never the others."""
        key = (frame.sensor, frame.modality)
        try:
            det = self._detector(frame)
            events.extend(det.update(frame))
            return replace(frame, active=det.last_active)
        except Exception as exc:
            self.detectors.pop(key, None)
            self.reject(key, "detector_failed", f"detector failed ({type(exc).__name__}: {exc})")
            return frame

    def _detector(self, frame: FeatureFrame) -> StreamDetector:
        key = (frame.sensor, frame.modality)
        det = self.detectors.get(key)
        if det is None:
            det = StreamDetector.for_frame(frame, self.settings.detect, self.settings.dsp)
            state = self.state_loader(*key) if self.state_loader is not None else None
            if state is not None:
                try:
                    det.load_state(state)
                    log.info("restored the detector state (baselines) of %s/%s", *key)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("stored state of %s/%s not used: %s", *key, exc)
            self.detectors[key] = det
        return det

    def _isolated_features(
        self, blocks: list[SampleBlock], restarts: set[int]
    ) -> list[FeatureFrame]:
        """One batched feature step; if it fails, each stream again on its own from fresh
        buffers (their windows restart), so only the stream at fault is dropped.

        Admission (``admission.admit``) already refuses what the features cannot do; this
        is for what it did not foresee."""
        try:
            return self.engine.process(blocks, restarts)
        except Exception as exc:
            log.warning(
                "feature step failed (%s: %s); retrying %d streams one by one",
                type(exc).__name__,
                str(exc)[:200],
                len({b.stream for b in blocks}),
            )
        by_stream: dict[StreamKey, list[SampleBlock]] = {}
        for block in blocks:
            by_stream.setdefault(block.stream, []).append(block)
        frames: list[FeatureFrame] = []
        for key, own in by_stream.items():
            self.engine.streams.pop(key, None)
            try:
                frames.extend(self.engine.process(own, set(range(1, len(own)))))
            except Exception as exc:
                self.forget(key)
                self.reject(key, "feature_failed", f"features failed: {type(exc).__name__}")
        frames.sort(key=lambda f: f.t)
        return frames

    def _admit(self, block: SampleBlock, new: bool) -> bool:
        key = block.stream
        if new and len(self.streams) >= self.max_streams:
            self.reject(key, "too_many_streams", f"refused: {self.max_streams} streams")
            return False
        refusal = admit(block, self.engine)
        if refusal is not None:
            self.reject(key, *refusal)
            if not new:
                self.forget(key)
            return False
        return True

    def _sequence(self, block: SampleBlock, received: float) -> Verdict:
        """``ok`` continues the stream, ``restart`` starts it afresh (gap, new rate or
        channels), ``drop`` is a duplicate, late or refused block. Buffers are only
        touched when the blocks are pushed, in order, so a restart falls exactly at the
        gap."""
        key = block.stream
        info = self.streams.get(key)
        if info is None or info.fs != block.fs or info.channels != block.channels:
            if not self._admit(block, info is None):
                return "drop"
            verdict: Verdict = "ok"
            if info is not None:
                self.counters.restarts += 1
                verdict = "restart"
                self.warn.warn(
                    "stream_changed",
                    block.sensor,
                    f"sensor {block.sensor}/{block.modality} changed from {info.fs:g} Hz "
                    f"{len(info.channels)} channels to {block.fs:g} Hz {len(block.channels)} "
                    f"channels {list(block.channels)}: stream restarted",
                )
                if info.channels != block.channels:
                    self.detectors.pop(key, None)
            self.streams[key] = StreamInfo(
                block.fs, block.channels, block.seq + 1, block.t_end, received
            )
            self._touched.add(key)
            return verdict
        verdict = continuation(info, block, self.counters, self.warn, received)
        if verdict != "drop":
            self._touched.add(key)
        return verdict
