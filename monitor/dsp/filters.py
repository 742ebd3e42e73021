"""Causal IIR filters that keep their state across blocks.

The live service sees a stream in pieces of arbitrary size, so every filter is a
second-order-section cascade run with ``scipy.signal.sosfilt`` and its ``zi`` state carried
from one block to the next: filtering block by block gives the same output as filtering
the whole recording at once (to rounding), which the streaming tests check.

The state starts at the filter's steady state for the first sample (``sosfilt_zi`` scaled),
so a DC offset (ADC counts) or gravity (accelerometers) does not ring through the first
seconds as a step response would.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
import scipy.signal

from monitor.core.errors import SettingsError

SOS = npt.NDArray[np.float64]


def emg_sos(
    fs: float,
    band_hz: tuple[float, float],
    order: int,
    mains_hz: float = 0.0,
    notch_q: float = 30.0,
) -> tuple[SOS, tuple[float, float]]:
    """Band-pass (upper edge clipped to 0.45 fs) plus optional mains notches at every
    multiple of ``mains_hz`` inside the band. Returns the cascade and the band used.
    Designs are cached: a fleet of hundreds of streams at one rate needs one design, not
    a 1.5 ms design per stream on its first tick; each caller gets its own copy."""
    sos, band = _emg_sos(float(fs), tuple(band_hz), order, mains_hz, notch_q)
    return sos.copy(), band


@functools.lru_cache(maxsize=64)
def _emg_sos(
    fs: float,
    band_hz: tuple[float, float],
    order: int,
    mains_hz: float = 0.0,
    notch_q: float = 30.0,
) -> tuple[SOS, tuple[float, float]]:
    lo, hi = band_hz
    hi = min(hi, 0.45 * fs)
    if not lo < hi:
        raise SettingsError(
            "emg filter",
            f"sample rate {fs:g} Hz is too low for an EMG band starting at {lo:g} Hz "
            f"(the upper edge is clipped to 0.45 fs = {0.45 * fs:g} Hz)",
        )
    sections = [scipy.signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")]
    if mains_hz > 0:
        k = 1
        while k * mains_hz < hi:
            b, a = scipy.signal.iirnotch(k * mains_hz, notch_q, fs=fs)
            sections.append(scipy.signal.tf2sos(b, a))
            k += 1
    return np.vstack(sections).astype(np.float64), (lo, hi)


def highpass_sos(fs: float, cutoff_hz: float, order: int) -> SOS:
    return _highpass_sos(float(fs), float(cutoff_hz), order).copy()


@functools.lru_cache(maxsize=64)
def _highpass_sos(fs: float, cutoff_hz: float, order: int) -> SOS:
    if not 0 < cutoff_hz < 0.5 * fs:
        raise SettingsError(
            "acc filter", f"high-pass corner {cutoff_hz:g} Hz must lie in (0, fs/2 = {fs / 2:g})"
        )
    sos = scipy.signal.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos")
    return np.asarray(sos, dtype=np.float64)


def unit_state(sos: SOS) -> SOS:
    """``sosfilt_zi(sos)``, the steady state for a unit step, shared by every stream with
    this design: it costs 0.4-1.5 ms per call (a linear solve per section), which a flood
    of new sensor ids would otherwise pay once per stream on the tick. Read-only."""
    a = np.ascontiguousarray(sos, dtype=np.float64)
    return _unit_state(a.tobytes(), a.shape)


@functools.lru_cache(maxsize=64)
def _unit_state(raw: bytes, shape: tuple[int, ...]) -> SOS:
    zi = np.asarray(
        scipy.signal.sosfilt_zi(np.frombuffer(raw, dtype=np.float64).reshape(shape)),
        dtype=np.float64,
    )
    zi.setflags(write=False)
    return zi


class StreamingFilter:
    """One SOS cascade applied to every channel of a stream, state carried between blocks."""

    def __init__(self, sos: SOS) -> None:
        self.sos = sos
        self._zi_unit = unit_state(sos)  # (sections, 2) for a unit step
        self._zi: npt.NDArray[np.float64] | None = None

    def reset(self) -> None:
        self._zi = None

    def state_for(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The state to continue from, started at the steady state of ``x``'s first sample."""
        if self._zi is None or self._zi.shape[1] != x.shape[0]:
            self._zi = self._zi_unit[:, None, :] * x[:, 0][None, :, None]
        return self._zi

    def set_state(self, zi: npt.NDArray[np.float64]) -> None:
        self._zi = zi

    def __call__(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Filter ``x`` (channels, samples) in float64, continuing from the last call."""
        if x.shape[1] == 0:
            return x
        y, zi = scipy.signal.sosfilt(self.sos, x, axis=-1, zi=self.state_for(x))
        self._zi = zi
        return np.asarray(y, dtype=np.float64)


def filter_together(
    filters: list[StreamingFilter], blocks: list[npt.NDArray[np.float64]]
) -> list[npt.NDArray[np.float64]]:
    """Filter several streams that share one cascade and one block length in ONE sosfilt
    call: their channels and states are stacked and split again. Exact, because every
    channel's recursion is independent; it saves the per-call overhead that dominates
    when many small blocks arrive per tick."""
    if len(blocks) == 1:
        return [filters[0](blocks[0])]
    sizes = [b.shape[0] for b in blocks]
    x = np.concatenate(blocks, axis=0)
    zi = np.concatenate([f.state_for(b) for f, b in zip(filters, blocks, strict=True)], axis=1)
    y, zo = scipy.signal.sosfilt(filters[0].sos, x, axis=-1, zi=zi)
    out = []
    start = 0
    for f, n in zip(filters, sizes, strict=True):
        f.set_state(zo[:, start : start + n])
        out.append(np.asarray(y[start : start + n], dtype=np.float64))
        start += n
    return out
