"""Real OpenSignals exports from PLUX (tests/data/opensignals_biosignalsnotebooks_mit, MIT):
they load, and what they hold is physically right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import monitor
from monitor.inputs.files.recording import open_recording

DATA = Path(__file__).resolve().parents[1] / "data" / "opensignals_biosignalsnotebooks_mit"


def test_the_real_h5_fatigue_recording_shows_its_fatigue() -> None:
    pytest.importorskip("h5py")
    path = DATA / "emg_fatigue.h5"
    with open_recording(path) as rec:
        (info,) = rec.streams
        assert (info.modality, info.fs, info.channels, info.unit) == (
            "emg",
            1000.0,
            ("CH2",),
            "counts",
        )
        assert info.n_samples == 126_900
    r = monitor.analyze(path)
    row = r.summary.iloc[0]
    # Cyclic biceps flexion to fatigue: MDF falls by a fifth or more, RMS rises (JASA).
    assert row["mdf_change_pct"] < -20.0 and row["quadrant"] == "fatigue"
    onsets = r.events[r.events["event"] == "fatigue_onset"]
    assert list(onsets["channel"]) == ["CH2"]


def test_the_real_text_export_with_trailing_tabs_reads_gravity() -> None:
    path = DATA / "sync_acc_2.txt"
    with open_recording(path) as rec:
        (info,) = rec.streams
        assert (info.modality, info.fs, info.channels, info.unit) == (
            "acc",
            1000.0,
            ("X", "Y", "Z"),
            "m/s^2",
        )
        data = np.concatenate([b.data for b in rec.blocks(1.0)], axis=1).astype(np.float64)
    magnitude = np.sqrt((data**2).sum(axis=0))
    assert abs(float(np.median(magnitude)) - 9.80665) < 0.5  # PLUX's transfer function
