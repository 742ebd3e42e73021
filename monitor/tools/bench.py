"""`fatigue-monitor bench`: the feature engine against a naive loop and the bare FFT floor.

All three run in one process on the same float32 windows (one-second EMG windows at
2 kHz by default), pinned to one CPU when the OS allows, best of several repeats:

* engine: the batched EMG kernel as the service runs it by default (PSD, mains-line
  interpolation, MDF, MNF, RMS, ARV, FInsm5, band power);
* naive: ``scipy.signal.welch`` per window, then MDF/MNF from its output, the way most
  scripts do it;
* floor: one ``scipy.fft.rfft`` over all the windows and nothing else.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import scipy
import scipy.fft
import scipy.signal

from monitor.core.config import DspSettings
from monitor.dsp.emg_features import EmgFeatureKernel
from monitor.dsp.spectrum import SpectrumPlan


@dataclass(frozen=True, slots=True)
class BenchResult:
    windows: int
    window_samples: int
    fs: float
    hop_s: float
    engine_windows_per_s: float
    naive_windows_per_s: float
    floor_windows_per_s: float
    engine_vs_naive: float
    engine_vs_floor: float
    realtime_channels_one_core: float
    pinned_to_one_cpu: bool
    machine: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _naive(windows: npt.NDArray[np.float32], fs: float, band: tuple[float, float]) -> None:
    n = windows.shape[1]
    for x in windows:
        f, p = scipy.signal.welch(x, fs=fs, nperseg=n)
        sel = (f >= band[0]) & (f <= band[1])
        pb, fb = p[sel], f[sel]
        c = np.cumsum(pb)
        k = int(np.searchsorted(c, c[-1] / 2))
        _ = fb[k], float(np.sum(fb * pb) / c[-1])


def _pin_one_cpu() -> bool:
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
    except OSError:
        return False
    return True


def run_bench(
    windows: int = 4096,
    fs: float = 2000.0,
    window_s: float = 1.0,
    hop_s: float = 0.5,
    naive_windows: int = 300,
    repeats: int = 7,
    seed: int = 0,
    pin: bool = True,
) -> BenchResult:
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    pinned = _pin_one_cpu() if pin else False
    try:
        n = round(window_s * fs)
        rng = np.random.default_rng(seed)
        data = rng.standard_normal((windows, n)).astype(np.float32)
        band = (20.0, min(450.0, 0.45 * fs))
        # The kernel exactly as the service builds it with default settings.
        emg = DspSettings().emg
        kernel = EmgFeatureKernel(
            SpectrumPlan(fs, n, dtype=np.float32), *band, emg.mains_interpolation
        )
        t_engine = _best_time(lambda: kernel.compute(data), repeats)
        t_floor = _best_time(lambda: scipy.fft.rfft(data, axis=-1), repeats)
        naive_data = data[: min(naive_windows, windows)]
        t_naive = _best_time(lambda: _naive(naive_data, fs, band), max(1, repeats // 3))
    finally:
        if pinned and saved is not None:
            os.sched_setaffinity(0, saved)
    engine = windows / t_engine
    naive = naive_data.shape[0] / t_naive
    floor = windows / t_floor
    return BenchResult(
        windows=windows,
        window_samples=n,
        fs=fs,
        hop_s=hop_s,
        engine_windows_per_s=engine,
        naive_windows_per_s=naive,
        floor_windows_per_s=floor,
        engine_vs_naive=engine / naive,
        engine_vs_floor=t_engine / t_floor,
        realtime_channels_one_core=engine * hop_s,
        pinned_to_one_cpu=pinned,
        machine=(
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}"
        ),
    )


def format_bench(r: BenchResult) -> str:
    return "\n".join(
        [
            f"windows: {r.windows} x {r.window_samples} samples (float32, {r.fs:g} Hz, "
            f"{r.window_samples / r.fs:g} s), one CPU: {'yes' if r.pinned_to_one_cpu else 'no'}",
            f"  engine (batched features)  {r.engine_windows_per_s:12,.0f} windows/s",
            f"  naive (welch per window)   {r.naive_windows_per_s:12,.0f} windows/s",
            f"  floor (bare batched rfft)  {r.floor_windows_per_s:12,.0f} windows/s",
            f"engine / naive: {r.engine_vs_naive:.1f}x faster",
            f"engine time / floor time: {r.engine_vs_floor:.2f}x",
            f"EMG channels at {r.fs:g} Hz processed in real time on one core "
            f"({r.hop_s:g} s hop): {r.realtime_channels_one_core:,.0f}",
            f"machine: {r.machine}",
        ]
    )
