"""The live hub alone: decimation, fan-out, and dropping a client that does not keep up."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest

from monitor.model import Event, FeatureFrame
from monitor.sinks.hub import LiveHub

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frame(sensor: str = "arm", t: float = 1.0, mdf: float = 80.0) -> FeatureFrame:
    return FeatureFrame(
        sensor,
        "emg",
        t,
        ("emg_1",),
        {"mdf_hz": np.array([mdf]), "rms": np.array([np.nan])},
        ("ok",),
        np.array([True]),
    )


def event(sensor: str = "arm") -> Event:
    return Event("fatigue_onset", sensor, "emg_1", "emg", 50.0, "MDF fell", {"mdf_hz": 70.0})


def drain(q: asyncio.Queue[str]) -> list[dict]:  # type: ignore[type-arg]
    out = []
    while not q.empty():
        out.append(json.loads(q.get_nowait()))
    return out


async def test_frames_are_decimated_per_stream_and_events_never() -> None:
    clock = Clock()
    hub = LiveHub(frame_interval_s=0.5, clock=clock, wall=lambda: 1.7e9)
    c = hub.connect()
    hub.offer([frame(t=1.0), frame(t=1.5), frame("leg", t=1.0)], [event()])
    clock.now += 0.2
    hub.offer([frame(t=2.0)], [event(), event("leg")])  # arm too soon: no frame
    clock.now += 0.4
    hub.offer([frame(t=2.5, mdf=70.0)], [])
    got = drain(c.queue)
    kinds = [m["type"] for m in got]
    assert kinds == ["frames", "event", "event", "event", "frames"]
    first, last = got[0]["frames"], got[-1]["frames"]
    assert [(f["sensor"], f["t"]) for f in first] == [("arm", 1.5), ("leg", 1.0)]
    assert [(f["sensor"], f["t"]) for f in last] == [("arm", 2.5)]
    assert last[0]["channels"]["emg_1"] == {
        "mdf_hz": 70.0,
        "rms": None,  # NaN is not JSON
        "quality": "ok",
        "active": True,
    }
    assert got[1]["event"] == event().to_dict() | {
        "id": got[1]["event"]["id"],
        "wall_time": got[1]["event"]["wall_time"],
    }
    assert hub.latest("arm")["emg"]["t"] == 2.5  # the API sees every frame, not the decimated


async def test_a_full_queue_drops_its_client_and_offer_stays_cheap() -> None:
    hub = LiveHub(queue_size=4, frame_interval_s=0.0)
    slow = hub.connect()
    fast = hub.connect()
    durations = []
    for i in range(2000):
        started = time.perf_counter()
        hub.offer([frame(t=float(i))], [])
        durations.append(time.perf_counter() - started)
        drain(fast.queue)  # a client that keeps up
    assert slow.dropped.is_set() and not fast.dropped.is_set()
    assert hub.clients == 1 and hub.dropped_clients == 1
    assert slow.queue.qsize() == 4  # bounded: nothing more was queued for it
    assert max(durations) < 0.01  # never waits for anyone
    assert sorted(durations)[len(durations) // 2] < 0.001


async def test_no_clients_no_encoding_but_latest_is_kept() -> None:
    hub = LiveHub()
    hub.offer([frame(t=3.0)], [event()])
    assert hub.sent_messages == 0
    assert hub.latest("arm")["emg"]["channels"]["emg_1"]["mdf_hz"] == 80.0
    assert hub.latest("nobody") == {}


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        LiveHub(queue_size=0)
