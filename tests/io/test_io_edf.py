"""EDF/BDF reader against pyedflib itself, plus files written here for the cases fixtures lack."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from pyedflib import highlevel

from monitor.core.errors import RecordingError
from monitor.core.model import SampleBlock
from monitor.inputs.files import open_recording

Join = Callable[[Iterable[SampleBlock]], dict[tuple[str, str], np.ndarray]]
FOLDER = "edf_bids_examples_synthetic"
FIXTURES = [
    ("emg_CustomBipolar_sub-01_task-holdWeight_emg.edf", 1),
    ("emg_IndependentMod_sub-01_task-grasping_emg.edf", 6),
]
MALFORMED = "emg_Multimodal_sub-01_task-pullstand_emg.edf"


def pyedflib_signals(path: Path) -> list[np.ndarray]:
    with pyedflib.EdfReader(str(path)) as f:
        return [f.readSignal(ch) for ch in range(f.signals_in_file)]


def write(path: Path, channels: list[tuple[str, str, float, np.ndarray]], **header: object) -> Path:
    headers = [
        highlevel.make_signal_header(
            label, dimension=unit, sample_frequency=fs, physical_min=-1000, physical_max=1000
        )
        for label, unit, fs, _ in channels
    ]
    file_header = highlevel.make_header()
    file_header.update(header)
    highlevel.write_edf(str(path), [c[3] for c in channels], headers, header=file_header)
    return path


@pytest.mark.parametrize(("name", "n_channels"), FIXTURES)
@pytest.mark.parametrize("chunk_s", [0.001, 0.13, 0.5, 1.0, 3.0])
def test_fixtures_match_pyedflib(
    data_dir: Path, join: Join, name: str, n_channels: int, chunk_s: float
) -> None:
    path = data_dir / FOLDER / name
    expected = pyedflib_signals(path)
    with open_recording(path) as rec:
        (info,) = rec.streams
        assert info.fs == 2000.0
        assert len(info.channels) == n_channels
        assert info.modality == "emg"
        assert info.n_samples == 2000
        assert info.sensor == path.stem
        data = join(rec.blocks(chunk_s))[(info.sensor, "emg")]
    assert data.shape == (n_channels, 2000)
    np.testing.assert_array_equal(data, np.array(expected, dtype=np.float32))


def test_units_come_from_the_physical_dimension(data_dir: Path) -> None:
    with open_recording(data_dir / FOLDER / FIXTURES[1][0]) as rec:
        assert rec.streams[0].unit == "uV"
        assert rec.streams[0].channels == tuple(f"EMG{i}" for i in range(1, 7))


def test_malformed_file_gives_a_clear_error(data_dir: Path) -> None:
    path = data_dir / FOLDER / MALFORMED
    with pytest.raises(RecordingError) as info:
        open_recording(path)
    problem = info.value.problem
    assert problem.startswith("malformed EDF/BDF file: ")
    assert "startdate is incorrect" in problem
    assert str(path) not in problem  # said once, by RecordingError itself
    assert "\n" not in problem


def test_garbage_with_edf_extension(tmp_path: Path) -> None:
    path = tmp_path / "junk.edf"
    path.write_bytes(b"this is not an EDF header at all" * 20)
    with pytest.raises(RecordingError, match="malformed EDF/BDF file"):
        open_recording(path)


def test_truncated_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    path = write(tmp_path / "t.edf", [("EMG1", "uV", 1000, rng.uniform(-500, 500, 5000))])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1500])
    with pytest.raises(RecordingError, match="malformed EDF/BDF file"):
        open_recording(path)


def test_discontinuous_edf_is_refused_with_how_to_convert_it(tmp_path: Path) -> None:
    """EDF+D records have gaps that windows must not span, and pyedflib cannot read them:
    the error says what the file is and what to do, not that it is malformed."""
    rng = np.random.default_rng(4)
    path = write(tmp_path / "d.edf", [("EMG1", "uV", 1000, rng.uniform(-500, 500, 3000))])
    data = bytearray(path.read_bytes())
    assert data[192:197] == b"EDF+C"
    data[192:197] = b"EDF+D"
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match="discontinuous"):
        pyedflib.EdfReader(str(path))  # what the reader would otherwise have reported
    with pytest.raises(RecordingError, match=r"EDF\+D.*not supported.*EDF\+C"):
        open_recording(path)


def test_mixed_rates_give_two_streams_in_time_order(tmp_path: Path, join: Join) -> None:
    rng = np.random.default_rng(0)
    emg = rng.uniform(-500, 500, (2, 2000 * 3))
    acc = rng.uniform(-10, 10, (3, 100 * 3))
    channels = [("EMG1", "uV", 2000.0, emg[0]), ("EMG2", "uV", 2000.0, emg[1])]
    channels += [(f"ACC_{ax}", "m/s^2", 100.0, acc[i]) for i, ax in enumerate("XYZ")]
    path = write(tmp_path / "arm.edf", channels)
    expected = pyedflib_signals(path)
    with open_recording(path) as rec:
        assert [(s.modality, s.fs, s.channels, s.unit, s.n_samples) for s in rec.streams] == [
            ("emg", 2000.0, ("EMG1", "EMG2"), "uV", 6000),
            ("acc", 100.0, ("ACC_X", "ACC_Y", "ACC_Z"), "m/s^2", 300),
        ]
        assert rec.duration_s == 3.0
        blocks = list(rec.blocks(0.5))
    starts = [b.t0 for b in blocks]
    assert starts == sorted(starts)
    assert [(b.modality, b.n_samples) for b in blocks[:2]] == [("emg", 1000), ("acc", 50)]
    joined = join(blocks)
    np.testing.assert_array_equal(joined[("arm", "emg")], np.array(expected[:2], np.float32))
    np.testing.assert_array_equal(joined[("arm", "acc")], np.array(expected[2:], np.float32))


def test_two_emg_rates_get_distinct_sensor_ids(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = write(
        tmp_path / "two.edf",
        [("EMG1", "uV", 2000.0, rng.uniform(-1, 1, 2000)), ("EMG2", "uV", 1000, np.zeros(1000))],
    )
    with open_recording(path) as rec:
        assert [(s.sensor, s.modality, s.fs) for s in rec.streams] == [
            ("two-2000Hz", "emg", 2000.0),
            ("two-1000Hz", "emg", 1000.0),
        ]
        assert {b.sensor for b in rec.blocks()} == {"two-2000Hz", "two-1000Hz"}


def test_annotations_are_skipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    path = write(
        tmp_path / "ann.edf",
        [("EMG1", "uV", 1000.0, rng.uniform(-500, 500, 3000))],
        annotations=[[0.5, -1, "start"], [1.5, 0.2, "mid"]],
    )
    with open_recording(path) as rec:
        assert [s.channels for s in rec.streams] == [("EMG1",)]
        assert sum(b.n_samples for b in rec.blocks()) == 3000


def test_bdf_is_read_too(tmp_path: Path, join: Join) -> None:
    rng = np.random.default_rng(4)
    path = write(tmp_path / "x.BDF", [("EMG1", "mV", 512.0, rng.uniform(-500, 500, 1024))])
    expected = pyedflib_signals(path)
    with open_recording(path) as rec:
        data = join(rec.blocks(0.3))[("x", "emg")]
    np.testing.assert_array_equal(data, np.array(expected, np.float32))


def test_explicit_fs_must_agree(data_dir: Path) -> None:
    path = data_dir / FOLDER / FIXTURES[0][0]
    with open_recording(path, fs=2000) as rec:
        assert rec.streams[0].fs == 2000.0
    with pytest.raises(RecordingError) as info:
        open_recording(path, fs=1000)
    assert info.value.problem == (
        "the file states a sample rate of 2000 Hz but fs=1000 Hz was given"
    )


def test_modality_override_and_sensor(data_dir: Path) -> None:
    with open_recording(data_dir / FOLDER / FIXTURES[1][0], modality="acc", sensor="s1") as rec:
        assert [(s.sensor, s.modality) for s in rec.streams] == [("s1", "acc")]
