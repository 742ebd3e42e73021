"""WFDB reader: the PhysioNet fixtures against their raw bytes, and broken headers written here."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from monitor.core.errors import RecordingError
from monitor.core.model import SampleBlock
from monitor.inputs.files import open_recording
from monitor.inputs.files.wfdb_record import normalise_unit

Join = Callable[[Iterable[SampleBlock]], dict[tuple[str, str], np.ndarray]]
FOLDER = "wfdb_physionet_emgdb"
RECORDS = {"emg_healthy": 50860, "emg_myopathy": 110337, "emg_neuropathy": 147858}


@pytest.mark.parametrize("record", sorted(RECORDS))
@pytest.mark.parametrize("form", ["", ".hea", ".dat"])
def test_fixtures_match_the_raw_samples(data_dir: Path, join: Join, record: str, form: str) -> None:
    base = data_dir / FOLDER / record
    path = Path(f"{base}{form}")
    expected = (np.fromfile(f"{base}.dat", "<i2") / 10000).astype(np.float32)
    with open_recording(path) as rec:
        (info,) = rec.streams
        assert (info.sensor, info.modality, info.fs, info.unit) == (record, "emg", 4000.0, "mV")
        assert info.channels == ("EMG",)
        assert info.n_samples == RECORDS[record] == expected.size
        data = join(rec.blocks(0.75))[(record, "emg")]
    np.testing.assert_array_equal(data[0], expected)


def test_lower_case_mv_is_normalised(data_dir: Path) -> None:
    assert "10000/mv" in (data_dir / FOLDER / "emg_myopathy.hea").read_text()
    with open_recording(data_dir / FOLDER / "emg_myopathy") as rec:
        assert rec.streams[0].unit == "mV"


@pytest.mark.parametrize(
    ("raw", "unit"), [("mv", "mV"), ("uv", "uV"), ("µV", "uV"), ("", "a.u."), ("mmHg", "mmHg")]
)
def test_normalise_unit(raw: str, unit: str) -> None:
    assert normalise_unit(raw) == unit


@pytest.mark.parametrize("chunk_s", [0.0001, 0.01, 1.0, 100.0])
def test_chunk_sizes(data_dir: Path, join: Join, chunk_s: float) -> None:
    base = data_dir / FOLDER / "emg_healthy"
    expected = (np.fromfile(f"{base}.dat", "<i2") / 10000).astype(np.float32)
    with open_recording(base) as rec:
        if chunk_s < 0.001:  # one sample per block: check the head only, to stay fast
            blocks = [b for _, b in zip(range(500), rec.blocks(chunk_s), strict=False)]
            data = np.concatenate([b.data for b in blocks], axis=1)[0]
            np.testing.assert_array_equal(data, expected[:500])
            return
        data = join(rec.blocks(chunk_s))[("emg_healthy", "emg")]
    np.testing.assert_array_equal(data[0], expected)


def _record(folder: Path, header: str, samples: np.ndarray | None = None) -> Path:
    (folder / "r.hea").write_text(header)
    if samples is not None:
        samples.astype("<i2").tofile(folder / "r.dat")
    return folder / "r"


def test_frames_with_two_rates_give_two_streams(tmp_path: Path, join: Join) -> None:
    n = 40
    emg = np.arange(2 * n) * 10
    acc = np.arange(n) * -3
    frames = np.column_stack([emg.reshape(n, 2), acc])
    header = (
        f"r 2 100 {n}\nr.dat 16x2 1000/mv 16 0 0 0 0 EMG\nr.dat 16 100/m/s^2 16 0 0 0 0 ACC_X\n"
    )
    path = _record(tmp_path, header, frames)
    with open_recording(path) as rec:
        assert [(s.modality, s.fs, s.unit, s.n_samples) for s in rec.streams] == [
            ("emg", 200.0, "mV", 2 * n),
            ("acc", 100.0, "m/s^2", n),
        ]
        blocks = list(rec.blocks(0.05))
    assert [b.t0 for b in blocks] == sorted(b.t0 for b in blocks)
    joined = join(blocks)
    np.testing.assert_allclose(joined[("r", "emg")][0], emg / 1000, rtol=1e-6)
    np.testing.assert_allclose(joined[("r", "acc")][0], acc / 100, rtol=1e-6)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("r 1 abc 10\nr.dat 16 200/mV 16 0 0 0 0 EMG\n", "sample rate 'abc' is not a positive"),
        ("r 1 0 10\nr.dat 16 200/mV 16 0 0 0 0 EMG\n", "sample rate '0' is not a positive"),
        ("r 1 100 ten\nr.dat 16 200/mV 16 0 0 0 0 EMG\n", "signal length 'ten' is not a whole"),
        ("r\n", "the number of signals is missing"),
        ("# only a comment\n", "WFDB header has no record line"),
        ("r 2 100 10\nr.dat 16 200/mV 16 0 0 0 0 EMG\n", "declares 2 signals but describes 1"),
        ("r 1 100\nr.dat 16 200/mV 16 0 0 0 0 EMG\n", "does not give the signal length"),
        ("r 1 100 0\nr.dat 16 200/mV 16 0 0 0 0 EMG\n", "signal length 0"),
        ("r 0 100 10\n", "declares no signals"),
        ("r/2 1 100 10\nr_1 5\nr_2 5\n", "multi-segment WFDB records are not supported"),
        ("bad line\n", "number of signals is missing"),
    ],
)
def test_header_problems(tmp_path: Path, header: str, expected: str) -> None:
    path = _record(tmp_path, header, np.zeros(10))
    with pytest.raises(RecordingError) as info:
        open_recording(path)
    assert expected in info.value.problem
    assert "\n" not in info.value.problem


def test_unparseable_signal_line(tmp_path: Path) -> None:
    path = _record(tmp_path, "r 1 100 10\nr.dat\n", np.zeros(10))
    with pytest.raises(RecordingError, match="bad WFDB header"):
        open_recording(path)


def test_missing_signal_file(tmp_path: Path) -> None:
    path = _record(tmp_path, "r 1 100 10\nr.dat 16 200/mV 16 0 0 0 0 EMG\n")
    with pytest.raises(RecordingError) as info:
        open_recording(path)
    assert info.value.problem == "signal file r.dat named in the header is missing"


def test_truncated_signal_file(tmp_path: Path) -> None:
    path = _record(tmp_path, "r 1 100 10\nr.dat 16 200/mV 16 0 0 0 0 EMG\n", np.zeros(7))
    with pytest.raises(RecordingError) as info:
        open_recording(path)
    assert info.value.problem == "signal file r.dat is truncated: 14 bytes, the header implies 20"


def test_truncated_while_reading(tmp_path: Path, data_dir: Path) -> None:
    for ext in (".hea", ".dat"):
        shutil.copy(data_dir / FOLDER / f"emg_healthy{ext}", tmp_path / f"emg_healthy{ext}")
    rec = open_recording(tmp_path / "emg_healthy")
    with (tmp_path / "emg_healthy.dat").open("r+b") as f:
        f.truncate(1000)
    with rec, pytest.raises(RecordingError, match="WFDB read of frames"):
        list(rec.blocks())


def test_dat_without_header(tmp_path: Path) -> None:
    (tmp_path / "lone.dat").write_bytes(b"\x00\x01" * 10)
    with pytest.raises(RecordingError) as info:
        open_recording(tmp_path / "lone.dat")
    assert info.value.problem == "WFDB header lone.hea not found beside the signal file"


def test_explicit_fs_must_agree(data_dir: Path) -> None:
    with pytest.raises(RecordingError) as info:
        open_recording(data_dir / FOLDER / "emg_healthy", fs=2000)
    assert info.value.problem == (
        "the file states a sample rate of 4000 Hz but fs=2000 Hz was given"
    )
