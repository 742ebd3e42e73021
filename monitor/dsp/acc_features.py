"""Tremor features of many accelerometer windows at once.

The axes of one sensor are combined by summing their PSDs, not by taking the vector
magnitude first: the magnitude of a zero-mean oscillation is rectified, which moves a
tremor at f to 2f, and the magnitude of the raw signal (gravity included) only sees the
component along gravity. The sum of per-axis PSDs is the PSD of the acceleration vector,
independent of how the sensor is worn.

Definitions (band edges from settings, defaults in brackets):

* acc_rms: RMS of the gravity-free acceleration vector over the window (m/s^2).
* tremor_rms: sqrt(band power in the tremor band [4, 12] Hz) (m/s^2).
* tremor_peak_hz: the largest interior local maximum of the PSD in [2, 15] Hz (movement
  makes the lower edge large without making it a peak), refined by a parabola through the
  log-power of the bin and its neighbours.
* tremor_ratio: tremor band power / power from the high-pass corner to 0.45 fs.
* tremor_disp_mm: RMS displacement in the tremor band, sqrt(sum P_k / (2 pi f_k)^4 df),
  in millimetres: acceleration divided by omega^2 bin by bin.
* tremor_peak_rms: the narrow-band part of the tremor band (m/s^2): the power within
  ``PEAK_HALF_HZ`` of the band's largest bin, less the band's median bin power over the same
  bins. A tremor is a narrow peak; heel strikes, knocks and other impacts are broadband and
  raise the whole band, which this takes off. The detector watches this one.
* voluntary_hz: the frequency of a periodic voluntary movement (walking or running
  cadence, arm swing, hammering), NaN when there is none (below).
* tremor_env_cv: how steady the oscillation at the tremor peak is within the window: the
  coefficient of variation (std / mean) of its envelope (the analytic signal of the bins
  within ``PEAK_HALF_HZ`` of the peak, summed over axes, the window's first and last
  ``ENV_EDGE_S`` left out). A tremor is a continuous oscillation; the envelope of even a
  random narrow-band oscillation (Gaussian, Rayleigh envelope) has a CV of
  sqrt(4/pi - 1) = 0.52, a steadier one less. Rhythmic voluntary movement in the band comes
  in bursts: handwriting strokes stop between letters and words, which lifts the CV well
  above that.

Periodic voluntary movement is taken out first. Walking (1.6-2 steps/s), running, arm
swing and hammering are periodic at 1-3.5 Hz with strong harmonics: the 2nd harmonic of
walking cadence sits at 3.2-4 Hz, the 3rd at 5-6 Hz, right in the tremor band. When the
voluntary band (0.5-3.2 Hz) holds a clear, prominent peak f0 (two adjacent bins with
``PERIODIC_SHARE`` of its power, and ``VOLUNTARY_SHARE`` of the tremor band's),
the bins within ``HARMONIC_TOL_HZ`` of 2 f0, 3 f0, ... are left out of every tremor
feature above. At the wrist and the trunk the step's 2nd harmonic (3.2-4 Hz) often carries
several times the power of the fundamental, so a smaller, still prominent fundamental counts
too when the tremor band's largest peak sits on its 2nd or 3rd harmonic (within
``COINCIDE_HZ``): a tremor has no sub-harmonic. The harmonics of the step are not taken
for a tremor (Elble & Deuschl 2011 on tremor vs. voluntary rhythm). Above the 5th, a
harmonic is taken out only where the comb still reaches (its 5th harmonic is a line) and
the bin stands ``LINE_FACTOR`` above the band's median: the heel strikes of every step
make such lines up to 11-12 Hz, while a jittered cadence smears the high orders into a
floor that must not hide a tremor between them. In those rows the tremor peak is the
largest local maximum between the harmonics taken out (the bin beside a removed harmonic
holds its falling skirt, no peak), and the floor is the median of the bins left, without
the peak's own. A tremor under walking between the harmonics is measured; one within a
main lobe of a step harmonic is not seen until the walking stops (docs/evaluation.md,
acc_tremor_moving).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft

from monitor.dsp.spectrum import Band, SpectrumPlan

#: The band (Hz) searched for a voluntary movement's fundamental: walking and running
#: cadence (1.6-3 steps/s), arm swing (0.8-1 Hz), hammering; below the tremor band.
VOLUNTARY_LO_HZ = 0.5
VOLUNTARY_HI_HZ = 3.2
#: How far the fundamental's bin stands above the bins two away on both sides.
PROMINENCE = 3.0
#: The movement is periodic when its two largest adjacent bins hold this share of the band.
PERIODIC_SHARE = 0.5
#: ... and it carries at least this share of the tremor band's power: a step's harmonics
#: can outweigh its fundamental (vertical acceleration peaks at twice the cadence).
VOLUNTARY_SHARE = 0.3
#: ... or, when the tremor band's largest bin lies within COINCIDE_HZ of its 2nd or 3rd
#: harmonic, this share of the band is enough (gait whose harmonics outweigh it).
HARMONIC_PAIR_SHARE = 0.25
COINCIDE_HZ = 0.3
#: ... as long as the fundamental carries this share of the tremor band's power (the step's
#: 2nd harmonic reaches ~16x the fundamental at the wrist, not 30x): a numerically empty
#: voluntary band is no movement.
HARMONIC_MIN_SHARE = 0.03
#: Least half-width (Hz) of the bins left out around each harmonic of the movement's
#: frequency (at least the spectral window's main lobe), and the highest harmonic left out
#: (gait's power is in the first four or five).
HARMONIC_TOL_HZ = 0.3
MAX_HARMONIC = 5
#: Above MAX_HARMONIC, a harmonic's bins are left out only where they stand this many times
#: above the tremor band's median bin (a line, not the smeared floor of the impacts).
LINE_FACTOR = 4.0
#: Half-width (Hz) of a tremor peak: physiological and pathological tremor peaks are a few
#: tenths of a Hz wide (Elble & Deuschl 2011), a 4-s window's bins 0.25 Hz.
PEAK_HALF_HZ = 0.75
#: Left out of the envelope at both ends of the window: the band filter is circular.
ENV_EDGE_S = 0.5
#: Windows (vectors) per block of the envelope computation, to keep temporaries small.
ENV_CHUNK = 64


@dataclass(frozen=True, slots=True)
class AccFeatureArrays:
    acc_rms: npt.NDArray[np.float64]
    tremor_rms: npt.NDArray[np.float64]
    tremor_peak_hz: npt.NDArray[np.float64]
    tremor_ratio: npt.NDArray[np.float64]
    tremor_disp_mm: npt.NDArray[np.float64]
    tremor_peak_rms: npt.NDArray[np.float64]
    voluntary_hz: npt.NDArray[np.float64]
    tremor_env_cv: npt.NDArray[np.float64]

    def as_dict(self) -> dict[str, npt.NDArray[np.float64]]:
        return {name: getattr(self, name) for name in self.__slots__}


def main_lobe_hz(plan: SpectrumPlan) -> float:
    """Half-width of the spectral window's main lobe (to its first null), in Hz: how far a
    strong line spreads. Hann: 2 bins; Blackman-Harris: 4."""
    pad = 16
    mag = np.abs(np.fft.rfft(plan.window.astype(np.float64), pad * plan.window.size))
    falling = np.flatnonzero(np.diff(mag) > 0)
    first_null = int(falling[0]) if falling.size else mag.size - 1
    return (first_null / pad) * plan.df


class AccFeatureKernel:
    """Precomputed bands and weights for one (fs, window length, axes) group."""

    def __init__(
        self,
        plan: SpectrumPlan,
        n_axes: int,
        tremor_band_hz: tuple[float, float],
        peak_band_hz: tuple[float, float],
        total_band_hz: tuple[float, float],
    ) -> None:
        self.plan = plan
        self.n_axes = n_axes
        hi_cap = 0.45 * plan.fs
        self.tremor = plan.band(tremor_band_hz[0], min(tremor_band_hz[1], hi_cap))
        self.peak = plan.band(peak_band_hz[0], min(peak_band_hz[1], hi_cap))
        self.total = plan.band(total_band_hz[0], min(total_band_hz[1], hi_cap))
        self._lobe_hz = main_lobe_hz(plan)
        vol_lo = max(VOLUNTARY_LO_HZ, plan.df)
        self.voluntary = (
            plan.band(vol_lo, VOLUNTARY_HI_HZ) if VOLUNTARY_HI_HZ - vol_lo >= 4 * plan.df else None
        )
        f = self.tremor.freqs()
        self._disp_weight = self.tremor.df / (2.0 * np.pi * f) ** 4

    def compute(self, windows: npt.NDArray[np.floating]) -> AccFeatureArrays:
        """Features of ``windows`` shaped (vectors * n_axes, n): axes of a vector adjacent."""
        plan = self.plan
        x = windows if windows.dtype == plan.dtype else windows.astype(plan.dtype)
        rows = x.shape[0] // self.n_axes
        energy = np.einsum("ij,ij->i", x, x).astype(np.float64)
        acc_rms = np.sqrt(energy.reshape(rows, self.n_axes).sum(axis=1) / plan.n)

        lo = min(self.tremor.lo, self.peak.lo, self.total.lo)
        if self.voluntary is not None:
            lo = min(lo, self.voluntary.lo)
        hi = max(self.tremor.hi, self.peak.hi, self.total.hi)
        per_axis = plan.psd(x, Band(lo, hi, plan.df)).astype(np.float64)
        psd: npt.NDArray[np.float64] = per_axis.reshape(rows, self.n_axes, -1).sum(axis=1)

        voluntary_hz = np.full(rows, np.nan)
        removed = np.zeros(psd.shape, dtype=bool)
        if self.voluntary is not None:
            psd, voluntary_hz, removed = self._without_harmonics(psd, lo)

        def cols(b: Band) -> npt.NDArray[np.float64]:
            return psd[:, b.lo - lo : b.hi - lo + 1]

        def gone(b: Band) -> npt.NDArray[np.bool_]:
            return removed[:, b.lo - lo : b.hi - lo + 1]

        k_tremor = _peak_bin(cols(self.tremor), gone(self.tremor))

        df = plan.df
        tremor_power = cols(self.tremor).sum(axis=1) * df
        total_power = cols(self.total).sum(axis=1) * df
        disp = np.sqrt(cols(self.tremor) @ self._disp_weight) * 1e3
        with np.errstate(divide="ignore", invalid="ignore"):
            valid = total_power > 0
            ratio = np.where(valid, tremor_power / total_power, np.nan)
            peak = np.where(valid, self._peak_frequency(cols(self.peak), gone(self.peak)), np.nan)
        return AccFeatureArrays(
            acc_rms=acc_rms,
            tremor_rms=np.sqrt(tremor_power),
            tremor_peak_hz=peak,
            tremor_ratio=ratio,
            tremor_disp_mm=np.where(valid, disp, np.nan),
            tremor_peak_rms=np.where(
                valid, self._peak_rms(cols(self.tremor), gone(self.tremor), k_tremor), np.nan
            ),
            voluntary_hz=voluntary_hz,
            tremor_env_cv=np.where(valid, self._envelope_cv(x, k_tremor, removed, lo), np.nan),
        )

    def _envelope_cv(
        self,
        x: npt.NDArray[np.floating],
        k_tremor: npt.NDArray[np.intp],
        removed: npt.NDArray[np.bool_],
        lo: int,
    ) -> npt.NDArray[np.float64]:
        """CV of the envelope of the oscillation at each row's tremor peak (bin
        ``k_tremor`` of the tremor band; module docstring); NaN for windows too short to
        leave a middle. The bins taken out as a movement's harmonics (``removed``, psd bins
        from ``lo``) stay out of the envelope: a step harmonic beside a tremor would beat
        with it."""
        plan = self.plan
        rows = k_tremor.shape[0]
        n = x.shape[1]
        edge = round(ENV_EDGE_S * plan.fs)
        out = np.full(rows, np.nan)
        if n - 2 * edge < 8:
            return out
        f = np.fft.rfftfreq(n, 1.0 / plan.fs)
        peak_hz = (self.tremor.lo + k_tremor) * plan.df
        axes = self.n_axes
        for start in range(0, rows, ENV_CHUNK):
            stop = min(rows, start + ENV_CHUNK)
            spec = scipy.fft.rfft(x[start * axes : stop * axes].astype(np.float64), axis=1)
            keep = np.abs(f[None, :] - np.repeat(peak_hz[start:stop], axes)[:, None])
            keep = keep <= PEAK_HALF_HZ
            span = min(removed.shape[1], f.size - lo)
            gone = np.zeros((stop - start, f.size), dtype=bool)
            gone[:, lo : lo + span] = removed[start:stop, :span]
            keep &= ~np.repeat(gone, axes, axis=0)
            # One-sided spectrum doubled, negative frequencies zero: the analytic signal.
            spec = np.where(keep, 2.0 * spec, 0.0)
            analytic = scipy.fft.ifft(spec, n=n, axis=1)[:, edge : n - edge]
            env = np.sqrt(np.square(np.abs(analytic)).reshape(stop - start, axes, -1).sum(axis=1))
            mean = env.mean(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[start:stop] = np.where(mean > 0, env.std(axis=1) / mean, np.nan)
        return out

    def _peak_rms(
        self,
        band: npt.NDArray[np.float64],
        gone: npt.NDArray[np.bool_],
        k: npt.NDArray[np.intp],
    ) -> npt.NDArray[np.float64]:
        """Narrow-band RMS around bin ``k`` (-1: no peak, 0), above the band's median
        floor; bins taken out as a movement's harmonics (``gone``) count in neither."""
        rows, size = band.shape
        half = max(1, round(PEAK_HALF_HZ / self.plan.df))
        idx = k[:, None] + np.arange(-half, half + 1)[None, :]
        r = np.arange(rows)[:, None]
        inside = (idx >= 0) & (idx < size) & (k[:, None] >= 0)
        inside &= ~gone[r, np.clip(idx, 0, size - 1)]
        taken = np.where(inside, band[r, np.clip(idx, 0, size - 1)], 0.0)
        median = np.median(band, axis=1)
        partly = gone.any(axis=1)
        if partly.any():
            # Few bins are left between harmonics: the floor is their median without the
            # peak's own, which would otherwise be most of them.
            own = np.zeros(band.shape, dtype=bool)
            own[r, np.clip(idx, 0, size - 1)] = inside
            kept = np.where(gone[partly] | own[partly], np.nan, band[partly])
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a row with every bin gone
                median[partly] = np.nan_to_num(np.nanmedian(kept, axis=1))
        floor = median * inside.sum(axis=1)
        excess = np.maximum(taken.sum(axis=1) - floor, 0.0) * self.plan.df
        out: npt.NDArray[np.float64] = np.sqrt(excess)
        return out

    def _without_harmonics(
        self, psd: npt.NDArray[np.float64], lo: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """``psd`` with the harmonics (2nd and up) of a periodic voluntary movement zeroed
        in the rows that have one (module docstring), that movement's frequency (NaN in
        rows without one), and which bins were zeroed."""
        vol = self.voluntary
        assert vol is not None
        band = psd[:, vol.lo - lo : vol.hi - lo + 1]
        rows = np.arange(band.shape[0])
        size = band.shape[1]
        # The fundamental is an interior peak: a strong 2nd harmonic just above the band
        # (walking at 1.65 steps/s puts it at 3.3 Hz) leaks into its top bins, and slow
        # wandering fills its bottom ones; neither is a fundamental.
        inner = np.full(band.shape, -np.inf)
        inner[:, 2 : size - 2] = band[:, 2 : size - 2]
        k = np.argmax(inner, axis=1)
        left = band[rows, k - 1]
        right = band[rows, k + 1]
        pair = band[rows, k] + np.maximum(left, right)
        total = band[:, 1 : size - 1].sum(axis=1)
        tremor_power = psd[:, self.tremor.lo - lo : self.tremor.hi - lo + 1].sum(axis=1)
        # A peak, not a slope: it stands PROMINENCE times above the bins two away on both
        # sides (a sinusoid between two bins fills those two).
        prominent = band[rows, k] >= PROMINENCE * np.maximum(band[rows, k - 2], band[rows, k + 2])
        tiny = np.finfo(np.float64).tiny
        a = np.log(np.maximum(left, tiny))
        b = np.log(np.maximum(band[rows, k], tiny))
        c = np.log(np.maximum(right, tiny))
        denom = a - 2.0 * b + c
        ok = denom < 0
        delta = np.where(ok, 0.5 * (a - c) / np.where(ok, denom, 1.0), 0.0)
        f0_rows = (vol.lo + k + np.clip(delta, -0.5, 0.5)) * vol.df
        tremor_band = psd[:, self.tremor.lo - lo : self.tremor.hi - lo + 1]
        fp = (self.tremor.lo + np.argmax(tremor_band, axis=1)) * vol.df
        coincide = np.zeros(band.shape[0], dtype=bool)
        for order in (2, 3):
            coincide |= np.abs(fp - order * f0_rows) <= COINCIDE_HZ
        own = (pair >= PERIODIC_SHARE * total) & (total >= VOLUNTARY_SHARE * tremor_power)
        harmonic = coincide & (pair >= HARMONIC_PAIR_SHARE * total)
        harmonic &= pair >= HARMONIC_MIN_SHARE * tremor_power
        periodic = prominent & (total > 0) & (own | harmonic)
        f0_all = np.full(psd.shape[0], np.nan)
        removed = np.zeros(psd.shape, dtype=bool)
        if not periodic.any():
            return psd, f0_all, removed
        sel = np.flatnonzero(periodic)
        f0 = f0_rows[sel]
        freqs = (lo + np.arange(psd.shape[1], dtype=np.float64)) * vol.df
        order = np.rint(freqs[None, :] / f0[:, None])
        # The error of f0 grows with the harmonic's order; a 4-s window's bins are 0.25 Hz.
        tol = max(HARMONIC_TOL_HZ, self._lobe_hz) + 0.02 * order
        near = (order >= 2) & (np.abs(freqs[None, :] - order * f0[:, None]) <= tol)
        # Above the first harmonics, only what still stands out as a line, and only where
        # the comb reaches that far (its MAX_HARMONIC-th harmonic is a line): the impacts of
        # each step repeat at every multiple of the cadence, but step-to-step jitter smears
        # the high orders into a floor, and a tremor between the lines, or above a comb
        # that ended, must stay visible.
        floor = np.median(psd[sel, self.tremor.lo - lo : self.tremor.hi - lo + 1], axis=1)
        line = psd[sel] >= LINE_FACTOR * floor[:, None]
        comb = (line & near & (order == MAX_HARMONIC)).any(axis=1)
        near &= (order <= MAX_HARMONIC) | (line & comb[:, None])
        out = psd.copy()
        out[sel] = np.where(near, 0.0, psd[sel])
        removed[sel] = near
        f0_all[sel] = f0
        return out, f0_all, removed

    def _peak_frequency(
        self, p: npt.NDArray[np.float64], gone: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64]:
        """The largest interior local maximum: a tremor is an oscillation with a peak, while
        voluntary movement (0.1-3 Hz) only adds a falling tail that is largest at the band's
        lower edge. Falls back to the largest bin when the spectrum has no interior peak.
        Beside a harmonic taken out (``gone``) the skirt of that harmonic is no peak."""
        rows, size = p.shape
        r = np.arange(rows)
        local = _local_max(p, gone)
        has_local = local.any(axis=1)
        k = np.where(
            has_local, np.argmax(np.where(local, p, -np.inf), axis=1), np.argmax(p, axis=1)
        )
        km = np.clip(k - 1, 0, size - 1)
        kp = np.clip(k + 1, 0, size - 1)
        tiny = np.finfo(np.float64).tiny
        a = np.log(np.maximum(p[r, km], tiny))
        b = np.log(np.maximum(p[r, k], tiny))
        c = np.log(np.maximum(p[r, kp], tiny))
        denom = a - 2.0 * b + c
        interior = (k > 0) & (k < size - 1) & (denom < 0)
        delta = np.where(interior, 0.5 * (a - c) / np.where(interior, denom, 1.0), 0.0)
        peak: npt.NDArray[np.float64] = (
            self.peak.lo + k + np.clip(delta, -0.5, 0.5)
        ) * self.peak.df
        return peak


def _local_max(p: npt.NDArray[np.float64], gone: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Interior local maxima of each row. A bin taken out counts as higher than any: the
    bin beside it holds that harmonic's falling skirt, which is no peak of its own."""
    q = np.where(gone, np.inf, p)
    local = np.zeros_like(p, dtype=bool)
    local[:, 1:-1] = (p[:, 1:-1] > q[:, :-2]) & (p[:, 1:-1] >= q[:, 2:]) & ~gone[:, 1:-1]
    return local


def _peak_bin(band: npt.NDArray[np.float64], gone: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """The tremor peak's bin in each row: the largest bin, or, where a movement's harmonics
    were taken out, the largest local maximum between them (-1 when there is none)."""
    k: npt.NDArray[np.intp] = np.argmax(band, axis=1)
    partly = gone.any(axis=1)
    if partly.any():
        sub = band[partly]
        local = _local_max(sub, gone[partly])
        best = np.argmax(np.where(local, sub, -np.inf), axis=1)
        k[partly] = np.where(local.any(axis=1), best, -1)
    return k
