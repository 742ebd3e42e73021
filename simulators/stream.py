"""Serving a generator's fixed internal batches as chunks of whatever size a caller wants.

Generators draw their random numbers batch by batch in a fixed order, so the samples do
not depend on how they are read: ``read(7)`` then ``read(10**6)`` gives the same numbers
as one ``read`` of everything. This class only re-slices; it never sees the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from simulators.truth import RecordingTruth

F32 = npt.NDArray[np.float32]


class SampleStream(ABC):
    """A finite multichannel recording produced on demand, as float32 ``(channels, n)``."""

    def __init__(self, *, fs: float, channels: tuple[str, ...], unit: str, n_samples: int):
        self.fs = float(fs)
        self.channels = tuple(channels)
        self.unit = unit
        self.n_samples = int(n_samples)
        self._pending: deque[F32] = deque()
        self._pending_len = 0
        self._produced = 0
        self._served = 0

    @abstractmethod
    def _produce(self, start: int) -> F32:
        """The next batch, beginning at sample ``start``; at least one sample, may overrun."""

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def position(self) -> int:
        """Samples already returned by ``read``: the index of the next one."""
        return self._served

    @property
    def remaining(self) -> int:
        return self.n_samples - self._served

    def read(self, n: int) -> F32:
        """The next ``n`` samples (fewer at the end, ``(channels, 0)`` when exhausted)."""
        if n < 0:
            raise ValueError(f"cannot read {n} samples")
        n = min(n, self.remaining)
        while self._pending_len < n:
            batch = self._produce(self._produced)
            batch = batch[:, : self.n_samples - self._produced]
            self._produced += batch.shape[1]
            self._pending.append(batch)
            self._pending_len += batch.shape[1]
        parts: list[F32] = []
        need = n
        while need > 0:
            head = self._pending[0]
            if head.shape[1] <= need:
                parts.append(self._pending.popleft())
                need -= head.shape[1]
            else:
                parts.append(head[:, :need])
                self._pending[0] = head[:, need:]
                need = 0
        self._pending_len -= n
        self._served += n
        if not parts:
            return np.zeros((self.n_channels, 0), dtype=np.float32)
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return np.ascontiguousarray(out, dtype=np.float32)

    def chunks(self, size: int) -> Iterator[F32]:
        """The rest of the recording in chunks of ``size`` samples (the last may be shorter)."""
        if size < 1:
            raise ValueError(f"chunk size must be >= 1 sample, got {size}")
        while self.remaining > 0:
            yield self.read(size)

    def read_all(self) -> F32:
        """Everything not yet read, in one array: for tests and small recordings."""
        return self.read(self.remaining)


class Simulation(SampleStream):
    """A stream that also knows its ground truth and the range a file must allow."""

    @abstractmethod
    def physical_range(self) -> float:
        """Symmetric bound (in ``unit``) the samples stay within, for fixed-range formats."""

    @abstractmethod
    def truth(self, *, file: str = "", seed: int | None = None) -> RecordingTruth:
        """Ground truth of the whole recording; the file-format fields are left unset."""
