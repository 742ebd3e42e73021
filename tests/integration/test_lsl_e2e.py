"""Lab Streaming Layer end to end: a pylsl outlet streams simulated fatiguing EMG at 2 kHz
(faster than real time, stamped with the stream's own times) -> the service's LSL source
-> a real MQTT broker, the API and the LSL event outlet, read by a pylsl inlet. The outlet then
goes away (``signal_lost``) and comes back (``signal_restored``)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import numpy as np
import pytest
from broker_proc import BrokerProcess

from monitor.core.broker_url import parse_broker
from monitor.core.config import load_settings
from monitor.live.service import Service
from simulators.emg import EmgGenerator, EmgScenario

pylsl = pytest.importorskip("pylsl")
pytestmark = pytest.mark.slow
FS = 2000.0
SPEED = 8.0  # x real time


class Outlet:
    """A thread pushing a recording through a pylsl outlet, 0.1 s chunks at ``SPEED``."""

    def __init__(self, name: str, data: np.ndarray, start: float) -> None:
        self.name, self.data, self.start = name, data, start
        self.stop = threading.Event()
        self.pushed = 0
        info = pylsl.StreamInfo(name, "EMG", data.shape[0], FS, "float32", name)
        chans = info.desc().append_child("channels")
        for label in ("vl", "rf"):
            ch = chans.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", "mV")
        self.outlet = pylsl.StreamOutlet(info, chunk_size=200)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = self.data.shape[1]
        t_next = time.monotonic()
        while not self.stop.is_set() and self.pushed < n:
            end = min(n, self.pushed + 200)
            chunk = self.data[:, self.pushed : end].T.tolist()
            stamp = self.start + (end - 1) / FS  # the stream's own time of its last sample
            self.outlet.push_chunk(chunk, stamp)
            self.pushed = end
            t_next += 200 / FS / SPEED
            time.sleep(max(0.0, t_next - time.monotonic()))


class Markers:
    """Collects the monitor's LSL event stream in a thread."""

    def __init__(self, source_id: str) -> None:
        self.items: list[dict[str, Any]] = []
        self.source_id = source_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        found = pylsl.resolve_bypred(f"source_id='{self.source_id}'", 1, 30.0)
        if not found:
            return
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(timeout=10.0)
        while not self.stop.is_set():
            sample, _ = inlet.pull_sample(timeout=0.2)
            if sample:
                self.items.append(json.loads(sample[0]))


def test_lsl_emg_stream_to_alerts_and_the_lsl_event_outlet(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    sc = EmgScenario(fs=FS, n_channels=2, duration_s=150.0, onset_s=30.0, decline_per_min=0.3)
    data = EmgGenerator(sc, np.random.default_rng(4)).read(sc.n_samples)
    name = f"emg-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        overrides={
            "mqtt.broker": broker.url,
            "service.db": str(tmp_path / "m.db"),
            "service.tick_s": 0.05,
            "service.api": True,
            "service.host": "127.0.0.1",
            "service.port": 0,
            "lsl.streams": [{"predicate": f"name='{name}'", "sensor": "lsl-emg"}],
            "lsl.stall_s": 1.0,
            "lsl.resolve_timeout_s": 1.0,
            "lsl.backoff_max_s": 1.0,
        },
        environ={},
    )
    host, port, _ = parse_broker(broker.url)
    alerts: list[dict[str, Any]] = []
    start = pylsl.local_clock() + 100.0

    def kinds(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
        return [a for a in items if a["event"] == kind]

    async def main() -> tuple[Markers, Markers]:
        async with (
            Service(settings) as svc,
            aiomqtt.Client(host, port, identifier="lsl-alert-subscriber") as sub,
        ):
            await sub.subscribe("fatigue/+/alerts", qos=1)
            assert svc.lsl_outlet is not None and svc.lsl_features is not None
            markers = Markers(svc.lsl_outlet.source_id)
            features = Markers(svc.lsl_features.source_id)
            outlet = Outlet(name, data, start)
            outlet.thread.start()

            async def collect() -> None:
                async for message in sub.messages:
                    alerts.append(json.loads(message.payload))  # type: ignore[arg-type]

            async def until(cond: Any, timeout: float) -> None:
                async with asyncio.timeout(timeout):
                    while not cond():
                        await asyncio.sleep(0.05)

            async with asyncio.TaskGroup() as tg:
                runner = tg.create_task(svc.run())
                collector = tg.create_task(collect())
                try:
                    # Deadlines, not waits: each step ends as soon as it is seen.
                    await until(lambda: kinds(alerts, "fatigue_onset"), 120.0)
                    await until(lambda: kinds(markers.items, "fatigue_onset"), 30.0)
                    await until(lambda: len(features.items) >= 10, 30.0)
                    async with httpx.AsyncClient(base_url=str(svc.api_url)) as http:
                        stored = (await http.get("/api/alerts")).json()
                    api_onsets = [a for a in stored if a["event"] == "fatigue_onset"]
                    assert api_onsets and api_onsets[0]["sensor"] == "lsl-emg"
                    outlet.stop.set()
                    outlet.thread.join()
                    del outlet  # the outlet goes away
                    await until(lambda: kinds(alerts, "signal_lost"), 30.0)
                    again = Outlet(name, data[:, :60_000], start + 200.0)
                    again.thread.start()
                    await until(lambda: kinds(alerts, "signal_restored"), 60.0)
                    again.stop.set()
                finally:
                    markers.stop.set()
                    features.stop.set()
                    runner.cancel()
                    collector.cancel()
            return markers, features

    markers, features = asyncio.run(main())
    onset = kinds(alerts, "fatigue_onset")[0]
    assert onset["sensor"] == "lsl-emg" and onset["modality"] == "emg"
    assert onset["channel"] in ("vl", "rf")
    # t is on the LSL clock: after the true onset at 30 s of signal, within 90 s of it.
    assert 30.0 < onset["t"] - start < 120.0
    marker = kinds(markers.items, "fatigue_onset")[0]
    assert marker["sensor"] == "lsl-emg" and marker["t"] == pytest.approx(onset["t"])
    # The features stream: the features messages of fatigue/{id}/features, in time order.
    frames = [f for f in features.items if f["sensor"] == "lsl-emg"]
    assert frames and frames[0]["modality"] == "emg"
    assert set(frames[0]["channels"]) == {"vl", "rf"}
    assert all(b["t"] > a["t"] for a, b in itertools.pairwise(frames))
    lost = kinds(alerts, "signal_lost")[0]
    restored = kinds(alerts, "signal_restored")[0]
    assert lost["sensor"] == restored["sensor"] == "lsl-emg"


def test_run_without_a_broker_takes_lsl_and_serves_alerts_from_the_store(
    tmp_path: Path,
) -> None:
    """``run`` with only an LSL source and no MQTT broker: alerts go to the store and
    the API (before, ``run`` refused to start without ``--broker``)."""
    from monitor_proc import MonitorProcess

    sc = EmgScenario(fs=FS, n_channels=2, duration_s=150.0, onset_s=30.0, decline_per_min=0.3)
    data = EmgGenerator(sc, np.random.default_rng(4)).read(sc.n_samples)
    name = f"emg-{uuid.uuid4().hex[:8]}"
    mon = MonitorProcess(
        "--lsl",
        f"name='{name}'",
        "--db",
        str(tmp_path / "m.db"),
        "--port",
        "0",
        env={"FATIGUE_MONITOR__MQTT__BROKER": "", "FATIGUE_MONITOR__SERVICE__TICK_S": "0.05"},
    )
    outlet = Outlet(name, data, pylsl.local_clock() + 100.0)
    try:
        ready = mon.wait_ready()
        assert "no MQTT broker" in ready
        url = ready.rsplit("dashboard ", 1)[1].strip()
        outlet.thread.start()
        onsets: list[dict[str, Any]] = []
        deadline = time.monotonic() + 150.0
        with httpx.Client(base_url=url, timeout=10.0) as http:
            while not onsets and time.monotonic() < deadline:
                alerts = http.get("/api/alerts").json()
                onsets = [a for a in alerts if a["event"] == "fatigue_onset"]
                if not onsets:
                    time.sleep(0.5)  # the next poll of the API; the deadline bounds the wait
            health = http.get("/api/health").json()
    finally:
        outlet.stop.set()
        rc = mon.stop()
    assert onsets, mon.stderr[-2000:]
    assert onsets[0]["sensor"] == name and onsets[0]["channel"] in ("vl", "rf")
    assert health["mqtt_connected"] is None
    assert rc == 0 and "Traceback" not in mon.stderr
