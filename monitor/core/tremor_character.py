"""What tremor an accelerometer channel shows over a whole recording, baseline or not.

The tremor detector reports a change: a tremor that grows. A patient with a rest tremor
has it from the first second, so there is no tremor-free baseline and no onset; what a
clinician wants then is its frequency, its size and which band it is in. This module
characterises it from the windows where a tremor is measurable: no periodic voluntary
movement in them (``voluntary_hz`` unset: walking and its harmonics say nothing about a
tremor), and a narrow peak that carries most of the tremor band (``tremor_peak_rms`` at
least ``NARROW_SHARE`` of ``tremor_rms``) above ``floor_ms2``. A tremor is "present" when
at least ``PRESENT_SHARE`` of the measurable windows show one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: Tremor bands (Hz): pathological (parkinsonian rest tremor 3.5-7 Hz, essential tremor
#: 4-8 Hz) and enhanced physiological (8-12 Hz); Elble & Deuschl 2011, Deuschl et al. 1998.
PATHOLOGICAL_HZ = (3.5, 7.0)
PHYSIOLOGICAL_HZ = (8.0, 12.0)
NARROW_SHARE = 0.6
PRESENT_SHARE = 0.5


def tremor_band_name(peak_hz: float) -> str:
    """The band a tremor frequency falls in, as a clinician names it."""
    if PATHOLOGICAL_HZ[0] <= peak_hz <= PATHOLOGICAL_HZ[1]:
        return "pathological band (3.5-7 Hz)"
    if PHYSIOLOGICAL_HZ[0] <= peak_hz <= PHYSIOLOGICAL_HZ[1]:
        return "physiological band (8-12 Hz)"
    return "outside the usual tremor bands"


@dataclass(frozen=True, slots=True)
class TremorCharacter:
    """``present``: a steady narrow peak in most measurable windows. Frequency and RMS are
    medians over the windows that show it; ``share`` is their fraction of the measurable
    windows (``n_measurable``: windows without periodic voluntary movement)."""

    present: bool
    n_windows: int
    n_measurable: int
    share: float
    peak_hz: float | None
    rms_ms2: float | None
    band: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tremor_character(
    peak_hz: npt.ArrayLike,
    tremor_rms: npt.ArrayLike,
    peak_rms: npt.ArrayLike,
    voluntary_hz: npt.ArrayLike,
    floor_ms2: float = 0.02,
) -> TremorCharacter:
    """Characterise one channel from its windows' features (arrays of equal length)."""
    f = np.asarray(peak_hz, dtype=np.float64)
    total = np.asarray(tremor_rms, dtype=np.float64)
    narrow = np.asarray(peak_rms, dtype=np.float64)
    moving = np.isfinite(np.asarray(voluntary_hz, dtype=np.float64))
    ok = np.isfinite(f) & np.isfinite(total) & np.isfinite(narrow) & ~moving
    n_ok = int(ok.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        shows = ok & (narrow >= floor_ms2) & (narrow >= NARROW_SHARE * total)
    n_show = int(shows.sum())
    share = n_show / n_ok if n_ok else 0.0
    if n_show == 0:
        return TremorCharacter(False, f.size, n_ok, share, None, None, None)
    hz = float(np.median(f[shows]))
    return TremorCharacter(
        present=share >= PRESENT_SHARE,
        n_windows=f.size,
        n_measurable=n_ok,
        share=share,
        peak_hz=hz,
        rms_ms2=float(np.median(narrow[shows])),
        band=tremor_band_name(hz),
    )
