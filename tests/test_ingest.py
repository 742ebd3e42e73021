"""The ingest queue: bounded in bytes and payloads, shedding the largest streams' oldest
data first, safe between the event loop (put) and the tick thread (drain)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from monitor.live.ingest import ENTRY_OVERHEAD, LOW_MARK, IngestQueue, Shed, _water_level


@pytest.mark.parametrize("seed", range(20))
def test_water_level_is_the_largest_cap_that_fits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(0, 1000, rng.integers(1, 30))]
    target = int(rng.integers(0, sum(sizes) + 1))
    cap = _water_level(sizes, target)

    def filled(c: float) -> float:
        return sum(min(s, c) for s in sizes)

    assert filled(cap) <= target + 1e-9
    if cap != float("inf"):  # maximal: a little more and it no longer fits
        assert filled(cap + 1e-6) > target or cap >= max(sizes)


def test_water_level_when_everything_fits() -> None:
    assert _water_level([3, 4], 7) == float("inf")
    assert _water_level([10, 1, 1], 6) == pytest.approx(4.0)  # 4 + 1 + 1


def test_a_flooding_stream_is_shed_and_a_quiet_one_keeps_everything() -> None:
    sheds: list[list[Shed]] = []
    q = IngestQueue(max_bytes=100 * (ENTRY_OVERHEAD + 1000), max_items=10_000, on_shed=sheds.append)
    for i in range(400):
        q.put("sensors/flood/emg", bytes(1000), float(i))
        if i % 20 == 0:  # 20 in all: within its fair share (half of the low mark)
            q.put("sensors/quiet/emg", bytes(1000), float(i))
        assert q.nbytes <= q.max_bytes
    drained = list(q.drain())
    quiet = [r for s, _, r in drained if s == "sensors/quiet/emg"]
    flood = [r for s, _, r in drained if s == "sensors/flood/emg"]
    assert quiet == [float(i) for i in range(0, 400, 20)]  # all 20, in order
    # The flood kept its newest payloads, contiguous and in order: the oldest were shed.
    assert flood == [float(i) for i in range(400 - len(flood), 400)]
    assert q.shed_payloads == 400 - len(flood)
    assert q.shed_bytes == q.shed_payloads * (ENTRY_OVERHEAD + 1000)
    assert {s.stream for batch in sheds for s in batch} == {"sensors/flood/emg"}
    assert sum(s.payloads for batch in sheds for s in batch) == q.shed_payloads
    assert len(q) == 0 and q.nbytes == 0


def test_shedding_goes_down_to_the_low_mark_in_one_pass() -> None:
    passes: list[list[Shed]] = []
    q = IngestQueue(max_bytes=1_000_000, max_items=100, on_shed=passes.append)
    for i in range(101):
        q.put(f"s{i % 4}", b"x", float(i))
    assert len(passes) == 1  # the 101st payload crossed the bound once
    assert len(q) <= int(100 * LOW_MARK)
    streams = [s for s, _, _ in q.drain()]
    sizes = [streams.count(f"s{k}") for k in range(4)]
    assert max(sizes) - min(sizes) <= 1  # equal streams are shed equally


def test_put_and_drain_from_two_threads_lose_nothing_uncounted() -> None:
    q = IngestQueue(max_bytes=200 * (ENTRY_OVERHEAD + 10), max_items=10**6)
    n = 50_000
    drained: list[int] = []
    done = threading.Event()

    def consumer() -> None:
        while not done.is_set() or len(q):
            drained.extend(int.from_bytes(p[:4], "little") for _, p, _ in q.drain())  # type: ignore[index]

    thread = threading.Thread(target=consumer)
    thread.start()
    for i in range(n):
        q.put(f"s{i % 7}", i.to_bytes(4, "little") + bytes(6), float(i))
    done.set()
    thread.join()
    assert len(drained) + q.shed_payloads == n
    assert len(set(drained)) == len(drained)  # no payload twice
    for k in range(7):  # each stream's payloads came out in order
        own = [i for i in drained if i % 7 == k]
        assert own == sorted(own)


def test_a_bounded_drain_takes_small_streams_whole_and_caps_the_largest() -> None:
    q = IngestQueue(max_bytes=10**9, max_items=10**6)
    for i in range(100):
        q.put("big", bytes(1000), float(i))
        if i % 4 == 0:
            q.put("small", bytes(1000), float(i))
    total = q.nbytes
    first = list(q.drain(max_bytes=total // 2))
    big = [r for s, _, r in first if s == "big"]
    small = [r for s, _, r in first if s == "small"]
    # Water-filling over 125 payloads' worth / 2: the small stream (25) goes in whole, the
    # big one up to the common cap of 37.5 payloads, its oldest first.
    assert small == [float(i) for i in range(0, 100, 4)]
    assert big == [float(i) for i in range(37)]
    assert q.nbytes == total - len(first) * (ENTRY_OVERHEAD + 1000) <= total
    rest = list(q.drain(max_bytes=total))  # the remainder, still in order
    assert [r for s, _, r in rest if s == "big"] == [float(i) for i in range(37, 100)]
    assert len(first) + len(rest) == 125 and len(q) == 0 and q.nbytes == 0


def test_a_flood_of_new_ids_is_refused_at_the_stream_cap_and_healthy_queues_survive() -> None:
    sheds: list[list[Shed]] = []
    q = IngestQueue(max_bytes=100_000, max_items=10**6, on_shed=sheds.append, max_streams=50)
    for i in range(10):
        q.put("healthy", bytes(1000), float(i))
    for i in range(5000):  # one small payload each: many tiny queues
        q.put(f"flood{i}", bytes(10), float(i))
    assert len(q._queues) == 50  # the cap
    assert q.shed_payloads >= 5000 - 49
    streams = [s for s, _, _ in q.drain()]
    assert streams.count("healthy") == 10  # never shed: the flood was refused, not queued


def test_shedding_stops_at_the_low_mark_and_keeps_small_queues() -> None:
    """Thousands of one-payload queues push the common cap below one payload; shedding the
    largest first and stopping at the low mark keeps the small ones."""
    q = IngestQueue(max_bytes=40 * (ENTRY_OVERHEAD + 1000), max_items=10**6)
    for i in range(30):
        q.put(f"tiny{i}", bytes(1000), float(i))
    for i in range(20):
        q.put("big", bytes(1000), float(i))
    streams = [s for s, _, _ in q.drain()]
    assert sum(s.startswith("tiny") for s in streams) == 30  # all kept
    assert 0 < streams.count("big") < 20
