"""Per-stream preparation: clean, filter and buffer samples until windows are ready.

One ``StreamProcessor`` per (sensor, modality). A block goes through ``prepare`` (checks,
NaN holding, bad-sample runs), the stream's filter (run by the engine for many streams at
once) and ``push_filtered`` (buffer, ready windows). It never computes spectra itself: it
hands ready windows to the batched step so that the FFT runs once per tick for all streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.core.config import DspSettings
from monitor.core.errors import SampleBlockError
from monitor.core.model import Modality, SampleBlock
from monitor.dsp import _fused
from monitor.dsp.filters import StreamingFilter, emg_sos, highpass_sos
from monitor.dsp.ring import WindowRing
from monitor.dsp.runs import RunLog

#: Quality labels by code; a window takes the worst (highest) code among its problems.
QUALITY_LABELS: tuple[str, ...] = ("ok", "mains", "clipped", "flat", "nonfinite")
Q_OK, Q_MAINS, Q_CLIPPED, Q_FLAT, Q_NONFINITE = 0, 1, 2, 3, 4
# A window is clipped when more than this share of its samples sit repeated on a rail.
CLIPPED_SHARE = 0.01
MIN_FLAT_SAMPLES = 20


@dataclass(frozen=True, slots=True)
class GroupKey:
    """Windows with equal keys share one spectrum plan and go through one FFT call."""

    modality: Modality
    fs: float
    n: int
    nperseg: int
    rows_per_vector: int


@dataclass(frozen=True, slots=True)
class ReadyWindows:
    """Windows of one stream that became ready, as rows for the batched step.

    ``rows`` is (windows * rows_per_window, n): for EMG one row per channel, for an
    accelerometer one row per axis; ``quality`` is (windows, output channels) codes.
    """

    sensor: str
    modality: Modality
    channels: tuple[str, ...]
    key: GroupKey
    t_end: npt.NDArray[np.float64]
    rows: npt.NDArray[np.floating]
    quality: npt.NDArray[np.int8]

    @property
    def n_windows(self) -> int:
        return int(self.t_end.size)


def vector_name(channels: tuple[str, ...]) -> str:
    """Name of an accelerometer's combined channel: the axes' common prefix (``acc``)."""
    prefix = channels[0]
    for name in channels[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix.rstrip("_-. xyzXYZ")
    return prefix or "acc"


class StreamProcessor:
    def __init__(
        self,
        sensor: str,
        modality: Modality,
        fs: float,
        channels: tuple[str, ...],
        settings: DspSettings,
    ) -> None:
        self.sensor = sensor
        self.modality = modality
        self.fs = float(fs)
        self.in_channels = tuple(channels)
        dtype = np.float32 if settings.dtype == "float32" else np.float64
        if modality == "emg":
            sos, self.band_hz = emg_sos(
                fs,
                settings.emg.band_hz,
                settings.emg.filter_order,
                settings.emg.mains_hz,
                settings.emg.notch_q,
            )
            window_s, hop_s, segment_s = (
                settings.emg.window_s,
                settings.emg.hop_s,
                settings.emg.segment_s,
            )
            self.channels = self.in_channels
            rows_per_vector = 1
        else:
            sos = highpass_sos(fs, settings.acc.highpass_hz, settings.acc.highpass_order)
            self.band_hz = (settings.acc.highpass_hz, 0.45 * fs)
            window_s, hop_s, segment_s = settings.acc.window_s, settings.acc.hop_s, 0.0
            self.channels = (vector_name(self.in_channels),)
            rows_per_vector = len(self.in_channels)
        self.window = round(window_s * fs)
        self.hop = max(1, round(hop_s * fs))
        nperseg = self.window if segment_s <= 0 else round(segment_s * fs)
        self.key = GroupKey(modality, self.fs, self.window, nperseg, rows_per_vector)
        self._filter = StreamingFilter(sos)
        self._ring = WindowRing(len(self.in_channels), self.window, self.hop, dtype)
        self._nonfinite = RunLog(len(self.in_channels))
        # EMG: a channel that repeats one value for ``flat_min_s`` has lost contact (with at
        # least MIN_FLAT_SAMPLES, so an 8-bit 200 Hz armband's quiet rest is not "flat").
        # Accelerometer: only every axis at once, for ``acc_flat_min_s``: a 12-bit sensor at
        # 50 Hz whose noise is below one step repeats readings on a still limb, which is
        # quantisation, not a dead sensor.
        if modality == "emg":
            self._flat = RunLog(
                len(self.in_channels), max(MIN_FLAT_SAMPLES, round(settings.flat_min_s * fs))
            )
        else:
            self._flat = RunLog(1, max(MIN_FLAT_SAMPLES, round(settings.acc_flat_min_s * fs)))
        self._clipped = RunLog(len(self.in_channels))
        self._hi = np.full(len(self.in_channels), -np.inf)
        self._lo = np.full(len(self.in_channels), np.inf)
        self._t0: float | None = None
        self._last = np.zeros(len(self.in_channels))
        self.nonfinite_samples = 0

    def reset(self) -> None:
        """Forget everything: used when a stream restarts (gap, new rate, new channels)."""
        self._filter.reset()
        self._ring.reset()
        self._nonfinite.reset()
        self._flat.reset()
        self._clipped.reset()
        self._hi[:] = -np.inf
        self._lo[:] = np.inf
        self._t0 = None
        self._last[:] = 0.0

    @property
    def samples_seen(self) -> int:
        return self._ring.total

    @property
    def filter(self) -> StreamingFilter:
        return self._filter

    @property
    def filter_key(self) -> tuple[str, float]:
        """Streams with equal keys share one filter cascade (and may be filtered together):
        the design depends only on modality, rate and the engine's settings."""
        return (self.modality, self.fs)

    def prepare(self, block: SampleBlock) -> npt.NDArray[np.float64]:
        """Check, clean and log a block; returns the samples the filter should see."""
        if block.channels != self.in_channels or block.fs != self.fs:
            raise SampleBlockError(
                self.sensor,
                f"stream changed: {block.fs:g} Hz {block.channels} after "
                f"{self.fs:g} Hz {self.in_channels}",
            )
        if self._t0 is None:
            self._t0 = block.t0
        return self._sanitise(block.data.astype(np.float64), self._ring.total)

    def push_filtered(self, filtered: npt.NDArray[np.float64]) -> ReadyWindows | None:
        """Buffer filtered samples (from ``prepare`` then this stream's filter) and return the
        windows that became ready."""
        self._ring.append(filtered)
        starts = self._ring.ready_starts()
        if starts.size == 0:
            return None
        quality = self._quality(starts)
        rows = self._ring.take(starts)
        self._nonfinite.prune(self._ring.next_start)
        self._flat.prune(self._ring.next_start)
        self._clipped.prune(self._ring.next_start)
        t0 = 0.0 if self._t0 is None else self._t0  # set by prepare() before any push
        t_end = t0 + (starts + self.window).astype(np.float64) / self.fs
        return ReadyWindows(
            sensor=self.sensor,
            modality=self.modality,
            channels=self.channels,
            key=self.key,
            t_end=t_end,
            rows=rows.reshape(-1, self.window),
            quality=quality,
        )

    def _sanitise(self, x: npt.NDArray[np.float64], offset: int) -> npt.NDArray[np.float64]:
        """Hold the last finite value over NaN/inf (an IIR state hit by NaN stays NaN
        forever) and log the runs; log runs of identical samples as flat, and those at
        the running extremes as clipped. One compiled pass (``scan_block``): this runs
        for every stream on every tick, so its per-call cost sets the fleet size."""
        x = np.ascontiguousarray(x)
        bad = np.empty(x.shape, dtype=np.bool_)
        same = np.empty(x.shape, dtype=np.bool_)
        clip = np.empty(x.shape, dtype=np.bool_)
        scan = _fused.scan_block if _fused.AVAILABLE else scan_block_numpy
        nbad, nsame, nclip = scan(x, self._last, self._hi, self._lo, offset > 0, bad, same, clip)
        self.nonfinite_samples += int(nbad)
        self._nonfinite.add(bad, offset, any_set=bool(nbad))
        if self.modality == "acc":
            every = np.asarray(same.all(axis=0, keepdims=True), dtype=np.bool_)
            self._flat.add(every, offset)
        else:
            self._flat.add(same, offset, any_set=bool(nsame))
        self._clipped.add(clip, offset, any_set=bool(nclip))
        return x

    def _quality(self, starts: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        q = np.zeros((starts.size, len(self.in_channels)), dtype=np.int8)
        q[self._clipped.coverage(starts, self.window) > CLIPPED_SHARE * self.window] = Q_CLIPPED
        flat = self._flat.coverage(starts, self.window) > 0
        q[np.broadcast_to(flat, q.shape)] = Q_FLAT
        q[self._nonfinite.coverage(starts, self.window) > 0] = Q_NONFINITE
        if self.modality == "acc":
            return np.asarray(q.max(axis=1, keepdims=True), dtype=np.int8)
        return q


def scan_block_numpy(
    x: npt.NDArray[np.float64],
    last: npt.NDArray[np.float64],
    hi: npt.NDArray[np.float64],
    lo: npt.NDArray[np.float64],
    has_prev: bool,
    bad: npt.NDArray[np.bool_],
    same: npt.NDArray[np.bool_],
    clip: npt.NDArray[np.bool_],
) -> tuple[int, int, int]:
    """The numpy reference of ``_fused.scan_block`` (same contract, whole-array passes);
    used where numba is missing, and by the tests that hold the two equal."""
    k = x.shape[1]
    np.logical_not(np.isfinite(x), out=bad)
    if bad.any():
        idx = np.where(bad, -1, np.arange(k)[None, :])
        np.maximum.accumulate(idx, axis=1, out=idx)
        held = np.take_along_axis(x, np.maximum(idx, 0), axis=1)
        x[...] = np.where(idx >= 0, held, last[:, None])
    if k:
        same[:, 0] = (x[:, 0] == last) if has_prev else False
        np.equal(x[:, 1:], x[:, :-1], out=same[:, 1:])
        h = np.maximum.accumulate(np.concatenate([hi[:, None], x], axis=1), axis=1)[:, 1:]
        low = np.minimum.accumulate(np.concatenate([lo[:, None], x], axis=1), axis=1)[:, 1:]
        np.logical_and(same, (x == h) | (x == low), out=clip)
        last[:] = x[:, -1]
        hi[:] = h[:, -1]
        lo[:] = low[:, -1]
    return int(bad.sum()), int(same.sum()), int(clip.sum())
