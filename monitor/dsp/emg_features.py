"""EMG fatigue features of many windows at once, from one batched spectrum.

Definitions (docs/signal-processing.md gives them with references):

* band: bins whose centre frequency f_k lies in [band_lo, band_hi]; each bin stands for the
  interval [f_k - df/2, f_k + df/2] and its power is spread evenly over it.
* band_power = sum_k P_k df
* MNF = sum_k f_k P_k / sum_k P_k
* MDF: the frequency where the cumulative band power reaches half of the total, found by
  linear interpolation inside the bin that crosses half (so a pure tone whose Hann
  main lobe is symmetric gives exactly its frequency).
* FInsm5 (Dimitrov et al. 2006) = sum_k f_k^-1 P_k / sum_k f_k^5 P_k, midpoint rule.
* RMS and ARV are taken over the whole (band-passed) window in the time domain.
* mains_share: the fraction of band power removed by spectrum interpolation over 50/60 Hz
  harmonic lines (0 when off or when no line stands out); the spectral features above are
  computed after it.

Spectral quantities are NaN for a window whose band holds less than 1e-9 of its energy (a
flat line, pure DC), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft

from monitor.dsp import _fused
from monitor.dsp.spectrum import CHUNK_ROWS, Band, SpectrumPlan

_MDF_BLOCK = 16
_MIN_BAND_SHARE = 1e-9
MAINS_FAMILIES_HZ = (50.0, 60.0)
# A harmonic family counts as present when its bins hold this many times the power that
# their neighbours predict. Real mains lines stand 10-100x above their neighbours; with 3x,
# 5 in 100,000 windows of white noise trigger (measured), with 2x it was 1 in 100.
MAINS_EXCESS = 3.0


class MainsInterpolator:
    """Spectrum interpolation for power-line interference (Mewett, Reynolds & Nazeran
    2004): in a window whose 50 Hz (or 60 Hz) harmonic bins stand out from their
    neighbours, those bins are replaced by the mean of the neighbouring bins. Per window,
    so it needs no state and does not depend on chunking, and no one has to know whether
    the recording was made in a 50 Hz or a 60 Hz country."""

    def __init__(self, band: Band) -> None:
        w = max(1, int(np.ceil(1.5 / band.df)))
        self.families: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]] = []
        for f0 in MAINS_FAMILIES_HZ:
            centres = []
            k = 1
            while k * f0 <= band.hi * band.df:
                c = round(k * f0 / band.df) - band.lo
                if c - w - 3 >= 0 and c + w + 3 < band.size:
                    centres.append(c)
                k += 1
            if not centres:
                continue
            cen = np.asarray(centres)[:, None]
            hit = cen + np.arange(-w, w + 1)[None, :]
            near = np.concatenate(
                [cen - np.arange(w + 1, w + 4), cen + np.arange(w + 1, w + 4)], axis=1
            )
            self.families.append((hit, near))

    def apply(self, psd: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Interpolate over mains lines in place; returns the share of band power removed."""
        rows = psd.shape[0]
        total = psd.sum(axis=1, dtype=np.float64)
        removed = np.zeros(rows)
        for hit, near in self.families:
            neighbour = psd[:, near].mean(axis=2)  # (rows, harmonics)
            line = psd[:, hit].sum(axis=2, dtype=np.float64)
            expected = neighbour.sum(axis=1, dtype=np.float64) * hit.shape[1]
            with np.errstate(divide="ignore", invalid="ignore"):
                present = line.sum(axis=1) > MAINS_EXCESS * expected
            if not present.any():
                continue
            sel = np.flatnonzero(present)
            sub = psd[sel]
            before = sub[:, hit].sum(axis=(1, 2), dtype=np.float64)
            sub[:, hit] = neighbour[sel][:, :, None]
            removed[sel] += before - sub[:, hit].sum(axis=(1, 2), dtype=np.float64)
            psd[sel] = sub
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, removed / total, 0.0)


@dataclass(frozen=True, slots=True)
class EmgFeatureArrays:
    """One value per window row; float64 whatever the engine's dtype."""

    mdf_hz: npt.NDArray[np.float64]
    mnf_hz: npt.NDArray[np.float64]
    rms: npt.NDArray[np.float64]
    arv: npt.NDArray[np.float64]
    fi_nsm5: npt.NDArray[np.float64]
    band_power: npt.NDArray[np.float64]
    mains_share: npt.NDArray[np.float64]

    def as_dict(self) -> dict[str, npt.NDArray[np.float64]]:
        return {name: getattr(self, name) for name in self.__slots__}


class EmgFeatureKernel:
    """Precomputed weights for one (fs, window length, band, dtype) group."""

    def __init__(
        self,
        plan: SpectrumPlan,
        band_lo_hz: float,
        band_hi_hz: float,
        mains_interpolation: bool = False,
        fused: bool | None = None,
    ) -> None:
        self.plan = plan
        self.band: Band = plan.band(band_lo_hz, band_hi_hz)
        self.mains = MainsInterpolator(self.band) if mains_interpolation else None
        # The compiled path does one segment per window; Welch segments use numpy.
        self.fused = _fused.AVAILABLE and plan.n_segments == 1 if fused is None else fused
        hits = [h for h, _ in self.mains.families] if self.mains else []
        nears = [n for _, n in self.mains.families] if self.mains else []
        width = hits[0].shape[1] if hits else 1
        self._hit = np.concatenate(hits) if hits else np.zeros((0, width), dtype=np.int64)
        self._near = np.concatenate(nears) if nears else np.zeros((0, 6), dtype=np.int64)
        self._family = (
            np.concatenate([np.full(h.shape[0], i, dtype=np.int64) for i, h in enumerate(hits)])
            if hits
            else np.zeros(0, dtype=np.int64)
        )
        f = self.band.freqs()
        df = self.band.df
        # Moment weights as one matrix: one BLAS call gives all four sums per window.
        self._weights = np.stack([np.full_like(f, df), f * df, df / f, f**5 * df], axis=1).astype(
            plan.dtype
        )
        # Block indicator for the coarse half-power search (see _median_frequency).
        n_blocks = -(-self.band.size // _MDF_BLOCK)
        owner = np.arange(self.band.size) // _MDF_BLOCK
        self._blocks = (owner[:, None] == np.arange(n_blocks)[None, :]).astype(plan.dtype)
        self._f = f
        self._finv = 1.0 / f
        self._f5 = f**5
        self._scale = plan.scale[self.band.lo : self.band.hi + 1].astype(np.float64)
        self._lower_edge = f - df / 2.0

    def compute(self, windows: npt.NDArray[np.floating]) -> EmgFeatureArrays:
        """Features of each row of ``windows`` (rows, n), in the plan's dtype."""
        plan = self.plan
        x = windows if windows.dtype == plan.dtype else windows.astype(plan.dtype)
        if self.fused:
            return self._compute_fused(np.ascontiguousarray(x))
        rows = x.shape[0]
        rms = np.empty(rows)
        arv = np.empty(rows)
        band = self.band
        psd = np.empty((rows, band.size), dtype=plan.dtype)
        scratch = plan.buffer(min(rows, CHUNK_ROWS))
        abs_buf = np.empty((min(rows, CHUNK_ROWS), plan.n), dtype=plan.dtype)
        # One pass per cache-sized chunk: time-domain statistics and the spectrum are taken
        # while the chunk is in cache, so the windows are read from memory once.
        for start in range(0, rows, CHUNK_ROWS):
            chunk = x[start : start + CHUNK_ROWS]
            stop = start + chunk.shape[0]
            rms[start:stop] = np.einsum("ij,ij->i", chunk, chunk)
            arv[start:stop] = np.add.reduce(np.abs(chunk, out=abs_buf[: chunk.shape[0]]), axis=1)
            plan.psd_into(chunk, band.lo, band.hi, psd[start:stop], scratch)
        np.sqrt(rms / plan.n, out=rms)
        arv /= plan.n

        mains_share = self.mains.apply(psd) if self.mains is not None else np.zeros(rows)
        moments = (psd @ self._weights).astype(np.float64)
        total = moments[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            # "No band power" relative to the window's own energy: a constant window leaks
            # rounding noise (1e-30 of its power) into the band, which is not a spectrum.
            valid = total > _MIN_BAND_SHARE * (rms * rms)
            mnf = np.where(valid, moments[:, 1] / total, np.nan)
            fi = np.where(valid, moments[:, 2] / moments[:, 3], np.nan)
            mdf = self._median_frequency(psd, valid)
        return EmgFeatureArrays(
            mdf_hz=mdf,
            mnf_hz=mnf,
            rms=rms,
            arv=arv,
            fi_nsm5=fi,
            band_power=np.where(valid, total, np.nan),
            mains_share=mains_share,
        )

    def _compute_fused(self, x: npt.NDArray[np.floating]) -> EmgFeatureArrays:
        plan, band = self.plan, self.band
        rows = x.shape[0]
        rms = np.empty(rows)
        arv = np.empty(rows)
        out = np.empty((rows, 5))
        buf = plan.buffer(min(rows, CHUNK_ROWS))
        window = plan.window
        for start in range(0, rows, CHUNK_ROWS):
            chunk = x[start : start + CHUNK_ROWS]
            stop = start + chunk.shape[0]
            wbuf = buf[: chunk.shape[0]]
            _fused.window_stats(chunk, window, wbuf, rms[start:stop], arv[start:stop])
            spec = scipy.fft.rfft(wbuf, axis=-1)
            _fused.band_features(
                spec,
                band.lo,
                self._scale,
                self._f,
                self._finv,
                self._f5,
                band.df,
                self._hit,
                self._near,
                self._family,
                len(self.mains.families) if self.mains else 0,
                MAINS_EXCESS,
                _MIN_BAND_SHARE,
                rms[start:stop],
                out[start:stop],
            )
        return EmgFeatureArrays(
            mdf_hz=out[:, 3],
            mnf_hz=out[:, 1],
            rms=rms,
            arv=arv,
            fi_nsm5=out[:, 2],
            band_power=out[:, 0],
            mains_share=out[:, 4],
        )

    def _median_frequency(
        self, psd: npt.NDArray[np.floating], valid: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64]:
        """Half-power frequency without a full cumulative sum.

        numpy's cumsum along rows runs at a fraction of memory speed, so the crossing is
        found in two steps: block sums by one matrix product and a cumsum over the few
        blocks, then a cumsum over the 16 bins of the one block that crosses half.
        """
        rows, size = psd.shape
        r = np.arange(rows)
        block_cum = np.cumsum(psd @ self._blocks, axis=1, dtype=np.float64)
        half = block_cum[:, -1] * 0.5
        j = np.minimum((block_cum < half[:, None]).sum(axis=1), block_cum.shape[1] - 1)
        before = np.where(j > 0, block_cum[r, np.maximum(j - 1, 0)], 0.0)
        idx = j[:, None] * _MDF_BLOCK + np.arange(_MDF_BLOCK)[None, :]
        in_band = idx < size
        inner = np.where(in_band, psd[r[:, None], np.minimum(idx, size - 1)], 0.0)
        inner_cum = np.cumsum(inner, axis=1, dtype=np.float64) + before[:, None]
        k_in = np.minimum((inner_cum < half[:, None]).sum(axis=1), _MDF_BLOCK - 1)
        k = np.minimum(j * _MDF_BLOCK + k_in, size - 1)
        p_k = psd[r, k].astype(np.float64)
        c_prev = np.where(k_in > 0, inner_cum[r, np.maximum(k_in - 1, 0)], before)
        frac = np.clip((half - c_prev) / p_k, 0.0, 1.0)
        mdf = self._lower_edge[k] + frac * self.band.df
        return np.where(valid, mdf, np.nan)
