"""Spectral shapes of the simulated signals and the analytic truth derived from them.

The EMG shape is the classic two-pole model of Shwedyk et al. (1977), also used by
Lindström & Magnusson (1977)::

    P(f) ∝ f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²)

Its two corner frequencies stand for the action potential's duration, which is inversely
proportional to the muscle-fibre conduction velocity (CV). Lindström's scaling
``P_s(f) = P_0(f/s)/s`` with ``s = CV/CV0`` is therefore exactly "multiply both corners by
s", which is how the generators move the spectrum. We keep ``f_l = 0.5 f_h``: the peak then
sits near 0.55 f_h and the median near 0.81 f_h, the proportions of a typical surface EMG.

The median frequency is defined over a band (20 Hz .. min(450 Hz, 0.45 fs), the monitor's
analysis band), and the band's edges do not scale with s, so the band-limited MDF is not
exactly proportional to s. ``MdfTable`` computes it numerically once per band and
interpolates (error < 0.01 Hz); its inverse gives the s that produces a wanted MDF, so a
schedule can be stated in MDF, as the brief does, while the spectrum still moves by
Lindström's scaling.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

#: f_l / f_h of the Shwedyk shape.
CORNER_RATIO = 0.5
#: The monitor's EMG analysis band: 20 Hz up to min(450 Hz, 0.45 fs).
EMG_BAND_LOW_HZ = 20.0
EMG_BAND_HIGH_HZ = 450.0
EMG_BAND_FS_FRACTION = 0.45


def emg_analysis_band(fs: float) -> tuple[float, float]:
    """The band in which the truth MDF is defined, clipped for low-rate devices."""
    return (EMG_BAND_LOW_HZ, min(EMG_BAND_HIGH_HZ, EMG_BAND_FS_FRACTION * fs))


def shwedyk_psd(f: npt.ArrayLike, f_high: npt.ArrayLike) -> F64:
    """EMG power at frequencies ``f`` for high corner(s) ``f_high`` (broadcast together).

    Written in x = f/f_h, where f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²) equals
    x² / ((x² + r²)(x² + 1)²) with r = f_l/f_h: the shape visibly depends on f/f_h only,
    which is Lindström's scaling, and the values stay near 1 for any corner, so float32
    shaping cannot overflow.
    """
    x2 = np.square(np.asarray(f, dtype=np.float64) / np.asarray(f_high, dtype=np.float64))
    r2 = CORNER_RATIO * CORNER_RATIO
    out: F64 = x2 / ((x2 + r2) * np.square(x2 + 1.0))
    return out


#: Folding keeps aliases up to this frequency: the Shwedyk tail falls as f^-4, so what lies
#: beyond is < 1e-4 of the power for any corner the validation allows.
ALIAS_LIMIT_HZ = 5000.0


def folded_shwedyk_psd(f: npt.ArrayLike, f_high: npt.ArrayLike, fs: float) -> F64:
    """The Shwedyk spectrum as seen after sampling at ``fs`` with no anti-alias filter.

    Sampling a stationary Gaussian process without a low-pass makes the sampled sequence a
    Gaussian process whose spectrum on [0, fs/2] is the sum of all aliases
    ``P(f) + sum_k P(k fs - f) + P(k fs + f)`` (the Poisson summation of the PSD), so
    shaping white noise with this sum is statistically exact. Consumer armbands such as
    the Myo sample at 200 Hz with 8-bit samples and no effective filter above 100 Hz
    (Phinyomark, Khushaba & Scheme 2018, "Feature extraction and selection for myoelectric
    control based on wearable EMG sensors", Sensors 18:1615), so the muscle's power above
    100 Hz lands folded inside 0-100 Hz.
    """
    fa = np.asarray(f, dtype=np.float64)
    out: F64 = shwedyk_psd(fa, f_high)
    for k in range(1, int(np.ceil(ALIAS_LIMIT_HZ / fs)) + 1):
        out = out + shwedyk_psd(k * fs - fa, f_high) + shwedyk_psd(k * fs + fa, f_high)
    return out


def band_median(f: F64, power: F64, band: tuple[float, float]) -> F64:
    """Median frequency of ``power`` (last axis over ``f``) inside ``band``, interpolated.

    Trapezoidal cumulative power and linear interpolation of the half-power point: the
    same definition an estimator with infinitely fine bins would converge to.
    """
    lo, hi = band
    sel = (f >= lo) & (f <= hi)
    fb = f[sel]
    pb = power[..., sel]
    seg = 0.5 * (pb[..., 1:] + pb[..., :-1]) * np.diff(fb)
    cum = np.concatenate([np.zeros((*pb.shape[:-1], 1)), np.cumsum(seg, axis=-1)], axis=-1)
    half = 0.5 * cum[..., -1:]
    idx = np.clip(np.sum(cum < half, axis=-1, keepdims=True), 1, fb.size - 1)
    c0 = np.take_along_axis(cum, idx - 1, axis=-1)
    c1 = np.take_along_axis(cum, idx, axis=-1)
    frac = np.where(c1 > c0, (half - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0)
    out: F64 = (fb[idx - 1] + frac * (fb[idx] - fb[idx - 1]))[..., 0]
    return out


@dataclass(frozen=True)
class MdfTable:
    """Band-limited MDF of the Shwedyk shape as a function of its high corner f_h.

    Monotonic in f_h, so it also inverts: ``corners_for(mdf)`` is how the generators
    pick, block by block, the spectral scale whose band-limited MDF is exactly the
    scheduled one (and the fresh MDF exactly ``mdf0``).
    """

    band: tuple[float, float]
    corners: F64 = field(repr=False)
    mdfs: F64 = field(repr=False)

    @classmethod
    def for_band(cls, band: tuple[float, float]) -> MdfTable:
        """The table for ``band``; cached, since every recording at one fs shares it."""
        return _table_for_band(float(band[0]), float(band[1]))

    @classmethod
    def folded(cls, band: tuple[float, float], fs: float) -> MdfTable:
        """MDF in ``band`` of the spectrum folded at ``fs`` (``folded_shwedyk_psd``).

        Used for the truth only (``mdf``): folding flattens the spectrum, so the folded MDF
        is not a useful function to invert; the generator still picks the corner from the
        muscle's unfolded MDF.
        """
        return _folded_table(float(band[0]), float(band[1]), float(fs))

    @property
    def mdf_range(self) -> tuple[float, float]:
        return (float(self.mdfs[0]), float(self.mdfs[-1]))

    def mdf(self, corner: npt.ArrayLike) -> F64:
        """Band-limited MDF for high corner(s) ``corner`` (any shape)."""
        c = np.asarray(corner, dtype=np.float64)
        out: F64 = np.interp(np.log(c), np.log(self.corners), self.mdfs)
        return out

    def corners_for(self, mdf: npt.ArrayLike) -> F64:
        """The high corner(s) whose band-limited MDF is ``mdf`` (any shape)."""
        m = np.asarray(mdf, dtype=np.float64)
        out: F64 = np.exp(np.interp(m, self.mdfs, np.log(self.corners)))
        return out

    def corner_for(self, mdf: float) -> float:
        return float(self.corners_for(mdf))


def gaussian_peak(f: npt.ArrayLike, centre: float, sigma: float) -> F64:
    """Narrow-band power around ``centre``: tremor is an oscillation with a jittery period."""
    x = (np.asarray(f, dtype=np.float64) - centre) / sigma
    out: F64 = np.exp(-0.5 * x * x)
    return out


def tapered_band(f: npt.ArrayLike, low: float, high: float, rise: float, fall: float) -> F64:
    """Power 0 outside [low, high], flat inside, with raised-cosine edges ``rise`` wide
    above ``low`` and ``fall`` wide below ``high``.

    The edges lie inside the band, so nothing leaks above ``high``: voluntary movement
    then adds no power to a tremor band that starts above it.
    """
    fa = np.asarray(f, dtype=np.float64)
    up = np.clip((fa - low) / rise, 0.0, 1.0)
    down = np.clip((high - fa) / fall, 0.0, 1.0)
    out: F64 = np.square(np.sin(0.5 * np.pi * np.minimum(up, down)))
    return out


@functools.lru_cache(maxsize=32)
def _table_for_band(low: float, high: float) -> MdfTable:
    corners = np.geomspace(5.0, 2000.0, 500)
    f = np.linspace(low, high, 1501)
    mdfs = band_median(f, shwedyk_psd(f[None, :], corners[:, None]), (low, high))
    corners.flags.writeable = False
    mdfs.flags.writeable = False
    return MdfTable(band=(low, high), corners=corners, mdfs=mdfs)


@functools.lru_cache(maxsize=8)
def _folded_table(low: float, high: float, fs: float) -> MdfTable:
    corners = np.geomspace(5.0, 2000.0, 500)
    f = np.linspace(low, high, 1501)
    power = folded_shwedyk_psd(f[None, :], corners[:, None], fs)
    mdfs = band_median(f, power, (low, high))
    corners.flags.writeable = False
    mdfs.flags.writeable = False
    return MdfTable(band=(low, high), corners=corners, mdfs=mdfs)
