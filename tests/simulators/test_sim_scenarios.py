"""Scenario sets: N files plus truth.json, the documented mix, deterministic per seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from simulators.scenarios import (
    ACC_RATES,
    EMG_RATES,
    make_scenarios,
    plan_scenarios,
    rebuild_generator,
)
from simulators.truth import read_truth_set


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("set")
    make_scenarios(12, 21, out)
    return out


def test_writes_n_files_and_truth(scenario_dir: Path) -> None:
    files = sorted(p.name for p in scenario_dir.iterdir())
    assert "truth.json" in files and len(files) == 13
    obj = json.loads((scenario_dir / "truth.json").read_text())
    assert obj["seed"] == 21
    recs = obj["recordings"]
    assert sorted(r["file"] for r in recs) == sorted(f for f in files if f != "truth.json")
    for r in recs:
        assert (scenario_dir / r["file"]).stat().st_size > 0
        assert r["fatigue"] == (r["onset_s"] is not None)
        assert r["format"] == Path(r["file"]).suffix[1:]
        assert r["clipped_samples"] == 0 and r["padded_samples"] == 0
        if r["modality"] == "emg":
            assert r["fs"] in EMG_RATES and r["mdf_true"] is not None
            assert 90.0 <= r["duration_s"] <= 300.0
            if r["onset_s"] is not None:
                assert 20.0 <= r["onset_s"] <= 120.0
                assert r["params"]["kind"] == "emg_fatigue"
        else:
            assert r["fs"] in ACC_RATES and r["tremor_rms_true"] is not None


def test_mix_of_kinds_and_formats() -> None:
    plans = plan_scenarios(60, 3)
    kinds = {p.kind for p in plans}
    assert {"emg_fatigue", "acc_tremor", "acc_still"} <= kinds
    assert {
        f"emg_control_{k}" for k in ("steady", "force", "rest", "mains", "motion", "dropout")
    } <= kinds
    exts = [Path(p.file).suffix for p in plans]
    assert exts.count(".edf") > exts.count(".csv") > 0
    assert len({p.seed for p in plans}) == 60
    assert [p.file for p in plans] == [f"rec_{i:03d}{exts[i]}" for i in range(60)]


def test_deterministic_for_a_seed(scenario_dir: Path, tmp_path: Path) -> None:
    make_scenarios(12, 21, tmp_path)
    for p in scenario_dir.iterdir():
        assert (tmp_path / p.name).read_bytes() == p.read_bytes(), p.name
    assert plan_scenarios(12, 22) != plan_scenarios(12, 21)


def test_rebuild_reproduces_a_file(scenario_dir: Path) -> None:
    ts = read_truth_set(scenario_dir)
    rec = next(r for r in ts.recordings if r.format == "edf")
    x = rebuild_generator(rec).read_all()
    reader = pyedflib.EdfReader(str(scenario_dir / rec.file))
    try:
        data = np.array([reader.readSignal(i) for i in range(reader.signals_in_file)])
        lsb = 2 * reader.getPhysicalMaximum(0) / 65535
    finally:
        reader.close()
    assert data.shape == x.shape
    assert np.max(np.abs(data - x)) <= 0.51 * lsb


def test_bad_n() -> None:
    with pytest.raises(ValueError, match="n = 0"):
        plan_scenarios(0, 1)
