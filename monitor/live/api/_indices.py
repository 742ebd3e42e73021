"""The standard fatigue indices of a sensor's stored feature history (``/indices``).

The store keeps one feature sample per stream every ``service.features_store_every_s``,
not every window, so these are the indices of that thinned series: the MDF and RMS slopes
(%/min with their 95 % CI), time to a 10 % MDF drop, the JASA quadrant and the
contractions seen at that spacing. Samples are 5 s apart by default, farther than the
windows' overlap, so every sample counts as an independent point (``stride`` 1). Rest and
poor-quality samples are left out exactly as in the replay summary (``usable_windows``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from monitor.core.indices import fatigue_indices
from monitor.live.api._schemas import ChannelIndices


def _value(row: dict[str, Any], key: str) -> float:
    v = row.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def channel_indices(rows: Sequence[dict[str, Any]]) -> list[ChannelIndices]:
    """Indices per EMG channel of ``rows`` (``Store.features`` rows, oldest first)."""
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("modality") == "emg":
            by_channel[str(row["channel"])].append(row)
    out = []
    for channel in sorted(by_channel):
        series = by_channel[channel]
        # Rows stored before the store kept ``active`` count as active; the hindsight rest
        # check of ``usable_windows`` still takes rest out of them.
        usable = np.array(
            [r.get("quality") == "ok" and r.get("active", True) is not False for r in series]
        )
        indices = fatigue_indices(
            np.array([float(r["t"]) for r in series]),
            np.array([_value(r, "mdf_hz") for r in series]),
            np.array([_value(r, "mnf_hz") for r in series]),
            np.array([_value(r, "rms") for r in series]),
            usable,
        )
        out.append(ChannelIndices(channel=channel, samples=len(series), indices=indices.to_dict()))
    return out
