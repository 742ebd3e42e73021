"""An EMG array in, DataFrames and a plot out: what a notebook cell does.

Run: python examples/analyze_array.py [OUT_DIR]
The array here is simulated (2 channels at 2 kHz, fatigue from 60 s on); put your own
``(channels, samples)`` array and its sample rate in its place.
"""

import sys
from pathlib import Path

import numpy as np

import monitor
from simulators.emg import EmgGenerator, EmgScenario

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
scenario = EmgScenario(fs=2000.0, n_channels=2, duration_s=180.0, onset_s=60.0)
emg = EmgGenerator(scenario, np.random.default_rng(7)).read(scenario.n_samples)  # (2, 360000)

result = monitor.analyze(emg, fs=2000.0, modality="emg", unit="mV")

print(result.events[["t", "event", "channel", "message"]].to_string(index=False))
print(
    result.summary[
        ["channel", "mdf_first_hz", "mdf_last_hz", "mdf_slope_pct_per_min", "onsets_s"]
    ].to_string(index=False)
)
active = result.features[result.features["active"].fillna(False)]
print("median MDF of active windows per channel [Hz]:")
print(active.groupby("channel")["mdf_hz"].median().round(1).to_string())

try:
    fig = result.plot()
except monitor.MonitorError as exc:  # matplotlib is an optional extra
    print(exc)
else:
    fig.savefig(out / "analyze_array.png", dpi=80)
    print(f"plot written to {out / 'analyze_array.png'}")
