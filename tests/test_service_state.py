"""The retained state message of a sensor covers every stream of it."""

from __future__ import annotations

from monitor.config import Settings
from monitor.detect.stream import StreamDetector
from monitor.model import Modality
from monitor.service import sensor_states


def detector(sensor: str, modality: Modality, channels: tuple[str, ...]) -> StreamDetector:
    s = Settings()
    return StreamDetector(sensor, modality, channels, s.detect, s.dsp)


def test_a_sensor_with_emg_and_acc_states_both_in_one_message() -> None:
    detectors = {
        ("arm", "emg"): detector("arm", "emg", ("emg_1", "emg_2")),
        ("arm", "acc"): detector("arm", "acc", ("acc",)),
        ("leg", "emg"): detector("leg", "emg", ("emg_1",)),
    }
    states = sensor_states(detectors, {"arm", "leg"})
    assert states["arm"]["modality"] == "mixed"
    assert {k: v["modality"] for k, v in states["arm"]["channels"].items()} == {
        "emg_1": "emg",
        "emg_2": "emg",
        "acc": "acc",
    }
    assert states["arm"]["channels"]["emg_1"]["phase"] == "learning"
    assert "tremor" in states["arm"]["channels"]["acc"]
    assert states["leg"]["modality"] == "emg"
    assert list(states["leg"]["channels"]) == ["emg_1"]
    assert sensor_states(detectors, {"leg"}).keys() == {"leg"}
    assert sensor_states(detectors, set()) == {}


def test_a_channel_name_two_streams_share_is_qualified() -> None:
    detectors = {
        ("s", "emg"): detector("s", "emg", ("ch1", "ch2")),
        ("s", "acc"): detector("s", "acc", ("ch1",)),
    }
    channels = sensor_states(detectors, {"s"})["s"]["channels"]
    assert set(channels) == {"emg:ch1", "ch2", "acc:ch1"}
