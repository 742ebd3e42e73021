"""Batched one-sided power spectral density, defined exactly as scipy.signal.welch.

The estimate is Welch's: windowed (periodic Hann by default, as ``scipy.signal.get_window``)
segments of ``nperseg`` samples, 50 % overlap, averaged, scaled as a density
(unit^2/Hz). With ``nperseg == n`` (the default) it is one modified periodogram per window.
No detrending is done: the windows were band-passed upstream, and for a Hann window the
mean only reaches bins 0 and 1, which lie below every analysis band we use; the tests check
equality with ``welch(detrend=False)`` on all bins and ``welch()`` on the band bins.

Why chunks: the stacked windows of a busy tick are tens of megabytes; walking them in
blocks of ``CHUNK_ROWS`` rows keeps every temporary in the core's cache, which measured
clearly faster than one huge call on this machine, and lets the window product be written
into one reused buffer instead of a fresh allocation per tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.fft
import scipy.signal

from monitor.core.errors import SettingsError

CHUNK_ROWS = 64


@dataclass(frozen=True, slots=True)
class Band:
    """Bins ``lo..hi`` (inclusive) of a spectrum with bin width ``df``."""

    lo: int
    hi: int
    df: float

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def freqs(self) -> npt.NDArray[np.float64]:
        return np.arange(self.lo, self.hi + 1, dtype=np.float64) * self.df


class SpectrumPlan:
    """Everything about a PSD that depends only on (fs, n, nperseg, dtype), computed once."""

    def __init__(
        self,
        fs: float,
        n: int,
        nperseg: int | None = None,
        dtype: type = np.float32,
        window: str = "hann",
    ):
        nperseg = n if nperseg is None else nperseg
        if not 8 <= nperseg <= n:
            raise SettingsError("spectrum", f"segment of {nperseg} samples for windows of {n}")
        self.fs = float(fs)
        self.n = int(n)
        self.nperseg = int(nperseg)
        self.step = max(1, self.nperseg // 2)
        self.n_segments = 1 + (self.n - self.nperseg) // self.step
        self.dtype = np.dtype(dtype)
        self.window = scipy.signal.get_window(window, self.nperseg).astype(self.dtype)
        self.df = self.fs / self.nperseg
        self.n_bins = self.nperseg // 2 + 1
        # Density scaling, one-sided: every bin but DC (and Nyquist for even nperseg) doubles.
        scale = np.full(
            self.n_bins, 2.0 / (self.fs * float(np.sum(self.window.astype(np.float64) ** 2)))
        )
        scale[0] /= 2.0
        if self.nperseg % 2 == 0:
            scale[-1] /= 2.0
        self.scale = scale / self.n_segments

    @cached_property
    def freqs(self) -> npt.NDArray[np.float64]:
        return np.arange(self.n_bins, dtype=np.float64) * self.df

    def band(self, lo_hz: float, hi_hz: float) -> Band:
        """Bins whose centre lies in [lo_hz, hi_hz]; the band must hold at least 3 bins."""
        lo = int(np.ceil(lo_hz / self.df - 1e-9))
        hi = int(np.floor(hi_hz / self.df + 1e-9))
        lo = max(lo, 1)
        hi = min(hi, self.n_bins - 1)
        if hi - lo + 1 < 3:
            raise SettingsError(
                "spectrum",
                f"band {lo_hz:g}-{hi_hz:g} Hz holds fewer than 3 bins at {self.df:g} Hz resolution",
            )
        return Band(lo, hi, self.df)

    def psd(
        self, windows: npt.NDArray[np.floating], band: Band | None = None
    ) -> npt.NDArray[np.floating]:
        """PSD of each row of ``windows`` (rows, n); only the ``band`` bins if one is given."""
        rows = windows.shape[0]
        lo, hi = (0, self.n_bins - 1) if band is None else (band.lo, band.hi)
        out = np.empty((rows, hi - lo + 1), dtype=self.dtype)
        buf = self.buffer(min(rows, CHUNK_ROWS))
        for start in range(0, rows, CHUNK_ROWS):
            chunk = windows[start : start + CHUNK_ROWS]
            self.psd_into(chunk, lo, hi, out[start : start + chunk.shape[0]], buf)
        return out

    def buffer(self, rows: int) -> npt.NDArray[np.floating]:
        return np.empty((rows, self.nperseg), dtype=self.dtype)

    def psd_into(
        self,
        chunk: npt.NDArray[np.floating],
        lo: int,
        hi: int,
        out: npt.NDArray[np.floating],
        buf: npt.NDArray[np.floating],
    ) -> None:
        """PSD bins lo..hi of the rows of ``chunk`` into ``out``; ``buf`` is scratch space.

        Callers that also need time-domain statistics run them on the same chunk right
        before or after, while it is still in cache.
        """
        rows = chunk.shape[0]
        wbuf = buf[:rows]
        for seg in range(self.n_segments):
            s0 = seg * self.step
            np.multiply(chunk[:, s0 : s0 + self.nperseg], self.window, out=wbuf)
            spec = scipy.fft.rfft(wbuf, axis=-1)[:, lo : hi + 1]
            if seg == 0:
                _abs2(spec, out)
            else:
                out += _abs2(spec, None)
        out *= self.scale[lo : hi + 1].astype(self.dtype)


def _abs2(
    spec: npt.NDArray[np.complexfloating], out: npt.NDArray[np.floating] | None
) -> npt.NDArray[np.floating]:
    """|z|^2 without the square root that np.abs would take."""
    re = spec.real
    im = spec.imag
    power: npt.NDArray[np.floating] = np.multiply(re, re, out=out)
    power += im * im
    return power
