"""Writers round-trip through independent readers (numpy, pyedflib, scipy), not our own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyedflib
import pytest
import scipy.io.wavfile

from monitor.core.errors import MonitorError
from simulators.errors import UnknownFormatError
from simulators.writers import format_for, open_writer, write_recording

EMG = ("emg_1", "emg_2", "emg_3")


def signal(n: int = 5000, c: int = 3, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((c, n)) * scale).astype(np.float32)


def odd_chunks(x: np.ndarray, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, x.shape[1]), size=17, replace=False))
    return np.split(x, cuts, axis=1)


def read_edf(path: Path) -> tuple[np.ndarray, pyedflib.EdfReader]:
    reader = pyedflib.EdfReader(str(path))
    data = np.array([reader.readSignal(i) for i in range(reader.signals_in_file)])
    return data, reader


def test_csv_round_trip_exact(tmp_path: Path) -> None:
    x = signal(3000)
    path = tmp_path / "rec.csv"
    report = write_recording(path, odd_chunks(x), fs=1500.0, channels=EMG, unit="mV")
    assert path.read_text().splitlines()[0] == "time,emg_1,emg_2,emg_3"
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    assert table.shape == (3000, 4)
    assert np.allclose(table[:, 0], np.arange(3000) / 1500.0, atol=1e-6)
    assert np.array_equal(table[:, 1:].T.astype(np.float32), x)
    assert (report.format, report.n_samples, report.unit_in_file) == ("csv", 3000, False)


def test_acc_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "a.CSV"
    write_recording(path, [signal(10)], fs=50.0, channels=("acc_x", "acc_y", "acc_z"), unit="m/s^2")
    assert path.read_text().splitlines()[0] == "time,acc_x,acc_y,acc_z"


@pytest.mark.parametrize(("ext", "levels"), [(".edf", 2**16), (".bdf", 2**24)])
def test_edf_bdf_round_trip(tmp_path: Path, ext: str, levels: int) -> None:
    fs, pr = 1024.0, 5.0
    x = signal(4 * 1024, scale=1.0)
    path = tmp_path / f"rec{ext}"
    report = write_recording(path, odd_chunks(x), fs=fs, channels=EMG, unit="mV", physical_range=pr)
    assert report.padded_samples == 0 and report.clipped_samples == 0 and report.unit_in_file
    data, reader = read_edf(path)
    try:
        assert reader.getSignalLabels() == list(EMG)
        assert all(reader.getPhysicalDimension(i) == "mV" for i in range(3))
        assert all(reader.getSampleFrequency(i) == fs for i in range(3))
        assert reader.getPhysicalMaximum(0) == pr and reader.getPhysicalMinimum(0) == -pr
        assert reader.filetype == (
            pyedflib.FILETYPE_EDFPLUS if ext == ".edf" else pyedflib.FILETYPE_BDFPLUS
        )
    finally:
        reader.close()
    lsb = 2 * pr / (levels - 1)
    assert data.shape == x.shape
    assert np.max(np.abs(data - x)) <= 0.51 * lsb + 1e-9


def test_edf_clips_and_counts_and_pads(tmp_path: Path) -> None:
    x = signal(2500, scale=1.0)
    path = tmp_path / "clip.edf"
    report = write_recording(path, [x], fs=1000.0, channels=EMG, unit="mV", physical_range=1.0)
    assert report.clipped_samples == int(np.count_nonzero(np.abs(x) > 1.0)) > 0
    assert report.padded_samples == 500 and report.n_samples == 3000
    data, reader = read_edf(path)
    reader.close()
    assert data.max() <= 1.0 and data.min() >= -1.0
    assert np.all(data[:, 2500:] == pytest.approx(0.0, abs=1e-4))


def test_wav_float32_round_trip(tmp_path: Path) -> None:
    x = signal(4000)
    path = tmp_path / "rec.wav"
    report = write_recording(path, odd_chunks(x), fs=2000.0, channels=EMG, unit="mV")
    rate, data = scipy.io.wavfile.read(path)
    assert rate == 2000 and data.dtype == np.float32
    assert np.array_equal(data.T, x)
    assert report.unit_in_file is False and report.format == "wav"


def test_wav_needs_integer_rate(tmp_path: Path) -> None:
    with pytest.raises(MonitorError, match="integer sample rate"):
        write_recording(tmp_path / "x.wav", [signal(10)], fs=1000.5, channels=EMG, unit="mV")


@pytest.mark.parametrize("name", ["rec.txt", "rec", "rec.edf.gz"])
def test_unknown_extension_is_a_clear_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnknownFormatError) as err:
        write_recording(tmp_path / name, [signal(10)], fs=100.0, channels=EMG, unit="mV")
    assert isinstance(err.value, MonitorError) and isinstance(err.value, ValueError)
    assert repr(Path(name).suffix or "(none)") in str(err.value)
    assert ".edf" in str(err.value)
    assert not (tmp_path / name).exists()


def test_format_for_is_case_insensitive() -> None:
    assert [format_for(p) for p in ("a.EDF", "b.Bdf", "c.csv", "d.WAV")] == [
        "edf",
        "bdf",
        "csv",
        "wav",
    ]


def test_failed_write_removes_the_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.edf"

    def chunks():
        yield signal(1000)
        yield signal(1000, c=2)  # wrong channel count

    with pytest.raises(ValueError, match="chunks must be"):
        write_recording(path, chunks(), fs=1000.0, channels=EMG, unit="mV")
    assert not path.exists()


def test_writer_context_manager(tmp_path: Path) -> None:
    with open_writer(tmp_path / "w.csv", fs=10.0, channels=("emg_1",), unit="mV") as w:
        w.write(np.ones((1, 5)))
        w.write(np.zeros((1, 0)))
    assert w.close().n_samples == 5
