"""BrainFlow end to end: a fatiguing EMG recording written in BrainFlow's file format is
replayed by BrainFlow's own playback-file board into the service; the synthetic board
streams through ``fatigue-monitor run --brainflow synthetic`` into ``/api/sensors``."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from monitor.core.config import load_settings
from monitor.live.service import Service
from simulators.emg import EmgGenerator, EmgScenario

board_shim = pytest.importorskip("brainflow.board_shim")
data_filter = pytest.importorskip("brainflow.data_filter")
pytestmark = pytest.mark.slow

MASTER = "ANT_NEURO_EE_410_BOARD"  # 2 kHz, 8 EMG rows: a surface-EMG amplifier
SPEED = 10.0  # the file's timestamps are 10x closer than the samples: playback at 10x


def write_playback_file(path: Path, emg: np.ndarray, fs: float) -> None:
    """``emg`` (channels x samples) into the master board's rows, in BrainFlow's format
    (DataFilter.write_file: one tab-separated line per sample, every row of the board)."""
    descr = board_shim.BoardShim.get_board_descr(board_shim.BoardIds[MASTER].value)
    table = np.zeros((descr["num_rows"], emg.shape[1]))
    for row, channel in zip(descr["emg_channels"], emg, strict=False):
        table[row] = channel
    table[descr["package_num_channel"]] = np.arange(emg.shape[1]) % 256
    table[descr["timestamp_channel"]] = 1.7e9 + np.arange(emg.shape[1]) / (fs * SPEED)
    data_filter.DataFilter.write_file(table, str(path), "w")


def test_a_fatiguing_recording_played_back_by_brainflow_raises_fatigue_onset(
    tmp_path: Path,
) -> None:
    fs = 2000.0
    sc = EmgScenario(fs=fs, n_channels=2, duration_s=150.0, onset_s=30.0, decline_per_min=0.3)
    emg = EmgGenerator(sc, np.random.default_rng(4)).read(sc.n_samples) * 1000.0  # mV -> uV
    recording = tmp_path / "session.csv"
    write_playback_file(recording, emg, fs)
    settings = load_settings(
        overrides={
            "mqtt.broker": "",
            "service.db": str(tmp_path / "m.db"),
            "service.tick_s": 0.05,
            "service.api": False,
            "brainflow.boards": [
                {
                    "board": "PLAYBACK_FILE_BOARD",
                    "sensor": "amp",
                    "params": {"file": str(recording), "master_board": MASTER},
                    "emg_channels": [0, 1],
                }
            ],
        },
        environ={},
    )

    async def main() -> tuple[list[dict[str, Any]], float]:
        async with Service(settings) as svc:
            client = svc.hub.connect()  # every event the service raises, in order
            events: list[dict[str, Any]] = []
            first_frame: float | None = None
            runner = asyncio.create_task(svc.run())
            try:
                async with asyncio.timeout(120.0):  # 15 s of playback; a deadline, not a wait
                    while not any(e["event"] == "fatigue_onset" for e in events):
                        message = json.loads(await client.queue.get())
                        if message["type"] == "events":
                            events += message["events"]
                        elif first_frame is None:
                            first_frame = message["frames"][0]["t"]
                status = svc.status()
            finally:
                runner.cancel()
            assert status.brainflow["amp"].connected and status.brainflow["amp"].sessions == 1
            assert first_frame is not None
            return events, first_frame

    events, first_frame = asyncio.run(main())
    onset = next(e for e in events if e["event"] == "fatigue_onset")
    assert onset["sensor"] == "amp" and onset["modality"] == "emg"
    assert onset["channel"] in ("emg_1", "emg_2")
    assert onset["baseline"]["mdf_hz"] > 0
    # The stream's clock is BrainFlow's first timestamp plus samples at 2 kHz, so the
    # onset's time since the start is signal time: after the true onset at 30 s, within
    # 90 s of it, whatever the playback speed (the first frames end 1-3 s in).
    assert 30.0 < onset["t"] - (first_frame - 3.0) < 120.0
    assert not [e for e in events if e["event"] == "signal_lost"]


def test_run_brainflow_synthetic_shows_its_sensor_in_the_api(tmp_path: Path) -> None:
    from monitor_proc import MonitorProcess

    mon = MonitorProcess(
        "--brainflow",
        "synthetic",
        "--db",
        str(tmp_path / "m.db"),
        "--port",
        "0",
        env={"FATIGUE_MONITOR__MQTT__BROKER": "", "FATIGUE_MONITOR__SERVICE__TICK_S": "0.05"},
    )
    try:
        ready = mon.wait_ready()
        url = ready.rsplit("dashboard ", 1)[1].strip()
        streams: dict[str, Any] = {}
        detail: dict[str, Any] = {}
        deadline = time.monotonic() + 60.0
        with httpx.Client(base_url=url, timeout=10.0) as http:
            while time.monotonic() < deadline:
                sensors = {s["id"]: s for s in http.get("/api/sensors").json()}
                streams = sensors.get("synthetic", {})
                # Both streams seen, and their channels judged (after the first windows).
                if len(streams.get("streams", [])) == 2:
                    detail = http.get("/api/sensors/synthetic").json()
                    if {c["modality"] for c in detail["channels"]} == {"emg", "acc"}:
                        break
                time.sleep(0.5)  # the next poll of the API; the deadline bounds the wait
    finally:
        rc = mon.stop()
    assert streams, mon.stderr[-2000:]
    views = {s["modality"]: s for s in streams["streams"]}
    assert sorted(views) == ["acc", "emg"]
    assert views["emg"]["fs"] == views["acc"]["fs"] == 250.0  # BrainFlow's synthetic board
    assert len(views["emg"]["channels"]) == 16 and len(views["acc"]["channels"]) == 3
    assert detail["id"] == "synthetic"
    assert {c["modality"] for c in detail["channels"]} == {"emg", "acc"}
    assert rc == 0 and "Traceback" not in mon.stderr


def test_a_board_that_falls_silent_is_reported_lost_at_once_and_opened_again(
    tmp_path: Path,
) -> None:
    """The playback board stops at the end of its file: after ``stall_s`` without samples
    the source reports the loss (``on_lost``: signal_lost at the next tick) and opens the
    session again, which plays the file again."""
    from monitor.core.source_settings import BrainFlowBoard, BrainFlowSettings
    from monitor.inputs.brainflow import BrainFlowSource

    fs = 2000.0
    emg = np.random.default_rng(2).normal(0.0, 50.0, (2, 4000))  # 2 s
    recording = tmp_path / "short.csv"
    write_playback_file(recording, emg, fs)
    spec = BrainFlowBoard(
        board="PLAYBACK_FILE_BOARD",
        sensor="amp",
        params={"file": str(recording), "master_board": MASTER},
        emg_channels=(0, 1),
    )
    lost: list[str] = []
    source = BrainFlowSource(
        spec, BrainFlowSettings(stall_s=0.5, backoff_max_s=0.5), on_lost=lost.append
    )

    async def main() -> int:
        samples = 0
        async with asyncio.timeout(60.0), source:
            async for block in source:
                samples += block.n_samples
                if source.sessions == 2 and samples > 4000:
                    break
        return samples

    samples = asyncio.run(main())
    assert lost == ["amp"] and source.sessions == 2
    assert samples > 4000  # the whole file once, and more of it after the re-open
    assert source._shim is None  # released on leaving
