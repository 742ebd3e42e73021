"""fatigue-sim: files and sidecars written, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simulators.cli import main


def test_generate_emg_writes_file_and_sidecar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub" / "rec.edf"
    flags = "--duration 30 --onset 10 --fs 1000 --seed 4 --channels 2 --mains 50"
    flags += " --force 20:1.5 --dropout 25:26:2"
    rc = main(["generate", "emg", "-o", str(out), *flags.split()])
    assert rc == 0
    assert out.exists()
    truth = json.loads(Path(str(out) + ".truth.json").read_text())
    assert truth["file"] == "rec.edf" and truth["seed"] == 4 and truth["onset_s"] == 10.0
    assert truth["channels"] == ["emg_1", "emg_2"] and truth["fs"] == 1000.0
    assert truth["params"]["scenario"]["mains_mv"] == 0.05
    assert truth["artifacts"][0]["channels"] == ["emg_2"]
    assert "rec.edf" in capsys.readouterr().out


def test_generate_is_reproducible(tmp_path: Path) -> None:
    args = ["generate", "emg", "--duration", "5", "--fs", "1000", "--seed", "7"]
    assert main([*args, "-o", str(tmp_path / "a.edf")]) == 0
    assert main([*args, "-o", str(tmp_path / "b.edf")]) == 0
    assert (tmp_path / "a.edf").read_bytes() == (tmp_path / "b.edf").read_bytes()


def test_generate_acc_csv_and_no_fatigue(tmp_path: Path) -> None:
    out = tmp_path / "acc.csv"
    assert (
        main(["generate", "acc", "-o", str(out), "--duration", "30", "--fs", "50", "--no-tremor"])
        == 0
    )
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    assert table.shape == (1500, 4)
    truth = json.loads((tmp_path / "acc.csv.truth.json").read_text())
    assert truth["onset_s"] is None and truth["fatigue"] is False
    assert truth["modality"] == "acc" and truth["unit_in_file"] is False


def test_default_onset_is_a_third(tmp_path: Path) -> None:
    out = tmp_path / "r.wav"
    assert main(["generate", "emg", "-o", str(out), "--duration", "6", "--fs", "1000"]) == 0
    assert json.loads((tmp_path / "r.wav.truth.json").read_text())["onset_s"] == 2.0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["generate", "emg", "-o", "x.txt"], "'.txt'"),
        (["generate", "emg", "-o", "x.edf", "--mdf0", "600"], "--mdf0"),
        (["generate", "emg", "-o", "x.edf", "--mains", "55"], "--mains"),
        (["generate", "emg", "-o", "x.edf", "--force", "abc"], "T:LEVEL"),
        (["generate", "emg", "-o", "x.edf", "--duration", "10", "--onset", "20"], "--onset"),
        (["generate", "emg", "-o", "x.edf", "--onset", "2", "--no-fatigue"], "--no-fatigue"),
        (["generate", "acc", "-o", "x.edf", "--fs", "10"], "--fs"),
        (["generate", "emg"], "--output"),
        (["generate", "eeg", "-o", "x.edf"], "invalid choice"),
        (["scenarios", "--n", "0", "-o", "d"], "--n"),
        ([], "COMMAND"),
    ],
)
def test_bad_arguments_one_line_exit_2(
    argv: list[str],
    needle: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as ex:
        raise SystemExit(main(argv))
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("fatigue-sim") and needle in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["--help"],
        ["generate", "emg", "--help"],
        ["generate", "acc", "--help"],
        ["scenarios", "--help"],
    ):
        with pytest.raises(SystemExit) as ex:
            main(argv)
        assert ex.value.code == 0
        assert "example" in capsys.readouterr().out


def test_scenarios_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "--n", "3", "--seed", "2", "-o", str(tmp_path / "set")]) == 0
    names = sorted(p.name for p in (tmp_path / "set").iterdir())
    assert len(names) == 4 and "truth.json" in names
    assert "3 recordings" in capsys.readouterr().out


def test_unwritable_output_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc = main(["generate", "emg", "-o", str(blocker / "x.edf"), "--duration", "2"])
    assert rc == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
