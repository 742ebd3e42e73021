"""Streaming: push blocks as they arrive, get feature frames and events back at once.

Run: python examples/streaming.py
This is the loop the live service runs (without its network edges): one ``Monitor`` for
every stream, blocks of any size and any mix of sensors per ``push``. Here two simulated
sensors send 100-ms blocks; one fatigues from 40 s on, one has a tremor from 50 s on.
"""

import numpy as np

from monitor import Monitor, SampleBlock
from simulators.acc import AccGenerator, AccScenario
from simulators.emg import EmgGenerator, EmgScenario

rng = np.random.default_rng(3)
emg_sc = EmgScenario(fs=1000.0, n_channels=1, duration_s=150.0, onset_s=40.0)
acc_sc = AccScenario(fs=100.0, duration_s=150.0, onset_s=50.0)
emg_gen, acc_gen = EmgGenerator(emg_sc, rng), AccGenerator(acc_sc, rng)

monitor = Monitor()
n_frames = 0
for seq in range(1500):  # 150 s in 100-ms blocks
    blocks = [
        SampleBlock.from_array(emg_gen.read(100), 1000.0, sensor="forearm", t0=seq * 0.1, seq=seq),
        SampleBlock.from_array(
            acc_gen.read(10), 100.0, modality="acc", sensor="wrist", t0=seq * 0.1, seq=seq
        ),
    ]
    step = monitor.push(blocks)
    n_frames += len(step.frames)
    for event in step.events:
        print(f"{event.t:6.1f} s  {event.sensor}/{event.channel}: {event.event} - {event.message}")
print(f"{n_frames} feature frames")
