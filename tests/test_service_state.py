"""The service around the pipeline: the retained state of a sensor covers every stream of
it; a failing store never stops the monitoring; shutdown waits for the running step."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from monitor.core.config import Settings, load_settings
from monitor.core.model import Modality, SampleBlock
from monitor.detect.stream import StreamDetector
from monitor.live.service import Service, sensor_states
from monitor.outputs.store import Store


def detector(sensor: str, modality: Modality, channels: tuple[str, ...]) -> StreamDetector:
    s = Settings()
    return StreamDetector(sensor, modality, channels, s.detect, s.dsp)


def test_a_sensor_with_emg_and_acc_states_both_in_one_message() -> None:
    detectors = {
        ("arm", "emg"): detector("arm", "emg", ("emg_1", "emg_2")),
        ("arm", "acc"): detector("arm", "acc", ("acc",)),
        ("leg", "emg"): detector("leg", "emg", ("emg_1",)),
    }
    states = sensor_states(detectors, {"arm", "leg"})
    assert states["arm"]["modality"] == "mixed"
    assert {k: v["modality"] for k, v in states["arm"]["channels"].items()} == {
        "emg_1": "emg",
        "emg_2": "emg",
        "acc": "acc",
    }
    assert states["arm"]["channels"]["emg_1"]["phase"] == "learning"
    assert "tremor" in states["arm"]["channels"]["acc"]
    assert states["leg"]["modality"] == "emg"
    assert list(states["leg"]["channels"]) == ["emg_1"]
    assert sensor_states(detectors, {"leg"}).keys() == {"leg"}
    assert sensor_states(detectors, set()) == {}


def test_a_channel_name_two_streams_share_is_qualified() -> None:
    detectors = {
        ("s", "emg"): detector("s", "emg", ("ch1", "ch2")),
        ("s", "acc"): detector("s", "acc", ("ch1",)),
    }
    channels = sensor_states(detectors, {"s"})["s"]["channels"]
    assert set(channels) == {"emg:ch1", "ch2", "acc:ch1"}


def _settings(tmp_path: Path) -> Settings:
    return load_settings(
        overrides={
            "mqtt.broker": "mqtt://127.0.0.1:1",
            "service.db": str(tmp_path / "m.db"),
            "service.api": False,
        },
        environ={},
    )


def _block(seq: int) -> SampleBlock:
    rng = np.random.default_rng(seq)
    data = rng.normal(0.0, 50.0, (1, 200)).astype(np.float32)
    return SampleBlock("arm", "emg", 2000.0, seq * 0.1, seq, ("emg_1",), "uV", data)


def test_a_failing_store_costs_the_history_not_the_monitoring(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Found in review: with the store writes moved before the step, a store that fails
    on every write (disk full) stopped every tick."""

    async def scenario() -> tuple[int, int]:
        async with Service(_settings(tmp_path)) as svc:
            pipeline, _, store, _ = svc._parts()

            def broken(*args: object) -> None:
                raise sqlite3.OperationalError("database or disk is full")

            store.add_features = broken  # type: ignore[method-assign]
            store.save_states = broken  # type: ignore[method-assign]
            frames = 0
            for seq in range(30):  # 3 s of signal: windows become ready
                pipeline.submit_block(_block(seq))
                svc._to_store.extend(svc._dispatch(svc._step(1.0)))
                frames = max(frames, pipeline.counters.windows)
            return frames, pipeline.counters.ticks

    with caplog.at_level(logging.WARNING):
        windows, ticks = asyncio.run(scenario())
    assert ticks == 30 and windows > 0  # every tick ran and produced features
    assert "store write failed" in caplog.text and "monitoring goes on" in caplog.text


def test_shutdown_waits_for_the_running_step_and_stores_what_was_pending(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with Service(_settings(tmp_path)) as svc:
            pipeline, _, _, _ = svc._parts()
            for seq in range(30):
                pipeline.submit_block(_block(seq))
            svc._stepping = asyncio.ensure_future(asyncio.to_thread(svc._step, 1.0))
            # leave with the step still running in its thread and nothing stored yet
        assert svc._stepping.done()

    asyncio.run(scenario())
    with Store(tmp_path / "m.db") as store:
        assert store.load_state("arm", "emg") is not None  # the final save saw the step
