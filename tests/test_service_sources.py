"""A failing BLE source is restarted by the service, never allowed to end it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

import numpy as np

from monitor.core.config import load_settings
from monitor.core.model import SampleBlock
from monitor.live.service import Service


class FlakySource:
    """Fails on its first session, then yields three blocks and ends."""

    sensor = "flaky"

    def __init__(self) -> None:
        self.sessions = 0

    async def __aenter__(self) -> FlakySource:
        self.sessions += 1
        self._left = 3
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def __aiter__(self) -> FlakySource:
        return self

    async def __anext__(self) -> SampleBlock:
        if self.sessions == 1:
            raise RuntimeError("GATT write rejected")
        if not self._left:
            raise StopAsyncIteration
        self._left -= 1
        seq = 3 - self._left - 1
        data = np.zeros((1, 100), dtype=np.float32)
        return SampleBlock("flaky", "emg", 1000.0, seq * 0.1, seq, ("emg_1",), "mV", data)


def test_a_failing_ble_source_is_restarted_and_the_service_goes_on(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={
            "mqtt.broker": "mqtt://127.0.0.1:1",
            "service.db": str(tmp_path / "m.db"),
            "service.api": False,
        },
        environ={},
    )

    async def scenario() -> tuple[int, int]:
        async with Service(settings) as svc:
            source = FlakySource()
            async with asyncio.timeout(10):
                # returns once the source ends
                await svc._pump(source, "BLE device flaky", settings.ble.backoff_max_s)
            pipeline, _, _, _ = svc._parts()
            return source.sessions, pipeline.backlog

    sessions, queued = asyncio.run(scenario())
    assert sessions == 2  # the failure was survived and the source run again
    assert queued == 3  # and its blocks reached the pipeline
