"""Per-stream ring buffer that turns blocks of any size into ready analysis windows.

Windows are ``window`` samples long and start every ``hop`` samples, counted from the
stream's first sample, so where a window falls never depends on how the stream was cut
into blocks. Memory stays at about one window plus the largest block.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from monitor.core.errors import SettingsError


class WindowRing:
    def __init__(self, n_channels: int, window: int, hop: int, dtype: type = np.float32) -> None:
        if window < 8 or hop < 1:
            raise SettingsError("window", f"window {window} and hop {hop} samples are too short")
        self.n_channels = n_channels
        self.window = window
        self.hop = hop
        self.dtype = np.dtype(dtype)
        self._buf = np.empty((n_channels, 2 * window), dtype=self.dtype)
        self._base = 0  # absolute index of _buf[:, 0]
        self._len = 0
        self._next_start = 0  # absolute index where the next window starts

    @property
    def total(self) -> int:
        """Samples appended since the last reset."""
        return self._base + self._len

    @property
    def next_start(self) -> int:
        return self._next_start

    def reset(self) -> None:
        self._base = 0
        self._len = 0
        self._next_start = 0

    def append(self, x: npt.NDArray[np.floating]) -> None:
        k = x.shape[1]
        if self._len + k > self._buf.shape[1]:
            self._compact(self._len + k)
        self._buf[:, self._len : self._len + k] = x
        self._len += k

    def ready_starts(self) -> npt.NDArray[np.int64]:
        """Absolute start indices of windows that are complete and not yet taken."""
        last = self.total - self.window
        if last < self._next_start:
            return np.empty(0, dtype=np.int64)
        return np.arange(self._next_start, last + 1, self.hop, dtype=np.int64)

    def take(self, starts: npt.NDArray[np.int64]) -> npt.NDArray[np.floating]:
        """Copy the windows at ``starts`` as (windows, channels, window) and consume them."""
        if starts.size == 0:
            return np.empty((0, self.n_channels, self.window), dtype=self.dtype)
        if starts.size == 1:  # the usual tick: one window per stream, one plain copy
            s = int(starts[0]) - self._base
            self._next_start = int(starts[0]) + self.hop
            return self._buf[None, :, s : s + self.window].copy()
        view = sliding_window_view(self._buf[:, : self._len], self.window, axis=1)
        out = np.ascontiguousarray(view[:, starts - self._base].transpose(1, 0, 2))
        self._next_start = int(starts[-1]) + self.hop
        return out

    def _compact(self, needed: int) -> None:
        """Drop what no future window needs; grow only if a block is larger than the room."""
        keep_from = min(self._next_start, self.total) - self._base
        kept = self._len - keep_from
        cap = self._buf.shape[1]
        while kept + (needed - self._len) > cap:
            cap *= 2
        if cap != self._buf.shape[1]:
            new = np.empty((self.n_channels, cap), dtype=self.dtype)
            new[:, :kept] = self._buf[:, keep_from : self._len]
            self._buf = new
        else:
            self._buf[:, :kept] = self._buf[:, keep_from : self._len]
        self._base += keep_from
        self._len = kept
