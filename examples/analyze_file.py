"""A recording file in, onsets and an HTML report out.

Run: python examples/analyze_file.py [RECORDING] [OUT_DIR]
Any supported file works (EDF, CSV, WAV, WFDB, XDF, C3D, OpenSignals); the default is a
real biceps recording shipped with the tests (10 kHz, 2 channels, CC0).
"""

import sys
from pathlib import Path

import monitor

here = Path(__file__).resolve().parent
default = here.parent / "tests/data/emg_fatigue_electrophys_cc0/S8_EMG_bicep_sustained.wav"
path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
out = Path(sys.argv[2] if len(sys.argv) > 2 else ".")

result = monitor.analyze(path, modality="emg")
for s in result.streams:
    print(
        f"{s.sensor}: {len(s.channels)} channel(s) at {s.fs:g} Hz, {s.duration_s:.1f} s, {s.unit}"
    )
for e in result.event_list:
    print(f"{e.t:7.1f} s  {e.event:18s} {e.channel}: {e.message}")
for row in result.summary.itertuples():
    print(
        f"{row.channel}: MDF {row.mdf_first_hz:.0f} -> {row.mdf_last_hz:.0f} Hz "
        f"({row.mdf_change_pct:+.0f} %), slope {row.mdf_slope_pct_per_min:+.1f} %/min"
    )
report = result.report(out / "analyze_file.html")
print(f"report written to {report}")
