"""CSV exports as users bring them (issue #13): every dialect reads, gives the samples of a
clean copy, and says what it guessed; what cannot be understood gets one line."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from monitor.core.config import Settings
from monitor.core.errors import RecordingError
from monitor.inputs.files.csv_dialect import CsvOptions
from monitor.inputs.files.recording import open_recording
from monitor.replay import replay

G = 9.80665


def signal(n: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Values that survive printing with 6 decimals exactly as float32 would read them."""
    rng = np.random.default_rng(seed)
    return np.round(rng.standard_normal((channels, n)), 6)


def read(path: Path, **kwargs: object) -> tuple[np.ndarray, list[float], object]:
    with open_recording(path, **kwargs) as rec:  # type: ignore[arg-type]
        blocks = list(rec.blocks(1.0))
        data = np.concatenate([b.data for b in blocks], axis=1)
        return data, [b.t0 for b in blocks], rec


def notes_of(path: Path, **kwargs: object) -> tuple[str, ...]:
    with open_recording(path, **kwargs) as rec:  # type: ignore[arg-type]
        return tuple(getattr(rec, "notes", ()))


def test_comment_preamble_and_a_t_s_column(tmp_path: Path) -> None:
    # Before: "ragged row" on the comment line.
    x = signal(3000, 1)
    t = np.arange(3000) / 1000.0
    body = "".join(f"{a:.3f},{b:.6f}\n" for a, b in zip(t, x[0], strict=True))
    path = tmp_path / "export.csv"
    path.write_text("# converted from device.bin\n# 2024-05-01\nt_s,channel_2\n" + body)
    data, starts, rec = read(path, modality="emg")
    assert rec.streams[0].fs == 1000.0  # type: ignore[attr-defined]
    assert rec.streams[0].channels == ("channel_2",)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(data, x.astype(np.float32))
    assert starts[0] == 0.0


def test_semicolons_and_decimal_commas_with_a_time_s_header(tmp_path: Path) -> None:
    x = signal(500, 2)
    t = np.arange(500) / 100.0
    lines = [
        f"{a:.2f};{b:.6f};{c:.6f}".replace(".", ",") for a, b, c in zip(t, x[0], x[1], strict=True)
    ]
    path = tmp_path / "excel.csv"
    path.write_text("Time (s);acc_x;acc_y\n" + "\n".join(lines) + "\n")
    data, _, rec = read(path)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.fs == 100.0 and info.modality == "acc" and info.channels == ("acc_x", "acc_y")
    np.testing.assert_array_equal(data, x.astype(np.float32))


def test_tab_separated_with_a_timestamp_ms_column(tmp_path: Path) -> None:
    x = signal(2000, 1)
    t = 1000.0 + np.arange(2000) * 0.5  # ms
    path = tmp_path / "lab.tsv.csv"
    path.write_text(
        "timestamp_ms\temg\n" + "".join(f"{a:.1f}\t{b:.6f}\n" for a, b in zip(t, x[0], strict=True))
    )
    data, starts, rec = read(path)
    assert rec.streams[0].fs == 2000.0  # type: ignore[attr-defined]
    assert starts[0] == pytest.approx(1.0)  # relative ms times keep their offset, in s
    np.testing.assert_array_equal(data, x.astype(np.float32))


def test_a_headerless_phone_export_with_epoch_nanoseconds_and_a_label(tmp_path: Path) -> None:
    # WISDM-like rows: user, activity label, epoch ns, x, y, z, and a ';' on every line.
    # Before: "line 1 must be a header row".
    x = signal(1000, 3)
    t = 1_553_180_280_000_000_000 + np.arange(1000) * 50_000_000  # 20 Hz
    lines = [
        f"1600,A,{ts},{a:.6f},{b:.6f},{c:.6f};"
        for ts, a, b, c in zip(t, x[0], x[1], x[2], strict=True)
    ]
    path = tmp_path / "wisdm.csv"
    path.write_text("\n".join(lines) + "\n")
    opts = CsvOptions(columns=("-", "activity", "ts", "x", "y", "z"))
    data, starts, rec = read(path, modality="acc", csv=opts)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.fs == 20.0 and info.channels == ("x", "y", "z")
    assert starts[0] == 0.0
    np.testing.assert_array_equal(data, x.astype(np.float32))
    notes = " | ".join(rec.notes)  # type: ignore[attr-defined]
    assert "'activity' holds text" in notes and "starts 2019-03-21T14:58:00.000" in notes


def test_date_time_text_with_a_colon_before_the_milliseconds(tmp_path: Path) -> None:
    # Before: "'2019-03-21 14:58:00:500' is not a number".
    x = signal(400, 3)
    base = np.datetime64("2019-03-21T14:58:00.000")
    ts = [str(base + np.timedelta64(20 * i, "ms")).replace("T", " ") for i in range(400)]
    ts = [s[:19] + ":" + s[20:23] for s in ts]  # 2019-03-21 14:58:00:020
    path = tmp_path / "phone.csv"
    path.write_text(
        "ts,acc_x,acc_y,acc_z\n"
        + "".join(f"{s},{a:.6f},{b:.6f},{c:.6f}\n" for s, a, b, c in zip(ts, *x, strict=True))
    )
    data, _, rec = read(path)
    assert rec.streams[0].fs == 50.0  # type: ignore[attr-defined]
    np.testing.assert_array_equal(data, x.astype(np.float32))


def test_a_wrist_logger_export_with_three_time_columns_and_units_in_g(tmp_path: Path) -> None:
    # MetaWear-style: epoch (ms), a date-time, elapsed (s), then axes in g. Only one time
    # column is time; none of them is a signal; g becomes m/s^2.
    x = signal(500, 3)
    rows = [
        f"{1553180280000 + 40 * i},2019-03-21T14:58:{i * 0.04:06.3f},{i * 0.04:.3f},"
        f"{a:.6f},{b:.6f},{c:.6f}"
        for i, (a, b, c) in enumerate(zip(*x, strict=True))
    ]
    path = tmp_path / "metawear.csv"
    path.write_text(
        "epoch (ms),timestamp (+0100),elapsed (s),x-axis (g),y-axis (g),z-axis (g)\n"
        + "\n".join(rows)
        + "\n"
    )
    data, _, rec = read(path)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.modality == "acc" and info.unit == "m/s^2" and info.fs == 25.0
    assert info.channels == ("x-axis", "y-axis", "z-axis")
    np.testing.assert_allclose(data, (x * G).astype(np.float32), rtol=1e-6)


def test_columns_skip_channels_select_and_unit_converts(tmp_path: Path) -> None:
    x = signal(200, 3)
    path = tmp_path / "raw.csv"
    path.write_text(
        "".join(
            f"{i * 0.01:.2f},9,{a:.6f},{b:.6f},{c:.6f}\n"
            for i, (a, b, c) in enumerate(zip(*x, strict=True))
        )
    )
    opts = CsvOptions(columns=("t", "-", "ax", "ay", "az"), channels=("ax", "az"), unit="g")
    data, _, rec = read(path, modality="acc", csv=opts)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.channels == ("ax", "az") and info.unit == "m/s^2" and info.fs == 100.0
    np.testing.assert_allclose(data, (x[[0, 2]] * G).astype(np.float32), rtol=1e-6)


def test_irregular_phone_timestamps_are_resampled_and_a_pause_stays_a_gap(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    steps = rng.uniform(0.003, 0.019, 3000)  # 3-19 ms around 11 ms
    steps[1500] = 2.0  # the phone was busy for 2 s
    t = 5.0 + np.concatenate([[0.0], np.cumsum(steps)])
    # A linear signal: linear interpolation reproduces it exactly on any grid.
    path = tmp_path / "phone.csv"
    path.write_text("time,acc_x\n" + "".join(f"{a:.6f},{2 * a + 1:.6f}\n" for a in t))
    with open_recording(path) as rec:
        (info,) = rec.streams
        notes = " | ".join(rec.notes)  # type: ignore[attr-defined]
        blocks = list(rec.blocks(1.0))
    assert info.fs == pytest.approx(1 / np.median(steps[steps < 1]), rel=0.02)
    assert "resampled" in notes and "1 gap(s)" in notes
    for b in blocks:
        grid = b.t0 + np.arange(b.n_samples) / b.fs
        np.testing.assert_allclose(b.data[0], 2 * grid + 1, atol=2e-5)
    jumps = [b.t0 - a.t_end for a, b in itertools.pairwise(blocks)]
    assert sum(j > 1.5 for j in jumps) == 1 and all(j > -1e-9 for j in jumps)


def test_an_unreadable_time_column_is_named_with_an_example(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("when,emg\n21/03/2019 14h58,1\n21/03/2019 14h59,2\n")
    with pytest.raises(RecordingError) as info:
        read(path, csv=CsvOptions(time_column="when"))
    message = info.value.problem
    assert "'when'" in message and "'21/03/2019 14h58'" in message
    assert "--time-format" in message and "\n" not in message


def test_a_second_time_column_is_never_a_signal(tmp_path: Path) -> None:
    path = tmp_path / "two_clocks.csv"
    path.write_text(
        "time,elapsed_ms,emg\n" + "".join(f"{i / 1000},{i},{i % 7}\n" for i in range(3000))
    )
    _, _, rec = read(path)
    assert rec.streams[0].channels == ("emg",)  # type: ignore[attr-defined]
    assert any("another time column" in n for n in rec.notes)  # type: ignore[attr-defined]


def test_a_messy_export_gives_the_features_of_a_clean_copy(tmp_path: Path) -> None:
    # The same 40 s of 2-channel EMG, once as the strict CSV and once as a spreadsheet
    # export (preamble, ';', decimal comma, 'Time (ms)'): identical features and events.
    from simulators.emg import EmgGenerator, EmgScenario

    sc = EmgScenario(fs=1000.0, n_channels=2, duration_s=40.0, onset_s=10.0)
    x = np.round(EmgGenerator(sc, np.random.default_rng(5)).read(sc.n_samples), 6)
    fs = sc.fs
    t = np.arange(x.shape[1]) / fs
    clean = tmp_path / "clean.csv"
    clean.write_text(
        "time,emg_1,emg_2\n"
        + "".join(f"{float(a)!r},{b:.6f},{c:.6f}\n" for a, b, c in zip(t, x[0], x[1], strict=True))
    )
    messy = tmp_path / "messy.csv"
    messy.write_text(
        "# exported by AmpSoft 3.2\nTime (ms);emg_1;emg_2\n"
        + "".join(
            f"{a * 1000:.1f};{b:.6f};{c:.6f}\n".replace(".", ",")
            for a, b, c in zip(t, x[0], x[1], strict=True)
        )
    )

    class Rows:
        def __init__(self) -> None:
            self.rows: list[tuple[float, str, float]] = []

        def frames(self, frames: list) -> None:  # type: ignore[type-arg]
            for f in frames:
                for i, ch in enumerate(f.channels):
                    self.rows.append((f.t, ch, float(f.features["mdf_hz"][i])))

        def events(self, events: list) -> None:  # type: ignore[type-arg]
            return None

    a, b = Rows(), Rows()
    replay([clean], Settings(), sinks=[a])
    replay([messy], Settings(), sinks=[b])
    assert len(a.rows) > 100
    assert a.rows == b.rows


def test_no_window_spans_a_gap_in_a_replayed_export(tmp_path: Path) -> None:
    # Before: replay fed the block after a pause as if it continued the last one, so
    # windows straddled the pause with a sample-rate error of the pause's length.
    rng = np.random.default_rng(4)
    t = np.concatenate([np.arange(2000) * 0.01, 30.0 + np.arange(2000) * 0.01])
    t += rng.uniform(-0.002, 0.002, t.size)
    x = rng.standard_normal((3, t.size))
    path = tmp_path / "paused.csv"
    path.write_text(
        "elapsed (s),acc_x,acc_y,acc_z\n"
        + "".join(f"{a:.4f},{b:.5f},{c:.5f},{d:.5f}\n" for a, b, c, d in zip(t, *x, strict=True))
    )

    class Times:
        def __init__(self) -> None:
            self.t: list[float] = []

        def frames(self, frames: list) -> None:  # type: ignore[type-arg]
            self.t += [f.t for f in frames]

        def events(self, events: list) -> None:  # type: ignore[type-arg]
            return None

    sink = Times()
    replay([path], Settings(), sinks=[sink])
    window = Settings().dsp.acc.window_s
    assert sink.t and all(not (20.0 < tt < 30.0 + window - 1e-6) for tt in sink.t)
    assert any(tt > 30.0 + window for tt in sink.t)


def test_a_clock_coarser_than_the_samples_gives_the_rate_from_the_span(tmp_path: Path) -> None:
    # Millisecond stamps at 2 kHz: every other row repeats its stamp. The samples are
    # uniform, their stamps are not; dropping the repeats would halve the signal.
    x = signal(4000, 1)
    stamps = np.floor(np.arange(4000) / 2.0)  # ms
    path = tmp_path / "ms_clock.csv"
    path.write_text(
        "timestamp_ms,emg\n"
        + "".join(f"{int(a)},{b:.6f}\n" for a, b in zip(stamps, x[0], strict=True))
    )
    data, _, rec = read(path)
    assert rec.streams[0].fs == pytest.approx(2000.0, rel=1e-3)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(data, x.astype(np.float32))
    assert any("coarser than the samples" in n for n in rec.notes)  # type: ignore[attr-defined]


def test_a_units_row_under_the_header_and_a_time_of_day_column(tmp_path: Path) -> None:
    # Lab software: names, then units, then rows stamped with the time of day.
    x = signal(1000, 2)
    clock = [f"14:58:{i // 100:02d}.{(i % 100) * 10:03d}" for i in range(1000)]
    path = tmp_path / "lab.csv"
    path.write_text(
        "Clock,EMG L,EMG R\n-,mV,mV\n"
        + "".join(f"{c},{a:.6f},{b:.6f}\n" for c, a, b in zip(clock, *x, strict=True))
    )
    data, starts, rec = read(path)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.fs == 100.0 and info.unit == "mV" and info.channels == ("EMG L", "EMG R")
    assert starts[0] == 0.0
    np.testing.assert_array_equal(data, x.astype(np.float32))
    notes = " | ".join(rec.notes)  # type: ignore[attr-defined]
    assert "units" in notes and "14:58:00.000 (a time of day)" in notes


def actigraph_like(tmp_path: Path, scale: float) -> tuple[Path, np.ndarray]:
    """A wrist logger's raw export: ten lines of metadata, then the table, timestamps as
    M/d/yyyy, axes in g (scale 1) or m/s^2 (scale 9.80665), no unit in the header."""
    rng = np.random.default_rng(6)
    n = 900
    g_dir = np.array([0.1, -0.2, 0.97])
    x = (g_dir[:, None] / np.linalg.norm(g_dir) + 0.02 * rng.standard_normal((3, n))) * scale
    x = np.round(x, 4)
    preamble = [
        "------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.3 at 30 Hz -----",
        "Serial Number: MOS2D12345678",
        "Start Time 14:58:00",
        "Start Date 3/21/2019",
        "Epoch Period (hh:mm:ss) 00:00:00",
        "Download Time 10:00:00",
        "Download Date 3/22/2019",
        "Current Memory Address: 0",
        "Current Battery Voltage: 4.18     Mode = 12",
        "--------------------------------------------------",
    ]
    rows = []
    for i in range(n):
        ms = round(i * 1000 / 30)
        stamp = f"3/21/2019 14:{58 + ms // 60000}:{(ms // 1000) % 60:02d}.{ms % 1000:03d}"
        rows.append(f"{stamp},{x[0, i]},{x[1, i]},{x[2, i]}")
    path = tmp_path / "wrist.csv"
    path.write_text(
        "\n".join([*preamble, "Timestamp,Accelerometer X,Accelerometer Y,Accelerometer Z", *rows])
        + "\n"
    )
    return path, x


@pytest.mark.parametrize(("scale", "unit"), [(1.0, "g"), (G, "m/s^2")])
def test_a_logger_preamble_slash_dates_and_the_unit_told_by_gravity(
    tmp_path: Path, scale: float, unit: str
) -> None:
    # Before: "line 1 must be a header row"; and axes in g were taken for m/s^2.
    path, x = actigraph_like(tmp_path, scale)
    data, starts, rec = read(path)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.modality == "acc" and info.unit == "m/s^2"
    assert info.fs == pytest.approx(30.0, rel=0.01) and starts[0] == 0.0
    np.testing.assert_allclose(data, (x * (G / scale)).astype(np.float32), rtol=1e-5)
    notes = " | ".join(rec.notes)  # type: ignore[attr-defined]
    assert "preamble" in notes and f"values are in {unit} " in notes


def test_gravity_free_acceleration_is_not_taken_for_g(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    x = np.round(0.6 * rng.standard_normal((3, 2000)), 4)  # linear acceleration, m/s^2
    path = tmp_path / "linear.csv"
    path.write_text(
        "time,acc_x,acc_y,acc_z\n"
        + "".join(f"{i / 100},{a},{b},{c}\n" for i, (a, b, c) in enumerate(zip(*x, strict=True)))
    )
    data, _, _rec = read(path)
    np.testing.assert_allclose(data, x.astype(np.float32), rtol=1e-6)


# -- problems a review found in the first version (each failed before its fix) ----------


def test_a_rate_given_that_disagrees_with_an_exports_clock_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "comma.csv"
    path.write_text(
        "time;emg\n" + "".join(f"{i / 1000:.3f};{i % 7},5\n".replace(".", ",") for i in range(3000))
    )
    with pytest.raises(RecordingError, match="gives 1000 Hz but fs=2000 Hz"):
        read(path, fs=2000)
    assert read(path, fs=1000)[2].streams[0].n_samples == 3000  # type: ignore[attr-defined]


def test_a_sample_counter_in_a_headerless_file_is_no_clock(tmp_path: Path) -> None:
    x = signal(3000, 1)
    path = tmp_path / "counter.csv"
    path.write_text("".join(f"{i},{b:.6f}\n" for i, b in enumerate(x[0])))
    data, _, rec = read(path, fs=2000)
    (info,) = rec.streams  # type: ignore[attr-defined]
    assert info.fs == 2000.0 and info.n_samples == 3000
    np.testing.assert_array_equal(data[-1], x[0].astype(np.float32))


def test_a_signal_named_t_is_a_signal(tmp_path: Path) -> None:
    x = signal(500, 2)
    path = tmp_path / "named_t.csv"
    path.write_text("t,emg\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(*x, strict=True)))
    data, _, rec = read(path, fs=1000)
    assert rec.streams[0].channels == ("t", "emg")  # type: ignore[attr-defined]
    np.testing.assert_array_equal(data, x.astype(np.float32))


def test_axes_in_g_not_named_acc_are_an_accelerometer_stream(tmp_path: Path) -> None:
    x = signal(400, 4)
    path = tmp_path / "mixed.csv"
    path.write_text(
        "time;emg [mV];x [g];y [g];z [g]\n"
        + "".join(
            f"{i / 100:.2f};{a:.6f};{b:.6f};{c:.6f};{d:.6f}\n".replace(".", ",")
            for i, (a, b, c, d) in enumerate(zip(*x, strict=True))
        )
    )
    with open_recording(path) as rec:
        by_mod = {s.modality: s for s in rec.streams}
    assert by_mod["emg"].channels == ("emg",) and by_mod["emg"].unit == "mV"
    assert by_mod["acc"].channels == ("x", "y", "z") and by_mod["acc"].unit == "m/s^2"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("time;emg\n0,0;1,5\n", "needs --fs"),  # one row
        ("time;emg\n" + "0;1,5\n" * 20, "needs --fs"),  # a clock that never moves
    ],
)
def test_a_time_column_that_cannot_give_the_rate_is_one_line(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = tmp_path / "stuck.csv"
    path.write_text(body)
    with pytest.raises(RecordingError, match=expected):
        read(path)


def test_a_ragged_row_with_a_date_time_column_is_one_line(tmp_path: Path) -> None:
    rows = [f"0.1,0.2,0.3,2019-03-21T14:58:{i:02d}.000" for i in range(30)]
    rows[12] = "0.01,0.02,1.0"
    path = tmp_path / "ragged.csv"
    path.write_text("acc_x,acc_y,acc_z,time\n" + "\n".join(rows) + "\n")
    with pytest.raises(RecordingError, match=r"line 14 .*ragged row"):
        read(path)


def test_a_time_of_day_with_decimal_commas_crossing_midnight(tmp_path: Path) -> None:
    x = signal(2000, 1)
    base = 23 * 3600 + 59 * 60 + 50  # 23:59:50
    stamps = []
    for i in range(2000):
        s = (base + i * 0.01) % 86400
        stamps.append(f"{int(s // 3600):02d}:{int(s // 60 % 60):02d}:{s % 60:06.3f}")
    path = tmp_path / "night.csv"
    path.write_text(
        "clock;emg\n"
        + "".join(f"{a};{b:.6f}\n".replace(".", ",") for a, b in zip(stamps, x[0], strict=True))
    )
    data, _, rec = read(path)
    assert rec.streams[0].fs == 100.0  # type: ignore[attr-defined]
    np.testing.assert_array_equal(data, x.astype(np.float32))


def test_a_quoted_cell_holding_the_separator(tmp_path: Path) -> None:
    x = signal(300, 1)
    path = tmp_path / "quoted.csv"
    path.write_text(
        "time,label,emg\n" + "".join(f'{i / 100:.2f},"a, b",{b:.6f}\n' for i, b in enumerate(x[0]))
    )
    data, _, rec = read(path)
    assert rec.streams[0].channels == ("emg",)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(data, x.astype(np.float32))


def test_a_time_that_is_not_a_number_names_its_data_row(tmp_path: Path) -> None:
    rows = [f"{i / 100:.2f};{i % 3},5".replace(".", ",") for i in range(40)]
    rows[20] = "nan;1,5"
    path = tmp_path / "nan_time.csv"
    path.write_text("time;emg\n" + "\n".join(rows) + "\n")
    with pytest.raises(RecordingError, match=r"data row 21 .* holds nan, not a time"):
        read(path)
