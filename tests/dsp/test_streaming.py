"""Streaming equals offline: any chunking of a stream gives the same features."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.config import DspSettings, EmgDsp
from monitor.core.model import FeatureFrame, Modality, SampleBlock
from monitor.dsp.engine import FeatureEngine


def signal(modality: Modality, fs: float, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    t = np.arange(n) / fs
    if modality == "emg":
        x = rng.standard_normal((3, n)) * np.linspace(0.2, 1.0, n) + 0.3  # DC offset, drift
        x[1] += 0.5 * np.sin(2 * np.pi * 50 * t)
        x[2, n // 3 : n // 3 + 150] = x[2, n // 3]  # a short flat stretch
        x[0, n // 2 : n // 2 + 7] = np.nan  # a few missing samples
        return x
    grav = np.array([[0.0], [0.0], [9.81]])
    return grav + 0.05 * np.sin(2 * np.pi * 9.0 * t)[None, :] + 0.01 * rng.standard_normal((3, n))


def feed(
    x: np.ndarray, modality: Modality, fs: float, cuts: list[int], dtype: str
) -> list[FeatureFrame]:
    names = ("emg_1", "emg_2", "emg_3") if modality == "emg" else ("acc_x", "acc_y", "acc_z")
    engine = FeatureEngine(DspSettings(dtype=dtype, emg=EmgDsp(mains_hz=50)))  # type: ignore[arg-type]
    frames: list[FeatureFrame] = []
    edges = [0, *sorted(c for c in cuts if 0 < c < x.shape[1]), x.shape[1]]
    for seq, (a, b) in enumerate(itertools.pairwise(edges)):
        if b > a:
            frames += engine.process(
                [SampleBlock("s", modality, fs, 3.0 + a / fs, seq, names, "u", x[:, a:b])]
            )
    return frames


def assert_same(a: list[FeatureFrame], b: list[FeatureFrame], rtol: float) -> None:
    assert len(a) == len(b) > 0
    for fa, fb in zip(a, b, strict=True):
        assert fa.t == fb.t
        assert fa.quality == fb.quality
        for name in fa.features:
            np.testing.assert_allclose(
                fa.features[name], fb.features[name], rtol=rtol, atol=0, equal_nan=True
            )


@pytest.mark.parametrize(("modality", "fs"), [("emg", 2000.0), ("emg", 1024.0), ("acc", 100.0)])
@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-9), ("float32", 1e-5)])
def test_random_block_sizes_equal_whole(
    modality: Modality, fs: float, dtype: str, rtol: float
) -> None:
    x = signal(modality, fs, 12.0, seed=1)
    whole = feed(x, modality, fs, [], dtype)
    rng = np.random.default_rng(2)
    sizes = rng.integers(1, 5001, size=x.shape[1])
    cuts = list(np.cumsum(sizes)[np.cumsum(sizes) < x.shape[1]])
    assert_same(feed(x, modality, fs, cuts, dtype), whole, rtol)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 24000), min_size=1, max_size=40))
def test_any_chunking_equals_whole_emg(cuts: list[int]) -> None:
    x = signal("emg", 2000.0, 12.0, seed=3)
    assert_same(
        feed(x, "emg", 2000.0, cuts, "float64"), feed(x, "emg", 2000.0, [], "float64"), 1e-9
    )


def test_window_times_and_quality_labels() -> None:
    fs = 2000.0
    x = signal("emg", fs, 12.0, seed=4)
    frames = feed(x, "emg", fs, [], "float64")
    assert [f.t for f in frames] == [3.0 + 1.0 + 0.5 * i for i in range(len(frames))]
    # The NaN run starts 6 s into the stream (t = 9 s); the windows holding it end at
    # 9.5 s ([5.5, 6.5) s of stream) and 10.0 s ([6, 7) s).
    nan_windows = [f.t for f in frames if f.quality[0] == "nonfinite"]
    assert nan_windows == [9.5, 10.0]
    assert all(f.quality[1] == "ok" for f in frames)
    flat_windows = [f.t for f in frames if f.quality[2] == "flat"]
    assert flat_windows and all(7.0 <= t <= 8.5 for t in flat_windows)
    assert all(np.isfinite(f.features["mdf_hz"]).all() for f in frames)


def test_clipping_is_flagged_and_does_not_depend_on_chunking() -> None:
    fs = 2000.0
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, int(8 * fs)))
    x[0, 8000:12000] *= 6.0  # a burst that the "amplifier" clips at +-3
    x = np.round(x * 100) / 100
    x[0] = np.clip(x[0], -3.0, 3.0)
    whole = feed(np.vstack([x, x[1:]]), "emg", fs, [], "float64")
    cuts = list(range(1, x.shape[1], 977))
    chunked = feed(np.vstack([x, x[1:]]), "emg", fs, cuts, "float64")
    assert_same(chunked, whole, 1e-9)
    clipped = [f.t for f in whole if f.quality[0] == "clipped"]
    assert clipped and all(6.0 < t < 10.5 for t in clipped)
    assert all(f.quality[1] == "ok" for f in whole)


def test_streams_filtered_together_equal_streams_filtered_alone() -> None:
    """The engine filters streams that share a design in one sosfilt call per tick."""
    fs = 2000.0
    names = ("emg_1", "emg_2", "emg_3")
    signals = {f"s{i}": signal("emg", fs, 6.0, seed=10 + i) for i in range(4)}
    together = FeatureEngine(DspSettings(dtype="float64"))
    frames_together = []
    step = 250
    for seq, start in enumerate(range(0, int(6 * fs), step)):
        blocks = [
            SampleBlock(name, "emg", fs, start / fs, seq, names, "u", x[:, start : start + step])
            for name, x in signals.items()
        ]
        frames_together += together.process(blocks)
    for name, x in signals.items():
        alone = feed_named(x, name, fs)
        mine = [f for f in frames_together if f.sensor == name]
        assert_same(mine, alone, 1e-12)


def feed_named(x: np.ndarray, name: str, fs: float) -> list[FeatureFrame]:
    engine = FeatureEngine(DspSettings(dtype="float64"))
    block = SampleBlock(name, "emg", fs, 0.0, 0, ("emg_1", "emg_2", "emg_3"), "u", x)
    return engine.process([block])
