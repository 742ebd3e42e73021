"""The shipped BrainFlow example loads and describes a board BrainFlow knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.core.config import load_settings
from monitor.inputs.brainflow import board_layout

pytest.importorskip("brainflow")
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "brainflow-cyton.toml"


def test_the_cyton_example_loads_with_two_emg_rows_and_the_accelerometer() -> None:
    settings = load_settings(EXAMPLE, environ={})
    (board,) = settings.brainflow.boards
    _, params, layout = board_layout(board, "brainflow.boards[0]")
    assert params == {"serial_port": "/dev/ttyUSB0"}
    assert layout.fs == 250.0 and len(layout.emg_rows) == 2 and len(layout.acc_rows) == 3
