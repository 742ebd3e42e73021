"""The examples in examples/ run as a user would run them and print what docs say."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
S8 = ROOT / "tests/data/emg_fatigue_electrophys_cc0/S8_EMG_bicep_sustained.wav"


def run(name: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_analyze_array_prints_onsets_and_writes_a_plot(tmp_path: Path) -> None:
    out = run("analyze_array.py", str(tmp_path), cwd=tmp_path)
    assert out.count("fatigue_onset") == 2  # the simulated fatigue of both channels
    assert "emg_1" in out and "emg_2" in out
    assert (tmp_path / "analyze_array.png").stat().st_size > 1000


def test_analyze_file_prints_onsets_and_writes_a_report(tmp_path: Path) -> None:
    out = run("analyze_file.py", str(S8), str(tmp_path), cwd=tmp_path)
    assert "2 channel(s) at 10000 Hz" in out
    assert out.count("fatigue_onset") == 2
    assert "<html" in (tmp_path / "analyze_file.html").read_text().lower()


def test_streaming_prints_events_as_they_happen(tmp_path: Path) -> None:
    out = run("streaming.py", cwd=tmp_path)
    assert "forearm/emg_1: fatigue_onset" in out
    assert "wrist/acc: tremor_onset" in out
    assert int(out.strip().splitlines()[-1].split()[0]) > 400
