"""Replay recorded files through the same engine the live service uses.

Several files are replayed together, as a fleet: their blocks are merged in time order and
processed in ticks of ``chunk_s`` seconds, so the batched feature step sees windows from
all of them at once, exactly as it would live. ``speed`` paces the ticks against the wall
clock (``None`` = as fast as possible).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from monitor.core.config import Settings
from monitor.core.model import Event, FeatureFrame, Modality, SampleBlock
from monitor.core.monitor import Monitor
from monitor.inputs.files.csv_dialect import CsvOptions
from monitor.inputs.files.recording import Recording, StreamInfo, open_recording


class FrameSink(Protocol):
    """Anything that takes feature frames and events as they are produced."""

    def frames(self, frames: Sequence[FeatureFrame]) -> None: ...

    def events(self, events: Sequence[Event]) -> None: ...


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
    detect: bool = True,
    progress: Callable[[float], None] | None = None,
    on_open: Callable[[list[StreamInfo]], None] | None = None,
    csv: CsvOptions | None = None,
    on_note: Callable[[str], None] | None = None,
) -> ReplayResult:
    """Run every file through the core (features, and detectors unless ``detect`` is
    False) into ``sinks``.

    ``progress`` is called with the seconds of signal processed since the last call;
    ``csv`` carries hints for CSV exports; ``on_note`` gets what a reader guessed or did
    to a file (a time unit read from the values, resampling, dropped columns).
    """
    with ExitStack() as stack:
        recs = [
            stack.enter_context(open_recording(p, modality=modality, fs=fs, csv=csv)) for p in paths
        ]
        if on_note is not None:
            for rec in recs:
                for note in getattr(rec, "notes", ()):
                    on_note(f"{rec.path.name}: {note}")
        return replay_recordings(
            recs,
            settings,
            speed=speed,
            sinks=sinks,
            detect=detect,
            progress=progress,
            on_open=on_open,
        )


def replay_recordings(
    recordings: Sequence[Recording],
    settings: Settings,
    *,
    speed: float | None = None,
    sinks: Sequence[FrameSink] = (),
    detect: bool = True,
    progress: Callable[[float], None] | None = None,
    on_open: Callable[[list[StreamInfo]], None] | None = None,
) -> ReplayResult:
    """``replay`` of recordings already open (files, or arrays in a ``MemoryRecording``)."""
    result = ReplayResult()
    monitor = Monitor(settings, detect=detect, max_streams=1 << 30, strict=True)
    # Paced replays tick like a live session; at full speed larger ticks batch more windows
    # per FFT call. Events do not depend on it: they follow the window grid, not the ticks.
    chunk_s = settings.replay.chunk_s if speed is not None else settings.replay.max_speed_chunk_s
    started = time.perf_counter()
    result.streams = [s for r in recordings for s in r.streams]
    result.duration_s = max((r.duration_s for r in recordings), default=0.0)
    if on_open is not None:
        on_open(result.streams)
    t_first = min((s.t0 for s in result.streams), default=0.0)
    done = t_first
    pending: list[SampleBlock] = []
    tick_end = t_first + chunk_s

    def flush() -> None:
        nonlocal done
        if not pending:
            return
        horizon = max(b.t_end for b in pending)
        step = monitor.push(pending)
        pending.clear()
        if speed is not None:
            due = started + (horizon - t_first) / speed
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        for sink in sinks:
            sink.frames(step.frames)
            if step.events:
                sink.events(step.events)
        result.n_frames += len(step.frames)
        result.n_events += len(step.events)
        if progress is not None and horizon > done:
            progress(horizon - done)
            done = horizon

    for block in merged_blocks(recordings, chunk_s):
        if block.t0 >= tick_end and pending:
            flush()
            while tick_end <= block.t0:
                tick_end += chunk_s
        pending.append(block)
    flush()
    result.nonfinite_samples = sum(p.nonfinite_samples for p in monitor.engine.streams.values())
    result.elapsed_s = time.perf_counter() - started
    return result
