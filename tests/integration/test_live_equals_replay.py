"""Live and replay drive one core: a recording published through a real broker into
``fatigue-monitor run`` gives the events and features that replaying the file gives."""

from __future__ import annotations

import asyncio
import json
import math
import sys
from pathlib import Path

import aiomqtt
import numpy as np
from monitor_proc import MonitorProcess

import monitor
from simulators.emg import EmgGenerator, EmgScenario

BIN = Path(sys.executable).parent


def _write_recording(path: Path) -> None:
    """Two EMG channels at 1 kHz, fatigue from 40 s; values written as float32 reprs so
    the file, the FMB1 payloads and the replay hold the same samples bit for bit."""
    sc = EmgScenario(fs=1000.0, n_channels=2, duration_s=120.0, onset_s=30.0)
    x = EmgGenerator(sc, np.random.default_rng(11)).read(sc.n_samples).astype(np.float32)
    a, b = x.tolist()
    rows = (f"{i / 1000.0:.3f},{a[i]!r},{b[i]!r}" for i in range(x.shape[1]))
    path.write_text("time,emg_1,emg_2\n" + "\n".join(rows) + "\n")


async def _live(broker_url: str, port: int, rec: Path, db: Path) -> tuple[list, list]:  # type: ignore[type-arg]
    """Alerts (QoS 1) and features messages of sensor ``rec`` until its ``signal_lost``:
    the stream stopped, so every window before it has been judged and published."""
    alerts: list[monitor.Event] = []
    features: list[dict] = []  # type: ignore[type-arg]
    mon = MonitorProcess("--broker", broker_url, "--db", str(db), "--port", "0")
    try:
        await asyncio.to_thread(mon.wait_ready)
        async with aiomqtt.Client("127.0.0.1", port, identifier="live-eq-replay") as sub:
            await sub.subscribe("fatigue/rec/alerts", qos=1)
            await sub.subscribe("fatigue/rec/features", qos=0)
            sim = await asyncio.create_subprocess_exec(
                str(BIN / "fatigue-sim"),
                "mqtt",
                "--broker",
                broker_url,
                "--from",
                str(rec),
                "--speed",
                "8",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                async with asyncio.timeout(240):
                    async for m in sub.messages:
                        body = bytes(m.payload)  # type: ignore[arg-type]
                        if m.topic.value.endswith("/features"):
                            features.append(json.loads(body))
                            continue
                        event = monitor.Event.from_json(body)
                        if event.event == "signal_lost":
                            break
                        alerts.append(event)
            finally:
                _, err = await sim.communicate()
                assert sim.returncode == 0, err.decode()
    finally:
        mon.stop()
    assert "Traceback" not in mon.stderr
    return alerts, features


def test_live_service_gives_the_events_and_features_of_replay(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec = tmp_path / "rec.csv"
    _write_recording(rec)
    alerts, messages = asyncio.run(_live(broker.url, broker.port, rec, tmp_path / "m.db"))
    replayed = monitor.analyze(rec)

    last_t = max(m["t"] for m in messages)
    want = [e for e in replayed.event_list if e.t <= last_t]
    assert any(e.event == "fatigue_onset" for e in want)
    assert [(e.event, e.channel, e.t) for e in alerts] == [(e.event, e.channel, e.t) for e in want]
    for live, rep in zip(alerts, want, strict=True):
        assert live.features.keys() == rep.features.keys()
        for name, value in rep.features.items():
            assert math.isclose(live.features[name], value, rel_tol=0, abs_tol=1e-9) or (
                math.isnan(value) and math.isnan(live.features[name])
            ), name

    table = replayed.features.set_index(["t", "channel"])
    assert len(messages) >= 30
    for msg in messages:
        for channel, values in msg["channels"].items():
            row = table.loc[(msg["t"], channel)]
            assert values["quality"] == row["quality"]
            assert values["active"] == bool(row["active"])
            for name in monitor.core.model.EMG_FEATURES:
                got = values[name]
                if got is None:
                    assert math.isnan(row[name])
                else:
                    assert abs(got - row[name]) <= 1e-9, (msg["t"], channel, name)
