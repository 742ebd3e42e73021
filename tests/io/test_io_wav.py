"""WAV reader against scipy's own read of the same files."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from monitor.core.errors import RecordingError
from monitor.core.model import SampleBlock
from monitor.inputs.files import open_recording

Join = Callable[[Iterable[SampleBlock]], dict[tuple[str, str], np.ndarray]]
FOLDER = "emg_fatigue_electrophys_cc0"


def test_s8_two_channels_at_10khz(data_dir: Path, join: Join) -> None:
    path = data_dir / FOLDER / "S8_EMG_bicep_sustained.wav"
    fs, expected = wavfile.read(path)
    with open_recording(path) as rec:
        (info,) = rec.streams
        assert (info.fs, info.channels, info.unit, info.modality) == (
            10000.0,
            ("ch1", "ch2"),
            "counts",
            "emg",
        )
        assert info.n_samples == expected.shape[0] == 445935
        data = join(rec.blocks(1.0))[("S8_EMG_bicep_sustained", "emg")]
    assert fs == 10000
    np.testing.assert_array_equal(data, expected.T.astype(np.float32))


@pytest.mark.parametrize(
    ("name", "fs"),
    [("S9_EMG_quadricep_squatSustained.wav", 10000), ("S10_EMG_bicep_sustainedMax.wav", 44100)],
)
@pytest.mark.parametrize("chunk_s", [0.0123, 1.0, 7.0])
def test_mono_files_chunked(data_dir: Path, join: Join, name: str, fs: int, chunk_s: float) -> None:
    path = data_dir / FOLDER / name
    _, expected = wavfile.read(path)
    with open_recording(path) as rec:
        assert rec.streams[0].fs == fs
        assert rec.streams[0].channels == ("ch1",)
        data = join(rec.blocks(chunk_s))[(path.stem, "emg")]
    np.testing.assert_array_equal(data, expected[np.newaxis].astype(np.float32))


def test_float_wav_is_arbitrary_units(tmp_path: Path, join: Join) -> None:
    x = np.random.default_rng(0).standard_normal((3000, 3)).astype(np.float32)
    path = tmp_path / "f.wav"
    wavfile.write(path, 1000, x)
    with open_recording(path) as rec:
        assert rec.streams[0].unit == "a.u."
        assert rec.streams[0].channels == ("ch1", "ch2", "ch3")
        np.testing.assert_array_equal(join(rec.blocks(0.7))[("f", "emg")], x.T)


def _wav24(
    path: Path, samples: np.ndarray, fs: int, before_fmt: bytes = b"", rf64: bool = False
) -> None:
    """scipy cannot write 24-bit PCM, which it cannot memory-map either: write one by hand.
    ``before_fmt``: the payload of a LIST chunk put before the fmt chunk (padded when odd);
    ``rf64``: the 64-bit variant (sizes in a ds64 chunk, 0xFFFFFFFF in the headers)."""
    raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples)
    fmt = struct.pack("<HHIIHH", 1, 1, fs, fs * 3, 3, 24)
    chunks = b""
    if before_fmt:
        chunks += b"LIST" + struct.pack("<I", len(before_fmt)) + before_fmt
        chunks += b"\0" * (len(before_fmt) & 1)
    chunks += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", 0xFFFFFFFF if rf64 else len(raw)) + raw
    if not rf64:
        path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
        return
    riff_size = 4 + 8 + 28 + len(chunks)
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, riff_size, len(raw), len(samples), 0)
    path.write_bytes(b"RF64" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + ds64 + chunks)


@pytest.mark.parametrize(("before_fmt", "rf64"), [(b"", False), (b"INFOodd", False), (b"", True)])
def test_24_bit_falls_back_to_a_full_read(
    tmp_path: Path, join: Join, before_fmt: bytes, rf64: bool
) -> None:
    samples = np.array([0, 1, -1, 8388607, -8388608, 12345] * 50)
    path = tmp_path / "deep.wav"
    _wav24(path, samples, 2000, before_fmt, rf64)
    with pytest.raises(ValueError, match="mmap"):
        wavfile.read(path, mmap=True)
    with open_recording(path) as rec:
        assert rec.streams[0].unit == "counts"
        data = join(rec.blocks(0.01))[("deep", "emg")]
    # the counts as written (scipy returns them left-justified in int32, x 256)
    np.testing.assert_array_equal(data[0], samples.astype(np.float32))


def test_explicit_fs_must_agree(data_dir: Path) -> None:
    path = data_dir / FOLDER / "S9_EMG_quadricep_squatSustained.wav"
    with open_recording(path, fs=10000.0) as rec:
        assert rec.streams[0].fs == 10000.0
    with pytest.raises(RecordingError) as info:
        open_recording(path, fs=2000)
    assert info.value.problem == (
        "the file states a sample rate of 10000 Hz but fs=2000 Hz was given"
    )


def test_not_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3\x03not a riff file at all")
    with pytest.raises(RecordingError, match="not a readable WAV file: File format"):
        open_recording(path)


def test_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    wavfile.write(path, 1000, np.zeros((0, 2), dtype=np.int16))
    with pytest.raises(RecordingError, match="no samples"):
        open_recording(path)


def test_zero_rate(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    wavfile.write(path, 1000, np.zeros(10, dtype=np.int16))
    raw = bytearray(path.read_bytes())
    raw[24:32] = struct.pack("<II", 0, 0)  # the fmt chunk's sample rate and byte rate
    path.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match="sample rate 0 Hz"):
        open_recording(path)
