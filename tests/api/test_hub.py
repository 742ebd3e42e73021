"""The live hub alone: decimation, fan-out, and dropping a client that does not keep up."""

from __future__ import annotations

import asyncio
import inspect
import json

import numpy as np
import pytest

from monitor.core.model import Event, FeatureFrame
from monitor.live.hub import LiveHub

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
    ticks: list[tuple[list[FeatureFrame], list[Event]]] = [
        ([frame(t=1.0), frame(t=1.5), frame("leg", t=1.0)], [event()]),
        ([frame(t=2.0)], [event(), event("leg")]),  # arm too soon: no frame
        ([frame(t=2.5, mdf=70.0)], []),
    ]
    for (frames, events), step in zip(ticks, (0.2, 0.4, 0.0), strict=True):
        hub.frames.offer(frames)  # the service's registry of newest frames
        hub.offer(frames, events)
        clock.now += step
    second = ticks[1][1]
    got = drain(c.queue)
    kinds = [m["type"] for m in got]
    assert kinds == ["frames", "events", "events", "frames"]  # one events message per tick
    first, last = got[0]["frames"], got[-1]["frames"]
    assert [(f["sensor"], f["t"]) for f in first] == [("arm", 1.5), ("leg", 1.0)]
    assert [(f["sensor"], f["t"]) for f in last] == [("arm", 2.5)]
    assert last[0]["channels"]["emg_1"] == {
        "mdf_hz": 70.0,
        "rms": None,  # NaN is not JSON
        "quality": "ok",
        "active": True,
    }
    (one,) = got[1]["events"]
    assert one == event().to_dict() | {"id": one["id"], "wall_time": one["wall_time"]}
    assert got[2]["events"] == [e.to_dict() for e in second]  # in the order raised
    assert hub.latest("arm")["emg"]["t"] == 2.5  # the API sees every frame, not the decimated


async def test_a_burst_of_events_in_one_tick_drops_no_client() -> None:
    """A broker outage with 200 sensors raises ~1,600 signal_lost events in one tick: they
    travel as one message, so clients that keep up are never dropped for it."""
    hub = LiveHub(queue_size=4, frame_interval_s=0.0)
    clients = [hub.connect() for _ in range(3)]
    burst = [
        Event("signal_lost", f"s{i // 8:03d}", f"emg_{i % 8}", "emg", 10.0, "no data")
        for i in range(2000)
    ]
    hub.offer([frame(t=1.0)], burst)
    hub.offer([frame(t=2.0)], burst[:10])
    assert hub.dropped_clients == 0 and hub.clients == 3
    for c in clients:
        got = drain(c.queue)
        assert [m["type"] for m in got] == ["frames", "events", "frames", "events"]
        assert [e["id"] for e in got[1]["events"]] == [e.id for e in burst]
        assert [e["id"] for e in got[3]["events"]] == [e.id for e in burst[:10]]


async def test_a_full_queue_drops_its_client_and_offer_never_waits() -> None:
    """``offer`` and ``broadcast`` are plain functions: they cannot await a client, so a
    stuck one cannot slow the producer; it is dropped once its queue is full, while a
    client that keeps up receives every message."""
    assert not inspect.iscoroutinefunction(LiveHub.offer)
    assert not inspect.iscoroutinefunction(LiveHub.broadcast)
    hub = LiveHub(queue_size=4, frame_interval_s=0.0)
    slow = hub.connect()
    fast = hub.connect()
    received = []
    for i in range(2000):
        assert hub.offer([frame(t=float(i))], []) is None  # returns at once, nothing to await
        received += drain(fast.queue)  # a client that keeps up
    assert slow.dropped.is_set() and not fast.dropped.is_set()
    assert hub.clients == 1 and hub.dropped_clients == 1
    assert slow.queue.qsize() == 4  # bounded: nothing more was queued for it
    assert [m["frames"][0]["t"] for m in received] == [float(i) for i in range(2000)]


async def test_no_clients_no_encoding_but_latest_is_kept() -> None:
    hub = LiveHub()
    hub.frames.offer([frame(t=3.0)])
    hub.offer([frame(t=3.0)], [event()])
    assert hub.sent_messages == 0
    assert hub.latest("arm")["emg"]["channels"]["emg_1"]["mdf_hz"] == 80.0
    assert hub.latest("nobody") == {}


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        LiveHub(queue_size=0)
