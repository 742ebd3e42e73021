"""File and stream sinks for replay: features CSV, events JSON lines.

The features CSV is a contract (docs/protocol.md): one row per window per output channel,
columns ``t, sensor, channel, modality``, every feature name of ``FEATURE_NAMES`` (empty
where the modality does not have it), then ``active`` and ``quality``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from typing import TextIO

from monitor.core.model import FEATURE_NAMES, Event, FeatureFrame

CSV_COLUMNS: tuple[str, ...] = (
    "t",
    "sensor",
    "channel",
    "modality",
    *FEATURE_NAMES,
    "active",
    "quality",
)


def _cell(value: float) -> str:
    return repr(value) if math.isfinite(value) else ""


class FeaturesCsvSink:
    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(CSV_COLUMNS)

    def frames(self, frames: Sequence[FeatureFrame]) -> None:
        rows: list[list[str]] = []
        for frame in frames:
            t = f"{frame.t:.6g}"
            cols = [frame.features.get(name) for name in FEATURE_NAMES]
            lists = [None if c is None else c.tolist() for c in cols]
            active = None if frame.active is None else frame.active.tolist()
            for ch, name in enumerate(frame.channels):
                rows.append(
                    [t, frame.sensor, name, frame.modality]
                    + ["" if v is None else _cell(v[ch]) for v in lists]
                    + ["" if active is None else str(int(active[ch])), frame.quality[ch]]
                )
        self._writer.writerows(rows)

    def events(self, events: Sequence[Event]) -> None:
        return None


class EventLinesSink:
    """Event JSON, one per line (``--events OUT.jsonl`` and ``--json`` on stdout)."""

    def __init__(self, out: TextIO, flush: bool = False) -> None:
        self._out = out
        self._flush = flush

    def frames(self, frames: Sequence[FeatureFrame]) -> None:
        return None

    def events(self, events: Sequence[Event]) -> None:
        for event in events:
            self._out.write(event.to_json() + "\n")
        if self._flush:
            self._out.flush()
