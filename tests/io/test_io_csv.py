"""CSV reader: header, units, time column, chunking, every error with its line and column."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.errors import RecordingError
from monitor.core.model import SampleBlock
from monitor.inputs.files import csv_file, open_recording

WriteCsv = Callable[..., Path]
Join = Callable[[Iterable[SampleBlock]], dict[tuple[str, str], np.ndarray]]


def rows(n: int, fs: float = 1000.0, t0: float = 0.0, cols: int = 1) -> str:
    return "".join(
        f"{t0 + i / fs!r}," + ",".join(str(i * 10 + c) for c in range(cols)) + "\n"
        for i in range(n)
    )


def read_all(path: Path, **kwargs: object) -> int:
    with open_recording(path, **kwargs) as rec:  # type: ignore[arg-type]
        return sum(b.n_samples for b in rec.blocks())


def problem(path: Path, **kwargs: object) -> str:
    with pytest.raises(RecordingError) as info:
        read_all(path, **kwargs)
    assert info.value.path == path
    assert "\n" not in info.value.problem
    return info.value.problem


# -- happy paths -----------------------------------------------------------------------


def test_time_column_defines_fs_and_t0(write_csv: WriteCsv, join: Join) -> None:
    path = write_csv("time,emg_1\n" + rows(2500, fs=2000.0, t0=12.5))
    with open_recording(path) as rec:
        (info,) = rec.streams
        assert info.fs == 2000.0
        assert info.t0 == 12.5
        assert info.n_samples == 2500
        assert info.unit == "mV"
        assert info.channels == ("emg_1",)
        assert rec.duration_s == pytest.approx(1.25)
        blocks = list(rec.blocks(1.0))
    assert [b.t0 for b in blocks] == [12.5, 13.5]
    assert [b.seq for b in blocks] == [0, 1]
    data = join(blocks)[("rec", "emg")]
    np.testing.assert_array_equal(data[0], np.arange(2500) * 10.0)
    assert data.dtype == np.float32


def test_without_time_column_fs_is_required(write_csv: WriteCsv) -> None:
    path = write_csv("emg_1,emg_2\n1,2\n3,4\n")
    assert "needs --fs" in problem(path)
    with open_recording(path, fs=500) as rec:
        assert rec.streams[0].fs == 500.0
        assert rec.streams[0].t0 == 0.0
        (block,) = rec.blocks()
    np.testing.assert_array_equal(block.data, [[1, 3], [2, 4]])


def test_acc_and_emg_columns_give_two_streams(write_csv: WriteCsv, join: Join) -> None:
    body = "".join(f"{i / 100},{i},{-i},{2 * i},{i / 10}\n" for i in range(250))
    path = write_csv("time,acc_x,acc_y,acc_z,emg_1\n" + body, name="arm.csv")
    with open_recording(path) as rec:
        assert [(s.sensor, s.modality, s.channels, s.unit) for s in rec.streams] == [
            ("arm", "acc", ("acc_x", "acc_y", "acc_z"), "m/s^2"),
            ("arm", "emg", ("emg_1",), "mV"),
        ]
        blocks = list(rec.blocks(1.0))
    # interleaved in time order: acc 0, emg 0, acc 1, emg 1, ...
    assert [(b.modality, b.seq) for b in blocks[:4]] == [
        ("acc", 0),
        ("emg", 0),
        ("acc", 1),
        ("emg", 1),
    ]
    joined = join(blocks)
    np.testing.assert_array_equal(joined[("arm", "acc")][2], 2 * np.arange(250))
    np.testing.assert_allclose(joined[("arm", "emg")][0], np.arange(250) / 10, rtol=1e-6)


def test_units_in_header(write_csv: WriteCsv) -> None:
    path = write_csv("time [ms],emg_1 [uV],acc_x [g]\n0,1,2\n0.5,3,4\n1.0,5,6\n")
    with open_recording(path) as rec:
        assert rec.streams[0].fs == 2000.0
        assert [(s.modality, s.unit, s.channels) for s in rec.streams] == [
            ("emg", "uV", ("emg_1",)),
            ("acc", "g", ("acc_x",)),
        ]


def test_channels_of_one_modality_with_two_units_are_two_streams(write_csv: WriteCsv) -> None:
    path = write_csv("emg_1 [mV],emg_2 [uV]\n1,2\n", name="x.csv")
    with open_recording(path, fs=100) as rec:
        assert [(s.sensor, s.unit) for s in rec.streams] == [("x-mV", "mV"), ("x-uV", "uV")]


def test_nan_and_inf_pass_through(write_csv: WriteCsv) -> None:
    path = write_csv("time,emg_1,emg_2\n0,nan,1\n0.001,inf,-inf\n0.002,NaN,2\n")
    with open_recording(path) as rec:
        (block,) = rec.blocks()
    assert np.isnan(block.data[0, [0, 2]]).all()
    assert block.data[0, 1] == np.inf
    assert block.data[1, 1] == -np.inf


def test_crlf_bom_semicolon_quotes_and_trailing_blank_lines(write_csv: WriteCsv) -> None:
    path = write_csv('\ufeff"time";"emg_1"\r\n0;1\r\n0.01;"2"\r\n0.02;3\r\n\r\n\r\n')
    with open_recording(path) as rec:
        assert rec.streams[0].n_samples == 3
        assert rec.streams[0].fs == 100.0
        (block,) = rec.blocks()
    np.testing.assert_array_equal(block.data, [[1, 2, 3]])


def test_no_trailing_newline(write_csv: WriteCsv) -> None:
    path = write_csv("emg_1\n1\n2\n3")
    with open_recording(path, fs=10) as rec:
        (block,) = rec.blocks()
    np.testing.assert_array_equal(block.data, [[1, 2, 3]])


def test_time_jitter_below_half_a_period_is_tolerated(write_csv: WriteCsv) -> None:
    # 4 decimals at 3 kHz: each time is off the grid by up to 0.15 periods
    body = "".join(f"{i / 3000:.4f},{i}\n" for i in range(3001))
    path = write_csv("time,emg_1\n" + body)
    with open_recording(path) as rec:
        assert rec.streams[0].fs == 3000.0
        assert sum(b.n_samples for b in rec.blocks(0.1)) == 3001


def test_explicit_fs_agreeing_with_time_column(write_csv: WriteCsv) -> None:
    path = write_csv("time,emg_1\n" + rows(100, fs=1000.0))
    with open_recording(path, fs=1000.0) as rec:
        assert rec.streams[0].fs == 1000.0


def test_one_row_with_time_needs_fs(write_csv: WriteCsv) -> None:
    path = write_csv("time,emg_1\n3.0,1\n")
    assert "needs --fs" in problem(path)
    with open_recording(path, fs=100) as rec:
        assert rec.streams[0].t0 == 3.0


# -- chunking --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 700),
    cols=st.integers(1, 4),
    with_time=st.booleans(),
    chunk_s=st.sampled_from([0.0001, 0.003, 0.01, 0.037, 0.25, 1.0, 10.0]),
    batch_rows=st.integers(1, 300),
)
def test_chunks_concatenate_to_the_whole_signal(
    n: int, cols: int, with_time: bool, chunk_s: float, batch_rows: int
) -> None:
    rng = np.random.default_rng(n * 7 + cols)
    values = rng.standard_normal((n, cols)).astype(np.float32)
    names = [f"emg_{c + 1}" if c % 2 == 0 else f"acc_{c}" for c in range(cols)]
    header = (["time"] if with_time else []) + names
    lines = [",".join(header)]
    for i in range(n):
        cells = ([repr(i / 100.0)] if with_time else []) + [repr(float(v)) for v in values[i]]
        lines.append(",".join(cells))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.csv"
        path.write_text("\n".join(lines) + "\n")
        fs = None if with_time and n > 1 else 100.0
        with (
            mock.patch.object(csv_file, "_MIN_BATCH_ROWS", 1),
            mock.patch.object(csv_file, "_BATCH_CELLS", batch_rows * (cols + with_time)),
            open_recording(path, fs=fs) as rec,
        ):
            blocks = list(rec.blocks(chunk_s))
            streams = rec.streams
    size = max(1, round(chunk_s * 100.0))
    for info in streams:
        mine = [b for b in blocks if b.modality == info.modality]
        assert [b.seq for b in mine] == list(range(math.ceil(n / size)))
        assert [b.t0 for b in mine] == pytest.approx([k * size / 100.0 for k in range(len(mine))])
        got = np.concatenate([b.data for b in mine], axis=1)
        cols_of = [names.index(c) for c in info.channels]
        np.testing.assert_array_equal(got, values[:, cols_of].T)
    # time order across streams
    starts = [b.t0 for b in blocks]
    assert starts == sorted(starts)


# -- errors ----------------------------------------------------------------------------


def test_non_numeric_cell_names_line_and_column(write_csv: WriteCsv) -> None:
    body = rows(15, cols=2).splitlines(keepends=True)
    body.append("0.015,1,abc\n")
    body += rows(5, cols=2, t0=0.016).splitlines(keepends=True)
    path = write_csv("time,emg_1,emg_2\n" + "".join(body))
    assert problem(path) == "line 17, column 'emg_2': 'abc' is not a number"


def test_non_numeric_cell_found_late_during_blocks(write_csv: WriteCsv) -> None:
    body = rows(9000).splitlines(keepends=True)
    body[8000] = "8.0,oops\n"
    path = write_csv("time,emg_1\n" + "".join(body))
    # the first rows and the last line are fine, so open succeeds and blocks() fails
    with open_recording(path) as rec, pytest.raises(RecordingError) as info:
        list(rec.blocks())
    assert info.value.problem == "line 8002, column 'emg_1': 'oops' is not a number"


def test_empty_cell(write_csv: WriteCsv) -> None:
    path = write_csv("emg_1,emg_2\n1,2\n3,\n")
    assert problem(path, fs=10) == "line 3, column 'emg_2': the cell is empty"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1,2\n3\n4,5\n", "line 3 has 1 values but the header names 2 columns (ragged row)"),
        ("1,2\n3,4,5\n", "line 3 has 3 values but the header names 2 columns (ragged row)"),
        ("1\n2\n", "line 2 has 1 values but the header names 2 columns (ragged row)"),
    ],
)
def test_ragged_rows(write_csv: WriteCsv, body: str, expected: str) -> None:
    path = write_csv("emg_1,emg_2\n" + body)
    assert problem(path, fs=10) == expected


def test_blank_line_inside_the_data(write_csv: WriteCsv) -> None:
    path = write_csv("emg_1\n1\n\n2\n")
    assert problem(path, fs=10) == "line 3 is empty"


def test_header_only(write_csv: WriteCsv) -> None:
    path = write_csv("time,emg_1\n\n")
    assert problem(path) == "no samples: the file has a header row but no data rows"


def test_a_headerless_file_whose_first_column_increases_has_it_as_time(
    write_csv: WriteCsv,
) -> None:
    # Issue #13: exports without a header row are read, not refused.
    path = write_csv("0.0,1.5\n0.001,2\n0.002,2.5\n")
    with open_recording(path) as rec:
        (info,) = rec.streams
        assert info.fs == 1000.0 and info.channels == ("col2",) and info.n_samples == 3
        assert any("read as time" in n for n in rec.notes)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("time,,emg_2", "column 2 has no name in the header"),
        ("emg_1,emg_1", "column name 'emg_1' appears twice in the header"),
        ("time", "no data columns: the header names only a time column"),
        ("time [min],emg_1", "the time column's unit must be s or ms, got 'min'"),
    ],
)
def test_bad_header(write_csv: WriteCsv, header: str, expected: str) -> None:
    path = write_csv(header + "\n1,2,3\n")
    assert problem(path, fs=10) == expected


def test_a_repeated_timestamp_is_dropped_and_said(write_csv: WriteCsv) -> None:
    path = write_csv("time,emg_1\n0,1\n0.01,2\n0.01,3\n0.02,4\n0.03,5\n")
    with open_recording(path) as rec:
        (info,) = rec.streams
        assert info.fs == 100.0 and info.n_samples == 4
        notes = rec.notes  # type: ignore[attr-defined]
        data = np.concatenate([b.data for b in rec.blocks()], axis=1)
    assert data[0].tolist() == [1, 2, 4, 5]
    assert any("repeat the previous timestamp" in n for n in notes)


def test_time_decreasing_overall(write_csv: WriteCsv) -> None:
    path = write_csv("time,emg_1\n1.0,1\n0.5,2\n")
    assert problem(path).startswith("time column 'time' goes back at data row 2")


def test_time_not_increasing_across_a_batch_boundary(write_csv: WriteCsv) -> None:
    body = rows(600).splitlines(keepends=True)
    body[300] = body[299]
    path = write_csv("time,emg_1\n" + "".join(body))
    with (
        mock.patch.object(csv_file, "_MIN_BATCH_ROWS", 1),
        mock.patch.object(csv_file, "_BATCH_CELLS", 2 * 300),
    ):
        assert problem(path).startswith("time column does not increase at line 302:")


def test_time_with_a_dropped_sample_is_not_uniform(write_csv: WriteCsv) -> None:
    body = rows(1001).splitlines(keepends=True)
    del body[400]  # one sample missing: the rest is one period late
    body.append(f"{1.001!r},99\n")
    path = write_csv("time,emg_1\n" + "".join(body))
    message = problem(path)
    assert message.startswith("time column is not uniform at line 402: t=0.401 s")
    assert "tolerance ±half a sample period" in message


def test_time_not_finite(write_csv: WriteCsv) -> None:
    path = write_csv("time,emg_1\n0,1\nnan,2\n0.02,3\n")
    assert problem(path) == "line 3: time nan is not finite"


def test_fs_disagreeing_with_time_column(write_csv: WriteCsv) -> None:
    path = write_csv("time,emg_1\n" + rows(100, fs=1000.0))
    assert problem(path, fs=2000) == ("the time column gives 1000 Hz but fs=2000 Hz was given")


def test_not_utf8(write_csv: WriteCsv, tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(b"emg_1\n1\n\xff\xfe\n")
    assert problem(path, fs=10).startswith("not UTF-8 text")


# -- speed -----------------------------------------------------------------------------


@pytest.mark.slow
def test_speed_is_that_of_a_c_parser(tmp_path: Path) -> None:
    """Guards against a per-cell Python parser; 2M x 4 runs at ~1M rows/s (docs/benchmarks)."""
    n = 200_000
    rng = np.random.default_rng(1)
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("time,emg_1,emg_2,emg_3\n")
        table = np.column_stack([np.arange(n) / 2000, rng.standard_normal((n, 3))])
        np.savetxt(f, table, fmt=["%.4f", "%.6g", "%.6g", "%.6g"], delimiter=",")
    start = time.perf_counter()
    with open_recording(path) as rec:
        total = sum(b.n_samples for b in rec.blocks())
    elapsed = time.perf_counter() - start
    assert total == n
    assert n / elapsed > 150_000, f"{n / elapsed:.0f} rows/s"
