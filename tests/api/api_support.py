"""Helpers of the API tests: a real Store and Pipeline fed with simulated sensors, and
the app built on them.

``fed`` runs once per module: a fatiguing two-channel EMG sensor ``arm`` and a trembling
accelerometer ``wrist`` through the pipeline (FMB1 payloads, as over MQTT), the hub
offered every tick and features stored every few ticks as the service does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import numpy as np
from fastapi import FastAPI

from monitor.core.config import Settings
from monitor.core.model import Event, SampleBlock
from monitor.inputs.wire import encode_fmb1
from monitor.live.api import create_app
from monitor.live.hub import LiveHub
from monitor.live.pipeline import Pipeline
from monitor.live.status import ServiceStatus
from monitor.outputs.store import Store
from simulators.acc import AccGenerator, AccScenario
from simulators.emg import EmgGenerator, EmgScenario

TOKEN = "s3cret-token"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def payloads(
    sensor: str, modality: str, x: np.ndarray, fs: float, channels: tuple[str, ...], per_s: int
) -> list[tuple[float, str, bytes]]:
    step = int(fs / per_s)
    out = []
    for seq, start in enumerate(range(0, x.shape[1], step)):
        block = SampleBlock(
            sensor, modality, fs, start / fs, seq, channels, "mV", x[:, start : start + step]
        )  # type: ignore[arg-type]
        out.append((start / fs, f"sensors/{sensor}/{modality}", encode_fmb1(block, "<f4")))
    return out


def fleet(seconds: float = 110.0) -> list[tuple[float, str, bytes]]:
    onset = 40.0 if seconds > 40.0 else None
    emg = EmgScenario(
        fs=2000.0, n_channels=2, duration_s=seconds, onset_s=onset, decline_per_min=0.35
    )
    x = EmgGenerator(emg, np.random.default_rng(11)).read(emg.n_samples)
    acc = AccScenario(fs=100.0, duration_s=seconds, onset_s=onset, tremor_gain=6.0)
    a = AccGenerator(acc, np.random.default_rng(5)).read(acc.n_samples)
    msgs = payloads("arm", "emg", x, 2000.0, ("emg_1", "emg_2"), 20)
    msgs += payloads("wrist", "acc", a, 100.0, ("acc_x", "acc_y", "acc_z"), 10)
    return sorted(msgs, key=lambda m: m[0])


@dataclass
class Fed:
    store: Store
    pipeline: Pipeline
    hub: LiveHub
    clock: Clock
    events: list[Event]
    started: float


def feed(store: Store, seconds: float = 110.0) -> Fed:
    clock = Clock()
    started = clock.now
    pipeline = Pipeline(Settings(), store, clock=clock)
    hub = LiveHub()
    events: list[Event] = []
    msgs = fleet(seconds)
    tick_s = 0.5
    i = 0
    t = 0.0
    ticks = 0
    while i < len(msgs):
        t += tick_s
        while i < len(msgs) and msgs[i][0] < t:
            pipeline.submit(msgs[i][1], msgs[i][2])
            i += 1
        clock.now += tick_s
        result = pipeline.tick()
        events += result.events
        hub.frames.offer(result.frames)
        hub.offer(result.frames, result.events)
        ticks += 1
        if ticks % 10 == 0:
            latest = {(f.sensor, f.modality): f for f in result.frames}
            store.add_features(list(latest.values()))
    return Fed(store, pipeline, hub, clock, events, started)


def build_app(fed: Fed, token: str = "", **kwargs: object) -> FastAPI:
    return create_app(
        store=fed.store,
        pipeline=fed.pipeline,
        hub=fed.hub,
        status=lambda: ServiceStatus(uptime_s=12.5, connected=True),
        token=token,
        **kwargs,  # type: ignore[arg-type]
    )


def connect(
    app: FastAPI, token: str | None = None, base_url: str = "http://127.0.0.1:8080"
) -> httpx.AsyncClient:
    """An in-process client. Its host must be one the app serves (the Guard refuses other
    ``Host`` headers with 400): 127.0.0.1, as a browser on the machine would send."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url, headers=headers
    )
