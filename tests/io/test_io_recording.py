"""Dispatch by extension, the caller's overrides and the errors every format shares."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from monitor.core.errors import MonitorError, RecordingError
from monitor.inputs.files import Recording, StreamInfo, open_recording

WAV = "emg_fatigue_electrophys_cc0/S9_EMG_quadricep_squatSustained.wav"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="file not found") as info:
        open_recording(tmp_path / "nope.csv")
    assert info.value.path == tmp_path / "nope.csv"
    assert str(info.value).startswith(str(tmp_path / "nope.csv"))


@pytest.mark.parametrize("name", ["rec.xlsx", "rec.mat", "REC"])
def test_unknown_extension_lists_the_supported_ones(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x\n")
    with pytest.raises(RecordingError, match="unknown file type") as info:
        open_recording(path)
    for ext in (".csv", ".edf", ".bdf", ".hea", ".wav", ".xdf", ".c3d", ".txt"):
        assert ext in info.value.problem


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="is a directory"):
        open_recording(tmp_path)


@pytest.mark.parametrize("name", ["a.csv", "a.edf", "a.BDF", "a.wav", "A.CSV"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(RecordingError, match="file is empty"):
        open_recording(path)


@pytest.mark.parametrize("fs", [0.0, -2000.0, math.nan, math.inf, -math.inf])
def test_bad_fs_argument(data_dir: Path, fs: float) -> None:
    with pytest.raises(RecordingError, match="sample rate must be a positive number of Hz"):
        open_recording(data_dir / WAV, fs=fs)


def test_bad_modality_argument(data_dir: Path) -> None:
    bad: Any = "eeg"
    with pytest.raises(RecordingError, match="unknown modality 'eeg'"):
        open_recording(data_dir / WAV, modality=bad)


def test_empty_sensor_argument(data_dir: Path) -> None:
    with pytest.raises(RecordingError, match="sensor id is empty"):
        open_recording(data_dir / WAV, sensor="  ")


def test_recording_error_is_a_monitor_error(tmp_path: Path) -> None:
    with pytest.raises(MonitorError):
        open_recording(tmp_path / "nope.edf")


def test_sensor_defaults_to_stem_and_can_be_overridden(data_dir: Path) -> None:
    with open_recording(data_dir / WAV) as rec:
        assert rec.streams[0].sensor == "S9_EMG_quadricep_squatSustained"
    with open_recording(str(data_dir / WAV), sensor="leg") as rec:
        assert rec.streams[0].sensor == "leg"


def test_modality_argument_forces_every_channel(data_dir: Path) -> None:
    with open_recording(data_dir / WAV, modality="acc") as rec:
        assert [s.modality for s in rec.streams] == ["acc"]
        block = next(iter(rec.blocks()))
        assert block.modality == "acc"


def test_context_manager_closes_and_blocks_then_fail(data_dir: Path) -> None:
    rec: Recording = open_recording(data_dir / WAV)
    with rec as same:
        assert same is rec
        assert isinstance(rec.streams[0], StreamInfo)
        assert rec.duration_s == pytest.approx(491071 / 10000)
    rec.close()  # idempotent
    with pytest.raises(RecordingError, match="closed"):
        rec.blocks()


@pytest.mark.parametrize("chunk_s", [0.0, -1.0, math.nan])
def test_bad_chunk_size(data_dir: Path, chunk_s: float) -> None:
    with open_recording(data_dir / WAV) as rec, pytest.raises(ValueError, match="chunk_s"):
        rec.blocks(chunk_s)


def test_blocks_can_be_iterated_twice(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv("time,emg_1\n" + "".join(f"{i / 100},{i}\n" for i in range(50)))
    with open_recording(path) as rec:
        first = [b.data.copy() for b in rec.blocks(0.1)]
        second = [b.data.copy() for b in rec.blocks(0.1)]
    assert len(first) == len(second) == 5
    assert all((a == b).all() for a, b in zip(first, second, strict=True))
