"""One simulated recording from generator to disk: the samples file plus its ground truth.

The CLI and the scenario builder both go through ``record`` so a file and its truth can
only be produced together, and the file-format facts the truth reports (format, whether
the unit survived, clipping, padding) are the ones the writer actually saw.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from simulators.stream import Simulation
from simulators.truth import RecordingTruth, write_truth
from simulators.writers import format_for, open_writer

__all__ = ["CHUNK_SECONDS", "record"]

#: Seconds of signal per write: small enough for bounded memory at 16 ch x 2 kHz (2.5 MB).
CHUNK_SECONDS = 10.0


def record(
    generator: Simulation,
    path: str | os.PathLike[str],
    *,
    seed: int | None,
    truth_name: str | None = None,
    sidecar: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> RecordingTruth:
    """Stream ``generator`` into ``path`` (format by extension) and return its truth.

    ``truth_name`` is the ``file`` recorded in the truth (default: the file's name);
    ``sidecar`` writes ``path + ".truth.json"``; ``on_progress`` gets the number of
    samples written after every chunk (for a progress bar).
    """
    p = Path(path)
    format_for(p)  # fail on a bad extension before any work
    if generator.position != 0:
        raise ValueError("record() needs a fresh generator: its truth covers the whole recording")
    writer = open_writer(
        p,
        fs=generator.fs,
        channels=generator.channels,
        unit=generator.unit,
        physical_range=generator.physical_range(),
    )
    chunk = max(1, round(CHUNK_SECONDS * generator.fs))
    try:
        with writer:
            for block in generator.chunks(chunk):
                writer.write(block)
                if on_progress is not None:
                    on_progress(block.shape[1])
    except BaseException:
        p.unlink(missing_ok=True)
        raise
    report = writer.close()
    truth = generator.truth(file=truth_name or p.name, seed=seed)
    truth = dataclasses.replace(
        truth,
        format=report.format,
        unit_in_file=report.unit_in_file,
        clipped_samples=report.clipped_samples,
        padded_samples=report.padded_samples,
    )
    if sidecar:
        write_truth(p, truth)
    return truth
