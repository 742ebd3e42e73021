"""The public Python API: ``monitor.analyze`` and ``monitor.Monitor`` agree with the CLI's
replay and with themselves however the samples are cut (issue: a Python API on one core)."""

import io
import itertools
import json
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import monitor
from monitor import Monitor, MonitorError, SampleBlock, analyze
from monitor.cli import main as cli_main
from simulators.acc import AccGenerator, AccScenario
from simulators.emg import EmgGenerator, EmgScenario

ROOT = Path(__file__).resolve().parents[1]
S8 = ROOT / "tests/data/emg_fatigue_electrophys_cc0/S8_EMG_bicep_sustained.wav"


def _key(e: monitor.Event) -> tuple[str, str, float]:
    return (e.event, e.channel, round(e.t, 9))


def test_analyze_of_a_file_shows_the_onsets_of_replay_json() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["replay", str(S8), "--modality", "emg", "--json", "--no-progress"]) == 0
    replayed = [monitor.Event.from_json(line) for line in out.getvalue().splitlines()]
    result = analyze(S8, modality="emg")
    assert [_key(e) for e in replayed]
    assert sorted(_key(e) for e in result.event_list) == sorted(_key(e) for e in replayed)
    assert list(result.events["event"]) == [e.event for e in result.event_list]
    onsets = result.summary.set_index("channel")["onsets_s"]
    assert sorted(t for ts in onsets for t in ts) == sorted(
        e.t for e in replayed if e.event == "fatigue_onset"
    )


def test_analyze_of_the_same_samples_as_an_array_is_identical() -> None:
    with monitor.open_recording(S8, modality="emg") as rec:
        x = np.concatenate([b.data for b in rec.blocks(60.0)], axis=1)
        info = rec.streams[0]
    from_file = analyze(S8, modality="emg")
    from_array = analyze(x, fs=info.fs, modality="emg", channels=info.channels, unit=info.unit)
    assert [_key(e) for e in from_array.event_list] == [_key(e) for e in from_file.event_list]
    a, b = from_file.features, from_array.features
    assert len(a) == len(b) > 100
    numeric = [c for c in a.columns if a[c].dtype == np.float64]
    np.testing.assert_allclose(
        a[numeric].to_numpy(), b[numeric].to_numpy(), rtol=0, atol=1e-9, equal_nan=True
    )
    assert (a["active"] == b["active"]).all()
    assert list(a["quality"]) == list(b["quality"])
    assert from_array.units["rms"] == info.unit == "counts"
    assert from_array.units["mdf_hz"] == "Hz"


def test_features_frame_has_the_features_csv_columns_and_matches_it(tmp_path: Path) -> None:
    csv_path = tmp_path / "f.csv"
    assert (
        cli_main(
            ["replay", str(S8), "--modality", "emg", "--features", str(csv_path), "--no-progress"]
        )
        == 0
    )
    written = pd.read_csv(csv_path)
    got = analyze(S8, modality="emg").features
    assert list(got.columns) == list(written.columns)
    np.testing.assert_allclose(got["mdf_hz"], written["mdf_hz"], rtol=1e-12)
    assert (got["active"].astype(int).to_numpy() == written["active"].to_numpy()).all()


def _fleet(seed: int = 5) -> list[tuple[str, str, float, tuple[str, ...], np.ndarray]]:
    rng = np.random.default_rng(seed)
    emg = EmgScenario(fs=1000.0, n_channels=2, duration_s=150.0, onset_s=40.0)
    calm = EmgScenario(fs=2000.0, n_channels=1, duration_s=150.0, onset_s=None)
    acc = AccScenario(fs=100.0, duration_s=150.0, onset_s=50.0)
    return [
        ("tired", "emg", emg.fs, ("emg_1", "emg_2"), EmgGenerator(emg, rng).read(emg.n_samples)),
        ("calm", "emg", calm.fs, ("emg_1",), EmgGenerator(calm, rng).read(calm.n_samples)),
        (
            "wrist",
            "acc",
            acc.fs,
            ("acc_x", "acc_y", "acc_z"),
            AccGenerator(acc, rng).read(acc.n_samples),
        ),
    ]


def _run(fleet: list, cuts_s: np.ndarray) -> tuple[list, list]:  # type: ignore[type-arg]
    """Feed every stream cut at ``cuts_s`` (seconds), one push per interval, all streams'
    pieces of an interval in one push."""
    m = Monitor()
    frames, events = [], []
    edges = np.concatenate([[0.0], cuts_s, [1e9]])
    seqs = dict.fromkeys(range(len(fleet)), 0)
    for a, b in itertools.pairwise(edges):
        blocks = []
        for i, (sensor, modality, fs, channels, x) in enumerate(fleet):
            lo, hi = round(a * fs), min(round(b * fs), x.shape[1])
            if hi > lo:
                blocks.append(
                    SampleBlock.from_array(
                        x[:, lo:hi],
                        fs,
                        modality=modality,
                        sensor=sensor,
                        channels=channels,
                        t0=lo / fs,
                        seq=seqs[i],
                    )
                )
                seqs[i] += 1
        step = m.push(blocks)
        frames += step.frames
        events += step.events
    return frames, events


def _frame_table(frames: list) -> dict:  # type: ignore[type-arg]
    return {
        (f.sensor, f.modality, round(f.t, 9)): (
            {k: v.copy() for k, v in f.features.items()},
            None if f.active is None else f.active.copy(),
            f.quality,
        )
        for f in frames
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_monitor_push_in_random_chunkings_gives_identical_results(seed: int) -> None:
    fleet = _fleet()
    whole_frames, whole_events = _run(fleet, np.array([]))
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.uniform(0.0, 150.0, size=int(rng.integers(20, 400))))
    frames, events = _run(fleet, cuts)
    assert {e.event for e in whole_events} >= {"fatigue_onset", "tremor_onset"}
    assert sorted(map(_key, events)) == sorted(map(_key, whole_events))
    want, got = _frame_table(whole_frames), _frame_table(frames)
    assert want.keys() == got.keys()
    for key, (feats, active, quality) in want.items():
        g_feats, g_active, g_quality = got[key]
        for name, values in feats.items():
            np.testing.assert_allclose(g_feats[name], values, rtol=0, atol=1e-9, err_msg=name)
        assert g_quality == quality
        assert (g_active == active).all()


def test_monitor_state_round_trips_through_json() -> None:
    fleet = _fleet()
    m = Monitor()
    _ = m.push(
        SampleBlock.from_array(x[:, : int(60 * fs)], fs, modality=mod, sensor=s, channels=ch)
        for s, mod, fs, ch, x in fleet
    )
    state = json.loads(json.dumps(m.state_dict()))
    assert set(state) == {"tired/emg", "calm/emg", "wrist/acc"}
    fresh = Monitor()
    fresh.load_state(state)
    assert json.loads(json.dumps(fresh.state_dict())) == state
    with pytest.raises(ValueError, match="sensor/modality"):
        fresh.load_state({"tired": state["tired/emg"]})


def test_one_bad_stream_is_refused_by_a_monitor_and_the_others_go_on() -> None:
    x = np.random.default_rng(0).standard_normal((1, 4000))
    m = Monitor()
    step = m.push(
        [
            SampleBlock.from_array(x, 40.0, sensor="slow"),
            SampleBlock.from_array(x, 2000.0, sensor="good"),
        ]
    )
    assert m.counters.rejected["bad_rate"] == 1
    assert {f.sensor for f in step.frames} == {"good"}
    with pytest.raises(MonitorError, match="too low"):
        Monitor(strict=True).push([SampleBlock.from_array(x, 40.0)])


def test_sample_block_keyword_constructor_names_channels_and_units() -> None:
    emg = SampleBlock.from_array(np.zeros(100), 1000.0)
    assert (emg.channels, emg.unit, emg.data.shape, emg.sensor) == (
        ("emg_1",),
        "a.u.",
        (1, 100),
        "data",
    )
    acc = SampleBlock.from_array(np.zeros((3, 50)), 50.0, modality="acc", t0=2.0, seq=4)
    assert (acc.channels, acc.unit, acc.t0, acc.seq) == (
        ("acc_x", "acc_y", "acc_z"),
        "m/s^2",
        2.0,
        4,
    )


def test_analyze_a_dataframe_with_a_time_index() -> None:
    fleet = _fleet()
    _, _, fs, _, x = fleet[2]
    seconds = np.arange(x.shape[1]) / fs
    frame = pd.DataFrame(
        x.T, columns=["acc_x", "acc_y", "acc_z"], index=pd.to_datetime(seconds, unit="s")
    )
    from_frame = analyze(frame)
    from_array = analyze(x, fs=fs, modality="acc")
    assert list(from_frame.features["modality"].unique()) == ["acc"]
    assert [_key(e) for e in from_frame.event_list] == [_key(e) for e in from_array.event_list]
    assert any(e.event == "tremor_onset" for e in from_frame.event_list)
    np.testing.assert_allclose(
        from_frame.features["tremor_rms"], from_array.features["tremor_rms"], atol=1e-9
    )
    # A phone's jittery clock: resampled to the median rate, not refused.
    jitter = seconds + np.random.default_rng(1).uniform(-0.002, 0.002, seconds.size)
    jittered = analyze(pd.DataFrame(x.T, columns=frame.columns, index=jitter))
    assert any(e.event == "tremor_onset" for e in jittered.event_list)
    # In g, converted to m/s^2: the same tremor RMS.
    in_g = analyze(x / 9.80665, fs=fs, modality="acc", unit="g")
    np.testing.assert_allclose(
        in_g.features["tremor_rms"], from_array.features["tremor_rms"], rtol=1e-4
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": np.zeros((2, 4000))}, "fs"),
        ({"data": np.zeros((4000, 2)), "fs": 1000.0}, "data.T"),
        ({"data": np.zeros((1, 4000)), "fs": 40.0}, "too low"),
        ({"data": np.zeros((2, 4000)), "fs": 1000.0, "channels": ["a"]}, "1 channel names"),
        ({"data": np.zeros((1, 4000)), "fs": 1000.0, "modality": "eeg"}, "unknown modality"),
    ],
)
def test_analyze_says_what_is_wrong(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(MonitorError, match=message):
        analyze(**kwargs)


def test_report_and_plot(tmp_path: Path) -> None:
    result = analyze(S8, modality="emg")
    html = result.report(tmp_path / "r.html").read_text()
    assert "ch1" in html and "ch2" in html and "S8_EMG_bicep_sustained.wav" in html
    fig = result.plot()
    assert len(fig.axes) == 2
    assert fig.axes[0].get_ylabel() == "mdf_hz [Hz]"
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_import_monitor_is_light_and_exports_the_public_surface() -> None:
    code = (
        "import sys, monitor; assert 'scipy' not in sys.modules, 'scipy loaded';"
        "assert 'pandas' not in sys.modules, 'pandas loaded';"
        "print(sorted(monitor.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names = set(eval(out.stdout))
    assert {
        "analyze",
        "Monitor",
        "Settings",
        "open_recording",
        "SampleBlock",
        "FeatureFrame",
        "Event",
        "MonitorError",
        "RecordingError",
    } <= names
    for name in names:
        assert getattr(monitor, name) is not None
    with pytest.raises(AttributeError):
        _ = monitor.no_such_thing  # type: ignore[attr-defined]
