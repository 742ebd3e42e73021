"""The batched feature step: every window ready in every stream, one FFT per shape.

Per tick the engine pushes the new blocks into their streams, gathers the windows that
became ready across ALL streams, stacks those of equal shape (same modality, rate and
window length; normally one group per modality) into one 2-D array, runs one kernel call
on it, and splits the rows back into per-stream ``FeatureFrame``s. Python loops run over
streams and groups, never over samples or windows' values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import numpy as np

from monitor.core.config import DspSettings
from monitor.core.model import FeatureFrame, Modality, SampleBlock
from monitor.dsp.acc_features import AccFeatureKernel
from monitor.dsp.emg_features import EmgFeatureKernel
from monitor.dsp.filters import filter_together
from monitor.dsp.spectrum import SpectrumPlan
from monitor.dsp.stream import (
    Q_MAINS,
    Q_OK,
    QUALITY_LABELS,
    GroupKey,
    ReadyWindows,
    StreamProcessor,
)

Kernel = EmgFeatureKernel | AccFeatureKernel
# Past this share of band power in mains lines, even interpolated spectra are mostly guess.
MAINS_QUALITY_SHARE = 0.5


class FeatureStep:
    """Stateless apart from a cache of kernels (window tables, band weights) per shape."""

    def __init__(self, settings: DspSettings) -> None:
        self.settings = settings
        self.dtype = np.float32 if settings.dtype == "float32" else np.float64
        self._kernels: dict[GroupKey, Kernel] = {}

    def kernel(self, key: GroupKey) -> Kernel:
        kernel = self._kernels.get(key)
        if kernel is None:
            window = "hann" if key.modality == "emg" else self.settings.acc.spectral_window
            plan = SpectrumPlan(key.fs, key.n, key.nperseg, self.dtype, window)
            if key.modality == "emg":
                lo, hi = self.settings.emg.band_hz
                kernel = EmgFeatureKernel(
                    plan, lo, min(hi, 0.45 * key.fs), self.settings.emg.mains_interpolation
                )
            else:
                acc = self.settings.acc
                kernel = AccFeatureKernel(
                    plan,
                    key.rows_per_vector,
                    acc.tremor_band_hz,
                    acc.peak_band_hz,
                    (acc.highpass_hz, 0.45 * key.fs),
                )
            self._kernels[key] = kernel
        return kernel

    def run(self, ready: Sequence[ReadyWindows]) -> list[FeatureFrame]:
        groups: dict[GroupKey, list[ReadyWindows]] = {}
        for item in ready:
            groups.setdefault(item.key, []).append(item)
        frames: list[FeatureFrame] = []
        for key, items in groups.items():
            rows = items[0].rows if len(items) == 1 else np.concatenate([i.rows for i in items])
            values = self.kernel(key).compute(rows).as_dict()
            offset = 0
            for item in items:
                n_out = item.n_windows * len(item.channels)
                shaped = {
                    name: arr[offset : offset + n_out].reshape(item.n_windows, -1)
                    for name, arr in values.items()
                }
                offset += n_out
                quality = item.quality
                if "mains_share" in shaped:
                    mains = (shaped["mains_share"] > MAINS_QUALITY_SHARE) & (quality == Q_OK)
                    quality = np.where(mains, Q_MAINS, quality).astype(np.int8)
                frames.extend(_frames(item, shaped, quality))
        return frames


def _frames(
    item: ReadyWindows, shaped: dict[str, np.ndarray], quality: np.ndarray
) -> list[FeatureFrame]:
    labels = [tuple(QUALITY_LABELS[c] for c in row) for row in quality.tolist()]
    return [
        FeatureFrame(
            sensor=item.sensor,
            modality=item.modality,
            t=float(t),
            channels=item.channels,
            features={name: arr[w] for name, arr in shaped.items()},
            quality=labels[w],
        )
        for w, t in enumerate(item.t_end.tolist())
    ]


def _rounds(
    blocks: list[SampleBlock], restarts: Collection[int]
) -> list[list[tuple[SampleBlock, bool]]]:
    """Split a tick's blocks into rounds that hold each stream at most once, in order, so
    a stream's later block (after a restart) is prepared, filtered and buffered only after
    its earlier one."""
    rounds: list[list[tuple[SampleBlock, bool]]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, block in enumerate(blocks):
        r = seen.get(block.stream, -1) + 1
        seen[block.stream] = r
        if r == len(rounds):
            rounds.append([])
        rounds[r].append((block, i in restarts))
    return rounds


class FeatureEngine:
    """Streams by (sensor, modality), created on first sight, plus the batched step."""

    def __init__(self, settings: DspSettings) -> None:
        self.settings = settings
        self.step = FeatureStep(settings)
        self.streams: dict[tuple[str, Modality], StreamProcessor] = {}

    def stream_for(self, block: SampleBlock) -> StreamProcessor:
        """The block's stream processor; a new one when the stream is new or its rate or
        channels changed (its windows cannot continue across such a change)."""
        proc = self.streams.get(block.stream)
        if proc is None or proc.fs != block.fs or proc.in_channels != block.channels:
            proc = StreamProcessor(
                block.sensor, block.modality, block.fs, block.channels, self.settings
            )
            self.streams[block.stream] = proc
        return proc

    def process(
        self, blocks: Iterable[SampleBlock], restarts: Collection[int] = ()
    ) -> list[FeatureFrame]:
        """One tick: push every block (restarting its stream first where its index is in
        ``restarts``: a gap), then one batched feature step for all ready windows."""
        ready = []
        for round_ in _rounds(list(blocks), restarts):
            prepared = []
            for block, restart in round_:
                proc = self.stream_for(block)
                if restart:
                    proc.reset()
                prepared.append((proc, proc.prepare(block)))
            # One sosfilt call per filter design and block length across streams.
            groups: dict[tuple[object, ...], list[tuple[StreamProcessor, np.ndarray]]] = {}
            for proc, raw in prepared:
                groups.setdefault((*proc.filter_key, raw.shape[1]), []).append((proc, raw))
            for members in groups.values():
                outs = filter_together([p.filter for p, _ in members], [r for _, r in members])
                for (proc, _), y in zip(members, outs, strict=True):
                    r = proc.push_filtered(y)
                    if r is not None:
                        ready.append(r)
        frames = self.step.run(ready) if ready else []
        frames.sort(key=lambda f: f.t)
        return frames
