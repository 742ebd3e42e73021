"""The replay command end to end, on the real recordings in tests/data."""

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from monitor.cli import main
from monitor.core.model import FEATURE_NAMES
from monitor.outputs.files import CSV_COLUMNS

DATA = Path(__file__).parent / "data"
CC0 = DATA / "emg_fatigue_electrophys_cc0"
S8 = CC0 / "S8_EMG_bicep_sustained.wav"
S9 = CC0 / "S9_EMG_quadricep_squatSustained.wav"
MALFORMED_EDF = (
    DATA / "edf_bids_examples_synthetic" / "emg_Multimodal_sub-01_task-pullstand_emg.edf"
)


def read_features(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def mdf_change(rows: list[dict[str, str]], channel: str, start: float, end: float) -> float:
    """MDF of the last 5 s against the first 5 s of the contraction [start, end]."""
    t = np.array([float(r["t"]) for r in rows if r["channel"] == channel])
    mdf = np.array([float(r["mdf_hz"]) for r in rows if r["channel"] == channel])
    first = np.mean(mdf[(t >= start + 1.0) & (t <= start + 5.0)])
    last = np.mean(mdf[(t >= end - 5.0) & (t <= end)])
    return float((last - first) / first)


def test_s8_mdf_falls_on_both_channels(tmp_path: Path) -> None:
    out = tmp_path / "s8.csv"
    assert (
        main(["replay", str(S8), "--modality", "emg", "--mains", "60", "--features", str(out)]) == 0
    )
    rows = read_features(out)
    assert {r["channel"] for r in rows} == {"ch1", "ch2"}
    # The contraction runs from about 1.5 s to 44.5 s (the data README).
    for channel in ("ch1", "ch2"):
        assert mdf_change(rows, channel, 1.5, 44.5) < -0.20


def test_s9_mdf_does_not_fall(tmp_path: Path) -> None:
    out = tmp_path / "s9.csv"
    assert main(["replay", str(S9), "--mains", "60", "--features", str(out)]) == 0
    assert mdf_change(read_features(out), "ch1", 0.0, 48.5) > -0.10


def test_features_csv_has_exactly_the_contract_columns(tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    assert main(["replay", str(S9), "--features", str(out)]) == 0
    with out.open() as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == CSV_COLUMNS
    assert header[:4] == ["t", "sensor", "channel", "modality"]
    assert header[4:9] == ["mdf_hz", "mnf_hz", "rms", "arv", "fi_nsm5"]
    assert header[-2:] == ["active", "quality"]
    assert set(FEATURE_NAMES) <= set(header)
    rows = read_features(out)
    assert len(rows) == int((49.1 - 1.0) / 0.5) + 1
    assert all(r["tremor_rms"] == "" and float(r["mdf_hz"]) > 0 for r in rows)
    assert [float(r["t"]) for r in rows[:3]] == [1.0, 1.5, 2.0]


def test_report_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["replay", str(S8), "--report", str(out)]) == 0
    html = out.read_text()
    assert html.count("<svg") == 4  # MDF/MNF and RMS for each of two channels
    assert not re.search(r"(src|href)=\"https?:", html)
    assert "<script" not in html
    assert "S8_EMG_bicep_sustained" in html and "ch2" in html


def test_json_mode_keeps_stdout_for_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.jsonl"
    assert main(["replay", str(S9), "--json", "--events", str(events)]) == 0
    captured = capsys.readouterr()
    for line in captured.out.splitlines():
        assert json.loads(line)["event"]
    assert "MDF first 5 s" in captured.err  # the summary goes to stderr
    assert events.exists()


def run_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_malformed_edf_gives_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    err = run_error(["replay", str(MALFORMED_EDF)], capsys)
    assert MALFORMED_EDF.name in err
    assert len(err.strip().splitlines()) == 1


def test_bad_inputs_each_give_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty.csv" in run_error(["replay", str(empty), "--fs", "1000"], capsys)

    bad_cell = tmp_path / "cell.csv"
    bad_cell.write_text("time,emg_1\n0.0,1.0\n0.001,abc\n")
    err = run_error(["replay", str(bad_cell)], capsys)
    assert "abc" in err and "emg_1" in err

    no_fs = tmp_path / "nofs.csv"
    no_fs.write_text("emg_1\n1.0\n2.0\n")
    assert "--fs" in run_error(["replay", str(no_fs)], capsys)

    assert "--fs" in run_error(["replay", str(S9), "--fs", "0"], capsys)
    assert "sample rate" in run_error(["replay", str(S9), "--fs", "2000"], capsys)

    low = tmp_path / "low.csv"
    low.write_text("emg_1\n" + "\n".join(str(v) for v in np.sin(np.arange(400))) + "\n")
    assert "too low" in run_error(["replay", str(low), "--fs", "40"], capsys)

    assert "nope.edf" in run_error(["replay", str(tmp_path / "nope.edf")], capsys)


def test_nan_inf_and_flat_channels_are_counted_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fs = 1000.0
    rng = np.random.default_rng(0)
    n = int(6 * fs)
    x = rng.standard_normal((3, n))
    x[0, 2500:2510] = np.nan
    x[0, 4000] = np.inf
    x[1] = 0.25  # a flat-line channel
    path = tmp_path / "bad.csv"
    header = "time,emg_1,emg_2,emg_3"
    t = np.arange(n) / fs
    np.savetxt(
        path, np.column_stack([t, x.T]), delimiter=",", header=header, comments="", fmt="%.9g"
    )
    out = tmp_path / "f.csv"
    assert main(["replay", str(path), "--features", str(out)]) == 0
    assert "11 non-finite samples" in capsys.readouterr().err
    rows = read_features(out)
    q = {
        ch: [r["quality"] for r in rows if r["channel"] == ch] for ch in ("emg_1", "emg_2", "emg_3")
    }
    assert "nonfinite" in q["emg_1"] and "ok" in q["emg_1"]
    assert set(q["emg_2"]) == {"flat"}
    assert set(q["emg_3"]) == {"ok"}
    good = [r for r in rows if r["channel"] == "emg_3"]
    assert all(math.isfinite(float(r["mdf_hz"])) for r in good)


def events_of(
    path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> list[dict[str, object]]:
    assert main(["replay", str(path), "--json", *extra]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("mains", [[], ["--mains", "60"]])
def test_s8_raises_fatigue_on_both_channels_before_the_end(
    capsys: pytest.CaptureFixture[str], mains: list[str]
) -> None:
    onsets = {
        e["channel"]: e["t"] for e in events_of(S8, capsys, *mains) if e["event"] == "fatigue_onset"
    }
    assert set(onsets) == {"ch1", "ch2"}
    assert all(5.0 < float(t) < 44.5 for t in onsets.values())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["S9_EMG_quadricep_squatSustained.wav", "S10_EMG_bicep_sustainedMax.wav"]
)
@pytest.mark.parametrize("mains", [[], ["--mains", "60"]])
def test_flat_and_rising_mdf_raise_no_fatigue(
    capsys: pytest.CaptureFixture[str], name: str, mains: list[str]
) -> None:
    assert [e for e in events_of(CC0 / name, capsys, *mains) if e["event"] == "fatigue_onset"] == []


def test_report_marks_the_events(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["replay", str(S8), "--report", str(out)]) == 0
    html = out.read_text()
    assert html.count("fatigue_onset at") >= 2  # one marker tooltip per channel chart
    assert "baseline (detector)" in html
