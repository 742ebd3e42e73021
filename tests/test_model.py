import math

import numpy as np
import pytest

from monitor.core.errors import EventFormatError, SampleBlockError
from monitor.core.model import Event, SampleBlock, modality_for_channel


def test_event_json_round_trip_and_nan_becomes_null() -> None:
    e = Event(
        event="fatigue_onset",
        sensor="s1",
        channel="emg_1",
        modality="emg",
        t=12.5,
        message="MDF fell",
        features={"mdf_hz": 71.2, "rms": math.nan},
        baseline={"mdf_hz": 98.0},
    )
    text = e.to_json()
    assert '"rms":null' in text
    back = Event.from_json(text)
    assert back.id == e.id and back.wall_time == e.wall_time and back.t == 12.5
    assert back.features["mdf_hz"] == 71.2 and math.isnan(back.features["rms"])
    assert set(e.to_dict()) == {
        "id",
        "event",
        "sensor",
        "channel",
        "modality",
        "t",
        "wall_time",
        "features",
        "baseline",
        "message",
    }
    assert e.wall_time.endswith("Z")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("nope", "not JSON"),
        ("[1]", "JSON object"),
        ('{"event": "boom", "modality": "emg"}', "unknown event kind"),
        ('{"event": "fatigue_onset", "modality": "emg"}', "missing field"),
    ],
)
def test_bad_event_json(text: str, match: str) -> None:
    with pytest.raises(EventFormatError, match=match):
        Event.from_json(text)


def test_sample_block_validates_and_is_read_only() -> None:
    data = np.zeros((2, 10))
    b = SampleBlock("s", "emg", 1000.0, 0.0, 0, ("a", "b"), "mV", data)
    assert b.data.dtype == np.float32 and b.n_samples == 10 and b.t_end == pytest.approx(0.01)
    with pytest.raises(ValueError, match="read-only"):
        b.data[0, 0] = 1.0
    with pytest.raises(SampleBlockError, match="channel names"):
        SampleBlock("s", "emg", 1000.0, 0.0, 0, ("a",), "mV", data)
    with pytest.raises(SampleBlockError, match="sample rate"):
        SampleBlock("s", "emg", 0.0, 0.0, 0, ("a", "b"), "mV", data)
    with pytest.raises(SampleBlockError, match="modality"):
        SampleBlock("s", "eeg", 10.0, 0.0, 0, ("a", "b"), "mV", data)  # type: ignore[arg-type]


def test_modality_rule() -> None:
    assert modality_for_channel("ACC_x") == "acc"
    assert modality_for_channel("emg_1") == "emg"
    assert modality_for_channel("biceps") == "emg"
