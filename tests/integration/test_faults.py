"""Faults: the broker goes away for 10 s; the monitor is killed with SIGKILL."""

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import numpy as np
from broker_proc import BrokerProcess
from monitor_proc import MonitorProcess

from monitor.core.broker_url import parse_broker
from monitor.core.config import load_settings
from monitor.live.service import Service
from monitor.live.status import ServiceStatus
from simulators.emg import EmgGenerator, EmgScenario
from simulators.mqtt import from_signal

BIN = Path(sys.executable).parent


class Gate:
    """A TCP proxy between the monitor and the broker that the test can close.

    Why: after the broker restarts, the test's subscriber must be subscribed before the
    monitor reconnects and drains its outbox (QoS 1 messages to nobody are not kept), or
    the test would be a race. The monitor reaches the broker only through this gate, and
    the gate opens once the subscriber is in place."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.open = True
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> "Gate":
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not self.open:
                raise ConnectionRefusedError
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.close()


def test_alerts_raised_during_a_broker_outage_are_delivered_afterwards(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    sc = EmgScenario(fs=2000.0, n_channels=2, duration_s=110.0, onset_s=40.0, decline_per_min=0.35)
    x = EmgGenerator(sc, np.random.default_rng(5)).read(sc.n_samples)
    sensor = from_signal("arm7", "emg", x, sc.fs, ("emg_1", "emg_2"), "mV")
    gate = Gate(broker.port)
    overrides: dict[str, object] = {
        "mqtt.backoff_max_s": 2.0,
        "service.db": str(tmp_path / "m.db"),
        "service.tick_s": 0.05,
        "service.silence_s": 60.0,
        "service.api": False,
    }
    host, port, _ = parse_broker(broker.url)

    async def scenario() -> tuple[set[str], set[str], ServiceStatus]:
        async with (
            gate,
            Service(
                load_settings(
                    overrides={**overrides, "mqtt.broker": f"mqtt://127.0.0.1:{gate.port}"},
                    environ={},
                )
            ) as svc,
        ):
            runner = asyncio.create_task(svc.run())
            pipeline, _, store, link = svc._parts()
            async with asyncio.timeout(15):
                await link.connected.wait()
            outage_started = time.monotonic()
            await asyncio.to_thread(broker.stop)
            # Data keeps arriving through another source while the broker is down.
            for seq in range(len(sensor)):
                pipeline.submit(sensor.topic, sensor.payload(seq))
            async with asyncio.timeout(30):
                while sum(e.event == "fatigue_onset" for e in store.unpublished()) < 2:
                    await asyncio.sleep(0.1)
            raised = {e.id for e in store.unpublished()}
            await asyncio.sleep(max(0.0, 10.0 - (time.monotonic() - outage_started)))
            gate.open = False  # the monitor waits until the subscriber is in place
            await asyncio.to_thread(broker.start)
            received: set[str] = set()
            async with aiomqtt.Client(host, port, identifier="after-outage") as sub:
                await sub.subscribe("fatigue/+/alerts", qos=1)
                gate.open = True
                async with asyncio.timeout(30):
                    async for message in sub.messages:
                        received.add(json.loads(message.payload)["id"])  # type: ignore[arg-type]
                        if raised <= received:
                            break
            status = svc.status()
            runner.cancel()
            return raised, received, status

    raised, received, status = asyncio.run(scenario())
    assert len(raised) >= 2
    assert raised <= received  # every alert raised during the outage, delivered
    assert status.connections == 2


def db_events(db: Path) -> list[tuple[str, str, int]]:
    """The store's events; none while the monitor has created the file but not the schema."""
    with sqlite3.connect(db) as con:
        try:
            return con.execute("SELECT id, event, published FROM events").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise


def fleet_process(broker: BrokerProcess, seconds: float) -> subprocess.Popen[bytes]:
    """Two EMG sensors that fatigue from 30 s, at 10x real time."""
    return subprocess.Popen(
        [
            str(BIN / "fatigue-sim"),
            "mqtt",
            "--broker",
            broker.url,
            "--sensors",
            "2",
            "--modality",
            "emg",
            "--fatigue-at",
            "30",
            "--duration",
            str(seconds),
            "--speed",
            "10",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_sigkill_loses_no_stored_alert_and_baselines_come_back(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    # Every wait is on a state (a stored row, a stderr line), none on a duration: the
    # second monitor gets data from a fleet started only once it said ``ready``, so a
    # busy machine cannot make the data arrive while no monitor listens.
    db = tmp_path / "m.db"
    env = {"FATIGUE_MONITOR__SERVICE__STATE_SAVE_S": "0.5"}
    args = ("--broker", broker.url, "--db", str(db), "--port", "0")
    mon = MonitorProcess(*args, env=env)
    fleet = fleet_process(broker, 140.0)
    try:
        mon.wait_ready()

        def onset_stored() -> bool:
            return db.exists() and any(e == "fatigue_onset" for _, e, _ in db_events(db))

        wait_until(onset_stored, 90.0, "a stored fatigue_onset")
        seen = time.time()

        def state_saved_after_onset() -> bool:
            with sqlite3.connect(db) as con:
                row = con.execute(
                    "SELECT MAX(updated) FROM detector_state WHERE sensor = 'emg01'"
                ).fetchone()
            return row[0] is not None and row[0] > seen

        wait_until(state_saved_after_onset, 30.0, "a state save after the onset")
        mon.proc.send_signal(signal.SIGKILL)
        mon.stop()
        fleet.kill()
        fleet.wait(timeout=10)
        before = db_events(db)
        assert any(e == "fatigue_onset" for _, e, _ in before)
        mon = MonitorProcess(*args, env=env)
        mon.wait_ready()
        fleet = fleet_process(broker, 40.0)
        mon.wait_for("restored the detector state (baselines) of emg01/emg", timeout=60.0)

        def outbox_drained() -> bool:
            # What the killed monitor stored is published by the new one (events of the
            # new one may still be on their way when it is stopped: they wait in the store).
            published = {i for i, _, done in db_events(db) if done}
            return {i for i, _, _ in before} <= published

        wait_until(outbox_drained, 30.0, "the outbox to drain after the restart")
    finally:
        fleet.kill()
        fleet.wait(timeout=10)  # reap it, or its ResourceWarning fails a later test
        mon.stop()
    after = db_events(db)
    ids = [i for i, _, _ in after]
    assert len(ids) == len(set(ids))  # nothing duplicated
    assert {i for i, _, _ in before} <= set(ids)  # nothing lost
    published = {i for i, _, done in after if done}
    assert {i for i, _, _ in before} <= published  # the outbox drained after the restart
