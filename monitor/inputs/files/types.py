"""What every reader produces and is given: the types the readers and ``open_recording``
share (kept apart so that readers do not import the module that imports them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from monitor.core.model import Modality, SampleBlock
from monitor.inputs.files.csv_dialect import CsvOptions


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One stream of a recording: what every SampleBlock of it will carry.

    ``t0`` is the time of the first sample on the stream clock: 0.0 unless the file states a
    time (a CSV ``time`` column), because events on a file are reported in seconds from its start.
    """

    sensor: str
    modality: Modality
    fs: float
    channels: tuple[str, ...]
    unit: str
    n_samples: int
    t0: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


class Recording(Protocol):
    """What the replay source needs from a file, whatever its format."""

    path: Path
    streams: tuple[StreamInfo, ...]

    @property
    def duration_s(self) -> float: ...

    def blocks(self, chunk_s: float = 1.0) -> Iterator[SampleBlock]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """The caller's overrides, already validated, handed to every reader."""

    sensor: str
    modality: Modality | None
    fs: float | None
    csv: CsvOptions | None = None
