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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.dsp.spectrum import Band, SpectrumPlan


@dataclass(frozen=True, slots=True)
class AccFeatureArrays:
    acc_rms: npt.NDArray[np.float64]
    tremor_rms: npt.NDArray[np.float64]
    tremor_peak_hz: npt.NDArray[np.float64]
    tremor_ratio: npt.NDArray[np.float64]
    tremor_disp_mm: npt.NDArray[np.float64]

    def as_dict(self) -> dict[str, npt.NDArray[np.float64]]:
        return {name: getattr(self, name) for name in self.__slots__}


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
        hi = max(self.tremor.hi, self.peak.hi, self.total.hi)
        per_axis = plan.psd(x, Band(lo, hi, plan.df)).astype(np.float64)
        psd: npt.NDArray[np.float64] = per_axis.reshape(rows, self.n_axes, -1).sum(axis=1)

        def cols(b: Band) -> npt.NDArray[np.float64]:
            return psd[:, b.lo - lo : b.hi - lo + 1]

        df = plan.df
        tremor_power = cols(self.tremor).sum(axis=1) * df
        total_power = cols(self.total).sum(axis=1) * df
        disp = np.sqrt(cols(self.tremor) @ self._disp_weight) * 1e3
        with np.errstate(divide="ignore", invalid="ignore"):
            valid = total_power > 0
            ratio = np.where(valid, tremor_power / total_power, np.nan)
            peak = np.where(valid, self._peak_frequency(cols(self.peak)), np.nan)
        return AccFeatureArrays(
            acc_rms=acc_rms,
            tremor_rms=np.sqrt(tremor_power),
            tremor_peak_hz=peak,
            tremor_ratio=ratio,
            tremor_disp_mm=np.where(valid, disp, np.nan),
        )

    def _peak_frequency(self, p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The largest interior local maximum: a tremor is an oscillation with a peak, while
        voluntary movement (0.1-3 Hz) only adds a falling tail that is largest at the band's
        lower edge. Falls back to the largest bin when the spectrum has no interior peak."""
        rows, size = p.shape
        r = np.arange(rows)
        local = np.zeros_like(p, dtype=bool)
        local[:, 1:-1] = (p[:, 1:-1] > p[:, :-2]) & (p[:, 1:-1] >= p[:, 2:])
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
