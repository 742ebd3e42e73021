"""The BrainFlow source's board layouts and block times, without a session: BrainFlow's
own board descriptions are the reference."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from monitor.core.config import load_settings
from monitor.core.errors import ConfigError
from monitor.core.model import G_MS2
from monitor.core.source_settings import BrainFlowBoard, BrainFlowSettings
from monitor.inputs.brainflow import GAP_S, BrainFlowSource, board_id, board_layout

board_shim = pytest.importorskip("brainflow.board_shim")
BoardIds, BoardShim = board_shim.BoardIds, board_shim.BoardShim


def test_boards_are_found_by_name_or_id_and_unknown_ones_refused() -> None:
    assert board_id("synthetic", "k") == BoardIds.SYNTHETIC_BOARD.value
    assert board_id("CYTON_BOARD", "k") == board_id("cyton", "k") == 0
    assert board_id(-1, "k") == BoardIds.SYNTHETIC_BOARD.value
    with pytest.raises(ConfigError, match=re.escape("brainflow.boards[0].board")):
        board_id("no-such-board", "brainflow.boards[0].board")
    with pytest.raises(ConfigError):
        board_id(99_999, "k")


def test_the_layout_is_brainflows_board_description() -> None:
    _, _, lay = board_layout(
        BrainFlowBoard(board="CYTON_BOARD", sensor="c", emg_channels=(1, 3)), "k"
    )
    descr = BoardShim.get_board_descr(0)
    assert lay.fs == descr["sampling_rate"] == 250
    assert lay.emg_rows == (descr["emg_channels"][1], descr["emg_channels"][3])
    assert lay.emg_names == ("emg_2", "emg_4")  # named by the board's own order
    assert lay.acc_rows == tuple(descr["accel_channels"])
    assert lay.timestamp_row == descr["timestamp_channel"]


def test_a_playback_board_takes_its_layout_from_the_master_board() -> None:
    spec = BrainFlowBoard(
        board="PLAYBACK_FILE_BOARD",
        sensor="p",
        params={"file": "x.csv", "master_board": "ANT_NEURO_EE_410_BOARD"},
    )
    bid, params, lay = board_layout(spec, "k")
    assert bid == BoardIds.PLAYBACK_FILE_BOARD.value
    assert params["master_board"] == BoardIds.ANT_NEURO_EE_410_BOARD.value
    assert lay.fs == 2000 and len(lay.emg_rows) == 8 and lay.acc_rows == ()
    with pytest.raises(ConfigError, match="master_board"):
        board_layout(BrainFlowBoard(board="PLAYBACK_FILE_BOARD", sensor="p"), "k")


def test_channels_the_board_does_not_have_fail_at_start_with_their_key() -> None:
    with pytest.raises(ConfigError, match=re.escape("k.emg_channels")):
        board_layout(BrainFlowBoard(board="CALLIBRI_EMG_BOARD", sensor="c", emg_channels=(1,)), "k")
    with pytest.raises(ConfigError, match=re.escape("k.emg")):
        board_layout(BrainFlowBoard(board="EMOTIBIT_BOARD", sensor="e"), "k")


def test_config_tables_load_and_bad_ones_are_refused() -> None:
    s = load_settings(
        overrides={"brainflow.boards": [{"board": "synthetic", "sensor": "syn", "acc_unit": "g"}]},
        environ={},
    )
    assert s.brainflow.boards[0].board == "synthetic"
    with pytest.raises(ConfigError, match="acc_unit"):
        load_settings(
            overrides={"brainflow.boards": [{"sensor": "s", "acc_unit": "furlong"}]}, environ={}
        )
    with pytest.raises(ConfigError, match="already used"):
        load_settings(
            overrides={"brainflow.boards": [{"sensor": "s"}, {"sensor": "s"}]}, environ={}
        )


def _read(src: BrainFlowSource, stamps: np.ndarray) -> list[tuple[str, float, int]]:
    lay = src.layout
    data = np.zeros((32, stamps.size))
    data[lay.timestamp_row] = stamps
    data[list(lay.acc_rows)] = 0.5  # g
    blocks = src._blocks(data)
    for b in blocks:
        if b.modality == "acc":
            np.testing.assert_allclose(b.data, 0.5 * G_MS2, rtol=1e-6)
    return [(b.modality, b.t0, b.seq) for b in blocks]


def test_block_times_follow_the_sample_count_and_a_jump_ahead_is_a_gap() -> None:
    src = BrainFlowSource(BrainFlowBoard(board="synthetic", sensor="s"), BrainFlowSettings())
    fs = src.layout.fs
    jitter = np.random.default_rng(1).uniform(0, 0.004, 25)
    first = _read(src, 1000.0 + np.arange(25) / fs + jitter)
    assert first == [("emg", 1000.0 + jitter[0], 0), ("acc", 1000.0 + jitter[0], 0)]
    # Jittered stamps of the next read: the block time is the count's, not the stamp's.
    nxt = _read(src, 1000.0 + (25 + np.arange(25)) / fs + 0.003)
    assert nxt[0][1] == pytest.approx(1000.0 + jitter[0] + 25 / fs) and nxt[0][2] == 1
    # Stamps behind the count (a playback faster than real time): no gap.
    slow = _read(src, np.full(25, 1000.05))
    assert slow[0][1] == pytest.approx(1000.0 + jitter[0] + 50 / fs)
    # Stamps ahead by more than GAP_S (packets lost): re-anchored there.
    later = 1000.0 + 75 / fs + 2 * GAP_S + 1.0
    assert _read(src, later + np.arange(25) / fs)[0][1] == later
    assert math.isclose(src._anchor, later)
