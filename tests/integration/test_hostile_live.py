"""#11 against a real broker: hostile, broken and huge input never blinds a healthy sensor;
a full disk loses no alert; credentials, client ids and the ready line work as a user
runs the service."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
import pytest
from broker_proc import KINDS, BrokerProcess
from monitor_proc import MonitorProcess

from monitor.core.broker_url import parse_broker
from monitor.core.config import load_settings
from monitor.core.model import SampleBlock
from monitor.inputs.wire import encode_fmb1
from monitor.live.service import Service
from monitor.live.status import ServiceStatus
from monitor.outputs.store import Store


def good_payload(seq: int, sensor: str = "good") -> bytes:
    data = np.random.default_rng(seq).standard_normal((2, 100)).astype(np.float32)
    block = SampleBlock(sensor, "emg", 2000.0, seq * 0.05, seq, ("emg_1", "emg_2"), "mV", data)
    return encode_fmb1(block, "<f4")


def hostile_payloads() -> list[tuple[str, bytes]]:
    def js(**fields: object) -> bytes:
        obj: dict[str, object] = {"fs": 2000.0, "t0": 0.0, "seq": 0, "data": [[0.1] * 50]}
        obj.update(fields)
        return json.dumps(obj).encode()

    return [
        ("sensors/evil1/emg", js(fs=10, data=[[0.1] * 20])),
        ("sensors/evil2/emg", js(fs=0.001, data=[[0.1] * 5])),
        ("sensors/evil3/emg", js(fs=True)),
        ("sensors/evil4/acc", js(fs=2, data=[[0.1] * 8] * 3)),
        ("sensors/evil5/emg", js().replace(b'"seq": 0', b'"seq": ' + b"7" * 5000)),
        ("sensors/evil6/emg", b'{"fs": 2000, "t0": 0, "seq": 0, "data": ' + b"[" * 100_000 + b"}"),
        ("sensors/evil7/emg", js().replace(b'"fs": 2000.0', b'"fs": ' + b"3" * 401)),
    ]


def settings(broker: BrokerProcess, tmp_path: Path, **extra: object) -> Any:
    return load_settings(
        overrides={
            "mqtt.broker": broker.url,
            "service.db": str(tmp_path / "m.db"),
            "service.tick_s": 0.05,
            "service.api": False,
            **extra,
        },
        environ={},
    )


async def stream_good_sensor(
    client: aiomqtt.Client, seconds: float, extra: Callable[[int], Awaitable[None]]
) -> None:
    """The healthy sensor at 20 messages/s in real time; ``extra(i)`` after each message."""
    started = time.monotonic()
    for seq in range(round(seconds * 20)):
        await client.publish("sensors/good/emg", good_payload(seq))
        await extra(seq)
        await asyncio.sleep(max(0.0, started + (seq + 1) * 0.05 - time.monotonic()))


async def feature_times(sub: aiomqtt.Client, out: list[float]) -> None:
    async for _ in sub.messages:
        out.append(time.monotonic())


Extra = Callable[[aiomqtt.Client, int], Awaitable[None]]


def beside_a_good_sensor(
    broker: BrokerProcess,
    tmp_path: Path,
    seconds: float,
    extra: Extra,
    done: Callable[[ServiceStatus], bool],
    **overrides: object,
) -> tuple[list[float], ServiceStatus]:
    """Run the service while the good sensor streams for ``seconds`` and ``extra(pub, i)``
    sends whatever else after its message ``i``; wait for ``done(status)``. Returns when
    the good sensor's features arrived, and the service's final status."""

    async def scenario() -> tuple[list[float], ServiceStatus]:
        host, port, _ = parse_broker(broker.url)
        async with Service(settings(broker, tmp_path, **overrides)) as svc:
            runner = asyncio.create_task(svc.run())
            async with asyncio.timeout(30):
                await svc._parts()[3].ready.wait()
            got: list[float] = []
            async with aiomqtt.Client(host, port, identifier="features-sub") as sub:
                await sub.subscribe("fatigue/good/features")
                reader = asyncio.create_task(feature_times(sub, got))
                async with aiomqtt.Client(host, port, identifier="sensors") as pub:

                    async def more(i: int) -> None:
                        await extra(pub, i)

                    await stream_good_sensor(pub, seconds, more)
                async with asyncio.timeout(30):  # the last payloads may still be in flight
                    while not done(svc.status()):
                        await asyncio.sleep(0.05)
                reader.cancel()
            status = svc.status()
            runner.cancel()
            return got, status

    return asyncio.run(scenario())


def _refused(status: ServiceStatus) -> int:
    return sum(status.counters.rejected.values()) + sum(status.counters.decode_errors.values())


def test_hostile_payloads_never_blind_a_healthy_sensor(
    broker: BrokerProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = hostile_payloads()

    async def attack(pub: aiomqtt.Client, i: int) -> None:
        if i % 2 == 0:  # 10 hostile messages/s
            await pub.publish(*hostile[(i // 2) % len(hostile)])

    got, status = beside_a_good_sensor(broker, tmp_path, 8.0, attack, lambda st: _refused(st) >= 80)
    assert "tick failed" not in caplog.text
    assert len(got) >= 10  # 8 s of data: a window every 0.5 s from 1 s on
    assert max(b - a for a, b in itertools.pairwise(got)) < 3.0
    assert _refused(status) == 80
    assert status.counters.rejected["bad_rate"] >= 30


def test_a_flood_of_new_sensor_ids_is_refused_past_max_streams(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    async def flood(pub: aiomqtt.Client, i: int) -> None:  # 100 new ids per good message
        for k in range(100):
            await pub.publish(f"sensors/n{i}x{k}/emg", good_payload(0, "n"))

    expected = 100 * 100 - 49  # the good sensor and 49 new ones fill the 50 places

    def done(status: ServiceStatus) -> bool:
        return bool(status.counters.rejected.get("too_many_streams", 0) >= expected)

    got, status = beside_a_good_sensor(
        broker, tmp_path, 5.0, flood, done, **{"service.max_streams": 50}
    )
    assert status.streams == 50
    assert status.counters.rejected["too_many_streams"] == expected
    assert len(got) >= 6
    assert max(b - a for a, b in itertools.pairwise(got)) < 3.0


def test_alerts_raised_while_the_disk_is_full_are_published_and_stored_later(
    broker: BrokerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = {"on": False}

    def failing(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Store, *args: Any, **kwargs: Any) -> Any:
            if full["on"]:
                raise sqlite3.OperationalError("database or disk is full")
            return method(self, *args, **kwargs)

        return call

    for name in ("add_events", "mark_published", "add_features", "save_states"):
        monkeypatch.setattr(Store, name, failing(getattr(Store, name)))

    async def scenario() -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
        host, port, _ = parse_broker(broker.url)
        svc_settings = settings(broker, tmp_path, **{"service.silence_s": 1.0})
        async with Service(svc_settings) as svc:
            runner = asyncio.create_task(svc.run())
            async with asyncio.timeout(30):
                await svc._parts()[3].ready.wait()
            alerts: list[dict[str, Any]] = []
            async with aiomqtt.Client(host, port, identifier="alerts-sub") as sub:
                await sub.subscribe("fatigue/+/alerts", qos=1)
                async with aiomqtt.Client(host, port, identifier="sensors") as pub:

                    async def nothing(i: int) -> None:
                        return None

                    await stream_good_sensor(pub, 3.0, nothing)
                full["on"] = True  # the sensor goes silent on a full disk
                async with asyncio.timeout(30):
                    async for message in sub.messages:
                        alerts.append(json.loads(message.payload))  # type: ignore[arg-type]
                        if len(alerts) == 2:
                            break
                full["on"] = False  # space again: the waiting events are stored
                store = svc._parts()[2]
                async with asyncio.timeout(30):
                    while store.count_events() < 2:
                        await asyncio.sleep(0.05)
                rows = sqlite3.connect(tmp_path / "m.db").execute(
                    "SELECT id, published FROM events"
                )
                stored = [(str(i), int(p)) for i, p in rows.fetchall()]
            runner.cancel()
            return alerts, stored

    alerts, stored = asyncio.run(scenario())
    assert {a["event"] for a in alerts} == {"signal_lost"}
    assert sorted(i for i, _ in stored) == sorted(a["id"] for a in alerts)
    assert all(published for _, published in stored)  # stored once, never sent again


def test_two_monitors_on_one_broker_keep_their_own_connections(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    async def scenario() -> list[ServiceStatus]:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        async with (
            Service(settings(broker, tmp_path / "a")) as a,
            Service(settings(broker, tmp_path / "b")) as b,
        ):
            runners = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
            async with asyncio.timeout(30):
                await a._parts()[3].ready.wait()
                await b._parts()[3].ready.wait()
            # Same id: the broker took turns throwing one off (24 reconnects in 20 s).
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                if a.status().connections > 1 or b.status().connections > 1:
                    break
            for r in runners:
                r.cancel()
            return [a.status(), b.status()]

    for status in asyncio.run(scenario()):
        assert status.connections == 1 and status.connected


@pytest.mark.skipif("mosquitto" not in KINDS, reason="needs mosquitto for a password file")
def test_credentials_in_the_broker_url_are_used_and_never_printed(tmp_path: Path) -> None:
    broker = BrokerProcess("mosquitto", tmp_path, users={"monitor": "s3cr:et"})
    broker.start()
    try:
        url = f"mqtt://monitor:s3cr%3Aet@127.0.0.1:{broker.port}"
        mon = MonitorProcess("--broker", url, "--db", str(tmp_path / "m.db"), "--port", "0")
        try:
            line = mon.wait_ready()
        finally:
            rc = mon.stop()
        assert "s3cr" not in mon.stderr and rc == 0
        assert f"mqtt://127.0.0.1:{broker.port}" in line
    finally:
        broker.stop()


def test_a_bad_broker_url_and_a_numeric_secret_are_never_echoed(tmp_path: Path) -> None:
    mon = MonitorProcess("--broker", "mqtt://u:hunter22@host:99999", "--db", str(tmp_path / "m.db"))
    assert mon.exit_code() == 2
    assert "hunter22" not in mon.stderr and "***" in mon.stderr
    env = {"FATIGUE_MONITOR__MQTT__PASSWORD": "123456", "FATIGUE_MONITOR__SERVICE__PORT": "x"}
    mon = MonitorProcess("--broker", "mqtt://127.0.0.1:1", env=env)
    assert mon.exit_code() == 2  # the bad port is refused; the numeric password is accepted
    assert "service.port" in mon.stderr and "123456" not in mon.stderr
