"""Recordings whose format library hands over whole arrays (XDF, C3D, OpenSignals).

Each source stream keeps its own rate, clock and gaps: a lab file holds an EMG amplifier
at 2 kHz and a motion sensor at 148 Hz, each stamped by its own clock, and grouping their
channels by rate alone (as ``plan_streams`` does for single-clock files) would be wrong.
Blocks come out in time order across streams and never span a gap.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.core.errors import RecordingError
from monitor.core.model import Modality, safe_sensor_id
from monitor.inputs.files._base import BaseRecording, Float32Array, block_size
from monitor.inputs.files.types import ReadOptions, StreamInfo


@dataclass(frozen=True, slots=True)
class MemoryStream:
    """One source stream: its samples (channels x n) in uniform segments that start at
    sample ``offsets[k]`` and time ``t0s[k]`` (s), and its metadata."""

    name: str
    modality: Modality
    fs: float
    channels: tuple[str, ...]
    unit: str
    data: Float32Array
    offsets: tuple[int, ...] = (0,)
    t0s: tuple[float, ...] = (0.0,)


class MemoryRecording(BaseRecording):
    def __init__(
        self,
        path: Path,
        options: ReadOptions,
        streams: Sequence[MemoryStream],
        notes: Sequence[str] = (),
    ) -> None:
        super().__init__(path, options)
        if not streams:
            # What the file does hold, so the user knows it is no bug of the reader.
            held = "; ".join(notes[:4]) + (f"; {len(notes) - 4} more" if len(notes) > 4 else "")
            raise RecordingError(
                path,
                "no EMG or accelerometer streams in the file" + (f" ({held})" if held else ""),
            )
        infos = []
        self._data: list[Float32Array] = []
        self._offsets: list[list[int]] = []
        self._t0s: list[list[float]] = []
        # Downstream keys streams by (sensor, modality): the file is the sensor, and only a
        # second stream of one modality needs a name of its own.
        per_modality = {m: sum(s.modality == m for s in streams) for m in ("emg", "acc")}
        seen: set[tuple[str, str]] = set()
        for s in streams:
            sensor = options.sensor
            if per_modality[s.modality] > 1:
                sensor = safe_sensor_id(f"{options.sensor}-{s.name}", options.sensor)
            while (sensor, s.modality) in seen:
                sensor += "_"
            seen.add((sensor, s.modality))
            data = s.data
            self._data.append(np.ascontiguousarray(data, dtype=np.float32))
            self._offsets.append(list(s.offsets))
            self._t0s.append(list(s.t0s))
            infos.append(
                StreamInfo(
                    sensor=sensor,
                    modality=s.modality,
                    fs=s.fs,
                    channels=s.channels,
                    unit=s.unit,
                    n_samples=int(data.shape[1]),
                    t0=s.t0s[0],
                )
            )
        self.streams = tuple(infos)
        self._members = tuple((i,) for i in range(len(infos)))
        self.notes = tuple(notes)

    def block_t0(self, index: int, start: int) -> float:
        k = bisect.bisect_right(self._offsets[index], start) - 1
        return self._t0s[index][k] + (start - self._offsets[index][k]) / self.streams[index].fs

    def _chunks(self, chunk_s: float) -> Iterator[tuple[int, Float32Array]]:
        heap: list[tuple[float, int, int]] = []
        for i, info in enumerate(self.streams):
            if info.n_samples:
                heap.append((info.t0, i, 0))
        heapq.heapify(heap)
        while heap:
            _, i, start = heapq.heappop(heap)
            info = self.streams[i]
            k = bisect.bisect_right(self._offsets[i], start)
            seg_end = self._offsets[i][k] if k < len(self._offsets[i]) else info.n_samples
            stop = min(start + block_size(chunk_s, info.fs), seg_end)
            yield i, self._data[i][:, start:stop]
            if stop < info.n_samples:
                heapq.heappush(heap, (self.block_t0(i, stop), i, stop))

    def _release(self) -> None:
        self._data = []
