from detect_helpers import acc_signal, detect, frames_of

from monitor.core.config import Settings


def test_tremor_onset_and_its_band(settings: Settings) -> None:
    x, sc = acc_signal(onset_s=40.0, tremor_hz=9.5, tremor_gain=6.0)
    events = detect(frames_of(x, sc.fs, "acc", settings), settings)
    onset = [e for e in events if e.event == "tremor_onset"]
    assert len(onset) == 1
    assert 40.0 <= onset[0].t <= 40.0 + 30.0
    assert abs(onset[0].features["tremor_peak_hz"] - 9.5) < 1.0
    assert "physiological" in onset[0].message


def test_pathological_tremor_is_named(settings: Settings) -> None:
    x, sc = acc_signal(seed=4, onset_s=30.0, pathological_hz=5.0, pathological_rms=0.3)
    events = detect(frames_of(x, sc.fs, "acc", settings), settings)
    onset = [e for e in events if e.event == "tremor_onset"]
    assert onset and "pathological" in onset[0].message
    assert 4.0 <= onset[0].features["tremor_peak_hz"] <= 6.0


def test_movement_and_sensor_noise_are_not_tremor(settings: Settings) -> None:
    for seed in range(3):
        x, sc = acc_signal(seed=seed, duration_s=150.0, movement_rms=1.0)
        events = detect(frames_of(x, sc.fs, "acc", settings), settings)
        assert [e for e in events if e.event == "tremor_onset"] == []
