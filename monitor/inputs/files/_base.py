"""What every reader shares: channels grouped into streams, and chunks turned into SampleBlocks.

A format module only has to say which channels the file holds and how to read a span of them;
the sequence numbers, block times and the time-ordered interleaving of streams are done here
once, so that every format gives the replay source exactly the same guarantees.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt

from monitor.core.errors import RecordingError
from monitor.core.model import Modality, SampleBlock, modality_for_channel
from monitor.inputs.files.types import ReadOptions, StreamInfo

Float32Array = npt.NDArray[np.float32]

#: Unit of a channel whose file does not say (CSV without ``[unit]`` in the header).
DEFAULT_UNITS: dict[Modality, str] = {"emg": "mV", "acc": "m/s^2"}

#: Two rates closer than this (relative) are the same rate written differently.
RATE_RTOL = 1e-6


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel as the file describes it; ``unit`` None means the modality's default."""

    name: str
    fs: float
    n_samples: int
    unit: str | None = None
    #: The modality the file states (a unit in g, a sensor type); None: from the name.
    modality: Modality | None = None


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """The streams of a recording and, for each, the file's channel indices it carries."""

    streams: tuple[StreamInfo, ...]
    members: tuple[tuple[int, ...], ...]


def hz(rate: float) -> str:
    """A rate as people write it: 2000, not 2000.0; 0.5, not 5e-01."""
    return f"{rate:.10g}"


def block_size(chunk_s: float, fs: float) -> int:
    return max(1, round(chunk_s * fs))


def check_rate(path: Path, file_rates: Sequence[float], requested: float | None) -> None:
    """An explicit fs must not silently override what the file states: one of them is wrong."""
    if requested is None:
        return
    if all(math.isclose(r, requested, rel_tol=RATE_RTOL) for r in file_rates):
        return
    stated = ", ".join(hz(r) for r in sorted(set(file_rates)))
    raise RecordingError(
        path, f"the file states a sample rate of {stated} Hz but fs={hz(requested)} Hz was given"
    )


def check_file_rate(path: Path, what: str, fs: float) -> None:
    if not (math.isfinite(fs) and fs > 0):
        raise RecordingError(path, f"{what} has sample rate {fs!r} Hz: it must be positive")


def _unique_names(names: Sequence[str]) -> list[str]:
    """Features, events and CSV rows are keyed by channel name, so names must differ."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for i, raw in enumerate(names):
        name = raw.strip() or f"ch{i + 1}"
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    return out


def _slug(text: str) -> str:
    """Sensor ids end up in MQTT topics: no '/', '+' or '#' from a unit like m/s^2."""
    return re.sub(r"[^A-Za-z0-9.]+", "", text) or "x"


def plan_streams(
    path: Path, channels: Sequence[ChannelSpec], options: ReadOptions, t0: float = 0.0
) -> StreamPlan:
    """Group channels into streams by (modality, rate, unit), in the file's channel order.

    A SampleBlock has one rate and one unit, so channels that differ in either cannot share
    a stream. Downstream keys streams by (sensor, modality): when one modality ends up in
    several streams, their sensor ids get the rate and/or unit as a suffix to stay distinct.
    """
    if not channels:
        raise RecordingError(path, "no signal channels")
    names = _unique_names([c.name for c in channels])
    groups: dict[tuple[Modality, float, str], list[int]] = {}
    for i, (name, spec) in enumerate(zip(names, channels, strict=True)):
        modality = options.modality or spec.modality or modality_for_channel(name)
        unit = spec.unit if spec.unit is not None else DEFAULT_UNITS[modality]
        groups.setdefault((modality, spec.fs, unit), []).append(i)

    keys = list(groups)
    streams: list[StreamInfo] = []
    for modality, fs, unit in keys:
        siblings = [k for k in keys if k[0] == modality]
        suffix: list[str] = []
        if len(siblings) > 1:
            if len({k[1] for k in siblings}) > 1:
                suffix.append(f"{hz(fs)}Hz")
            if len({k[2] for k in siblings}) > 1:
                suffix.append(_slug(unit))
        members = groups[(modality, fs, unit)]
        n_samples = {channels[i].n_samples for i in members}
        if len(n_samples) != 1:
            raise RecordingError(
                path,
                f"channels {', '.join(names[i] for i in members)} have the same rate but "
                f"different lengths ({', '.join(map(str, sorted(n_samples)))} samples)",
            )
        streams.append(
            StreamInfo(
                sensor="-".join([options.sensor, *suffix]),
                modality=modality,
                fs=fs,
                channels=tuple(names[i] for i in members),
                unit=unit,
                n_samples=n_samples.pop(),
                t0=t0,
            )
        )
    if all(s.n_samples == 0 for s in streams):
        raise RecordingError(path, "no samples: the file holds no data")
    return StreamPlan(tuple(streams), tuple(tuple(groups[k]) for k in keys))


def rechunk(batches: Iterable[Float32Array], n: int) -> Iterator[Float32Array]:
    """Batches of rows (channels x rows, as parsed) cut into blocks of ``n`` samples (the
    last one shorter): parsing wants large batches, the pipeline fixed-size blocks."""
    pending: list[Float32Array] = []
    have = 0
    for batch in batches:
        pending.append(batch)
        have += batch.shape[1]
        if have < n:
            continue
        buf = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
        pos = 0
        while have - pos >= n:
            yield buf[:, pos : pos + n]
            pos += n
        pending = [buf[:, pos:]] if pos < have else []
        have -= pos
    if have:
        yield np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]


class BaseRecording:
    """The ``Recording`` protocol on top of a format's ``_chunks`` (or ``_read``)."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self.path = path
        self.options = options
        self.streams: tuple[StreamInfo, ...] = ()
        self._members: tuple[tuple[int, ...], ...] = ()
        self._closed = False

    def _set_plan(self, plan: StreamPlan) -> None:
        self.streams = plan.streams
        self._members = plan.members

    @property
    def duration_s(self) -> float:
        return max((s.duration_s for s in self.streams), default=0.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()

    def _release(self) -> None:
        """Free the format's file handles; idempotence is handled by ``close``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, streams={len(self.streams)})"

    def blocks(self, chunk_s: float = 1.0) -> Iterator[SampleBlock]:
        """Blocks of about ``chunk_s`` seconds from every stream, in time order.

        Not a generator itself, so that a bad argument or a closed recording fails at the
        call, not at the first ``next()``.
        """
        if not (math.isfinite(chunk_s) and chunk_s > 0):
            raise ValueError(f"chunk_s must be a positive number of seconds, got {chunk_s!r}")
        if self._closed:
            raise RecordingError(self.path, "recording is closed")
        return self._blocks(chunk_s)

    def _blocks(self, chunk_s: float) -> Iterator[SampleBlock]:
        produced = [0] * len(self.streams)
        seq = [0] * len(self.streams)
        try:
            for index, data in self._chunks(chunk_s):
                info = self.streams[index]
                start = produced[index]
                n = int(data.shape[1])
                if start + n > info.n_samples:
                    raise RecordingError(
                        self.path,
                        f"stream {info.sensor}/{info.modality} has more samples than the "
                        f"{info.n_samples} found when the file was opened",
                    )
                yield SampleBlock(
                    sensor=info.sensor,
                    modality=info.modality,
                    fs=info.fs,
                    t0=self.block_t0(index, start),
                    seq=seq[index],
                    channels=info.channels,
                    unit=info.unit,
                    data=data,
                )
                produced[index] = start + n
                seq[index] += 1
        except OSError as exc:
            raise RecordingError(self.path, f"read error: {exc.strerror or exc}") from exc
        for info, count in zip(self.streams, produced, strict=True):
            if count != info.n_samples:
                raise RecordingError(
                    self.path,
                    f"stream {info.sensor}/{info.modality} ended after {count} of "
                    f"{info.n_samples} samples: the file is truncated",
                )

    def block_t0(self, index: int, start: int) -> float:
        """Time of sample ``start`` of stream ``index``; formats with gaps override it."""
        info = self.streams[index]
        return info.t0 + start / info.fs

    def _chunks(self, chunk_s: float) -> Iterator[tuple[int, Float32Array]]:
        """(stream index, channels x samples) in time order; by default from ``_read``.

        The next block is always the stream whose next block starts earliest (ties go to the
        earlier stream), which interleaves streams of different rates by time.
        """
        sizes = [block_size(chunk_s, s.fs) for s in self.streams]
        heap = [(s.t0, i, 0) for i, s in enumerate(self.streams) if s.n_samples > 0]
        heapq.heapify(heap)
        while heap:
            _, index, start = heapq.heappop(heap)
            info = self.streams[index]
            stop = min(start + sizes[index], info.n_samples)
            yield index, self._read(index, start, stop)
            if stop < info.n_samples:
                heapq.heappush(heap, (info.t0 + stop / info.fs, index, stop))

    def _read(self, index: int, start: int, stop: int) -> Float32Array:
        """Samples [start, stop) of stream ``index``; formats that override ``_chunks`` skip it."""
        raise NotImplementedError
