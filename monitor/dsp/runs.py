"""Sparse bookkeeping of bad samples (non-finite, flat) for window quality labels.

Bad stretches are rare, so instead of a flag per sample the stream keeps a short list of
runs (channel, first, last+1) in absolute sample indices and intersects it with each
window. Runs are found per block but merged across block boundaries, so the labels do not
depend on how the stream was chunked.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class RunLog:
    """Runs of True in a per-channel boolean stream, at least ``min_len`` samples long."""

    def __init__(self, n_channels: int, min_len: int = 1) -> None:
        self.n_channels = n_channels
        self.min_len = max(1, int(min_len))
        self._open = np.full(n_channels, -1, dtype=np.int64)  # start of a run still open
        self._any_open = False
        self._ch = np.empty(0, dtype=np.int64)
        self._start = np.empty(0, dtype=np.int64)
        self._end = np.empty(0, dtype=np.int64)
        self._total = 0

    def reset(self) -> None:
        self.__init__(self.n_channels, self.min_len)  # type: ignore[misc]

    def add(self, mask: npt.NDArray[np.bool_], offset: int, any_set: bool | None = None) -> None:
        """Record the True runs of ``mask`` (channels, k), whose column 0 is sample ``offset``.
        ``any_set``, when the caller already knows it, saves a pass over the mask."""
        c, k = mask.shape
        self._total = offset + k
        if k == 0:
            return
        if not self._any_open and not (mask.any() if any_set is None else any_set):
            return  # the common case, bad samples are rare: nothing to record or close
        padded = np.zeros((c, k + 2), dtype=np.int8)
        padded[:, 1:-1] = mask
        edges = np.diff(padded, axis=1)
        s_ch, s_pos = np.nonzero(edges == 1)
        _, e_pos = np.nonzero(edges == -1)  # same order: one end per start, per channel
        starts = s_pos.astype(np.int64) + offset
        ends = e_pos.astype(np.int64) + offset
        # An open run either continues into column 0 or ended at the previous block's end.
        ended = np.flatnonzero((self._open >= 0) & ~mask[:, 0])
        cont = (s_pos == 0) & (self._open[s_ch] >= 0)
        starts[cont] = self._open[s_ch[cont]]
        s_ch = np.concatenate([ended, s_ch]).astype(np.int64)
        starts = np.concatenate([self._open[ended], starts])
        ends = np.concatenate([np.full(ended.size, offset, dtype=np.int64), ends])
        self._open[:] = -1
        still_open = ends == offset + k
        self._open[s_ch[still_open]] = starts[still_open]
        self._any_open = bool(still_open.any())
        closed = ~still_open & (ends - starts >= self.min_len)
        self._ch = np.concatenate([self._ch, s_ch[closed]])
        self._start = np.concatenate([self._start, starts[closed]])
        self._end = np.concatenate([self._end, ends[closed]])

    def prune(self, before: int) -> None:
        keep = self._end > before
        self._ch, self._start, self._end = self._ch[keep], self._start[keep], self._end[keep]

    def coverage(self, starts: IntArray, n: int) -> npt.NDArray[np.int64]:
        """Bad samples per (window, channel) for windows [s, s+n), open runs included."""
        if not self._any_open and self._ch.size == 0:  # the common case: a clean stream
            return np.zeros((starts.size, self.n_channels), dtype=np.int64)
        open_ch = np.flatnonzero(
            (self._open >= 0) & (self._total - self._open >= self.min_len)
        ).astype(np.int64)
        ch = np.concatenate([self._ch, open_ch])
        rs = np.concatenate([self._start, self._open[open_ch]])
        re = np.concatenate([self._end, np.full(open_ch.size, self._total, dtype=np.int64)])
        out = np.zeros((starts.size, self.n_channels), dtype=np.int64)
        if ch.size == 0 or starts.size == 0:
            return out
        lo = np.maximum(rs[None, :], starts[:, None])
        hi = np.minimum(re[None, :], starts[:, None] + n)
        overlap = np.clip(hi - lo, 0, None)
        onehot = (ch[:, None] == np.arange(self.n_channels)[None, :]).astype(np.int64)
        return np.asarray(overlap @ onehot, dtype=np.int64)
