"""What a flush sends, in which order and with which QoS; what a refused send costs."""

import asyncio
import json
from pathlib import Path

import numpy as np

from monitor.core.model import Event, FeatureFrame
from monitor.live.publisher import STATS_TOPIC, MqttPublisher, features_payload
from monitor.outputs.store import Store


class FakeClient:
    """Records every send in order; ``refuse`` makes QoS 0 sends fail like a full queue."""

    def __init__(self, refuse: bool = False) -> None:
        self.sent: list[tuple[str, str, int, bool]] = []
        self.refuse = refuse

    async def publish(
        self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False
    ) -> None:
        await asyncio.sleep(0)
        self.sent.append((topic, str(payload), qos, retain))

    def publish_nowait(self, topic: str, payload: str | bytes) -> bool:
        if self.refuse:
            return False
        self.sent.append((topic, str(payload), 0, False))
        return True


def frame(sensor: str, t: float, mdf: list[float]) -> FeatureFrame:
    channels = tuple(f"emg_{i + 1}" for i in range(len(mdf)))
    return FeatureFrame(
        sensor,
        "emg",
        t,
        channels,
        {"mdf_hz": np.array(mdf), "rms": np.arange(len(mdf), dtype=np.float64)},
        ("ok",) * len(mdf),
        active=np.array([True] * len(mdf)),
    )


def test_features_payload_keeps_values_and_writes_non_finite_as_null() -> None:
    body = json.loads(features_payload(frame("arm", 2.5, [81.25, float("nan")])))
    assert body["sensor"] == "arm" and body["modality"] == "emg" and body["t"] == 2.5
    assert body["channels"]["emg_1"] == {
        "mdf_hz": 81.25,
        "rms": 0.0,
        "quality": "ok",
        "active": True,
    }
    assert body["channels"]["emg_2"]["mdf_hz"] is None  # NaN is not JSON


def test_flush_sends_alerts_then_latest_features_then_states(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        alert = Event(
            event="fatigue_onset", sensor="arm", channel="emg_1", modality="emg", t=3.0, message="m"
        )
        store.add_events([alert])
        pub = MqttPublisher(store)
        pub.latest.offer([frame("arm", 1.0, [80.0]), frame("arm", 1.5, [79.0])])
        pub.offer_states({"arm": {"x": 1}})
        pub.offer_stats({"messages": 7})
        client = FakeClient()
        asyncio.run(pub.flush(client))
        topics = [(t, q, r) for t, _, q, r in client.sent]
        assert topics == [
            ("fatigue/arm/alerts", 1, False),
            ("fatigue/arm/features", 0, False),
            (STATS_TOPIC, 0, False),
            ("fatigue/arm/state", 1, True),
        ]
        assert json.loads(client.sent[1][1])["t"] == 1.5  # only the stream's latest frame
        assert store.unpublished() == []  # the alert was acknowledged
        assert pub.published_alerts == 1 and pub.published_features == 1


def test_a_refused_feature_send_is_counted_not_raised(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        pub = MqttPublisher(store)
        pub.latest.offer([frame("a", 1.0, [80.0]), frame("b", 1.0, [80.0])])
        asyncio.run(pub.flush(FakeClient(refuse=True)))
        assert pub.published_features == 0 and pub.unsent_features == 2
