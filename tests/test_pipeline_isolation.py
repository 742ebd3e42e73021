"""#11: one sensor never hurts another. Hostile payloads, impossible rates, reboots, seq
wraps and failing per-stream steps cost the stream at fault, counted, never the tick."""

import json
import logging

import numpy as np
import pytest

from monitor.core.config import Settings
from monitor.core.model import SampleBlock
from monitor.inputs.wire import encode_fmb1
from monitor.live.pipeline import Pipeline


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def block(
    sensor: str,
    seq: int,
    t0: float,
    fs: float = 2000.0,
    n: int = 100,
    modality: str = "emg",
    channels: tuple[str, ...] = ("emg_1", "emg_2"),
) -> SampleBlock:
    rng = np.random.default_rng(seq)
    data = rng.standard_normal((len(channels), n)).astype(np.float32)
    return SampleBlock(sensor, modality, fs, t0, seq, channels, "mV", data)  # type: ignore[arg-type]


def healthy(seq: int, sensor: str = "good") -> tuple[str, bytes]:
    """One 50 ms message of a 2 kHz two-channel EMG sensor."""
    return f"sensors/{sensor}/emg", encode_fmb1(block(sensor, seq, seq * 0.05), "<f4")


def json_payload(**fields: object) -> bytes:
    obj: dict[str, object] = {"fs": 2000.0, "t0": 0.0, "seq": 0, "data": [[0.1] * 50]}
    obj.update(fields)
    return json.dumps(obj).encode()


HOSTILE = [
    (
        "emg_fs_10",
        "sensors/bad/emg",
        json_payload(fs=10, data=[[0.1] * 20]),
        "rejected",
        "bad_rate",
    ),
    (
        "emg_fs_tiny",
        "sensors/bad/emg",
        json_payload(fs=0.001, data=[[0.1] * 5]),
        "rejected",
        "bad_rate",
    ),
    ("emg_fs_true", "sensors/bad/emg", json_payload(fs=True), "decode_errors", "bad_field"),
    (
        "acc_fs_2",
        "sensors/bad/acc",
        json_payload(fs=2, data=[[0.1] * 8] * 3),
        "rejected",
        "bad_rate",
    ),
    (
        "acc_fs_1",
        "sensors/bad/acc",
        json_payload(fs=1.0, data=[[0.1] * 8] * 3),
        "rejected",
        "bad_rate",
    ),
    (
        "seq_5000_digits",
        "sensors/bad/emg",
        json_payload().replace(b'"seq": 0', b'"seq": ' + b"9" * 5000),
        "decode_errors",
        "bad_json",
    ),
    (
        "nested_100k",
        "sensors/bad/emg",
        b'{"fs": 2000, "t0": 0, "seq": 0, "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "decode_errors",
        "bad_json",
    ),
    (
        "fs_401_digits",
        "sensors/bad/emg",
        json_payload().replace(b'"fs": 2000.0', b'"fs": ' + b"1" * 401),
        "decode_errors",
        "bad_field",
    ),
    (
        "fs_overflow_float",
        "sensors/bad/emg",
        json_payload().replace(b'"fs": 2000.0', b'"fs": 1e999'),
        "decode_errors",
        "bad_rate",
    ),
    (
        "huge_channel_name",
        "sensors/bad/emg",
        json_payload(channels=["x" * 100_000]),
        "decode_errors",
        "bad_field",
    ),
    (
        "samples_400_digits",
        "sensors/bad/emg",
        json_payload().replace(b"[[0.1,", b"[[" + b"7" * 400 + b","),
        "decode_errors",
        "bad_field",
    ),
    ("samples_overflow_f32", "sensors/bad/emg", json_payload(data=[[1e300] * 400]), None, None),
]


@pytest.mark.parametrize(
    ("topic", "payload", "counter", "reason"),
    [h[1:] for h in HOSTILE],
    ids=[h[0] for h in HOSTILE],
)
def test_a_hostile_payload_is_counted_and_never_fails_the_tick_of_others(
    topic: str, payload: bytes, counter: str | None, reason: str | None
) -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    frames = []
    for seq in range(60):  # 3 s of the good sensor, with the hostile payload in every tick
        p.submit(*healthy(seq))
        if seq % 5 == 0:
            p.submit(topic, payload)
            clock.now += 0.25
            frames += p.tick().frames
    frames += p.tick().frames
    assert {f.sensor for f in frames} == {"good"}
    assert len(frames) >= 4  # 1 s windows every 0.5 s over 3 s
    if counter is not None:
        counted = getattr(p.counters, counter)
        assert counted[reason] == 12, dict(counted)
    assert p.counters.ticks == 13


def test_a_myo_armband_at_200_hz_and_a_polar_accelerometer_at_25_hz_still_work() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    myo = tuple(f"emg_{i + 1}" for i in range(8))
    acc = ("acc_x", "acc_y", "acc_z")
    for seq in range(40):
        p.submit_block(block("myo", seq, seq * 0.25, fs=200.0, n=50, channels=myo))
        p.submit_block(
            block(
                "h10",
                seq,
                seq * 0.5,
                fs=25.0,
                n=12 if seq % 2 else 13,
                modality="acc",
                channels=acc,
            )
        )
    frames = p.tick().frames
    assert {(f.sensor, f.modality) for f in frames} == {("myo", "emg"), ("h10", "acc")}
    assert not p.counters.rejected


def test_a_failing_detector_costs_its_own_stream_only(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    for seq in range(30):
        p.submit(*healthy(seq, "good"))
        p.submit(*healthy(seq, "cursed"))
    p.tick()
    det = p.detectors[("cursed", "emg")]

    def explode(frame: object) -> list[object]:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(det, "update", explode)
    for seq in range(30, 60):
        p.submit(*healthy(seq, "good"))
        p.submit(*healthy(seq, "cursed"))
    result = p.tick()
    assert {f.sensor for f in result.frames} == {"good", "cursed"}
    assert p.counters.rejected == {"detector_failed": 1}
    assert p.detectors[("cursed", "emg")] is not det  # rebuilt for its next window


def test_a_failing_feature_step_is_retried_stream_by_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What admission did not foresee: the batched step raises for one stream's windows;
    the other streams get their features in the same tick."""
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    real = p.engine.step.run

    def picky(ready):  # type: ignore[no-untyped-def]
        if any(r.sensor == "cursed" for r in ready):
            raise FloatingPointError("injected")
        return real(ready)

    monkeypatch.setattr(p.engine.step, "run", picky)
    for seq in range(30):
        p.submit(*healthy(seq, "good"))
        p.submit(*healthy(seq, "cursed"))
    result = p.tick()
    assert {f.sensor for f in result.frames} == {"good"}
    assert p.counters.rejected == {"feature_failed": 1}


def test_a_reboot_that_restarts_seq_goes_on_without_duplicates_or_signal_lost() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock, silence_s=5.0)
    events = []
    for i in range(400):  # 20 s; at 10 s the sensor reboots: seq 0 again, t0 goes on
        seq = i if i < 200 else i - 200
        p.submit("sensors/arm/emg", encode_fmb1(block("arm", seq, i * 0.05), "<f4"), clock.now)
        clock.now += 0.05
        if i % 5 == 4:
            events += p.tick().events
    assert p.counters.duplicates == 0
    assert p.counters.seq_resets == 1
    assert p.counters.gaps == 0
    assert not [e for e in events if e.event == "signal_lost"]


def test_a_reboot_that_restarts_seq_and_clock_costs_a_few_messages_not_a_storm() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock, silence_s=5.0)
    frames = []
    for i in range(400):
        k = i if i < 200 else i - 200  # seq and t0 both start again
        p.submit("sensors/arm/emg", encode_fmb1(block("arm", k, k * 0.05), "<f4"), clock.now)
        clock.now += 0.05
        if i % 5 == 4:
            frames += p.tick().frames
    assert p.counters.duplicates == 2
    assert p.counters.seq_resets == 1
    assert max(f.t for f in frames[-3:]) > 9.0  # windows of the new run came out


def test_fmb1_seq_wrapping_at_2_32_continues_the_stream() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock, silence_s=5.0)
    events, frames = [], []
    first = 2**32 - 100
    for i in range(300):
        b = block("arm", first + i, i * 0.05)
        p.submit("sensors/arm/emg", encode_fmb1(b, "<f4"), clock.now)  # header wraps seq
        clock.now += 0.05
        if i % 5 == 4:
            r = p.tick()
            events += r.events
            frames += r.frames
    assert p.counters.duplicates == 0 and p.counters.gaps == 0
    assert p.counters.seq_resets == 1
    assert max(f.t for f in frames) >= 14.5  # windows kept coming after the wrap at 5 s
    assert not [e for e in events if e.event == "signal_lost"]
    assert not p.streams[("arm", "emg")].lost


def test_a_true_duplicate_is_still_dropped() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    msgs = [healthy(seq, "arm") for seq in range(40)]
    for m in msgs[:30] + msgs[29:30] + msgs[20:21] + msgs[30:]:
        p.submit(*m)
    p.tick()
    assert p.counters.duplicates == 2 and p.counters.seq_resets == 0


def test_a_channel_set_changing_every_message_logs_a_few_short_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    caplog.set_level(logging.INFO)
    for seq in range(40):
        names = [f"c{seq}_{'x' * 50}_{k}" for k in range(64)]
        payload = json_payload(seq=seq, t0=seq * 0.025, channels=names, data=[[0.1] * 50] * 64)
        p.submit("sensors/shifty/emg", payload)
        p.tick()
    text = caplog.text
    assert p.counters.restarts == 39
    assert len(caplog.records) <= 3
    assert len(text) < 5_000


def test_twenty_thousand_distinct_invalid_ids_log_a_few_lines_and_a_summary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    caplog.set_level(logging.INFO)
    for i in range(20_000):
        p.submit(f"sensors/bad#{i}/emg", b"{}")
        p.submit(f"sensors/s{i}/emg", b"not json at all")
    p.tick()
    assert p.counters.decode_errors == {"bad_sensor_id": 20_000, "bad_format": 20_000}
    assert len(caplog.records) <= 20
    p.warnings.clock = lambda: 1e12  # the period is over: one summary line
    p.warnings.roll()
    assert "suppressed 39989 similar log lines" in caplog.records[-1].getMessage()


def test_new_streams_beyond_max_streams_are_refused_and_counted() -> None:
    clock = FakeClock()
    settings = Settings()
    from dataclasses import replace

    p = Pipeline(replace(settings, service=replace(settings.service, max_streams=50)), clock=clock)
    for i in range(200):
        p.submit(*healthy(0, f"s{i}"))
    p.tick()
    assert len(p.streams) == 50
    assert p.counters.rejected == {"too_many_streams": 150}


def test_silent_streams_are_evicted_with_their_state_and_idle_ones_cost_nothing(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from dataclasses import replace

    from monitor.outputs.store import Store

    clock = FakeClock()
    settings = Settings()
    settings = replace(settings, service=replace(settings.service, evict_after_s=60.0))
    with Store(tmp_path / "m.db") as store:
        p = Pipeline(settings, store, clock=clock, silence_s=5.0)
        for seq in range(200):
            p.submit(*healthy(seq, "arm"))
        p.tick()
        assert ("arm", "emg") in p.detectors
        clock.now += 10
        assert {e.event for e in p.tick().events} == {"signal_lost"}
        clock.now += 60
        result = p.tick()
        assert result.evicted == {("arm", "emg")}
        assert not p.streams and not p.detectors and not p.processors()
        assert store.load_state("arm", "emg") is not None
        assert p.counters.evicted == 1


class CountingDict(dict):  # type: ignore[type-arg]
    """Counts the stream lookups a tick makes."""

    reads = 0

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        CountingDict.reads += 1
        return super().__getitem__(key)

    def get(self, key, default=None):  # type: ignore[no-untyped-def]
        CountingDict.reads += 1
        return super().get(key, default)

    def items(self):  # type: ignore[no-untyped-def]
        CountingDict.reads += len(self)
        return super().items()


def test_silent_streams_cost_nothing_per_tick() -> None:
    """20,000 dead streams kept ~46 % of a core busy: every tick looked at each of them."""
    from dataclasses import replace

    clock = FakeClock()
    settings = Settings()
    settings = replace(settings, service=replace(settings.service, max_streams=20_000))
    p = Pipeline(settings, clock=clock, silence_s=5.0)
    for i in range(5000):
        p.submit(*healthy(0, f"s{i}"))
    p.tick()
    clock.now += 10
    p.tick()  # all of them lost now
    assert all(info.lost for info in p.streams.values())
    p.monitor.streams = CountingDict(p.monitor.streams)
    CountingDict.reads = 0
    for _ in range(10):
        clock.now += 0.1
        p.tick()
    assert CountingDict.reads <= 20
