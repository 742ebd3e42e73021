"""The compiled per-block scan (non-finite hold, flat and clipped flags) against its numpy
reference, over blocks that carry state from one to the next."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.dsp import _fused
from monitor.dsp.stream import scan_block_numpy

pytestmark = pytest.mark.skipif(not _fused.AVAILABLE, reason="numba not installed")


def _run(scan, blocks):  # type: ignore[no-untyped-def]
    c = blocks[0].shape[0]
    last, hi, lo = np.zeros(c), np.full(c, -np.inf), np.full(c, np.inf)
    outs = []
    for i, b in enumerate(blocks):
        x = b.copy()
        masks = [np.empty(x.shape, dtype=bool) for _ in range(3)]
        counts = scan(x, last, hi, lo, i > 0, *masks)
        outs.append((x, *masks, tuple(int(n) for n in counts), last.copy(), hi.copy(), lo.copy()))
    return outs


@pytest.mark.parametrize("seed", range(5))
def test_compiled_scan_equals_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((3, 900)) * 3.0)  # coarse: many repeats and rails
    x[1, 500:520] = x[1, :500].max() + 1.0  # a new maximum, then held there: clipped
    x[0, 10:30] = np.nan
    x[1, 0:5] = np.inf  # non-finite at the very start: held at the initial 0.0
    x[2, 400:700] = x[2, 399]  # a flat stretch across the block boundaries below
    blocks = np.split(x, [100, 101, 450, 451, 900], axis=1)  # includes 1-sample and empty
    got = _run(_fused.scan_block, blocks)
    want = _run(scan_block_numpy, blocks)
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g, w, strict=True):
            np.testing.assert_array_equal(a, b)
    total = [sum(o[4][k] for o in got) for k in range(3)]
    assert total[0] == 20 + 5  # every non-finite sample counted once
    assert total[2] >= 19  # the run at the maximum is flagged as clipped
    assert np.isfinite(np.concatenate([o[0] for o in got], axis=1)).all()
