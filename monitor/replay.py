"""Replay recorded files through the same engine the live service uses.

Several files are replayed together, as a fleet: their blocks are merged in time order and
processed in ticks of ``chunk_s`` seconds, so the batched feature step sees windows from
all of them at once, exactly as it would live. ``speed`` paces the ticks against the wall
clock (``None`` = as fast as possible).
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from monitor.config import Settings
from monitor.dsp.engine import FeatureEngine
from monitor.io.csv_dialect import CsvOptions
from monitor.io.recording import Recording, StreamInfo, open_recording
from monitor.model import Event, FeatureFrame, Modality, SampleBlock


class FrameSink(Protocol):
    """Anything that takes feature frames and events as they are produced."""

    def frames(self, frames: Sequence[FeatureFrame]) -> None: ...

    def events(self, events: Sequence[Event]) -> None: ...


class Detector(Protocol):
    """Turns feature frames into events; see monitor/detect."""

    @property
    def last_active(self) -> npt.NDArray[np.bool_]: ...

    def update(self, frame: FeatureFrame) -> list[Event]: ...


@dataclass
class ReplayResult:
    streams: list[StreamInfo] = field(default_factory=list)
    n_frames: int = 0
    n_events: int = 0
    duration_s: float = 0.0
    elapsed_s: float = 0.0
    nonfinite_samples: int = 0


def merged_blocks(recordings: Sequence[Recording], chunk_s: float) -> Iterator[SampleBlock]:
    """All recordings' blocks in order of their start time (ties keep file order)."""
    iters = [rec.blocks(chunk_s) for rec in recordings]
    keyed = (((b.t0, i, b) for b in it) for i, it in enumerate(iters))
    for _, _, block in heapq.merge(*keyed, key=lambda item: (item[0], item[1])):
        yield block


def replay(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    modality: Modality | None = None,
    fs: float | None = None,
    speed: float | None = None,
    sinks: Sequence[FrameSink] = (),
    detector_factory: Callable[[FeatureFrame], Detector] | None = None,
    progress: Callable[[float], None] | None = None,
    on_open: Callable[[list[StreamInfo]], None] | None = None,
    csv: CsvOptions | None = None,
    on_note: Callable[[str], None] | None = None,
) -> ReplayResult:
    """Run every file through the feature engine (and detectors, if given) into ``sinks``.

    ``progress`` is called with the seconds of signal processed since the last call;
    ``csv`` carries hints for CSV exports; ``on_note`` gets what a reader guessed or did
    to a file (a time unit read from the values, resampling, dropped columns).
    """
    result = ReplayResult()
    engine = FeatureEngine(settings.dsp)
    detectors: dict[tuple[str, str], Detector] = {}
    # Paced replays tick like a live session; at full speed larger ticks batch more windows
    # per FFT call. Events do not depend on it: they follow the window grid, not the ticks.
    chunk_s = settings.replay.chunk_s if speed is not None else settings.replay.max_speed_chunk_s
    started = time.perf_counter()
    with ExitStack() as stack:
        recs = [
            stack.enter_context(open_recording(p, modality=modality, fs=fs, csv=csv)) for p in paths
        ]
        if on_note is not None:
            for rec in recs:
                for note in getattr(rec, "notes", ()):
                    on_note(f"{rec.path.name}: {note}")
        result.streams = [s for r in recs for s in r.streams]
        result.duration_s = max((r.duration_s for r in recs), default=0.0)
        if on_open is not None:
            on_open(result.streams)
        t_first = min((s.t0 for s in result.streams), default=0.0)
        done = t_first
        pending: list[SampleBlock] = []
        restarts: set[int] = set()
        # Where each stream's next block should start: a block elsewhere follows a gap in
        # the file (a CSV export whose logger paused), and windows must not span it.
        next_t0: dict[tuple[str, str], float] = {}
        tick_end = t_first + chunk_s

        def flush() -> None:
            nonlocal done
            if not pending:
                return
            frames = engine.process(pending, restarts)
            horizon = max(b.t_end for b in pending)
            pending.clear()
            restarts.clear()
            if speed is not None:
                due = started + (horizon - t_first) / speed
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            events: list[Event] = []
            if detector_factory is not None:
                judged = []
                for frame in frames:
                    key = (frame.sensor, frame.modality)
                    det = detectors.get(key)
                    if det is None:
                        det = detectors[key] = detector_factory(frame)
                    events.extend(det.update(frame))
                    judged.append(dataclasses.replace(frame, active=det.last_active))
                frames = judged
            for sink in sinks:
                sink.frames(frames)
                if events:
                    sink.events(events)
            result.n_frames += len(frames)
            result.n_events += len(events)
            if progress is not None and horizon > done:
                progress(horizon - done)
                done = horizon

        for block in merged_blocks(recs, chunk_s):
            if block.t0 >= tick_end and pending:
                flush()
                while tick_end <= block.t0:
                    tick_end += chunk_s
            key = (block.sensor, block.modality)
            expected = next_t0.get(key)
            if expected is not None and abs(block.t0 - expected) * block.fs > 0.5:
                restarts.add(len(pending))
            next_t0[key] = block.t_end
            pending.append(block)
        flush()
    result.nonfinite_samples = sum(p.nonfinite_samples for p in engine.streams.values())
    result.elapsed_s = time.perf_counter() - started
    return result
