"""End to end over a real broker: virtual sensor -> monitor -> separate subscriber."""

import asyncio
import json
from pathlib import Path

import aiomqtt
import numpy as np
from broker_proc import BrokerProcess

from monitor.core.broker_url import parse_broker
from monitor.core.config import Settings, load_settings
from monitor.live.service import Service
from simulators.emg import EmgGenerator, EmgScenario
from simulators.mqtt import from_signal, publish_fleet

CONTRACT_FIELDS = {
    "id",
    "event",
    "sensor",
    "channel",
    "modality",
    "t",
    "wall_time",
    "features",
    "baseline",
    "message",
}


def settings_for(broker: BrokerProcess, db: Path) -> Settings:
    return load_settings(
        overrides={"mqtt.broker": broker.url, "service.db": str(db), "service.tick_s": 0.05},
        environ={},
    )


def fatiguing_sensor(seconds: float = 110.0, onset: float = 40.0):  # type: ignore[no-untyped-def]
    sc = EmgScenario(
        fs=2000.0, n_channels=2, duration_s=seconds, onset_s=onset, decline_per_min=0.35
    )
    x = EmgGenerator(sc, np.random.default_rng(11)).read(sc.n_samples)
    return from_signal("arm1", "emg", x, sc.fs, ("emg_1", "emg_2"), "mV", per_s=20)


async def collect(client: aiomqtt.Client, want: int, timeout: float) -> list[dict]:  # type: ignore[type-arg]
    got: list[dict] = []  # type: ignore[type-arg]
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            got.append(json.loads(message.payload))  # type: ignore[arg-type]
            if sum(e["event"] == "fatigue_onset" for e in got) >= want:
                return got
    return got


def test_fatigue_onset_alert_reaches_a_separate_subscriber(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    async def scenario() -> list[dict]:  # type: ignore[type-arg]
        host, port, _ = parse_broker(broker.url)
        async with Service(settings_for(broker, tmp_path / "m.db")) as svc:
            runner = asyncio.create_task(svc.run())
            async with asyncio.timeout(15):
                await svc._parts()[3].connected.wait()
            async with aiomqtt.Client(host, port, identifier="alert-subscriber") as sub:
                await sub.subscribe("fatigue/+/alerts", qos=1)
                async with aiomqtt.Client(host, port, identifier="virtual-sensor") as sensor:
                    await publish_fleet(sensor, [fatiguing_sensor()], speed=25.0)
                alerts = await collect(sub, want=2, timeout=30)
            async with asyncio.timeout(10):  # the rest of the stream may still be in flight
                while svc.status().counters.messages < 2200:
                    await asyncio.sleep(0.05)
            status = svc.status()
            runner.cancel()
            assert status.counters.messages == 2200 and status.counters.gaps == 0
            return alerts

    alerts = asyncio.run(scenario())
    onsets = [a for a in alerts if a["event"] == "fatigue_onset"]
    assert {a["channel"] for a in onsets} == {"emg_1", "emg_2"}
    for a in onsets:
        assert set(a) == CONTRACT_FIELDS
        assert a["sensor"] == "arm1" and a["modality"] == "emg"
        assert 40.0 <= a["t"] <= 100.0
        assert a["features"]["mdf_hz"] < a["baseline"]["mdf_hz"]
