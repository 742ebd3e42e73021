"""Which streams the live pipeline takes on: rates the features can use, set-ups that work.

Why here and not in the decoder: the decoder checks that a payload is well formed; whether
a stream's rate can carry the analysis depends on the DSP settings. A stream the features
cannot handle must be refused with a reason when it first shows up, not fail the batched
feature step of every stream in the tick (an EMG stream at 10 Hz made the band-pass
design raise inside the tick: every sensor lost that tick's data).

Rules (``min_rate_hz``), with the EMG band-pass's upper edge clipped to 0.45 fs
(``dsp/filters.py``):

* EMG: the clipped band must span at least an octave above its low edge (20 Hz by
  default): fs >= 2 x 20 / 0.45 = 88.9 Hz. Below that the "spectrum" is a sliver a few
  bins wide and MDF says nothing. A 200 Hz armband (Myo: 20-90 Hz) passes.
* Accelerometer: the 1 Hz high-pass must lie below Nyquist and the tremor band's lower
  half must be seen: 0.45 fs >= the band's centre (8 Hz by default), fs >= 17.8 Hz. A
  25 Hz Polar H10 accelerometer passes.

Then the stream's processor and its feature kernel are built once (cached designs), so
any other impossible combination is refused here too, under ``stream_setup``.
"""

from __future__ import annotations

from monitor.core.config import DspSettings
from monitor.core.model import Modality, SampleBlock
from monitor.dsp.engine import FeatureEngine

NYQUIST_SHARE = 0.45  # the band edges' limit, as in dsp/filters.py and dsp/engine.py


def min_rate_hz(modality: Modality, dsp: DspSettings) -> float:
    """The lowest sample rate whose windows the features of ``modality`` can use."""
    if modality == "emg":
        return 2.0 * dsp.emg.band_hz[0] / NYQUIST_SHARE
    lo, hi = dsp.acc.tremor_band_hz
    return max(2.0 * dsp.acc.highpass_hz, (lo + hi) / 2.0) / NYQUIST_SHARE


def admit(block: SampleBlock, engine: FeatureEngine) -> tuple[str, str] | None:
    """None when the block's stream can be processed, else (reason, detail). Builds the
    stream's processor in ``engine`` as a side effect (it is needed next anyway)."""
    floor = min_rate_hz(block.modality, engine.settings)
    if not block.fs >= floor:
        return (
            "bad_rate",
            f"{block.fs:.6g} Hz is too low: {block.modality} features need at least "
            f"{floor:.3g} Hz; stream refused",
        )
    try:
        proc = engine.stream_for(block)
        engine.step.kernel(proc.key)
    except Exception as exc:
        engine.streams.pop(block.stream, None)
        return ("stream_setup", f"cannot be processed ({type(exc).__name__}: {exc})")
    return None
