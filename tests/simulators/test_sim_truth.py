"""The truth JSON: every documented key present, lossless round trip, strict JSON."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from simulators.acc import AccGenerator, AccScenario
from simulators.emg import Dropout, EmgGenerator, EmgScenario, ForceStep, RestPeriod
from simulators.errors import TruthFormatError
from simulators.truth import (
    RecordingTruth,
    TruthSet,
    read_truth,
    read_truth_set,
    sidecar_path,
    write_truth,
    write_truth_set,
)

#: The keys docs/truth-format.md promises in every recording object.
DOCUMENTED_KEYS = {
    "truth_version",
    "file",
    "modality",
    "fs",
    "duration_s",
    "n_samples",
    "channels",
    "unit",
    "seed",
    "fatigue",
    "expected_event",
    "onset_s",
    "end_s",
    "mdf0_hz",
    "analysis_band_hz",
    "tremor_hz",
    "tremor_band_hz",
    "tremor_rms_before",
    "tremor_rms_after",
    "noise_band_rms",
    "format",
    "unit_in_file",
    "clipped_samples",
    "padded_samples",
    "phases",
    "artifacts",
    "params",
    "mdf_true",
    "rms_true",
    "force_true",
    "tremor_rms_true",
}


def emg_truth() -> RecordingTruth:
    scenario = EmgScenario(
        fs=1000.0,
        n_channels=2,
        duration_s=60.5,
        onset_s=20.0,
        rests=(RestPeriod(40.0, 50.0),),
        force_steps=(ForceStep(10.0, 1.4),),
        dropouts=(Dropout(5.0, 6.0, (0,)),),
        motion_per_min=3.0,
    )
    return EmgGenerator(scenario, np.random.default_rng(1)).truth(file="a.edf", seed=1)


def acc_truth() -> RecordingTruth:
    scenario = AccScenario(fs=50.0, duration_s=40.0, onset_s=10.0, pathological_hz=5.0)
    return AccGenerator(scenario, np.random.default_rng(2)).truth(file="b.csv", seed=2)


@pytest.mark.parametrize("make", [emg_truth, acc_truth])
def test_round_trip_and_documented_keys(make, tmp_path: Path) -> None:
    truth = make()
    obj = truth.to_dict()
    assert set(obj) == DOCUMENTED_KEYS
    text = json.dumps(obj, allow_nan=False)
    again = RecordingTruth.from_dict(json.loads(text))
    assert again.to_dict() == obj
    path = write_truth(tmp_path / truth.file, truth)
    assert path == sidecar_path(tmp_path / truth.file)
    assert path.name == truth.file + ".truth.json"
    assert read_truth(tmp_path / truth.file).to_dict() == obj
    assert read_truth(path).to_dict() == obj
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))


def test_emg_fields() -> None:
    obj = emg_truth().to_dict()
    assert obj["modality"] == "emg" and obj["unit"] == "mV"
    assert obj["fatigue"] is True and obj["expected_event"] == "fatigue_onset"
    assert obj["onset_s"] == 20.0 and obj["end_s"] == 40.0
    assert obj["tremor_rms_true"] is None and obj["tremor_hz"] is None
    mdf = obj["mdf_true"]
    assert mdf["t"] == [float(i) for i in range(61)]
    assert len(mdf["mdf_hz"]) == 61 and len(mdf["by_channel"]) == 2
    assert mdf["mdf_hz"][45] is None  # resting
    assert obj["rms_true"]["rms"][45] == 0.0
    phases = obj["phases"]
    assert phases[0]["start_s"] == 0.0 and phases[-1]["end_s"] == 60.5
    assert all(a["end_s"] == b["start_s"] for a, b in itertools.pairwise(phases))
    assert {p["kind"] for p in phases} == {"work", "force_change", "rest"}
    kinds = {a["kind"] for a in obj["artifacts"]}
    assert "dropout" in kinds
    assert obj["params"]["scenario"]["onset_s"] == 20.0
    assert obj["params"]["generator"] == "emg"


def test_acc_fields() -> None:
    obj = acc_truth().to_dict()
    assert obj["modality"] == "acc" and obj["unit"] == "m/s^2"
    assert obj["channels"] == ["acc_x", "acc_y", "acc_z"]
    assert obj["fatigue"] is True and obj["expected_event"] == "tremor_onset"
    assert obj["mdf_true"] is None and obj["mdf0_hz"] is None
    assert obj["tremor_hz"] == 5.0 and obj["tremor_band_hz"] == [4.0, 12.0]
    assert obj["tremor_rms_after"] > obj["tremor_rms_before"]
    assert len(obj["tremor_rms_true"]["rms"]) == 41


def test_set_round_trip(tmp_path: Path) -> None:
    ts = TruthSet(seed=5, recordings=(emg_truth(), acc_truth()))
    path = write_truth_set(tmp_path, ts)
    assert path == tmp_path / "truth.json"
    obj = json.loads(path.read_text())
    assert obj["seed"] == 5 and len(obj["recordings"]) == 2
    assert read_truth_set(tmp_path).to_dict() == ts.to_dict()


def test_bad_truth_is_reported() -> None:
    with pytest.raises(TruthFormatError):
        RecordingTruth.from_dict({"modality": "emg"})
    with pytest.raises(TruthFormatError, match="modality"):
        RecordingTruth.from_dict({**emg_truth().to_dict(), "modality": "eeg"})
