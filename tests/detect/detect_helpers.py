"""Helpers for the detector tests: simulated recordings through the real engine."""

import itertools
from collections.abc import Iterable

import numpy as np

from monitor.core.config import Settings
from monitor.core.model import Event, FeatureFrame, SampleBlock
from monitor.detect.stream import StreamDetector
from monitor.dsp.engine import FeatureEngine
from simulators.acc import AccGenerator, AccScenario
from simulators.emg import EmgGenerator, EmgScenario


def emg_signal(seed: int = 3, **kw: object) -> tuple[np.ndarray, EmgScenario]:
    params: dict[str, object] = {"fs": 2000.0, "n_channels": 2, "duration_s": 150.0}
    params.update(kw)
    sc = EmgScenario(**params)  # type: ignore[arg-type]
    return EmgGenerator(sc, np.random.default_rng(seed)).read(sc.n_samples), sc


def acc_signal(seed: int = 3, **kw: object) -> tuple[np.ndarray, AccScenario]:
    params: dict[str, object] = {"fs": 100.0, "duration_s": 120.0}
    params.update(kw)
    sc = AccScenario(**params)  # type: ignore[arg-type]
    return AccGenerator(sc, np.random.default_rng(seed)).read(sc.n_samples), sc


def frames_of(
    x: np.ndarray, fs: float, modality: str, settings: Settings, cuts: Iterable[int] = ()
) -> list[FeatureFrame]:
    names = (
        tuple(f"emg_{i + 1}" for i in range(x.shape[0]))
        if modality == "emg"
        else ("acc_x", "acc_y", "acc_z")
    )
    engine = FeatureEngine(settings.dsp)
    edges = [0, *sorted({c for c in cuts if 0 < c < x.shape[1]}), x.shape[1]]
    out: list[FeatureFrame] = []
    for seq, (a, b) in enumerate(itertools.pairwise(edges)):
        block = SampleBlock("sim", modality, fs, a / fs, seq, names, "mV", x[:, a:b])  # type: ignore[arg-type]
        out += engine.process([block])
    return out


def detect(
    frames: list[FeatureFrame], settings: Settings, det: StreamDetector | None = None
) -> list[Event]:
    if not frames:
        return []
    det = det or StreamDetector.for_frame(frames[0], settings.detect, settings.dsp)
    return [e for f in frames for e in det.update(f)]
