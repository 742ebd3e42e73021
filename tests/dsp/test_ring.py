import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.dsp.ring import WindowRing
from monitor.dsp.runs import RunLog


def drain(ring: WindowRing, x: np.ndarray, cuts: list[int]) -> tuple[list[int], list[np.ndarray]]:
    starts: list[int] = []
    wins: list[np.ndarray] = []
    edges = [0, *sorted({c for c in cuts if 0 < c < x.shape[1]}), x.shape[1]]
    for a, b in itertools.pairwise(edges):
        ring.append(x[:, a:b])
        s = ring.ready_starts()
        w = ring.take(s)
        starts += s.tolist()
        wins += list(w)
    return starts, wins


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 3000), max_size=30), st.integers(10, 300), st.integers(1, 300))
def test_windows_are_where_they_should_be_whatever_the_blocks(
    cuts: list[int], window: int, hop: int
) -> None:
    x = np.arange(2 * 3000, dtype=np.float64).reshape(2, 3000)
    ring = WindowRing(2, window, hop, np.float64)
    starts, wins = drain(ring, x, cuts)
    assert starts == list(range(0, 3000 - window + 1, hop))
    for s, w in zip(starts, wins, strict=True):
        np.testing.assert_array_equal(w, x[:, s : s + window])


def test_memory_stays_bounded() -> None:
    ring = WindowRing(4, 2000, 1000, np.float32)
    block = np.ones((4, 250), dtype=np.float32)
    for _ in range(2000):
        ring.append(block)
        ring.take(ring.ready_starts())
    assert ring._buf.shape[1] <= 4000


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.booleans(), min_size=1, max_size=200),
    st.lists(st.integers(1, 199), max_size=10),
    st.integers(1, 5),
)
def test_run_log_is_chunking_invariant(bits: list[bool], cuts: list[int], min_len: int) -> None:
    mask = np.array([bits, bits[::-1]], dtype=bool)
    n = mask.shape[1]
    whole = RunLog(2, min_len)
    whole.add(mask, 0)
    parts = RunLog(2, min_len)
    edges = [0, *sorted({c for c in cuts if 0 < c < n}), n]
    for a, b in itertools.pairwise(edges):
        parts.add(mask[:, a:b], a)
    starts = np.arange(0, n, 3, dtype=np.int64)
    np.testing.assert_array_equal(parts.coverage(starts, 7), whole.coverage(starts, 7))
    # Against the definition: count of True samples inside runs of at least min_len.
    for ch in range(2):
        runs = np.zeros(n, dtype=bool)
        i = 0
        while i < n:
            j = i
            while j < n and mask[ch, j]:
                j += 1
            if j - i >= min_len:
                runs[i:j] = True
            i = max(j, i + 1)
        expect = [int(runs[s : s + 7].sum()) for s in starts]
        assert whole.coverage(starts, 7)[:, ch].tolist() == expect
