"""Fatigue indices end to end: simulated recordings with known truth through
``fatigue-monitor replay`` (summary lines, --summary-json, the report)."""

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.cli import main
from simulators.emg import EmgGenerator, EmgScenario
from simulators.writers import write_recording


def simulated(path: Path, seed: int = 3, **kw: Any) -> EmgScenario:
    params: dict[str, Any] = {"fs": 2000.0, "n_channels": 2, "duration_s": 120.0}
    params.update(kw)
    sc = EmgScenario(**params)
    x = EmgGenerator(sc, np.random.default_rng(seed)).read(sc.n_samples)
    write_recording(path, [x], fs=sc.fs, channels=["emg_1", "emg_2"], unit="mV")
    return sc


def summary_of(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = tmp_path / "summary.json"
    assert main(["replay", str(path), "--json", "--summary-json", str(out)]) == 0
    for line in capsys.readouterr().out.splitlines():  # stdout stays Event JSON only
        assert json.loads(line)["event"]
    summary: dict[str, Any] = json.loads(out.read_text())
    return {c["channel"]: c["indices"] for c in summary["channels"]}


def test_rest_at_the_end_reads_as_a_fall_not_a_rise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Fatigue from 20 s (MDF -20 %/min), then 15 s of rest: the rest windows' MDF is the
    # noise floor's (~220 Hz), which made the summary read about +150 %.
    path = tmp_path / "rest_end.edf"
    simulated(path, onset_s=20.0, trail_rest_s=15.0)
    assert main(["replay", str(path), "--json"]) == 0
    err = capsys.readouterr().err
    changes = [
        float(m.group(1))
        for line in err.splitlines()
        if "MDF first 5 s" in line and (m := re.search(r"\(([+-]\d+\.\d) %\)", line))
    ]
    assert len(changes) == 2
    assert all(c < -5.0 for c in changes)


def test_fatiguing_recording_gives_a_negative_slope_and_jasa_fatigue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fatigue.edf"
    sc = simulated(path, onset_s=20.0, trail_rest_s=15.0)
    for ind in summary_of(path, tmp_path, capsys).values():
        assert ind["mdf_slope"]["ci95"][1] < 0
        # Truth: -20 %/min after 20 s of 105 s of work; a line through both is shallower.
        assert -25.0 < ind["mdf_slope"]["pct_per_min"] < -10.0
        assert ind["rms_slope"]["ci95"][0] > 0  # rms_gain: RMS rises as MDF falls
        assert ind["quadrant"] == "fatigue"
        assert ind["mdf_change_pct"] < -5.0
        # 10 % below the start at 20 s + 30 s of -20 %/min; the trailing 10 s median lags
        # up to 10 s, and the per-channel MDF spread shifts it by a few seconds.
        assert 45.0 < ind["drop10_s"] < 65.0
        # One sustained hold: one contraction, ended by the rest.
        (hold,) = ind["contractions"]
        assert hold["start_s"] <= 2.0
        assert abs(hold["end_s"] - (sc.duration_s - sc.trail_rest_s)) < 3.0
        assert hold["n_windows"] == ind["n_usable"]


def test_steady_recording_has_no_drop_and_no_fatigue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "steady.edf"
    simulated(path, onset_s=None)
    for ind in summary_of(path, tmp_path, capsys).values():
        assert ind["drop10_s"] is None
        assert abs(ind["mdf_slope"]["pct_per_min"]) < 2.0
        assert ind["quadrant"] != "fatigue"


def test_intermittent_work_is_cut_into_its_contractions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "duty.edf"
    sc = simulated(path, onset_s=10.0, duty_on_s=20.0, duty_off_s=10.0)
    # The work periods between the simulator's rests (its ground truth).
    rests = sc.all_rests
    truth = list(
        zip(
            [0.0, *(r.end_s for r in rests)],
            [*(r.start_s for r in rests), sc.duration_s],
            strict=True,
        )
    )
    assert len(truth) == 4  # 0-20, 30-50, 60-80, 90-120 (no off period without work after)
    for ind in summary_of(path, tmp_path, capsys).values():
        parts = ind["contractions"]
        assert len(parts) == len(truth)
        for part, (on, off) in zip(parts, truth, strict=True):
            # Window ends: the first active window ends about 1 s after the onset.
            assert on - 0.5 <= part["start_s"] <= on + 2.5
            assert off - 1.5 <= part["end_s"] <= off + 1.5
        medians = [p["mdf_hz"] for p in parts]
        assert medians[-1] < medians[0]  # fatigue accumulates over the work periods
        assert ind["quadrant"] == "fatigue"


def test_report_has_the_indices_and_leaves_rest_out_of_the_mdf_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rest_end.edf"
    simulated(path, onset_s=20.0, trail_rest_s=15.0)
    report = tmp_path / "r.html"
    assert main(["replay", str(path), "--report", str(report)]) == 0
    html = report.read_text()
    assert html.count("JASA quadrant</th><td>fatigue") == 2
    assert html.count("MDF slope, % of initial</th><td>-") == 2
    assert html.count("<summary>Contractions") == 2
    left_out = [int(n) for n in re.findall(r"(\d+) rest or poor-quality window", html)]
    assert len(left_out) == 2 and all(20 <= n <= 32 for n in left_out)  # 15 s of rest
    assert "<script" not in html


def test_a_rest_at_the_start_is_not_the_initial_mdf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The live gate calls the first seconds active until it has seen rest and work; with
    # hindsight the indices take the leading rest out (its MDF is the noise floor's).
    path = tmp_path / "lead_rest.edf"
    sc = simulated(path, lead_rest_s=10.0)
    for ind in summary_of(path, tmp_path, capsys).values():
        assert abs(ind["initial_mdf_hz"] / sc.mdf0_hz - 1.0) < 0.1
