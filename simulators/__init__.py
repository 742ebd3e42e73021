"""Signal models with known ground truth, file writers and virtual sensors.

Modules, one job each:

- ``emg`` / ``acc``: seeded, streaming generators (``EmgGenerator``, ``AccGenerator``) of
  scenarios (``EmgScenario``, ``AccScenario``), each able to state its own truth.
- ``spectra``, ``shaping``, ``schedule``, ``stream``: the spectral models, block-wise
  overlap-add noise shaping, the EMG state timeline and chunked reading they build on.
- ``writers``: CSV / EDF+ / BDF+ / WAV output in bounded memory, chosen by extension.
- ``truth``: ground-truth dataclasses and their JSON (docs/truth-format.md).
- ``record``: generator -> file + truth; ``scenarios``: seeded benchmark sets.
- ``cli``: the ``fatigue-sim`` command.

May import ``monitor.core.model`` and ``monitor.core.errors``; the monitor never imports
this package.
"""
