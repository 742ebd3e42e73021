"""The live pipeline without a network: payloads in, frames and events out."""

import math
from pathlib import Path

import numpy as np
import pytest

from monitor.core.config import Settings
from monitor.core.model import SampleBlock
from monitor.inputs.wire import encode_fmb1, encode_json
from monitor.live.pipeline import Pipeline
from monitor.outputs.store import Store
from simulators.emg import EmgGenerator, EmgScenario


def emg_messages(
    seconds: float = 120.0, onset: float | None = 45.0, per_s: int = 20, seed: int = 3
):  # type: ignore[no-untyped-def]
    sc = EmgScenario(
        fs=2000.0, n_channels=2, duration_s=seconds, onset_s=onset, decline_per_min=0.3
    )
    x = EmgGenerator(sc, np.random.default_rng(seed)).read(sc.n_samples)
    step = int(sc.fs / per_s)
    out = []
    for seq, start in enumerate(range(0, x.shape[1], step)):
        block = SampleBlock(
            "arm",
            "emg",
            sc.fs,
            start / sc.fs,
            seq,
            ("emg_1", "emg_2"),
            "mV",
            x[:, start : start + step],
        )
        out.append(("sensors/arm/emg", encode_fmb1(block, "<f4")))
    return out


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(pipeline: Pipeline, messages, clock: FakeClock, per_tick: int = 10):  # type: ignore[no-untyped-def]
    events, frames = [], []
    for i in range(0, len(messages), per_tick):
        for topic, payload in messages[i : i + per_tick]:
            pipeline.submit(topic, payload)
        clock.now += per_tick * 0.05
        result = pipeline.tick()
        events += result.events
        frames += result.frames
    return events, frames


def test_fatigue_onset_through_the_pipeline(tmp_path: Path) -> None:
    clock = FakeClock()
    with Store(tmp_path / "m.db") as store:
        p = Pipeline(Settings(), store, clock=clock)
        events, frames = run(p, emg_messages(), clock)
        onsets = [e for e in events if e.event == "fatigue_onset"]
        assert {e.channel for e in onsets} == {"emg_1", "emg_2"}
        assert all(45.0 <= e.t <= 90.0 for e in onsets)
        assert store.count_events() == len(events)
        assert [e.id for e in store.unpublished()] == [e.id for e in events]
        assert all(f.active is not None for f in frames)
        assert p.counters.gaps == 0 and p.counters.duplicates == 0


def test_duplicates_and_gaps_are_counted_and_windows_restart() -> None:
    clock = FakeClock()
    msgs = emg_messages(seconds=30.0, onset=None)
    msgs = msgs[:100] + msgs[99:100] + msgs[95:96] + msgs[110:]  # a duplicate, a late one, a gap
    p = Pipeline(Settings(), clock=clock)
    _, frames = run(p, msgs, clock)
    assert p.counters.duplicates == 2
    assert p.counters.gaps == 1
    times = [f.t for f in frames]
    # No window spans the lost 0.5 s (messages 100-109 = 5.0-5.5 s): after the gap the
    # windows start again at 5.5 s, so the first one ends at 6.5 s.
    assert not any(5.0 < t < 6.5 for t in times)
    assert 6.5 in times


def test_a_change_of_rate_restarts_the_stream() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    rng = np.random.default_rng(0)
    a = SampleBlock("arm", "emg", 2000.0, 0.0, 0, ("emg_1",), "mV", rng.standard_normal((1, 4000)))
    b = SampleBlock("arm", "emg", 1000.0, 2.0, 1, ("emg_1",), "mV", rng.standard_normal((1, 2000)))
    p.submit("sensors/arm/emg", encode_json(a))
    p.submit("sensors/arm/emg", encode_json(b))
    result = p.tick()
    assert p.counters.restarts == 1
    assert p.processors()[("arm", "emg")].fs == 1000.0
    assert result.frames  # both rates produced windows


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("sensors/arm/emg", b"FMB1\x01", "truncated"),
        ("sensors/arm/emg", b"XXXX" + bytes(60), "bad_format"),
        ("sensors/arm/emg", b'{"fs": 2000, "t0": 0, "seq": 0, "data": [[1], [2, 3]]}', "bad_shape"),
        ("sensors/arm/eeg", b"{}", "unknown_modality"),
        ("sensors/a#m/emg", b"{}", "bad_sensor_id"),
        ("sensors/arm/emg", b"{" + b" " * 10_000_000 + b"}", "too_large"),
    ],
)
def test_bad_input_is_counted_by_reason_and_survived(
    topic: str, payload: bytes, reason: str
) -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    p.submit(topic, payload)
    for t, m in emg_messages(seconds=3.0, onset=None):
        p.submit(t, m)
    result = p.tick()
    assert p.counters.decode_errors == {reason: 1}
    assert result.frames  # the good sensor carried on


def test_nan_samples_are_survived() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock)
    x = np.random.default_rng(1).standard_normal((1, 6000))
    x[0, 100:120] = np.nan
    p.submit(
        "sensors/arm/emg",
        encode_json(SampleBlock("arm", "emg", 2000.0, 0.0, 0, ("emg_1",), "mV", x)),
    )
    result = p.tick()
    assert any(f.quality[0] == "nonfinite" for f in result.frames)
    assert p.processors()[("arm", "emg")].nonfinite_samples == 20


def test_queue_overflow_drops_the_oldest_and_counts() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), queue_size=5, clock=clock)
    msgs = emg_messages(seconds=3.0, onset=None)  # the simulator wants >= 2 s of work
    for t, m in msgs:
        p.submit(t, m)
    # Each pass sheds down to the low mark (3 of 5), so the queue never holds more than 5.
    assert 0 < p.backlog <= 5
    assert p.counters.dropped_payloads + p.backlog == len(msgs)
    p.tick()  # what is left is the newest: the stream goes on at the last sequence number
    assert p.streams[("arm", "emg")].next_seq == len(msgs)
    assert p.overload().shed_payloads == p.counters.dropped_payloads


def test_silence_raises_signal_lost_and_baselines_survive_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    msgs = emg_messages(seconds=40.0, onset=None)
    with Store(tmp_path / "m.db") as store:
        p = Pipeline(Settings(), store, clock=clock, silence_s=5.0)
        run(p, msgs, clock)
        clock.now += 10.0
        lost = p.tick().events
        assert {(e.event, e.channel) for e in lost} == {
            ("signal_lost", "emg_1"),
            ("signal_lost", "emg_2"),
        }
        p.save_states()
        before = p.detectors[("arm", "emg")].baselines
        assert all(b is not None for b in before)
    with Store(tmp_path / "m.db") as store:
        p2 = Pipeline(Settings(), store, clock=clock)
        run(p2, emg_messages(seconds=3.0, onset=None), clock)
        det = p2.detectors[("arm", "emg")]
        # Monitoring resumed from the stored baseline at once (3 s is less than a baseline);
        # the baseline then keeps refining with the new windows, as it would have.
        assert all(c.phase == "monitoring" for c in det._fatigue)
        for old, new in zip(before, det.baselines, strict=True):
            assert old is not None and new is not None
            assert new["mdf_hz"] == pytest.approx(old["mdf_hz"], rel=0.02)


def test_a_gap_inside_one_tick_still_restarts_the_windows_at_the_gap() -> None:
    clock = FakeClock()
    msgs = emg_messages(seconds=20.0, onset=None)
    msgs = msgs[:100] + msgs[110:]  # 0.5 s lost at 5.0 s, everything in a single tick
    p = Pipeline(Settings(), clock=clock)
    for topic, payload in msgs:
        p.submit(topic, payload)
    frames = p.tick().frames
    times = sorted({f.t for f in frames})
    assert p.counters.gaps == 1
    assert not any(5.0 < t < 6.5 for t in times)
    assert times[:10] == [1.0 + 0.5 * i for i in range(9)] + [6.5]


def test_state_saves_are_spread_round_robin_over_ticks(tmp_path: Path) -> None:
    clock = FakeClock()
    with Store(tmp_path / "m.db") as store:
        p = Pipeline(Settings(), store, clock=clock)
        for name in ("a", "b", "c"):
            msgs = [(t.replace("/arm/", f"/{name}/"), m) for t, m in emg_messages(3.0, None)]
            run(p, msgs, clock)
        assert len(p.detectors) == 3
        saved: list[set[str]] = []
        counts = []
        for _ in range(4):
            before = {s for s in "abc" if store.load_state(s, "emg") is not None}
            counts.append(p.save_some(0.5))  # 1.5 detectors a call: fractions carry over
            after = {s for s in "abc" if store.load_state(s, "emg") is not None}
            saved.append(after - before)
        assert counts == [1, 2, 1, 2]
        assert saved[0] and saved[1] and saved[0].isdisjoint(saved[1])
        assert {s for s in "abc" if store.load_state(s, "emg") is not None} == {"a", "b", "c"}


def test_mark_lost_raises_signal_lost_on_the_next_tick() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock, silence_s=60.0)
    run(p, emg_messages(6.0, None), clock)
    assert p.tick().events == []  # fed a moment ago, silence_s far away
    p.mark_lost("arm")
    lost = p.tick().events
    assert {(e.event, e.sensor) for e in lost} == {("signal_lost", "arm")}
    assert len(lost) == 2  # one per channel
    assert p.tick().events == []  # said once


def test_mark_lost_is_not_undone_by_data_received_before_it() -> None:
    clock = FakeClock()
    p = Pipeline(Settings(), clock=clock, silence_s=60.0)
    msgs = emg_messages(8.0, None)
    run(p, msgs[:100], clock)
    for topic, payload in msgs[100:110]:
        p.submit(topic, payload)  # received before the disconnect, ticked after it
    p.mark_lost("arm")
    assert {e.event for e in p.tick().events} == {"signal_lost"}
    clock.now += 1.0
    for topic, payload in msgs[110:160]:
        p.submit(topic, payload)  # after the reconnection: the stream is back
    p.tick()
    assert not p.streams[("arm", "emg")].lost
    assert all(math.isfinite(i.last_wall) for i in p.streams.values())


def test_a_flooding_sensor_is_shed_and_a_quiet_one_loses_nothing() -> None:
    """The queue's budget is shared fairly: when the tick falls behind, the stream with the
    most queued data loses its oldest payloads; a sensor within its share loses none (the
    first wave dropped the globally oldest payload, the quiet sensor's data included)."""
    clock = FakeClock()
    p = Pipeline(Settings(), queue_size=200, clock=clock)
    flood = emg_messages(seconds=15.0, onset=None, seed=1)  # 300 payloads
    quiet = [(t.replace("/arm/", "/calf/"), m) for t, m in emg_messages(3.0, None, seed=2)]
    for i, (topic, payload) in enumerate(flood):
        p.submit(topic, payload)
        if i % 5 == 0:  # 60 payloads over the same time: within its half of the budget
            p.submit(*quiet[i // 5])
    assert p.backlog <= 200
    frames = p.tick().frames
    # Every quiet payload, in order: 3 s of signal, 1-s windows every 0.5 s.
    assert len([f for f in frames if f.sensor == "calf"]) == 5
    assert p.streams[("calf", "emg")].next_seq == 60
    assert p.counters.gaps == 0  # the flood lost only its oldest: what is left is contiguous
    assert p.streams[("arm", "emg")].next_seq == 300
    over = p.overload()
    assert over.overloaded and over.shed_payloads == p.counters.dropped_payloads > 0


def test_a_stream_whose_data_still_waits_in_the_queue_is_not_silent() -> None:
    """Under overload a tick takes only part of the queue; a sensor whose newest processed
    payload arrived over ``silence_s`` ago but whose later payloads are still queued is
    behind, not silent: no ``signal_lost`` (the bounded drain alone raised a false one)."""
    from dataclasses import replace

    clock = FakeClock()
    settings = Settings()
    settings = replace(settings, service=replace(settings.service, queue_mb=1.0))
    p = Pipeline(settings, clock=clock, silence_s=5.0)
    msgs = emg_messages(seconds=30.0, onset=None)  # 600 payloads, ~0.6 MB with overhead
    for i, (topic, payload) in enumerate(msgs):  # sent over the last 20 s, until now
        p.submit(topic, payload, received=clock.now - 20.0 + (i + 1) * 20.0 / len(msgs))
    events = []
    while p.backlog:
        events += p.tick().events  # a quarter of the 1 MB budget per tick
        clock.now += 0.5
    assert p.counters.ticks >= 3  # the queue really was taken in parts
    assert p.counters.dropped_payloads == 0
    assert [e.event for e in events if e.event == "signal_lost"] == []
    clock.now += 10.0  # and once the data has really stopped, it is
    assert {e.event for e in p.tick().events} == {"signal_lost"}
