"""A tremor present from the first second is characterised without a baseline (#10)."""

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.cli import main
from monitor.core.tremor_character import tremor_band_name, tremor_character
from simulators.acc import AccGenerator, AccScenario
from simulators.writers import write_recording


def test_bands_are_named_as_clinicians_do() -> None:
    assert tremor_band_name(3.7).startswith("pathological")
    assert tremor_band_name(6.9).startswith("pathological")
    assert tremor_band_name(9.5).startswith("physiological")
    assert tremor_band_name(2.5).startswith("outside")


def test_windows_of_walking_are_not_measurable_and_a_broadband_rise_is_no_tremor() -> None:
    n = 100
    peak = np.full(n, 5.0)
    total = np.full(n, 0.2)
    narrow = np.full(n, 0.18)
    moving = np.full(n, np.nan)
    moving[:60] = 1.8  # walking: not measurable
    ch = tremor_character(peak, total, narrow, moving)
    assert ch.n_measurable == 40 and ch.present and ch.peak_hz == pytest.approx(5.0)
    broad = tremor_character(peak, total, np.full(n, 0.05), np.full(n, np.nan))
    assert not broad.present and broad.peak_hz is None  # the peak carries 25 % of the band


def test_rest_tremor_from_the_start_is_reported_with_frequency_and_band(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc = AccScenario(
        fs=100.0,
        duration_s=90.0,
        pathological_hz=4.6,
        pathological_rms=0.3,
        tremor_from_start=True,
    )
    x = AccGenerator(sc, np.random.default_rng(2)).read(sc.n_samples)
    path = tmp_path / "rest_tremor.edf"
    write_recording(path, [x], fs=sc.fs, channels=["acc_x", "acc_y", "acc_z"], unit="m/s^2")
    out = tmp_path / "summary.json"
    assert (
        main(["replay", str(path), "--modality", "acc", "--json", "--summary-json", str(out)]) == 0
    )
    events = [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()]
    assert "tremor_onset" not in events  # no tremor-free baseline: no onset, by design
    tremor = json.loads(out.read_text())["channels"][0]["tremor"]
    assert tremor["present"]
    assert tremor["peak_hz"] == pytest.approx(4.6, abs=0.3)
    assert tremor["band"].startswith("pathological")
    assert 0.15 < tremor["rms_ms2"] < 0.45
