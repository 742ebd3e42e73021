"""One registry of each stream's newest frame, read by the publisher, the store and the API,
each at its own pace."""

from __future__ import annotations

import numpy as np

from monitor.core.model import FeatureFrame
from monitor.live.latest import LatestFrames


def frame(sensor: str, t: float, modality: str = "emg") -> FeatureFrame:
    return FeatureFrame(
        sensor=sensor,
        modality=modality,  # type: ignore[arg-type]
        t=t,
        channels=("emg_1",),
        features={"mdf_hz": np.array([80.0])},
        quality=("ok",),
    )


def test_each_consumer_takes_each_streams_newest_frame_once() -> None:
    reg = LatestFrames(("mqtt", "store"), wall=lambda: 5.0)
    reg.offer([frame("a", 1.0), frame("a", 1.5), frame("b", 1.0)])
    assert [(f.sensor, f.t) for f in reg.take("mqtt")] == [("a", 1.5), ("b", 1.0)]
    assert reg.take("mqtt") == []  # nothing new since
    # The store, slower, takes a slice; what it did not take stays pending for it only.
    assert [f.sensor for f in reg.take("store", [("b", "emg")])] == ["b"]
    assert list(reg.pending("store")) == [("a", "emg")]
    reg.offer([frame("a", 2.0)])
    assert [f.t for f in reg.take("store")] == [2.0]  # the newest, not the one missed
    assert [f.t for f in reg.take("mqtt")] == [2.0]
    got = reg.get(("a", "emg"))
    assert got is not None and got[0] == 5.0 and got[1].t == 2.0


def test_a_key_taken_twice_or_never_offered_gives_nothing() -> None:
    reg = LatestFrames(("store",))
    reg.offer([frame("a", 1.0)])
    assert len(reg.take("store", [("a", "emg"), ("a", "emg"), ("zz", "acc")])) == 1


def test_forgotten_streams_leave_every_consumer() -> None:
    reg = LatestFrames(("mqtt", "store"))
    reg.offer([frame("a", 1.0), frame("b", 1.0, "acc")])
    reg.forget([("a", "emg")])
    assert reg.get(("a", "emg")) is None and len(reg) == 1
    assert [f.sensor for f in reg.take("mqtt")] == ["b"]
    assert [f.sensor for f in reg.take("store")] == ["b"]
