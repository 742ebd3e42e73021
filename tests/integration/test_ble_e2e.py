"""BLE end to end: virtual sensors (bumble GATT servers) -> in-process LocalLink -> the
production bleak code path (bumble backend) -> the service -> a real MQTT broker -> a
separate subscriber. Signals run faster than real time (``speed``); sample times come
from the device clock or sample counts, so the features do not depend on the speed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from broker_proc import BrokerProcess

from monitor.config import Settings, load_settings, parse_broker
from monitor.service import Service
from simulators.ble import VirtualAir, VirtualMyo, VirtualPolar, bumble_backend
from simulators.ble.peripherals import VirtualPeripheral
from simulators.ble.signals import myo_emg, polar_acc

pytestmark = pytest.mark.slow


def settings_for(broker: BrokerProcess, db: Path, device: dict[str, Any], **over: Any) -> Settings:
    overrides = {
        "mqtt.broker": broker.url,
        "service.db": str(db),
        "service.tick_s": 0.05,
        "service.api": False,
        "ble.devices": [device],
        "ble.scan_timeout_s": 2.0,
        "ble.backoff_max_s": 1.0,
        **over,
    }
    return load_settings(overrides=overrides, environ={})


async def run(
    broker: BrokerProcess,
    settings: Settings,
    make: Callable[[VirtualAir], VirtualPeripheral],
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float,
    during: Callable[[Service, VirtualPeripheral, VirtualAir], Any] | None = None,
) -> tuple[list[dict[str, Any]], Service, VirtualPeripheral]:
    """Run the service against one virtual peripheral until ``done(alerts)``."""
    host, port, _ = parse_broker(broker.url)
    alerts: list[dict[str, Any]] = []
    async with (
        VirtualAir() as air,
        make(air) as peripheral,
        Service(settings, ble_backend=bumble_backend(air)) as svc,
        aiomqtt.Client(host, port, identifier="ble-alert-subscriber") as sub,
    ):
        await sub.subscribe("fatigue/+/alerts", qos=1)
        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(svc.run())

            async def collect() -> None:
                async for message in sub.messages:
                    alerts.append(json.loads(message.payload))  # type: ignore[arg-type]
                    if done(alerts):
                        return

            try:
                async with asyncio.timeout(timeout):
                    if during is None:
                        await collect()
                    else:
                        collector = tg.create_task(collect())
                        await during(svc, peripheral, air)
                        await collector
            finally:
                runner.cancel()
    return alerts, svc, peripheral


def kinds(alerts: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["event"] == kind]


def test_virtual_polar_tremor_reaches_an_mqtt_subscriber(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    signal = polar_acc(80.0, onset_s=25.0, tremor_gain=6.0, tremor_hz=9.5, noise_rms=0.02, seed=3)
    device = {
        "driver": "polar",
        "sensor": "h10",
        "name": "Polar H10",
        "options": {"rate_hz": 200, "range_g": 8},
    }
    alerts, svc, polar = asyncio.run(
        run(
            broker,
            settings_for(broker, tmp_path / "m.db", device),
            lambda air: VirtualPolar(
                air.new_device("Polar H10 0A1B2C3D"), signal, speed=4.0, loop=False
            ),
            lambda got: bool(kinds(got, "tremor_onset")),
            timeout=60.0,
        )
    )
    onset = kinds(alerts, "tremor_onset")[0]
    assert onset["sensor"] == "h10" and onset["modality"] == "acc"
    assert abs(onset["features"]["tremor_peak_hz"] - 9.5) < 1.0
    status = svc.status()["ble"]["h10"]  # type: ignore[index]
    assert status["connections"] == 1 and status["decode_errors"] == {}
    assert polar.starts == 1


def test_virtual_myo_fatigue_reaches_an_mqtt_subscriber(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    signal = myo_emg(70.0, onset_s=15.0, decline_per_min=0.6, seed=1)
    device = {"driver": "myo", "sensor": "myo-arm", "name": "Myo"}
    alerts, svc, myo = asyncio.run(
        run(
            broker,
            settings_for(broker, tmp_path / "m.db", device),
            lambda air: VirtualMyo(air.new_device("Myo"), signal, speed=8.0, loop=False),
            lambda got: len(kinds(got, "fatigue_onset")) >= 4,
            timeout=60.0,
        )
    )
    onsets = kinds(alerts, "fatigue_onset")
    assert {a["sensor"] for a in onsets} == {"myo-arm"} and len(onsets) >= 4
    for a in onsets:  # MDF on a 200 Hz armband: the band is 20-90 Hz, fresh MDF ~47 Hz
        assert a["features"]["mdf_hz"] < 0.9 * a["baseline"]["mdf_hz"] < 60.0
    assert myo.mode == bytes([0x03, 0x00, 0x00])  # raw EMG, no IMU, no classifier
    status = svc.status()
    assert status["gaps"] == 0 and status["ble"]["myo-arm"]["dropped"] == 0  # type: ignore[index]


def test_three_dropped_links_reconnect_restart_and_keep_the_baseline(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    signal = myo_emg(600.0, seed=2)  # fresh muscle: no fatigue, looping
    device = {"driver": "myo", "sensor": "myo-arm", "name": "Myo"}
    settings = settings_for(broker, tmp_path / "m.db", device, **{"service.silence_s": 0.3})
    seen: dict[str, Any] = {}

    async def drop_three_times(svc: Service, myo: VirtualPeripheral, air: VirtualAir) -> None:
        source = svc.ble_sources[0]
        pipeline = svc._parts()[0]
        key = ("myo-arm", "emg")
        async with asyncio.timeout(30):  # a baseline first (6 s of signal at speed 4)
            while not (key in pipeline.detectors and all(pipeline.detectors[key].baselines)):
                await asyncio.sleep(0.1)
        seen["detector"] = pipeline.detectors[key]
        seen["baselines"] = json.dumps(pipeline.detectors[key].baselines)
        for n in range(1, 4):
            await air.away(myo.device, 1.0)
            async with asyncio.timeout(15):
                while source.connections < n + 1 or not source.connected.is_set():
                    await asyncio.sleep(0.05)
            det = pipeline.detectors[key]
            seen.setdefault("kept", []).append(det is seen["detector"] and all(det.baselines))
            await asyncio.sleep(2.0)  # stream again for 8 s of signal: windows, restored
        seen["after"] = json.dumps(pipeline.detectors[key].baselines)
        seen["same"] = pipeline.detectors[key] is seen["detector"]
        seen["status"] = svc.status()

    alerts, _svc, myo = asyncio.run(
        run(
            broker,
            settings,
            lambda air: VirtualMyo(air.new_device("Myo"), signal, speed=4.0),
            lambda got: len(kinds(got, "signal_restored")) >= 3 * 8,
            timeout=90.0,
            during=drop_three_times,
        )
    )
    ble = seen["status"]["ble"]["myo-arm"]
    assert ble["connections"] == 4 and ble["disconnects"] == 3
    assert myo.starts == 4  # the set-mode command went out on every connection
    for channel in (f"emg_{i}" for i in range(1, 9)):
        lost = [a for a in kinds(alerts, "signal_lost") if a["channel"] == channel]
        restored = [a for a in kinds(alerts, "signal_restored") if a["channel"] == channel]
        assert len(lost) == 3 and len(restored) == 3
    # The same detector throughout; its baseline (still refining over the first active
    # minute) was not reset by the outages.
    before, after = json.loads(seen["baselines"]), json.loads(seen["after"])
    assert seen["same"] and seen["kept"] == [True, True, True]
    for b0, b1 in zip(before, after, strict=True):
        assert b1["mdf_hz"] == pytest.approx(b0["mdf_hz"], rel=0.15)
    assert kinds(alerts, "fatigue_onset") == []
    assert seen["status"]["gaps"] >= 3  # each outage is a gap in the stream, not a restart
