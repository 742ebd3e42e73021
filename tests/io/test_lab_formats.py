"""Lab formats (issue #13): XDF from Lab Streaming Layer, C3D analog channels and
OpenSignals text files, each built here from the format's specification; channels, rates,
units and sample values exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from xdf_writer import XdfStream, write_xdf

from monitor.core.errors import RecordingError
from monitor.inputs.files.recording import open_recording

G = 9.80665


def read_all(
    path: Path, **kwargs: object
) -> tuple[object, dict[str, np.ndarray], dict[str, list[float]]]:
    with open_recording(path, **kwargs) as rec:  # type: ignore[arg-type]
        data: dict[str, list[np.ndarray]] = {}
        starts: dict[str, list[float]] = {}
        for b in rec.blocks(1.0):
            data.setdefault(b.modality, []).append(b.data)
            starts.setdefault(b.modality, []).append(b.t0)
        return rec, {k: np.concatenate(v, axis=1) for k, v in data.items()}, starts


def test_xdf_streams_labels_units_and_times(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    emg = rng.standard_normal((20000, 2)).astype(np.float32)
    acc = rng.standard_normal((1000, 3)).astype(np.float32)
    t_emg = 1234.5 + np.arange(20000) / 2000.0
    t_acc = 1235.0 + np.arange(1000) / 100.0
    path = tmp_path / "session.xdf"
    write_xdf(
        path,
        [
            XdfStream("Delsys", "EMG", 2000.0, ["R_VL", "R_RF"], ["mV", "mV"], t_emg, emg),
            XdfStream("IMU", "Accelerometer", 100.0, ["x", "y", "z"], ["g", "g", "g"], t_acc, acc),
            XdfStream("Markers", "Markers", 0.0, ["m"], [""], np.array([1236.0]), ["start"]),
        ],
    )
    rec, data, starts = read_all(path)
    by_mod = {s.modality: s for s in rec.streams}  # type: ignore[attr-defined]
    assert by_mod["emg"].fs == 2000.0 and by_mod["emg"].channels == ("R_VL", "R_RF")
    assert by_mod["emg"].unit == "mV"
    assert by_mod["acc"].fs == 100.0 and by_mod["acc"].unit == "m/s^2"
    np.testing.assert_array_equal(data["emg"], emg.T)
    np.testing.assert_allclose(data["acc"], acc.T * G, rtol=1e-6)
    assert starts["emg"][0] == pytest.approx(0.0) and starts["acc"][0] == pytest.approx(0.5)
    assert any("'Markers'" in n for n in rec.notes)  # type: ignore[attr-defined]


def test_xdf_irregular_stream_is_resampled(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    t = 10.0 + np.cumsum(rng.uniform(0.005, 0.015, 3000))
    values = np.stack([2 * t + 1, -t, t * 0.5], axis=1).astype(np.float32)
    path = tmp_path / "phone.xdf"
    write_xdf(path, [XdfStream("phone", "ACC", 0.0, ["x", "y", "z"], ["m/s^2"] * 3, t, values)])
    rec, data, _starts = read_all(path)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.fs == pytest.approx(100.0, rel=0.03)
    grid = np.arange(data["acc"].shape[1]) / info.fs + (t[0] - t[0])
    np.testing.assert_allclose(data["acc"][0], 2 * (grid + t[0]) + 1, rtol=1e-5)
    assert any("resampled" in n for n in rec.notes)  # type: ignore[attr-defined]


def test_not_an_xdf_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.xdf"
    path.write_bytes(b"XDF:garbage")
    with pytest.raises(RecordingError) as info:
        open_recording(path)
    assert "\n" not in info.value.problem


def test_c3d_analog_emg_channels_without_the_force_plate(tmp_path: Path) -> None:
    ezc3d = pytest.importorskip("ezc3d")
    rng = np.random.default_rng(2)
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("LASI",)
    c["data"]["points"] = np.ones((4, 1, 100))
    c["parameters"]["ANALOG"]["RATE"]["value"] = [1000]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ("EMG1", "R_TA_EMG", "Fx1")
    c["parameters"]["ANALOG"]["UNITS"]["value"] = ("V", "V", "N")
    analogs = rng.standard_normal((1, 3, 1000)).astype(np.float32)
    c["data"]["analogs"] = analogs.astype(np.float64)
    path = tmp_path / "trial.c3d"
    c.write(str(path))
    rec, data, _ = read_all(path)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.modality == "emg" and info.fs == 1000.0 and info.unit == "V"
    assert info.channels == ("EMG1", "R_TA_EMG")
    np.testing.assert_array_equal(data["emg"], analogs[0, :2])
    assert any("'Fx1'" in n for n in rec.notes)  # type: ignore[attr-defined]


def opensignals_text(rows: np.ndarray, fs: int = 1000) -> str:
    header = {
        "00:07:80:3B:46:61": {
            "sensor": ["EMG", "ACC", "ACC", "ACC", "ECG"],
            "device name": "00:07:80:3B:46:61",
            "column": ["nSeq", "DI", "CH1", "CH2", "CH3", "CH4", "CH5"],
            "sync interval": 2,
            "time": "14:32:26.373",
            "channels": [1, 2, 3, 4, 5],
            "date": "2017-5-3",
            "mode": 0,
            "device": "biosignalsplux",
            "sampling rate": fs,
            "label": ["CH1", "CH2", "CH3", "CH4", "CH5"],
            "resolution": [16, 16, 16, 16, 16],
        }
    }
    lines = [
        "# OpenSignals Text File Format. Version 1",
        "# " + json.dumps(header),
        "# EndOfHeader",
    ]
    lines += ["\t".join(str(int(v)) for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def test_opensignals_text_emg_counts_and_acc_in_m_s2(tmp_path: Path) -> None:
    n = 3000
    rng = np.random.default_rng(3)
    rows = np.zeros((n, 7))
    rows[:, 0] = np.arange(n) % 16
    rows[:, 2] = 32768 + rng.integers(-3000, 3000, n)
    rows[:, 3] = 33000  # 0 g
    rows[:, 4] = 38000  # +1 g
    rows[:, 5] = 28000  # -1 g
    rows[:, 6] = 30000
    path = tmp_path / "opensignals_000780.txt"
    path.write_text(opensignals_text(rows))
    rec, data, _ = read_all(path)
    by_mod = {s.modality: s for s in rec.streams}  # type: ignore[attr-defined]
    assert by_mod["emg"].fs == 1000.0 and by_mod["emg"].unit == "counts"
    np.testing.assert_array_equal(data["emg"][0], rows[:, 2].astype(np.float32))
    np.testing.assert_allclose(data["acc"][:, 0], [0.0, G, -G], atol=1e-5)
    assert any("ECG" in n for n in rec.notes)  # type: ignore[attr-defined]


def opensignals_h5(path: Path, rows: np.ndarray, fs: int = 1000) -> None:
    """The layout OpenSignals writes: a group per device (its MAC), ``sampling rate`` and
    ``resolution`` attributes, ``raw/channel_k`` datasets (n x 1) with a ``sensor``
    attribute, ``raw/nSeq`` beside them."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        dev = f.create_group("00:07:80:3B:46:61")
        dev.attrs["sampling rate"] = fs
        dev.attrs["resolution"] = np.array([16, 16, 16, 16, 16])
        dev.attrs["nsamples"] = rows.shape[0]
        dev.attrs["device"] = b"biosignalsplux"
        raw = dev.create_group("raw")
        raw.create_dataset("nSeq", data=rows[:, :1].astype(np.uint16))
        for k, sensor in enumerate([b"EMG", b"ACC", b"ACC", b"ACC", b"ECG"], start=1):
            ds = raw.create_dataset(f"channel_{k}", data=rows[:, 1 + k : 2 + k].astype(np.uint16))
            ds.attrs["sensor"] = sensor
        dev.create_group("digital").create_dataset("digital_1", data=np.zeros((rows.shape[0], 1)))


def test_opensignals_h5_gives_what_the_same_text_file_gives(tmp_path: Path) -> None:
    n = 3000
    rng = np.random.default_rng(5)
    rows = np.zeros((n, 7))
    rows[:, 0] = np.arange(n) % 16
    rows[:, 2] = 32768 + rng.integers(-3000, 3000, n)
    rows[:, 3] = 33000  # 0 g
    rows[:, 4] = 38000  # +1 g
    rows[:, 5] = 28000 + rng.integers(0, 10, n)
    rows[:, 6] = 30000
    text = tmp_path / "opensignals_000780.txt"
    text.write_text(opensignals_text(rows))
    h5 = tmp_path / "opensignals_000780.h5"
    opensignals_h5(h5, rows)
    rec_t, data_t, _ = read_all(text)
    rec_h, data_h, _ = read_all(h5)
    assert rec_t.notes == rec_h.notes  # type: ignore[attr-defined]
    by_mod = {s.modality: s for s in rec_h.streams}  # type: ignore[attr-defined]
    assert by_mod["emg"].fs == 1000.0 and by_mod["emg"].unit == "counts"
    assert by_mod["acc"].unit == "m/s^2" and len(by_mod["acc"].channels) == 3
    np.testing.assert_array_equal(data_h["emg"][0], rows[:, 2].astype(np.float32))
    np.testing.assert_allclose(data_h["acc"][:2, 0], [0.0, G], atol=1e-5)
    for modality in ("emg", "acc"):
        np.testing.assert_array_equal(data_h[modality], data_t[modality])
    assert any("ECG" in n for n in rec_h.notes)  # type: ignore[attr-defined]


def test_an_h5_file_that_is_not_opensignals_is_refused_with_a_reason(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("amplifier_data", data=np.zeros((4, 10)))
    with pytest.raises(RecordingError, match="no OpenSignals device"):
        open_recording(path)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(RecordingError, match="not an HDF5 file"):
        open_recording(junk)


def test_a_txt_table_that_is_not_opensignals_is_read_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("time\temg\n" + "".join(f"{i / 500}\t{i % 5}\n" for i in range(1000)))
    rec, data, _ = read_all(path)
    assert rec.streams[0].fs == 500.0  # type: ignore[attr-defined]
    assert data["emg"].shape == (1, 1000)
