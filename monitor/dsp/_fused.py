"""Compiled (numba) fused passes around the batched FFT of the EMG kernel.

Why: with numpy every feature is a separate pass over memory (window product, RMS, ARV,
|X|^2, moments, the median search, the mains check), and together they cost more than
the FFT itself. Here one pass over each window computes RMS, ARV and the windowed copy,
and one pass over each spectrum's band bins computes everything spectral. The numpy
implementation in emg_features.py remains the reference (and the fallback where numba
is not installed); tests require both to agree.

Only reassociation and contraction are allowed to the compiler (so reductions vectorise);
NaN and infinity keep their meaning, since flat windows produce them on purpose.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

try:  # numba is a dependency, but a platform without its wheels still works (slower)
    _numba: Any = importlib.import_module("numba")
except ImportError:  # pragma: no cover - exercised only where numba is missing
    _numba = None

AVAILABLE = _numba is not None
_FLAGS = {"reassoc", "contract"}


def _jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    if _numba is None:  # pragma: no cover
        return fn
    compiled: Callable[..., Any] = _numba.njit(cache=True, fastmath=_FLAGS, nogil=True)(fn)
    return compiled


@_jit
def window_stats(x: Any, win: Any, buf: Any, rms: Any, arv: Any) -> None:  # pragma: no cover
    """RMS and ARV of each row of ``x``, and ``buf = x * win``, in one pass."""
    rows, n = x.shape
    for i in range(rows):
        s2 = 0.0
        s1 = 0.0
        for j in range(n):
            v = x[i, j]
            s2 += v * v
            s1 += abs(v)
            buf[i, j] = v * win[j]
        rms[i] = np.sqrt(s2 / n)
        arv[i] = s1 / n


@_jit
def band_features(
    spec: Any,
    lo: int,
    scale: Any,
    f: Any,
    finv: Any,
    f5: Any,
    df: float,
    hit: Any,
    near: Any,
    family: Any,
    n_families: int,
    excess: float,
    min_share: float,
    rms: Any,
    out: Any,
) -> None:  # pragma: no cover
    """Per row of ``spec`` (complex rfft): band PSD, mains interpolation, then
    out[:, 0..4] = band_power, MNF, FInsm5, MDF, mains share (see emg_features.py)."""
    rows = spec.shape[0]
    size = f.shape[0]
    n_h = hit.shape[0]
    p = np.empty(size)
    neighbour = np.empty(n_h)
    for i in range(rows):
        total0 = 0.0
        for k in range(size):
            z = spec[i, lo + k]
            v = (z.real * z.real + z.imag * z.imag) * scale[k]
            p[k] = v
            total0 += v
        removed = 0.0
        for fam in range(n_families):
            line = 0.0
            expected = 0.0
            for h in range(n_h):
                if family[h] != fam:
                    continue
                s = 0.0
                for j in range(near.shape[1]):
                    s += p[near[h, j]]
                neighbour[h] = s / near.shape[1]
                expected += neighbour[h] * hit.shape[1]
                for j in range(hit.shape[1]):
                    line += p[hit[h, j]]
            if line > excess * expected:
                for h in range(n_h):
                    if family[h] != fam:
                        continue
                    for j in range(hit.shape[1]):
                        removed += p[hit[h, j]] - neighbour[h]
                        p[hit[h, j]] = neighbour[h]
        tot = 0.0
        m1 = 0.0
        mi = 0.0
        m5 = 0.0
        for k in range(size):
            v = p[k]
            tot += v
            m1 += f[k] * v
            mi += finv[k] * v
            m5 += f5[k] * v
        band_power = tot * df
        out[i, 4] = removed / total0 if total0 > 0 else 0.0
        if not band_power > min_share * rms[i] * rms[i]:
            out[i, 0] = np.nan
            out[i, 1] = np.nan
            out[i, 2] = np.nan
            out[i, 3] = np.nan
            continue
        half = 0.5 * tot
        c = 0.0
        mdf = f[size - 1] + 0.5 * df
        for k in range(size):
            if c + p[k] >= half:
                frac = (half - c) / p[k] if p[k] > 0 else 0.0
                mdf = f[k] - 0.5 * df + min(1.0, max(0.0, frac)) * df
                break
            c += p[k]
        out[i, 0] = band_power
        out[i, 1] = m1 / tot
        out[i, 2] = mi / m5
        out[i, 3] = mdf


def jit_exact(fn: Callable[..., Any]) -> Callable[..., Any]:
    """No fastmath at all: for passes that compare for equality, test finiteness or
    must give the same floats as a Python reference (scan_block, detect/_compiled.py)."""
    if _numba is None:  # pragma: no cover
        return fn
    compiled: Callable[..., Any] = _numba.njit(cache=True, nogil=True)(fn)
    return compiled


@jit_exact
def scan_block(
    x: Any, last: Any, hi: Any, lo: Any, has_prev: bool, bad: Any, same: Any, clip: Any
) -> tuple[int, int, int]:  # pragma: no cover - compiled; tests compare it with numpy
    """One pass over a new block (channels, k) of one stream, in place: hold the last
    finite value over NaN/inf, flag non-finite samples (``bad``), samples equal to their
    predecessor (``same``) and those of them at the running maximum or minimum
    (``clip``). ``last``, ``hi``, ``lo`` carry the stream's state across blocks and are
    updated. Returns the counts of the three flags, so callers can skip the common
    all-clean case without another pass."""
    c, k = x.shape
    nbad = 0
    nsame = 0
    nclip = 0
    for i in range(c):
        prev = last[i]
        h = hi[i]
        low = lo[i]
        for j in range(k):
            v = x[i, j]
            if not np.isfinite(v):
                v = prev
                x[i, j] = v
                bad[i, j] = True
                nbad += 1
            else:
                bad[i, j] = False
            s = (j > 0 or has_prev) and v == prev
            same[i, j] = s
            if v > h:
                h = v
            if v < low:
                low = v
            r = s and (v == h or v == low)  # noqa: SIM109 - no tuple in compiled code
            clip[i, j] = r
            nsame += s
            nclip += r
            prev = v
        if k:
            last[i] = prev
            hi[i] = h
            lo[i] = low
    return nbad, nsame, nclip
