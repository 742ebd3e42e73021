"""``fatigue-sim ble``: arguments, the peripheral it builds (simulated or from a recording)
and one-line errors; no real transport is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.core.errors import MonitorError
from simulators.ble.peripherals import VirtualGeneric, VirtualMyo, VirtualPolar
from simulators.ble.run import generic_options, load_recording, make_peripheral
from simulators.cli import build_parser
from simulators.cli import main as sim_main


class FakeDevice:
    """make_peripheral only stores the bumble device; nothing is powered on."""

    name = "fake"


def csv_recording(path: Path, fs: float, columns: dict[str, Any]) -> Path:
    n = len(next(iter(columns.values())))
    t = np.arange(n) / fs
    rows = np.column_stack([t, *columns.values()])
    header = ",".join(["time", *columns])
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.6f")
    return path


def test_ble_arguments_with_and_without_a_recording() -> None:
    parser = build_parser()
    args = parser.parse_args(["ble", "--device", "myo", "--transport", "usb:0"])
    assert args.recording is None and args.speed == 1.0 and args.duration == 300.0
    args = parser.parse_args(
        ["ble", "--device", "polar-h10", "--transport", "vhci", "--from", "rec.csv"]
    )
    assert args.recording == Path("rec.csv") and args.device == "polar-h10"


@pytest.mark.parametrize(
    ("kind", "cls", "channels", "fs"),
    [
        ("polar-h10", VirtualPolar, 3, 200.0),
        ("myo", VirtualMyo, 8, 200.0),
        ("generic", VirtualGeneric, 2, 200.0),
    ],
)
def test_simulated_peripherals(kind: str, cls: type, channels: int, fs: float) -> None:
    p = make_peripheral(kind, FakeDevice(), 12.0, 5.0, 2.0, 1)
    assert isinstance(p, cls) and p.signal.shape == (channels, int(12 * fs))
    assert p.fs == fs and p.speed == 2.0 and p.loop


def test_a_recording_streams_exactly_its_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(0.0, 2.0, size=(3, 400)), 3)
    path = csv_recording(
        tmp_path / "wrist.csv", 100.0, {"acc_x": x[0], "acc_y": x[1], "acc_z": x[2]}
    )
    rec = load_recording(path, "polar-h10")
    assert rec.modality == "acc" and rec.fs == 100.0
    polar = make_peripheral("polar-h10", FakeDevice(), 300.0, None, 1.0, 0, rec)
    assert isinstance(polar, VirtualPolar) and polar.fs == 100.0
    np.testing.assert_allclose(polar.signal, x, atol=1e-5)
    board = make_peripheral(
        "generic", FakeDevice(), 300.0, None, 1.0, 0, load_recording(path, "generic")
    )
    assert isinstance(board, VirtualGeneric) and board.signal.shape == (3, 400)
    assert board.scale == pytest.approx(np.max(np.abs(x)) / 30000.0, rel=1e-4)
    assert "channels = 3" in generic_options(board) and "fs = 100" in generic_options(board)


def test_a_recording_the_device_cannot_carry_is_one_clear_error(tmp_path: Path) -> None:
    x = np.zeros(400)
    path = csv_recording(tmp_path / "wrist.csv", 100.0, {"acc_x": x, "acc_y": x, "acc_z": x})
    with pytest.raises(MonitorError, match="no emg stream for --device myo"):
        load_recording(path, "myo")
    emg = csv_recording(tmp_path / "arm.csv", 1000.0, {"emg_1": x})
    with pytest.raises(MonitorError, match="a Myo streams 8 EMG channels at 200 Hz"):
        load_recording(emg, "myo")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--transport", "no-such-transport:0"], "cannot open bumble transport"),
        (["--transport", "usb:0", "--from", "missing.csv"], "missing.csv"),
    ],
)
def test_cli_errors_are_one_line_and_a_nonzero_code(
    extra: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = sim_main(["ble", "--device", "myo", *extra])
    err = capsys.readouterr().err
    assert code in (1, 2) and needle in err and len(err.strip().splitlines()) == 1
