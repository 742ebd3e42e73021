"""Coloured Gaussian noise whose spectrum may change from block to block, streamed.

Each block of ``2 * hop`` white samples is shaped in the frequency domain (rfft, multiply
by an amplitude response, irfft), multiplied by a sine window and overlap-added at 50 %.
The squared sine windows of neighbouring blocks sum to exactly 1, so with unit-variance
blocks the output variance is 1 at every sample, and a sample between two blocks has the
power-weighted mix of their spectra: a smooth, click-free change of spectrum over one hop.

All blocks of a batch are shaped in one vectorised FFT call; only the half block that is
still waiting for its successor is carried between batches, so memory is bounded by the
batch and the output does not depend on how a consumer later slices it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.fft

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


class OverlapAddShaper:
    """Shapes white noise block by block; block ``b`` is centred on output sample ``b*hop``.

    Block ``b`` covers output samples ``[(b-1)*hop, (b+1)*hop)``; a sample is final once
    both blocks covering it are in. The half block before sample 0 is dropped, so the
    first call returns ``hop`` fewer samples than blocks pushed times ``hop``.
    """

    def __init__(self, n_channels: int, hop: int, rng: np.random.Generator) -> None:
        if hop < 1:
            raise ValueError(f"hop must be >= 1 sample, got {hop}")
        self.n_channels = n_channels
        self.hop = hop
        self.block = 2 * hop
        self._rng = rng
        n = np.arange(self.block, dtype=np.float64)
        self.window: F32 = np.sin(np.pi * (n + 0.5) / self.block).astype(np.float32)
        self._tail: F32 = np.zeros((n_channels, hop), dtype=np.float32)
        self._started = False
        self.blocks_done = 0

    @property
    def n_bins(self) -> int:
        return self.hop + 1

    @property
    def frequencies_per_fs(self) -> F64:
        """Bin frequencies as fractions of the sample rate (multiply by fs for Hz)."""
        out: F64 = np.arange(self.hop + 1, dtype=np.float64) / self.block
        return out

    def unit_amplitude(self, power: npt.ArrayLike) -> F32:
        """Amplitude response that gives a unit-variance output with spectral shape ``power``.

        ``power`` has the bins on its last axis; zero total power gives a zero response.
        """
        p = np.asarray(power, dtype=np.float64)
        total = 2.0 * np.sum(p, axis=-1, keepdims=True) - p[..., :1] - p[..., -1:]
        mean = total / self.block
        amp = np.sqrt(p / np.where(mean > 0.0, mean, 1.0))
        out: F32 = amp.astype(np.float32)
        return out

    def push(self, amplitude: npt.ArrayLike) -> F32:
        """Shape the next ``B`` blocks and return the samples this made final.

        ``amplitude`` broadcasts to ``(n_channels, B, n_bins)``; a leading axis of 1 means
        "same response for every channel". Returns float32 ``(n_channels, m)`` with
        ``m = B*hop`` (``(B-1)*hop`` on the first call).
        """
        amp = np.asarray(amplitude, dtype=np.float32)
        if amp.ndim != 3 or amp.shape[-1] != self.n_bins:
            raise ValueError(f"amplitude must be (channels|1, blocks, {self.n_bins})")
        n_blocks = amp.shape[1]
        c, h = self.n_channels, self.hop
        noise = self._rng.standard_normal((c, n_blocks, self.block), dtype=np.float32)
        spec = scipy.fft.rfft(noise, axis=-1)
        spec *= amp
        shaped = scipy.fft.irfft(spec, n=self.block, axis=-1).astype(np.float32, copy=False)
        shaped *= self.window
        out = np.zeros((c, (n_blocks + 1) * h), dtype=np.float32)
        out[:, : n_blocks * h] = shaped[:, :, :h].reshape(c, n_blocks * h)
        out[:, h:] += shaped[:, :, h:].reshape(c, n_blocks * h)
        out[:, :h] += self._tail
        self._tail = out[:, n_blocks * h :].copy()
        done = out[:, : n_blocks * h]
        self.blocks_done += n_blocks
        if not self._started:
            self._started = True
            done = done[:, h:]
        return np.ascontiguousarray(done)
